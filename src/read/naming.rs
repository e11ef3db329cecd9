//! How an export's headers name a feed's columns: a profile's `[columns]`
//! first (SPEC §4.5), then the feed's own names and headers.

use crate::spec::feeds::FeedDef;
use crate::spec::token::normalize_token;

/// The names a header search and a header mapping read headers by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Naming<'a> {
    pub(crate) feed: &'static FeedDef,
    /// A profile's headers, normalized, and the column each names.
    pub(crate) profile: &'a [(String, usize)],
}

impl Naming<'static> {
    /// The feed's own names and headers, without a profile.
    pub(crate) fn of(feed: &'static FeedDef) -> Self {
        Naming { feed, profile: &[] }
    }
}

impl Naming<'_> {
    /// The column an export header names, if any.
    pub(crate) fn column(&self, header: &str) -> Option<usize> {
        if !self.profile.is_empty() {
            let wanted = normalize_token(header.trim());
            if let Some((_, column)) = self.profile.iter().find(|(h, _)| *h == wanted) {
                return Some(*column);
            }
        }
        self.feed.column_for_header(header)
    }
}
