//! A deterministic generator of every feed at any scale, streamed to disk.
//!
//! The registry is real: Hà Nội, and Lào Cai and Yên Bái, before and after
//! the reorganization of 1 July 2025 (`sample_data/reference`); activity
//! before that day names the old units, after it the new ones. Proportions follow what provinces report (most dossiers resolved on
//! time, a third to a half handled online, fees mostly cashless in the pilot
//! units). Exports look like real ones: Vietnamese day-first dates beside ISO
//! ones, enum values with and without diacritics, thousands separators,
//! dossiers re-sent with a later status, events re-sent, portal sessions that
//! span midnight and month ends. The same seed and size give the same bytes.

mod activity;
mod events;
mod field;
mod format;
mod units;

use activity::*;
pub(crate) use units::*;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::spec::feeds::Feed;

/// The files `generate` writes, one per feed, in the order to ingest them
/// (the registry and targets before the activity that refers to them).
pub const FILES: [(Feed, &str); 6] = [
    (Feed::Units, "units.csv"),
    (Feed::UnitChanges, "unit_changes.csv"),
    (Feed::Targets, "targets.csv"),
    (Feed::Dossiers, "dossiers.csv"),
    (Feed::PortalEvents, "portal_events.ndjson"),
    (Feed::Signatures, "signatures.csv"),
];

/// Where `generate` writes `feed` in `out`.
pub(crate) fn file_of(out: &Path, feed: Feed) -> PathBuf {
    let name = FILES
        .iter()
        .find(|(f, _)| *f == feed)
        .map_or("", |(_, name)| name);
    out.join(name)
}

/// How the exports are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// As the systems' export tools write them: one file per feed with the
    /// feeds' own headers, values in mixed forms (ISO and day-first times,
    /// codes and Vietnamese, grouped fees).
    #[default]
    System,
    /// As a system that exports well writes them: the `system` files and
    /// headers with every value in its canonical form (ISO 8601 times with
    /// their offset, codes, `true`/`false`, plain numbers).
    Canonical,
    /// Dossiers as a report screen's tracking book (`dossiers.xlsx`; more
    /// books past 1,000,000 rows) and units as a province's register (`;`
    /// CSV, Vietnamese headers and values, titles and footers).
    Field,
    /// The same, the dossiers saved as CSV by Excel in a Vietnamese locale.
    FieldCsv,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::System => "system",
            Style::Canonical => "canonical",
            Style::Field => "field",
            Style::FieldCsv => "field-csv",
        }
    }
}

impl std::str::FromStr for Style {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "system" => Ok(Style::System),
            "canonical" => Ok(Style::Canonical),
            "field" => Ok(Style::Field),
            "field-csv" => Ok(Style::FieldCsv),
            _ => Err(Error::Usage(format!(
                "unknown style '{s}'; use system, canonical, field or field-csv"
            ))),
        }
    }
}

/// What `generate` wrote.
#[derive(Debug, Clone, Default)]
pub struct SampleReport {
    pub units: u64,
    pub unit_changes: u64,
    pub targets: u64,
    pub dossiers: u64,
    pub dossier_rows: u64,
    pub portal_events: u64,
    pub signatures: u64,
    /// Each file with its feed, in the order to ingest them.
    pub files: Vec<(Feed, PathBuf)>,
}

/// The local calendar the sample covers: January 2024 to June 2026, a year
/// and a half before the units changed and a year after.
pub(crate) const START: (i32, u32, u32) = (2024, 1, 1);
pub(crate) const END: (i32, u32, u32) = (2026, 7, 1);
/// Asia/Ho_Chi_Minh is UTC+7 all year: sample times are built as local
/// seconds and written with that offset.
pub(crate) const OFFSET_SECONDS: i64 = 7 * 3600;

pub(crate) fn local_seconds(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d)
        .map(|d| {
            d.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp()
        })
        .unwrap_or(0)
}

/// Writes `units.csv`, `unit_changes.csv`, `targets.csv`, `dossiers.csv`,
/// `portal_events.ndjson` and `signatures.csv` into `out`.
pub fn generate(out: &Path, dossiers: u64, seed: u64) -> Result<SampleReport> {
    generate_styled(out, dossiers, seed, Style::System)
}

/// [`generate`] in a [`Style`]: the same activity whatever the style.
pub fn generate_styled(out: &Path, dossiers: u64, seed: u64, style: Style) -> Result<SampleReport> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let registry = unit_tree(seed);
    let units = &registry.units;
    let mut report = SampleReport::default();
    if matches!(style, Style::System | Style::Canonical) {
        write_units(out, units, &mut report)?;
    } else {
        let path = file_of(out, Feed::Units);
        report.units = field::write_units(&path, units)?;
        report.files.push((Feed::Units, path));
    }
    let changes = file_of(out, Feed::UnitChanges);
    std::fs::write(&changes, REFERENCE_CHANGES).map_err(|e| Error::io(&changes, e))?;
    report.unit_changes = registry.changes.len() as u64;
    report.files.push((Feed::UnitChanges, changes));
    write_targets(out, units, &mut report)?;
    write_activity(out, &registry, dossiers, seed, style, &mut report)?;
    Ok(report)
}

pub(crate) fn csv_writer(path: &Path) -> Result<csv::Writer<BufWriter<File>>> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BufWriter::with_capacity(1 << 20, file)))
}

pub(crate) fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

