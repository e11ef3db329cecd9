//! What happened to each input file, and the verdicts drawn from it.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::ingest::IngestOptions;
use crate::lake::DataFile;
use crate::read::InputLayout;
use crate::spec::feeds::{Feed, FeedDef};
use crate::validate::changes::ChangesCheck;
use crate::validate::privacy::{self};
use crate::validate::registry::RegistryCheck;
use crate::validate::row::Rejection;

/// How many unknown unit codes a report names.
pub const SHOWN_UNKNOWN_UNITS: usize = 5;

/// Rejections shown in a file's report; all of them go to quarantine.
pub(crate) const SHOWN_REJECTIONS: usize = 5;

/// `--max-rejected`: the largest share of a file's rows that may be
/// rejected, written `5%` or `0.05`.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectLimit {
    /// 0 to 1.
    pub share: f64,
    /// As the user wrote it, for messages.
    pub(crate) text: String,
}

impl std::str::FromStr for RejectLimit {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        let t = text.trim();
        let share = match t.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
            None => t.parse::<f64>(),
        };
        match share {
            Ok(share) if (0.0..=1.0).contains(&share) => Ok(RejectLimit {
                share,
                text: t.to_string(),
            }),
            _ => Err(Error::Usage(format!(
                "--max-rejected {text}: write a share of rows between 0% and 100%, such as 5% or 0.05"
            ))),
        }
    }
}

impl std::fmt::Display for RejectLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Above this share of rejected rows a file's report carries a warning.
pub const WARN_REJECTED_SHARE: f64 = 0.01;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileReport {
    pub path: PathBuf,
    pub feed: Option<Feed>,
    /// The ingest's sequence number in the manifest.
    pub seq: u64,
    /// Set when the same content was ingested before: nothing was done.
    pub already_ingested_as: Option<u64>,
    pub rows_read: u64,
    pub accepted: u64,
    pub quarantined: u64,
    /// Of the quarantined rows, the totals and signature rows below the
    /// data (SPEC §4.5): not rejections of data.
    pub footer_rows: u64,
    pub duplicates: u64,
    pub data_files: Vec<DataFile>,
    pub quarantine_file: Option<String>,
    pub unknown_columns: Vec<String>,
    /// The first few rejections, for the terminal.
    pub rejections: Vec<Rejection>,
    /// A dry run's report: nothing was written.
    pub dry_run: bool,
    /// Refused by `--max-rejected`: nothing of the file was committed.
    pub refused: bool,
    /// Whether unit codes were checked against a units registry (none
    /// before the first units file).
    pub units_checked: bool,
    /// Accepted rows whose unit code the registry does not hold: kept
    /// (SPEC §2), counted toward no unit.
    pub unknown_units: u64,
    /// The first few of those codes.
    pub unknown_unit_codes: Vec<String>,
    /// How a CSV file was read (header row, delimiter, header → column).
    pub layout: Option<InputLayout>,
}

impl FileReport {
    /// The one summary line printed after each file.
    pub fn summary_line(&self) -> String {
        let name = self.path.display();
        match (self.already_ingested_as, self.dry_run) {
            (Some(seq), false) => {
                return format!("{name}: already ingested (ingest #{seq}); nothing to do");
            }
            (Some(seq), true) => {
                return format!(
                    "{name}: same content as ingest #{seq}; would be skipped (dry run: nothing written)"
                );
            }
            _ => {}
        }
        if self.dry_run {
            let refused = if self.refused {
                " → would be refused by --max-rejected"
            } else {
                ""
            };
            return format!(
                "{name}: read {} · would accept {} · would quarantine {} · duplicates {}{refused} (dry run: nothing written)",
                self.rows_read, self.accepted, self.quarantined, self.duplicates
            );
        }
        if self.refused {
            return format!(
                "{name}: read {} · accepted {} · quarantined {} · duplicates {} → refused, nothing committed",
                self.rows_read, self.accepted, self.quarantined, self.duplicates
            );
        }
        format!(
            "{name}: read {} · accepted {} · quarantined {} · duplicates {} → ingest #{} ({} data file(s))",
            self.rows_read,
            self.accepted,
            self.quarantined,
            self.duplicates,
            self.seq,
            self.data_files.len()
        )
    }

    /// The share of rows read that were rejected.
    pub fn rejected_share(&self) -> f64 {
        let rows = self.rows_read - self.footer_rows;
        if rows == 0 {
            0.0
        } else {
            self.rejected() as f64 / rows as f64
        }
    }

