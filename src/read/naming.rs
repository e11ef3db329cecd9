//! How an export's headers and values name a feed's columns and values: a
//! profile's `[columns]` and `[values]` first (SPEC §4.5), then the feed's
//! own names and headers.

use std::collections::HashMap;
use std::sync::Arc;

use crate::read::profile::Profile;
use crate::spec::feeds::FeedDef;
use crate::spec::token::normalize_token;

/// What header searches, header mappings and value readers go by.
#[derive(Debug, Clone)]
pub(crate) struct Naming {
    pub(crate) feed: &'static FeedDef,
    pub(crate) profile: Option<Arc<Profile>>,
    /// The registry's units by name, for exports that name units.
    pub(crate) unit_names: Option<Arc<UnitNames>>,
}

impl Naming {
    pub(crate) fn new(feed: &'static FeedDef, profile: Option<Arc<Profile>>) -> Self {
        Naming {
            feed,
            profile,
            unit_names: None,
        }
    }

    /// The feed's own names and headers, without a profile.
    #[cfg(test)]
    pub(crate) fn of(feed: &'static FeedDef) -> Self {
        Naming::new(feed, None)
    }

    /// The column an export header names, if any: by a profile, by the
    /// feed's own headers, or a unit column by the unit's name.
    pub(crate) fn column(&self, header: &str) -> Option<usize> {
        self.profile
            .as_ref()
            .and_then(|p| p.column(header))
            .or_else(|| self.feed.column_for_header(header))
            .or_else(|| self.feed.unit_name_column(header))
    }

    /// Whether `header` names units by name rather than by code.
    pub(crate) fn names_units(&self, header: &str) -> bool {
        self.profile
            .as_ref()
            .and_then(|p| p.column(header))
            .is_none()
            && self.feed.column_for_header(header).is_none()
            && self.feed.unit_name_column(header).is_some()
    }

    /// `value` of column `column` as the feed writes it, when the profile
    /// says what it means; otherwise `value` itself.
    pub(crate) fn value<'s>(&'s self, column: usize, value: &'s str) -> &'s str {
        let Some(pairs) = self.profile.as_ref().and_then(|p| p.values_of(column)) else {
            return value;
        };
        let key = normalize_token(value.trim());
        pairs
            .iter()
            .find(|(export, _)| *export == key)
            .map_or(value, |(_, feed_value)| feed_value)
    }
}

/// The registry's units by their names, normalized (SPEC §4.5 "unit by
/// name"): each full name, and each name without its level word (`Phường
/// Hàng Trống` also as `Hàng Trống`), since exports write either, often
/// after `UBND`.
#[derive(Debug, Default)]
pub(crate) struct UnitNames {
    by_name: HashMap<String, Vec<(String, String)>>,
}

/// Level words a unit's name begins with, normalized.
const LEVEL_WORDS: [&str; 8] = [
    "thanh_pho_",
    "thi_xa_",
    "thi_tran_",
    "phuong_",
    "xa_",
    "quan_",
    "huyen_",
    "tinh_",
];
/// What a one-stop shop puts before a unit's name: its People's Committee.
const COMMITTEE: [&str; 2] = ["uy_ban_nhan_dan_", "ubnd_"];

impl UnitNames {
    /// From the registry's (code, name) pairs.
    pub(crate) fn new<'a>(units: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut by_name: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (code, name) in units {
            let full = normalize_token(name.trim());
            let mut keys = vec![full.clone()];
            if let Some(short) = LEVEL_WORDS.iter().find_map(|w| full.strip_prefix(w)) {
                keys.push(short.to_string());
            }
            for key in keys {
                let entry = by_name.entry(key).or_default();
                if !entry.iter().any(|(c, _)| c == code) {
                    entry.push((code.to_string(), name.to_string()));
                }
            }
        }
        UnitNames { by_name }
    }

    /// The code of the one unit named `name`; or why there is none, naming
    /// the candidates when there are several.
    pub(crate) fn code_of(&self, name: &str) -> Result<&str, String> {
        let mut key = normalize_token(name.trim());
        if let Some(rest) = COMMITTEE.iter().find_map(|w| key.strip_prefix(w)) {
            key = rest.to_string();
        }
        let found = self.by_name.get(&key).or_else(|| {
            let short = LEVEL_WORDS.iter().find_map(|w| key.strip_prefix(w))?;
            self.by_name.get(short)
        });
        match found.map(Vec::as_slice) {
            Some([(code, _)]) => Ok(code),
            Some(several) if !several.is_empty() => Err(format!(
                "'{name}' names {} units in the registry: {}; give the unit's code",
                several.len(),
                several
                    .iter()
                    .map(|(code, name)| format!("{name} ({code})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => Err(format!(
                "no unit in the registry is named '{name}'; give the unit's code, or ingest the units file that names it"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_found_by_its_name_with_or_without_its_level_word() {
        let names = UnitNames::new([
            ("00037", "Phường Hàng Trống"),
            ("10", "Tỉnh Lào Cai"),
            ("080", "Thành phố Lào Cai"),
        ]);
        assert_eq!(names.code_of("Phường Hàng Trống"), Ok("00037"));
        assert_eq!(names.code_of(" UBND phường Hàng Trống "), Ok("00037"));
        assert_eq!(names.code_of("Hàng Trống"), Ok("00037"));
        assert_eq!(names.code_of("Thành phố Lào Cai"), Ok("080"));
        assert_eq!(
            names.code_of("Lào Cai"),
            Err("'Lào Cai' names 2 units in the registry: Tỉnh Lào Cai (10), Thành phố Lào Cai (080); give the unit's code".into())
        );
        assert_eq!(
            names.code_of("Xã Tả Van"),
            Err("no unit in the registry is named 'Xã Tả Van'; give the unit's code, or ingest the units file that names it".into())
        );
    }
}
