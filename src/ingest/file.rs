//! One input file: read, validated, de-duplicated and staged.

use std::path::{Path, PathBuf};

use crate::current;
use crate::dedupe::DedupIndex;
use crate::error::{Error, Result};
use crate::ingest::IngestOptions;
use crate::ingest::report::FileReport;
use crate::ingest::report::SHOWN_REJECTIONS;
use crate::ingest::report::mask_if;
use crate::ingest::report::refuse_partial_replacement;
use crate::ingest::report::rejection_of;
use crate::lake::{self, Manifest};
use crate::read::{self, Format, RawRecord};
use crate::spec::feeds::{ColumnType, Feed, Retention};
use crate::stage::partitions::PartitionSinks;
use crate::stage::quarantine::QuarantineSink;
use crate::validate::privacy::{self};
use crate::validate::registry::RegistryCheck;
use crate::validate::registry::UnitCheck;
use crate::validate::row::Cell;
use crate::validate::row::RowErrors;
use crate::validate::row::RowParser;
use crate::validate::row::attach;

pub(crate) struct StagedFile {
    pub(crate) report: FileReport,
    pub(crate) staged: Vec<lake::Staged>,
    /// Claims to be the current snapshot (feeds with `current_by`).
    pub(crate) current: Option<current::Collector>,
}

/// Reads, validates and de-duplicates one input; writes its data and
/// quarantine files under `staging`, or with no staging (a dry run) only
/// counts what would be written.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage_file(
    manifest: &Manifest,
    root: &Path,
    staging: Option<&Path>,
    feed: Feed,
    path: &Path,
    input: read::Input,
    scan: &read::FileScan,
    seq: u64,
    options: &IngestOptions,
    dedup: &mut DedupIndex,
) -> Result<StagedFile> {
    let def = feed.def();
    let format = match options.format {
        Some(format) => format,
        None => Format::from_path(path)?,
    };
    // Values are typed on the reading thread; rows are checked for
    // duplicates and written on this one.
    let mut parser = RowParser::new(def, options.zone, options.pii_key.clone());
    let mut source = read::open(
        path,
        input,
        format,
        def,
        scan,
        move |record| match &record.problem {
            Some(problem) => Err(RowErrors::Rejected(vec![(
                problem.column.clone(),
                problem.reason.clone(),
            )])),
            None => parser.parse_detached(record),
        },
    )?;
    let mut sinks = PartitionSinks::new(def, staging, seq, options.zone);
    let mut quarantine = QuarantineSink::new(def, staging, seq, &absolute(path));
    tracing::info!(
        "ingest #{seq}: reading {} as {} ({format:?})",
        path.display(),
        def.name
    );
    let mut registry = RegistryCheck::default();
    let current_by = def
        .current_by
        .and_then(|(id, version)| Some((def.column_index(id)?, def.column_index(version)?)));
    let mut current = match (current_by, staging) {
        (Some(_), Some(staging)) => Some(current::Collector::new(
            staging,
            options.run_records.unwrap_or(current::RUN_RECORDS),
        )),
        _ => None,
    };
    let mut report = FileReport {
        path: path.to_path_buf(),
        feed: Some(feed),
        seq,
        ..Default::default()
    };
    let mut record = RawRecord::default();
    let personal_id = def
        .columns
        .iter()
        .position(|c| matches!(c.ty, ColumnType::PersonalId { .. }));
    let bad_file = |reason: String| Error::BadFile {
        path: path.to_path_buf(),
        reason,
    };

    let mut units = UnitCheck::load(manifest, root, def)?;
    report.units_checked = units.is_some();
    let mut not_utf8 = 0u64;
    while let Some(typed) = source.next(&mut record)? {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted {
                what: format!(
                    "{} was being read at line {}; nothing of it was committed",
                    path.display(),
                    record.line
                ),
            });
        }
        report.rows_read += 1;
        if record.problem.as_ref().is_some_and(|p| p.not_utf8) {
            not_utf8 += 1;
            // A file in another encoding fails on its first rows: refuse it
            // whole rather than quarantine every row. Stray bytes later in a
            // UTF-8 file are quarantined row by row.
            if report.rows_read == 1 || (report.rows_read <= 100 && not_utf8 >= 10) {
                return Err(bad_file(format!(
                    "line {} is not UTF-8: the file looks like a legacy 8-bit Vietnamese encoding (TCVN3, VNI or Windows-1258); convert it to UTF-8, e.g. `iconv -f WINDOWS-1258 -t UTF-8 in.csv > out.csv`",
                    record.line
                )));
            }
        }
        let outcome = typed.map(|cells| attach(cells, &record));
        let row = match outcome {
            Ok(row) => row,
            Err(RowErrors::NoPiiKey) => {
                return Err(Error::PiiKey(format!(
                    "{}: {}",
                    path.display(),
                    privacy::missing_key_reason()
                )));
            }
            Err(RowErrors::Rejected(errors)) => {
                let known_id = personal_id.and_then(|i| record.get(i));
                let rejection = rejection_of(record.line, errors, def, known_id);
                let raw = mask_if(def, record.raw_text(), known_id);
                quarantine.push(&rejection, &raw)?;
                if report.rejections.len() < SHOWN_REJECTIONS {
                    report.rejections.push(rejection);
                }
                report.quarantined += 1;
                continue;
            }
        };
        let partition = sinks.partition_of(&row);
        let key = dedup.key_of(&row);
        if let Some(key) = key {
            dedup.ensure_loaded(manifest, root, partition.as_deref())?;
            if !dedup.insert(key) {
                report.duplicates += 1;
                continue;
            }
        }
        if def.feed == Feed::Units {
            registry.add(&row, record.line);
        }
        if let (Some(collector), Some((id, version))) = (current.as_mut(), current_by)
            && let (Cell::Text(id), Cell::Ts(updated_at)) = (&row[id], &row[version])
        {
            collector.push(current::Latest {
                key: current::key(id),
                updated_at: *updated_at,
                seq,
                line: record.line,
            })?;
        }
        if let Some(units) = units.as_mut() {
            units.check(&row, &mut report);
        }
        sinks.append(partition, &row, record.line, dedup.row_hash(key))?;
        report.accepted += 1;
    }
    report.unknown_columns = source.unknown_columns();
    if !report.unknown_columns.is_empty() {
        tracing::warn!(
            "{}: column(s) {} are not part of feed {} and were left out",
            path.display(),
            report.unknown_columns.join(", "),
            def.name
        );
    }
    if def.retention == Retention::Replace {
        refuse_partial_replacement(&report, &registry).map_err(|reason| Error::Refused {
            path: path.to_path_buf(),
            feed: feed.name(),
            reason,
        })?;
    }
    let (data_files, mut staged) = sinks.finish()?;
    report.data_files = data_files;
    if let Some(file) = quarantine.finish()? {
        report.quarantine_file = Some(file.rel().to_string());
        staged.push(file);
    }
    Ok(StagedFile {
        report,
        staged,
        current,
    })
}

/// The path as the manifest and quarantine record it: absolute, so it still
/// names the file when read from another directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