    /// Rows rejected: quarantined, less the footer rows (not data).
    pub fn rejected(&self) -> u64 {
        self.quarantined - self.footer_rows
    }
}

/// The command's verdict once every file is done, so that a nightly job
/// notices: the first file refused by `--max-rejected` (nothing of it
/// committed), else the first whose rows were all rejected — none accepted,
/// whatever duplicates it re-sent — though its quarantine is committed.
pub(crate) fn judge(reports: &[FileReport], options: &IngestOptions) -> Result<()> {
    if let Some(r) = reports.iter().find(|r| r.refused) {
        return Err(too_many_rejected(r, options));
    }
    match reports.iter().find(|r| r.accepted == 0 && r.rejected() > 0) {
        Some(r) => Err(Error::AllRejected {
            path: r.path.clone(),
            rows: r.quarantined,
        }),
        None => Ok(()),
    }
}

/// `--max-rejected`: whether a file has a larger share of rejected rows.
pub(crate) fn over_limit(report: &FileReport, options: &IngestOptions) -> bool {
    options
        .max_rejected
        .as_ref()
        .is_some_and(|limit| report.rejected_share() > limit.share)
}

pub(crate) fn too_many_rejected(report: &FileReport, options: &IngestOptions) -> Error {
    Error::TooManyRejected {
        path: report.path.clone(),
        rejected: report.quarantined,
        read: report.rows_read,
        percent: report.rejected_share() * 100.0,
        limit: options
            .max_rejected
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
    }
}

/// Why a file of a feed that replaces its whole table (units, targets) must
/// not: any rejected row (the new version would silently lack it), no rows
/// at all, or — for units — a broken registry (SPEC §2).
pub(crate) fn refuse_partial_replacement(
    report: &FileReport,
    registry: &RegistryCheck,
    changes: Option<&ChangesCheck>,
) -> std::result::Result<(), String> {
    let rejected = report.rejected();
    if rejected > 0 {
        let shown: Vec<String> = report
            .rejections
            .iter()
            .map(|r| match &r.column {
                Some(column) => format!("line {}: {column}: {}", r.line, r.reason),
                None => format!("line {}: {}", r.line, r.reason),
            })
            .collect();
        let more = rejected - report.rejections.len() as u64;
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        return Err(format!(
            "{} of {} row(s) rejected ({}{more}); fix them and ingest the whole file again",
            rejected,
            report.rows_read - report.footer_rows,
            shown.join("; ")
        ));
    }
    if report.feed == Some(Feed::Units) {
        return registry.check();
    }
    if let Some(changes) = changes {
        // Nothing but a header: the lake keeps no changes (the way to
        // replace a registry the current changes no longer fit).
        if report.rows_read == report.footer_rows {
            return Ok(());
        }
        return changes.check();
    }
    if report.accepted == 0 {
        return Err(
            "it holds no rows, and would remove every one the lake has; ingest a file with the full list"
                .into(),
        );
    }
    Ok(())
}

pub(crate) fn mask_if(def: &FeedDef, raw: String, known_id: Option<&str>) -> String {
    if def.has_personal_id() {
        privacy::mask_raw(&raw, known_id)
    } else {
        raw
    }
}

pub(crate) fn rejection_of(
    line: u64,
    errors: Vec<(Option<String>, String)>,
    def: &FeedDef,
    known_id: Option<&str>,
) -> Rejection {
    let mut errors = errors.into_iter();
    let (column, first) = errors.next().unwrap_or((None, "rejected".into()));
    let rest: Vec<String> = errors
        .map(|(c, r)| match c {
            Some(c) => format!("{c}: {r}"),
            None => r,
        })
        .collect();
    let reason = if rest.is_empty() {
        first
    } else {
        format!("{first} (also {})", rest.join("; "))
    };
    Rejection {
        line,
        column,
        reason: mask_if(def, reason, known_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reject_limit_is_a_share_written_as_a_percentage_or_a_fraction() {
        let limit = |t: &str| t.parse::<RejectLimit>().map(|l| (l.share, l.to_string()));
        assert_eq!(limit("5%").unwrap(), (0.05, "5%".to_string()));
        assert_eq!(limit(" 0.1 ").unwrap(), (0.1, "0.1".to_string()));
        assert_eq!(limit("0").unwrap().0, 0.0);
        for bad in ["150%", "-1%", "x", "1.5", ""] {
            assert!(limit(bad).is_err(), "{bad}");
        }
    }
}