fn write_units(out: &Path, units: &[Unit], report: &mut SampleReport) -> Result<()> {
    let path = file_of(out, Feed::Units);
    let mut w = csv_writer(&path)?;
    let err = |e| csv_error(&path, e);
    w.write_record([
        "unit_code",
        "name",
        "level",
        "parent_code",
        "adult_population",
        "valid_from",
        "valid_to",
    ])
    .map_err(err)?;
    for unit in units {
        let parent = unit.parent.map(|p| units[p].code.as_str()).unwrap_or("");
        let adults = unit.adults.map(|a| a.to_string()).unwrap_or_default();
        let (from, to) = (iso_day(unit.from), iso_day(unit.to));
        w.write_record([
            unit.code.as_str(),
            &unit.name,
            unit.level,
            parent,
            &adults,
            &from,
            &to,
        ])
        .map_err(err)?;
        report.units += 1;
    }
    w.flush().map_err(|e| Error::io(&path, e))?;
    report.files.push((Feed::Units, path));
    Ok(())
}

/// A local midnight as `YYYY-MM-DD`; None as empty.
pub(crate) fn iso_day(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.date_naive().to_string())
        .unwrap_or_default()
}

fn write_targets(out: &Path, units: &[Unit], report: &mut SampleReport) -> Result<()> {
    let path = file_of(out, Feed::Targets);
    let mut w = csv_writer(&path)?;
    let err = |e| csv_error(&path, e);
    w.write_record(["kpi", "unit_code", "year", "target", "grain"])
        .map_err(err)?;
    let every_unit: &[(&str, &str)] = &[
        ("on_time_rate", "95%"),
        ("processed_online_rate", "0.8"),
        ("e_result_rate", "0.9"),
        ("result_signed_rate", "90%"),
        ("online_rate", "0.7"),
        ("full_online_rate", "80%"),
        ("digitized_rate", "100%"),
        ("applicant_signed_rate", "0.5"),
        ("online_payment_rate", "45%"),
        ("cashless_rate", "40%"),
        ("cashless_value_rate", "0.5"),
        ("satisfaction_rate", "90%"),
        ("portal_completion_rate", "0.7"),
        ("vneid_share", "60%"),
        ("payment_success_rate", "0.95"),
        ("document_signing_rate", "80%"),
        ("median_processing_days", "5"),
        ("certificates_per_1000_adults", "5"),
    ];
    for year in ["2024", "2025", "2026"] {
        for (kpi, target) in every_unit {
            w.write_record([*kpi, "*", year, *target, ""])
                .map_err(err)?;
            report.targets += 1;
        }
        w.write_record(["overdue_open", "*", year, "10", "month"])
            .map_err(err)?;
        report.targets += 1;
        // SPEC §8: Lào Cai's Q1 figures; Hà Nội's full signing; Sài Đồng's pilot.
        let specific: Vec<(&str, &str, &str, &str)> = vec![
            ("full_online_rate", "10", "95%", ""),
            ("cashless_rate", "10", "40%", "quarter"),
            ("document_signing_rate", "01", "100%", ""),
            ("full_online_rate", "01", "0.97", "month"),
        ];
        for (kpi, unit, target, grain) in specific {
            w.write_record([kpi, unit, year, target, grain])
                .map_err(err)?;
            report.targets += 1;
        }
        if let Some(sai_dong) = units.iter().find(|u| u.name == "Phường Sài Đồng") {
            w.write_record([
                "document_signing_rate",
                sai_dong.code.as_str(),
                year,
                "100%",
                "",
            ])
            .map_err(err)?;
            report.targets += 1;
        }
    }
    w.flush().map_err(|e| Error::io(&path, e))?;
    report.files.push((Feed::Targets, path));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::feeds::ColumnType;
    use chrono::DateTime;

    /// The canonical style writes every column the feeds declare a
    /// timestamp as RFC 3339 with its offset (a deadline given as a day, as
    /// an ISO date) and every flag as true/false: a clean export.
    #[test]
    fn the_canonical_style_writes_only_canonical_values() {
        let dir = tempfile::tempdir().unwrap();
        generate_styled(dir.path(), 1_000, 3, Style::Canonical).unwrap();
        for feed in [Feed::Dossiers, Feed::Signatures] {
            let path = file_of(dir.path(), feed);
            let mut reader = csv::Reader::from_path(&path).unwrap();
            let header = reader.headers().unwrap().clone();
            let checked: Vec<(usize, &str, ColumnType)> = feed
                .def()
                .columns
                .iter()
                .filter(|c| matches!(c.ty, ColumnType::Timestamp { .. } | ColumnType::Bool))
                .filter_map(|c| Some((header.iter().position(|h| h == c.name)?, c.name, c.ty)))
                .collect();
            assert!(checked.len() >= 2, "{feed:?}: {checked:?}");
            let mut rows = 0;
            for record in reader.records() {
                let record = record.unwrap();
                for (at, name, ty) in &checked {
                    let value = &record[*at];
                    let canonical = value.is_empty()
                        || match ty {
                            ColumnType::Timestamp { deadline } => {
                                DateTime::parse_from_rfc3339(value).is_ok()
                                    || (*deadline
                                        && NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok())
                            }
                            _ => ["true", "false"].contains(&value),
                        };
                    assert!(canonical, "{feed:?} {name}: {value}");
                }
                rows += 1;
            }
            assert!(rows > 500, "{feed:?}: {rows}");
        }
    }
}
