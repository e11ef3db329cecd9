//! What the lake holds, per feed, for `motcua lake`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::lake::manifest::Manifest;
use crate::spec::feeds::Feed;

/// What the lake holds, per feed: for `motcua lake` and the demo.
#[derive(Debug, Clone, PartialEq)]
struct FeedSummary {
    pub feed: Feed,
    pub ingests: usize,
    pub rows: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub files: usize,
    first_month: Option<String>,
    last_month: Option<String>,
}

fn summarize(manifest: &Manifest) -> Vec<FeedSummary> {
    crate::spec::feeds::ALL_FEEDS
        .iter()
        .map(|def| {
            let feed = def.feed;
            let files = manifest.data_files(feed);
            let months: BTreeSet<&str> = files.iter().filter_map(|f| f.month.as_deref()).collect();
            let entries = manifest.ingests.iter().filter(|e| e.feed == feed);
            FeedSummary {
                feed,
                ingests: entries.clone().count(),
                rows: files.iter().map(|f| f.rows).sum(),
                quarantined: entries.clone().map(|e| e.quarantined).sum(),
                duplicates: entries.map(|e| e.duplicates).sum(),
                files: files.len(),
                first_month: months.first().map(|m| m.to_string()),
                last_month: months.last().map(|m| m.to_string()),
            }
        })
        .collect()
}

/// The summary as a small table for the terminal.
pub(crate) fn render_summary(root: &Path, manifest: &Manifest) -> String {
    let mut out = format!(
        "lake {} (zone {}, {} ingest(s))\n",
        root.display(),
        manifest.timezone,
        manifest.ingests.len()
    );
    out.push_str(&format!(
        "{:<14} {:>8} {:>12} {:>12} {:>11} {:>6}  {}\n",
        "feed", "ingests", "rows", "quarantined", "duplicates", "files", "months"
    ));
    for s in summarize(manifest) {
        let months = match (&s.first_month, &s.last_month) {
            (Some(a), Some(b)) if a == b => a.clone(),
            (Some(a), Some(b)) => format!("{a} … {b}"),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<14} {:>8} {:>12} {:>12} {:>11} {:>6}  {}\n",
            s.feed.name(),
            s.ingests,
            s.rows,
            s.quarantined,
            s.duplicates,
            s.files,
            months
        ));
    }
    out
}
