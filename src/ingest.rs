//! Ingestion: raw records → typed, validated rows → staged Parquet →
//! committed to the lake, one input file at a time (SPEC §4, §6).
//!
//! Every record read ends in exactly one of three places: the lake
//! (accepted), quarantine (with file, line, column and reason), or the
//! duplicate count. Validation comes before de-duplication, so a rejected row
//! never claims an id.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, FixedSizeBinaryBuilder, Float64Builder,
    Int64Array, Int64Builder, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use xxhash_rust::xxh3::xxh3_128;

use crate::current;
use crate::error::{Error, Result};
use crate::feeds::{ColumnDef, ColumnType, DedupRule, Feed, FeedDef, Retention, RowRule};
use crate::kpi::{self, KpiKind};
use crate::lake::{self, DataFile, IngestEntry, Lake, Manifest};
use crate::privacy::{self, PiiKey};
use crate::reader::{self, Format, RawRecord};
use crate::time::{self, Zone};
use crate::values::{self, EnumMatcher};

/// Rows buffered per partition before they are handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;
/// Rejections shown in a file's report; all of them go to quarantine.
const SHOWN_REJECTIONS: usize = 5;

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub zone: Zone,
    pub pii_key: Option<PiiKey>,
    /// Any rejected row makes the whole command fail with nothing committed.
    pub strict: bool,
    /// Overrides the format chosen by file extension.
    pub format: Option<Format>,
    /// Fail at once, rather than wait, when another process holds the lake.
    pub no_wait: bool,
    /// A file with a larger share of rejected rows fails, committing
    /// nothing of it.
    pub max_rejected: Option<RejectLimit>,
    /// Dossier snapshots held in memory before a sorted run of the current
    /// state spills to disk (`current::RUN_RECORDS` when None); tests make
    /// it small to exercise many runs.
    pub run_records: Option<usize>,
}

/// `--max-rejected`: the largest share of a file's rows that may be
/// rejected, written `5%` or `0.05`.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectLimit {
    /// 0 to 1.
    pub share: f64,
    /// As the user wrote it, for messages.
    text: String,
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

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

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
        if self.rows_read == 0 {
            0.0
        } else {
            self.quarantined as f64 / self.rows_read as f64
        }
    }
}

/// Ingests `paths` into the lake at `root` as `feed`, in order. Without
/// `strict`, each file commits on its own; with it, all commit together or
/// none does. `on_report` sees each file's report as soon as it is known.
/// A failure part-way names the files committed before it and those never
/// read (`Error::Stopped`).
pub fn ingest_files(
    root: &Path,
    feed: Feed,
    paths: &[PathBuf],
    options: &IngestOptions,
    on_report: &mut dyn FnMut(&FileReport),
) -> Result<Vec<FileReport>> {
    // Every input must be there before the lake is touched.
    for path in paths {
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    }
    let mut lake = Lake::open_for_write(root, &options.zone, !options.no_wait)?;
    let mut txn = Transaction {
        staging: lake.staging_dir()?,
        key_check: check_key(lake.manifest(), root, feed, options)?,
        dedup: DedupIndex::new(feed.def()),
        seq: lake.next_seq(),
        entries: Vec::new(),
        staged: Vec::new(),
        current: None,
    };
    let mut reports: Vec<FileReport> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let outcome = txn
            .add_file(&mut lake, feed, path, options, on_report)
            .map(|report| reports.push(report));
        if let Err(e) = outcome {
            txn.dedup.rollback();
            let _ = lake.remove_staging();
            return Err(stopped(e, &reports, options.strict, &paths[i + 1..]));
        }
    }
    if options.strict {
        if let Err(e) = refuse_rejections(&reports) {
            let _ = lake.remove_staging();
            return Err(e);
        }
        if let Some(last) = txn.entries.last().map(|e| e.seq) {
            let mut staged = txn.staged;
            let index = stage_index(&lake, txn.current, &txn.staging, last, &mut staged)?;
            lake.commit(txn.entries, staged, index, txn.key_check)?;
        }
    }
    lake.remove_staging()?;
    judge(&reports, options)?;
    Ok(reports)
}

/// What a multi-file command that failed at one file tells: the files
/// committed before it (none under `--strict`) and those never read.
fn stopped(error: Error, reports: &[FileReport], strict: bool, rest: &[PathBuf]) -> Error {
    if reports.is_empty() && rest.is_empty() {
        return error;
    }
    // Not a file skipped as already ingested, nor one --max-rejected refused.
    let committed = reports
        .iter()
        .filter(|r| !strict && r.already_ingested_as.is_none() && !r.refused)
        .map(|r| r.path.clone())
        .collect();
    Error::Stopped {
        source: Box::new(error),
        committed,
        not_ingested: rest.to_vec(),
    }
}

/// The command's verdict once every file is done, so that a nightly job
/// notices: the first file refused by `--max-rejected` (nothing of it
/// committed), else the first whose rows were all rejected — none accepted,
/// whatever duplicates it re-sent — though its quarantine is committed.
fn judge(reports: &[FileReport], options: &IngestOptions) -> Result<()> {
    if let Some(r) = reports.iter().find(|r| r.refused) {
        return Err(too_many_rejected(r, options));
    }
    match reports
        .iter()
        .find(|r| r.accepted == 0 && r.quarantined > 0)
    {
        Some(r) => Err(Error::AllRejected {
            path: r.path.clone(),
            rows: r.quarantined,
        }),
        None => Ok(()),
    }
}

/// `--max-rejected`: whether a file has a larger share of rejected rows.
fn over_limit(report: &FileReport, options: &IngestOptions) -> bool {
    options
        .max_rejected
        .as_ref()
        .is_some_and(|limit| report.rejected_share() > limit.share)
}

fn too_many_rejected(report: &FileReport, options: &IngestOptions) -> Error {
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

/// The fingerprint of the PII key to record with an ingest of `feed`, after
/// refusing a key other than the one the lake's applicant keys were made with.
fn check_key(
    manifest: &Manifest,
    root: &Path,
    feed: Feed,
    options: &IngestOptions,
) -> Result<Option<String>> {
    match &options.pii_key {
        Some(key) if feed.def().has_personal_id() => {
            manifest.check_pii_key(root, key)?;
            Ok(Some(key.fingerprint()))
        }
        _ => Ok(None),
    }
}

/// What one ingest command has staged but not yet committed: everything
/// under `--strict`, one file at a time otherwise.
struct Transaction {
    /// Where its files are written until the commit.
    staging: PathBuf,
    /// The PII key's fingerprint, to record with the commit.
    key_check: Option<String>,
    dedup: DedupIndex,
    /// The seq the next file gets.
    seq: u64,
    entries: Vec<IngestEntry>,
    staged: Vec<lake::Staged>,
    current: Option<current::Collector>,
}

impl Transaction {
    /// Stages one file — and, without `--strict`, commits it — and reports
    /// it (before refusing it, when it is refused).
    fn add_file(
        &mut self,
        lake: &mut Lake,
        feed: Feed,
        path: &Path,
        options: &IngestOptions,
        on_report: &mut dyn FnMut(&FileReport),
    ) -> Result<FileReport> {
        let scan = reader::scan(path)?;
        let this_run = self
            .entries
            .iter()
            .map(|e| (e.content_hash.as_str(), e.seq));
        if let Some(earlier) = earlier_ingest(lake.manifest(), feed, &scan.content_hash, this_run) {
            let report = skipped_report(path, feed, earlier);
            on_report(&report);
            return Ok(report);
        }
        let root = lake.root().to_path_buf();
        let staged_file = stage_file(
            lake.manifest(),
            &root,
            Some(&self.staging),
            feed,
            path,
            reader::open_input(path)?,
            &scan,
            self.seq,
            options,
            &mut self.dedup,
        )?;
        self.seq += 1;
        let StagedFile {
            mut report,
            mut staged,
            current,
        } = staged_file;
        if over_limit(&report, options) {
            // Its report, with the first rejections, says why. Under
            // --strict the command fails here; otherwise the file is left
            // out (its staged files go with the staging folder) and the
            // next one goes on, the command failing at the end.
            report.refused = true;
            on_report(&report);
            if options.strict {
                return Err(too_many_rejected(&report, options));
            }
            self.dedup.rollback();
            return Ok(report);
        }
        on_report(&report);
        let entry = IngestEntry {
            seq: report.seq,
            feed,
            source: absolute(path).display().to_string(),
            content_hash: scan.content_hash,
            bytes: scan.bytes,
            ingested_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rows_read: report.rows_read,
            accepted: report.accepted,
            quarantined: report.quarantined,
            duplicates: report.duplicates,
            data_files: report.data_files.clone(),
            quarantine_file: report.quarantine_file.clone(),
        };
        tracing::info!(
            "ingest #{}: {} row(s) accepted into {} file(s)",
            entry.seq,
            entry.accepted,
            entry.data_files.len()
        );
        if options.strict {
            self.entries.push(entry);
            self.staged.extend(staged);
            if let Some(current) = current {
                match self.current.as_mut() {
                    Some(pending) => pending.absorb(current)?,
                    None => self.current = Some(current),
                }
            }
        } else {
            let index = stage_index(lake, current, &self.staging, entry.seq, &mut staged)?;
            lake.commit(vec![entry], staged, index, self.key_check.clone())?;
            self.dedup.commit();
        }
        Ok(report)
    }
}

/// Merges a transaction's snapshots into the lake's index of current
/// dossiers, staged (added to `staged`) as the index of ingest `seq`; returns
/// the version to commit. A lake from before the index existed gets one
/// built from every committed snapshot first.
fn stage_index(
    lake: &Lake,
    collector: Option<current::Collector>,
    staging: &Path,
    seq: u64,
    staged: &mut Vec<lake::Staged>,
) -> Result<Option<lake::IndexVersion>> {
    let Some(mut collector) = collector else {
        return Ok(None);
    };
    let manifest = lake.manifest();
    if collector.is_empty() && manifest.dossier_index.is_some() {
        return Ok(None);
    }
    let committed = manifest.data_files(Feed::Dossiers);
    if manifest.dossier_index.is_none() && !committed.is_empty() {
        tracing::info!(
            "building the index of current dossiers from {} committed file(s)",
            committed.len()
        );
        for file in committed {
            collector.add_committed(&lake.root().join(&file.path), Feed::Dossiers.def())?;
        }
    }
    let update = current::update(
        lake.root(),
        manifest.current_index().as_ref(),
        collector,
        staging,
        seq,
    )?;
    tracing::info!(
        "index of current dossiers: {} dossier(s), {}",
        update.dossiers,
        update.staged.rel()
    );
    staged.push(update.staged);
    Ok(Some(update.version))
}

/// Checks `paths` as `ingest_files` would ingest them into the lake at `root`
/// (which may not exist yet), in order, and reports what each would add —
/// without writing anything or taking the writer's lock. Duplicates are
/// counted against the lake as it is and against the earlier paths. What
/// the real ingest would refuse (another zone or PII key, a file over
/// `--max-rejected`) it refuses too.
pub fn dry_run(
    root: &Path,
    feed: Feed,
    paths: &[PathBuf],
    options: &IngestOptions,
    on_report: &mut dyn FnMut(&FileReport),
) -> Result<Vec<FileReport>> {
    let manifest = if root.join(lake::MANIFEST).exists() {
        lake::read_manifest(root)?
    } else {
        Manifest::new(&options.zone)
    };
    manifest.check_zone(root, &options.zone)?;
    check_key(&manifest, root, feed, options)?;
    let mut dedup = DedupIndex::new(feed.def());
    // (content hash, seq it would get) of the files this run would ingest.
    let mut would_ingest: Vec<(String, u64)> = Vec::new();
    let mut seq = manifest.next_seq;
    let mut reports = Vec::new();
    for path in paths {
        let scan = reader::scan(path)?;
        let this_run = would_ingest.iter().map(|(h, seq)| (h.as_str(), *seq));
        let report = match earlier_ingest(&manifest, feed, &scan.content_hash, this_run) {
            Some(earlier) => skipped_report(path, feed, earlier),
            None => {
                let input = reader::open_input(path)?;
                let staged = stage_file(
                    &manifest, root, None, feed, path, input, &scan, seq, options, &mut dedup,
                )?;
                would_ingest.push((scan.content_hash, seq));
                seq += 1;
                staged.report
            }
        };
        let mut report = FileReport {
            dry_run: true,
            ..report
        };
        report.refused = over_limit(&report, options);
        // As the ingest would: a refused file's rows claim nothing.
        if report.refused {
            dedup.rollback();
        } else {
            dedup.commit();
        }
        on_report(&report);
        reports.push(report);
    }
    if options.strict {
        refuse_rejections(&reports)?;
    }
    judge(&reports, options)?;
    Ok(reports)
}

/// The seq of an ingest of the same content that makes this one a no-op:
/// one the manifest holds, or one earlier in this run (`this_run`: content
/// hash and seq of each).
fn earlier_ingest<'a>(
    manifest: &Manifest,
    feed: Feed,
    content_hash: &str,
    mut this_run: impl Iterator<Item = (&'a str, u64)>,
) -> Option<u64> {
    manifest
        .already_ingested(feed, content_hash)
        .map(|e| e.seq)
        .or_else(|| {
            this_run
                .find(|(h, _)| *h == content_hash)
                .map(|(_, seq)| seq)
        })
}

/// The report of a file skipped because its content was ingested as `earlier`.
fn skipped_report(path: &Path, feed: Feed, earlier: u64) -> FileReport {
    FileReport {
        path: path.to_path_buf(),
        feed: Some(feed),
        already_ingested_as: Some(earlier),
        ..Default::default()
    }
}

/// `--strict`: any rejected row fails the whole command.
fn refuse_rejections(reports: &[FileReport]) -> Result<()> {
    let rejected: u64 = reports.iter().map(|r| r.quarantined).sum();
    if rejected > 0 {
        return Err(Error::StrictRejected { rejected });
    }
    Ok(())
}

/// Validates one input held in memory as a dry run into an empty lake: the
/// whole parsing path of `ingest`, without the file system. For fuzzing.
pub fn check_bytes(
    feed: Feed,
    format: Format,
    bytes: &[u8],
    options: &IngestOptions,
) -> Result<FileReport> {
    let path = Path::new("<input>");
    let manifest = Manifest::new(&options.zone);
    let scan = reader::scan_input(path, Box::new(std::io::Cursor::new(bytes.to_vec())))?;
    let input = Box::new(std::io::Cursor::new(bytes.to_vec()));
    let options = IngestOptions {
        format: Some(format),
        ..options.clone()
    };
    let mut dedup = DedupIndex::new(feed.def());
    let staged = stage_file(
        &manifest, path, None, feed, path, input, &scan, 1, &options, &mut dedup,
    )?;
    Ok(staged.report)
}

struct StagedFile {
    report: FileReport,
    staged: Vec<lake::Staged>,
    /// Claims to be the current snapshot (feeds with `current_by`).
    current: Option<current::Collector>,
}

/// Reads, validates and de-duplicates one input; writes its data and
/// quarantine files under `staging`, or with no staging (a dry run) only
/// counts what would be written.
#[allow(clippy::too_many_arguments)]
fn stage_file(
    manifest: &Manifest,
    root: &Path,
    staging: Option<&Path>,
    feed: Feed,
    path: &Path,
    input: reader::Input,
    scan: &reader::FileScan,
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
    let mut source = reader::open(path, input, format, def, scan, move |record| match &record
        .problem
    {
        Some(problem) => Err(RowErrors::Rejected(vec![(
            problem.column.clone(),
            problem.reason.clone(),
        )])),
        None => parser.parse_detached(record),
    })?;
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

/// Why a file of a feed that replaces its whole table (units, targets) must
/// not: any rejected row (the new version would silently lack it), no rows
/// at all, or — for units — a broken registry (SPEC §2).
fn refuse_partial_replacement(
    report: &FileReport,
    registry: &RegistryCheck,
) -> std::result::Result<(), String> {
    if report.quarantined > 0 {
        let shown: Vec<String> = report
            .rejections
            .iter()
            .map(|r| match &r.column {
                Some(column) => format!("line {}: {column}: {}", r.line, r.reason),
                None => format!("line {}: {}", r.line, r.reason),
            })
            .collect();
        let more = report.quarantined - report.rejections.len() as u64;
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        return Err(format!(
            "{} of {} row(s) rejected ({}{more}); fix them and ingest the whole file again",
            report.quarantined,
            report.rows_read,
            shown.join("; ")
        ));
    }
    if report.feed == Some(Feed::Units) {
        return registry.check();
    }
    if report.accepted == 0 {
        return Err(
            "it holds no rows, and would remove every one the lake has; ingest a file with the full list"
                .into(),
        );
    }
    Ok(())
}

/// Activity's unit codes checked against the lake's units registry: a code
/// the registry does not hold (`3` where Excel dropped the zeros of `003`)
/// is kept, as SPEC §2 says, but counted and named in the file's report.
struct UnitCheck {
    column: usize,
    known: HashSet<String>,
    /// The last code seen and whether it is known: rows of one unit come together.
    last: Option<(String, bool)>,
}

/// How many unknown codes a report names.
pub const SHOWN_UNKNOWN_UNITS: usize = 5;

impl UnitCheck {
    /// None for the units feed itself, a feed without unit codes, or a lake
    /// with no registry yet.
    fn load(manifest: &Manifest, root: &Path, def: &FeedDef) -> Result<Option<Self>> {
        let Some(column) = def.column_index("unit_code") else {
            return Ok(None);
        };
        let registry = manifest.data_files(Feed::Units);
        if def.feed == Feed::Units || registry.is_empty() {
            return Ok(None);
        }
        let mut known = HashSet::new();
        if def.feed == Feed::Targets {
            known.insert(crate::feeds::EVERY_UNIT.to_string());
        }
        for file in registry {
            let path = root.join(&file.path);
            for batch in lake::read_columns(&path, &["unit_code"])? {
                let batch = batch?;
                let codes = arrow::array::AsArray::as_string_opt::<i32>(batch.column(0))
                    .ok_or_else(|| lake::damaged(&path, "unit_code", "text"))?;
                known.extend(codes.iter().flatten().map(str::to_string));
            }
        }
        Ok(Some(UnitCheck {
            column,
            known,
            last: None,
        }))
    }

    fn check(&mut self, row: &[Cell], report: &mut FileReport) {
        let Cell::Text(code) = row[self.column] else {
            return;
        };
        let known = match &self.last {
            Some((last, known)) if last == code => *known,
            _ => {
                let known = self.known.contains(code);
                self.last = Some((code.to_string(), known));
                known
            }
        };
        if !known {
            report.unknown_units += 1;
            if report.unknown_unit_codes.len() < SHOWN_UNKNOWN_UNITS
                && !report.unknown_unit_codes.iter().any(|c| c == code)
            {
                report.unknown_unit_codes.push(code.to_string());
            }
        }
    }
}

/// The path as the manifest and quarantine record it: absolute, so it still
/// names the file when read from another directory.
fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn mask_if(def: &FeedDef, raw: String, known_id: Option<&str>) -> String {
    if def.has_personal_id() {
        privacy::mask_raw(&raw, known_id)
    } else {
        raw
    }
}

fn rejection_of(
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

/// A parsed value, borrowing text from the record.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'a> {
    Null,
    Text(&'a str),
    Enum(u8),
    Bool(bool),
    Int(i64),
    Ts(i64),
    /// A target and whether it was written as a percentage.
    Target(f64, bool),
    /// The keyed hash that replaces a personal ID.
    Key(String),
}

impl Cell<'_> {
    /// The value without its borrow of the record; None for text, which
    /// stays in the record.
    fn detached(self) -> Option<Cell<'static>> {
        Some(match self {
            Cell::Text(_) => return None,
            Cell::Null => Cell::Null,
            Cell::Enum(v) => Cell::Enum(v),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Int(v) => Cell::Int(v),
            Cell::Ts(v) => Cell::Ts(v),
            Cell::Target(v, p) => Cell::Target(v, p),
            Cell::Key(k) => Cell::Key(k),
        })
    }
}

/// A record's values as typed on the reading thread, per column (None:
/// the record's own text), or why the record is rejected.
type Detached = std::result::Result<Vec<Option<Cell<'static>>>, RowErrors>;

/// The row of `record` from its detached values.
fn attach<'a>(cells: Vec<Option<Cell<'static>>>, record: &'a RawRecord) -> Vec<Cell<'a>> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| match cell {
            Some(cell) => cell,
            None => record.get(i).map_or(Cell::Null, Cell::Text),
        })
        .collect()
}

/// Why one value is not accepted.
#[derive(Debug)]
enum ValueError {
    /// The row is rejected, for this reason.
    Invalid(String),
    /// A personal ID and no key configured: fatal for the whole file.
    NoPiiKey,
}

impl From<String> for ValueError {
    fn from(reason: String) -> Self {
        ValueError::Invalid(reason)
    }
}

struct ColumnParser {
    def: &'static ColumnDef,
    matcher: Option<EnumMatcher>,
    /// The last personal ID seen and its key.
    last_key: Option<(String, String)>,
}

/// A feed's `RowRule` with column names resolved to indexes and enum
/// values to their codes.
enum CompiledRule {
    NotBefore {
        later: usize,
        earlier: usize,
    },
    RequiredWhen {
        column: usize,
        when: usize,
        values: Vec<u8>,
    },
    ForbiddenWhen {
        column: usize,
        forbidden: u8,
        when: usize,
        values: Vec<u8>,
    },
    TargetFitsKpi {
        target: usize,
        kpi: usize,
    },
}

struct RowParser {
    def: &'static FeedDef,
    columns: Vec<ColumnParser>,
    defaults: Vec<Option<Cell<'static>>>,
    rules: Vec<CompiledRule>,
    zone: Zone,
    key: Option<PiiKey>,
}

/// Why a row is not accepted.
enum RowErrors {
    /// Rejected: each problem, with its column where it has one.
    Rejected(Vec<(Option<String>, String)>),
    /// It carries a personal ID and no key is configured.
    NoPiiKey,
}

impl RowParser {
    fn new(def: &'static FeedDef, zone: Zone, key: Option<PiiKey>) -> Self {
        let mut columns: Vec<ColumnParser> = def
            .columns
            .iter()
            .map(|c| ColumnParser {
                def: c,
                matcher: match c.ty {
                    ColumnType::Enum(e) => Some(EnumMatcher::new(e)),
                    _ => None,
                },
                last_key: None,
            })
            .collect();
        let defaults = def
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.default.map(|text| {
                    parse_value(&mut columns[i], text, &zone, None)
                        .expect("declared defaults parse")
                })
            })
            .collect();
        let index = |name: &str| def.column_index(name).expect("rules name declared columns");
        let enum_values = |column: usize, values: &[&str]| -> Vec<u8> {
            let ColumnType::Enum(e) = def.columns[column].ty else {
                panic!("rule on a non-enum column");
            };
            values.iter().filter_map(|v| e.index_of(v)).collect()
        };
        let rules = def
            .rules
            .iter()
            .map(|rule| match *rule {
                RowRule::NotBefore { later, earlier } => CompiledRule::NotBefore {
                    later: index(later),
                    earlier: index(earlier),
                },
                RowRule::RequiredWhen {
                    column,
                    when,
                    values,
                } => CompiledRule::RequiredWhen {
                    column: index(column),
                    when: index(when),
                    values: enum_values(index(when), values),
                },
                RowRule::ForbiddenWhen {
                    column,
                    forbidden,
                    when,
                    values,
                } => CompiledRule::ForbiddenWhen {
                    column: index(column),
                    forbidden: enum_values(index(column), &[forbidden])[0],
                    when: index(when),
                    values: enum_values(index(when), values),
                },
                RowRule::TargetFitsKpi { target, kpi } => CompiledRule::TargetFitsKpi {
                    target: index(target),
                    kpi: index(kpi),
                },
            })
            .collect();
        RowParser {
            def,
            columns,
            defaults,
            rules,
            zone,
            key,
        }
    }

    fn parse<'a>(
        &mut self,
        record: &'a RawRecord,
    ) -> std::result::Result<Vec<Cell<'a>>, RowErrors> {
        let mut row = Vec::with_capacity(self.columns.len());
        let mut errors = Vec::new();
        for i in 0..self.columns.len() {
            let cell = match record.get(i) {
                None => match &self.defaults[i] {
                    Some(default) => Ok(default.clone()),
                    None if self.columns[i].def.required => {
                        Err(ValueError::Invalid("a value is required".to_string()))
                    }
                    None => Ok(Cell::Null),
                },
                Some(raw) => parse_value(&mut self.columns[i], raw, &self.zone, Some(&self.key)),
            };
            match cell {
                Ok(cell) => row.push(cell),
                Err(ValueError::NoPiiKey) => return Err(RowErrors::NoPiiKey),
                Err(ValueError::Invalid(reason)) => {
                    errors.push((Some(self.columns[i].def.name.to_string()), reason));
                    row.push(Cell::Null);
                }
            }
        }
        let failed: HashSet<&str> = errors.iter().filter_map(|(c, _)| c.as_deref()).collect();
        let mut rule_errors = Vec::new();
        for rule in &self.rules {
            if let Some((column, reason)) = self.check(rule, &row)
                && !failed.contains(column)
            {
                rule_errors.push((Some(column.to_string()), reason));
            }
        }
        errors.extend(rule_errors);
        if errors.is_empty() {
            Ok(row)
        } else {
            Err(RowErrors::Rejected(errors))
        }
    }

    /// `parse`, with each value detached from the record (text read from
    /// the record itself is left for `attach`; a default's is kept).
    fn parse_detached(&mut self, record: &RawRecord) -> Detached {
        let row = self.parse(record)?;
        Ok(row
            .into_iter()
            .enumerate()
            .map(|(i, cell)| match cell {
                Cell::Text(_) if record.get(i).is_none() => self.defaults[i].clone(),
                cell => cell.detached(),
            })
            .collect())
    }

    fn name(&self, i: usize) -> &'static str {
        self.def.columns[i].name
    }

    fn enum_name(&self, i: usize, v: u8) -> &'static str {
        match self.columns[i].matcher.as_ref() {
            Some(m) => m.def().canonical(v),
            None => "",
        }
    }

    /// The column a rule faults and why, when the row breaks it.
    fn check(&self, rule: &CompiledRule, row: &[Cell]) -> Option<(&'static str, String)> {
        match rule {
            CompiledRule::NotBefore { later, earlier } => match (&row[*later], &row[*earlier]) {
                (Cell::Ts(l), Cell::Ts(e)) if l < e => Some((
                    self.name(*later),
                    format!(
                        "{} ({}) is before {} ({})",
                        self.name(*later),
                        time::format_utc(*l),
                        self.name(*earlier),
                        time::format_utc(*e)
                    ),
                )),
                _ => None,
            },
            CompiledRule::RequiredWhen {
                column,
                when,
                values,
            } => match (&row[*column], &row[*when]) {
                (Cell::Null, Cell::Enum(v)) if values.contains(v) => Some((
                    self.name(*column),
                    format!(
                        "{} is required when {} is {}",
                        self.name(*column),
                        self.name(*when),
                        self.enum_name(*when, *v)
                    ),
                )),
                _ => None,
            },
            CompiledRule::ForbiddenWhen {
                column,
                forbidden,
                when,
                values,
            } => match (&row[*column], &row[*when]) {
                (Cell::Enum(c), Cell::Enum(v)) if c == forbidden && values.contains(v) => Some((
                    self.name(*column),
                    format!(
                        "{} cannot be {} when {} is {}",
                        self.name(*column),
                        self.enum_name(*column, *c),
                        self.name(*when),
                        self.enum_name(*when, *v)
                    ),
                )),
                _ => None,
            },
            CompiledRule::TargetFitsKpi {
                target,
                kpi: kpi_column,
            } => {
                let Cell::Text(id) = row[*kpi_column] else {
                    return None;
                };
                let Some(kpi) = kpi::find(id) else {
                    return Some((
                        self.name(*kpi_column),
                        format!("'{id}' is not a KPI of SPEC §5 (see `motcua kpis`)"),
                    ));
                };
                let Cell::Target(value, percent) = row[*target] else {
                    return None;
                };
                let why = if value < 0.0 {
                    Some("a target cannot be negative".to_string())
                } else if kpi.kind == KpiKind::Rate && !percent && value > 1.0 {
                    Some(format!(
                        "{id} is a rate: write its target as a fraction (0.95) or a percentage (95%), not {value}"
                    ))
                } else if kpi.kind != KpiKind::Rate && percent {
                    Some(format!(
                        "{id} is not a rate: its target is a plain number, not a percentage"
                    ))
                } else {
                    None
                };
                why.map(|why| (self.name(*target), why))
            }
        }
    }
}

fn parse_value<'a>(
    column: &mut ColumnParser,
    raw: &'a str,
    zone: &Zone,
    key: Option<&Option<PiiKey>>,
) -> std::result::Result<Cell<'a>, ValueError> {
    Ok(match column.def.ty {
        ColumnType::Text => Cell::Text(raw),
        ColumnType::Enum(_) => {
            let matcher = column
                .matcher
                .as_mut()
                .expect("enum columns have a matcher");
            Cell::Enum(matcher.parse(raw).ok_or_else(|| matcher.error(raw))?)
        }
        ColumnType::Bool => Cell::Bool(values::parse_bool(raw)?),
        ColumnType::Int { min } => {
            let value = values::parse_int(raw)?;
            match min {
                Some(min) if value < min => {
                    return Err(format!("{value} is below the minimum {min}").into());
                }
                _ => Cell::Int(value),
            }
        }
        ColumnType::Timestamp { deadline } => Cell::Ts(time::parse_timestamp(raw, zone, deadline)?),
        ColumnType::Target => {
            let (value, percent) = values::parse_target(raw)?;
            Cell::Target(value, percent)
        }
        ColumnType::PersonalId { .. } => match key.and_then(|k| k.as_ref()) {
            Some(key) => {
                // A dossier's snapshots usually follow each other: the same
                // applicant again costs no second HMAC.
                if let Some((id, hashed)) = &column.last_key
                    && id == raw
                {
                    return Ok(Cell::Key(hashed.clone()));
                }
                let hashed = key.applicant_key(raw);
                column.last_key = Some((raw.to_string(), hashed.clone()));
                Cell::Key(hashed)
            }
            None => return Err(ValueError::NoPiiKey),
        },
    })
}

/// Appends rows to Arrow builders laid out as the feed's lake schema.
struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    with_hash: bool,
    /// Feed column index of each stored local date.
    local_dates: Vec<usize>,
    zone: Zone,
}

enum ColumnBuilder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Ts(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Date(Date32Builder),
    Hash(FixedSizeBinaryBuilder),
}

impl ColumnBuilder {
    fn for_type(data_type: &DataType) -> Self {
        match data_type {
            DataType::Utf8 => ColumnBuilder::Str(StringBuilder::new()),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::new()),
            DataType::Int64 => ColumnBuilder::Int(Int64Builder::new()),
            DataType::Timestamp(_, _) => {
                ColumnBuilder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            DataType::Float64 => ColumnBuilder::Float(Float64Builder::new()),
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::new()),
            DataType::FixedSizeBinary(n) => ColumnBuilder::Hash(FixedSizeBinaryBuilder::new(*n)),
            other => unreachable!("lake schemas use no {other}"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Ts(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Hash(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            ColumnBuilder::Str(b) => b.len(),
            ColumnBuilder::Bool(b) => b.len(),
            ColumnBuilder::Int(b) => b.len(),
            ColumnBuilder::Ts(b) => b.len(),
            ColumnBuilder::Float(b) => b.len(),
            ColumnBuilder::Date(b) => b.len(),
            ColumnBuilder::Hash(b) => b.len(),
        }
    }
}

impl BatchBuilder {
    fn new(def: &FeedDef, zone: Zone) -> Self {
        let schema = def.lake_schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::for_type(f.data_type()))
            .collect();
        BatchBuilder {
            schema,
            columns,
            with_hash: def.dedup == DedupRule::IdenticalRow,
            local_dates: def
                .local_dates
                .iter()
                .map(|(ts, _)| {
                    def.column_index(ts)
                        .expect("local dates name declared columns")
                })
                .collect(),
            zone,
        }
    }

    fn len(&self) -> usize {
        self.columns.last().map_or(0, ColumnBuilder::len)
    }

    /// `hash`: the row's hash when the caller has it already.
    fn append(&mut self, def: &FeedDef, row: &[Cell], seq: u64, line: u64, hash: Option<u128>) {
        for (i, (cell, builder)) in row.iter().zip(self.columns.iter_mut()).enumerate() {
            match (builder, cell) {
                (ColumnBuilder::Str(b), Cell::Text(s)) => b.append_value(s),
                (ColumnBuilder::Str(b), Cell::Key(s)) => b.append_value(s),
                (ColumnBuilder::Str(b), Cell::Enum(v)) => {
                    let ColumnType::Enum(e) = def.columns[i].ty else {
                        unreachable!("enum cell in a non-enum column")
                    };
                    b.append_value(e.canonical(*v))
                }
                (ColumnBuilder::Str(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
                (ColumnBuilder::Bool(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(*v),
                (ColumnBuilder::Int(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Ts(b), Cell::Ts(v)) => b.append_value(*v),
                (ColumnBuilder::Ts(b), Cell::Null) => b.append_null(),
                (ColumnBuilder::Float(b), Cell::Target(v, _)) => b.append_value(*v),
                (ColumnBuilder::Float(b), Cell::Null) => b.append_null(),
                (_, cell) => unreachable!("cell {cell:?} does not fit column {i}"),
            }
        }
        let mut rest = self.columns[row.len()..].iter_mut();
        for column in &self.local_dates {
            if let Some(ColumnBuilder::Date(b)) = rest.next() {
                match row[*column] {
                    Cell::Ts(t) => b.append_value(self.zone.local_days(t)),
                    _ => b.append_null(),
                }
            }
        }
        if self.with_hash
            && let Some(ColumnBuilder::Hash(b)) = rest.next()
        {
            let hash = hash.unwrap_or_else(|| row_hash(row));
            b.append_value(hash.to_le_bytes())
                .expect("a 16-byte hash fits FixedSizeBinary(16)");
        }
        if let Some(ColumnBuilder::Int(b)) = rest.next() {
            b.append_value(seq as i64);
        }
        if let Some(ColumnBuilder::Int(b)) = rest.next() {
            b.append_value(line as i64);
        }
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let arrays = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// Hash of a row's stored values: the identity of a snapshot.
fn row_hash(row: &[Cell]) -> u128 {
    // One call over the row's bytes (the same bytes a streaming hasher would
    // be fed, so the same hash): a streaming update per field was a tenth of
    // an ingest's parsing thread.
    thread_local! {
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        for cell in row {
            match cell {
                Cell::Null => bytes.push(0),
                Cell::Text(s) => hash_text(bytes, s),
                Cell::Key(s) => hash_text(bytes, s),
                Cell::Enum(v) => bytes.extend_from_slice(&[2, *v]),
                Cell::Bool(v) => bytes.extend_from_slice(&[3, u8::from(*v)]),
                Cell::Int(v) | Cell::Ts(v) => {
                    bytes.push(4);
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                Cell::Target(v, _) => {
                    bytes.push(5);
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        xxh3_128(bytes)
    })
}

fn hash_text(bytes: &mut Vec<u8>, s: &str) {
    bytes.push(1);
    bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
    bytes.extend_from_slice(s.as_bytes());
}

/// Memory all open files' unfinished row groups may hold together. Each
/// partition buffers a row group before writing it; a file spread over many
/// months would otherwise hold one full row group per month at once.
const WRITE_BUFFER_BYTES: usize = 96 << 20;

/// Ends the largest unfinished row group early while the buffers pass
/// `WRITE_BUFFER_BYTES`.
fn limit_buffers<K>(writers: &mut HashMap<K, StagedWriter>) -> Result<()> {
    let total: usize = writers.values().map(|w| w.writer.memory_size()).sum();
    if total > WRITE_BUFFER_BYTES
        && let Some(largest) = writers.values_mut().max_by_key(|w| w.writer.memory_size())
    {
        largest.writer.flush()?;
    }
    Ok(())
}

/// One open Parquet file in staging.
struct StagedWriter {
    writer: ArrowWriter<File>,
    staged: PathBuf,
    rel: String,
    rows: u64,
}

impl StagedWriter {
    fn create(staged: PathBuf, rel: String, schema: SchemaRef) -> Result<Self> {
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let file = File::create(&staged).map_err(|e| Error::io(&staged, e))?;
        let writer = ArrowWriter::try_new(file, schema, Some(lake::writer_properties()))?;
        Ok(StagedWriter {
            writer,
            staged,
            rel,
            rows: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch)?;
        Ok(())
    }

    /// Closes the file and syncs it, so the rename that commits it is
    /// durable; returns it with its rows.
    fn finish(self) -> Result<(lake::Staged, u64)> {
        let file = self.writer.into_inner()?;
        Ok((lake::Staged::sync(&file, self.staged, self.rel)?, self.rows))
    }
}

/// Routes accepted rows to one staged file per partition (local month).
/// Rows are gathered into batches here; encoding and compressing them into
/// Parquet happens on a writer thread, so parsing and writing use both cores.
struct PartitionSinks {
    def: &'static FeedDef,
    /// None in a dry run: batches are built, counted and dropped.
    staging: Option<PathBuf>,
    seq: u64,
    builders: HashMap<Partition, BatchBuilder>,
    /// Rows appended per partition.
    rows: HashMap<Partition, u64>,
    partition_column: Option<usize>,
    months: MonthLookup,
    writer: Option<WriterThread>,
}

/// What the parsing side sends the writer thread.
enum WriterMessage {
    Open {
        month: Partition,
        staged: PathBuf,
        rel: String,
        schema: SchemaRef,
    },
    Batch {
        month: Partition,
        batch: RecordBatch,
    },
}

/// A file's local month (`YYYY-MM`), for a feed partitioned by month: shared,
/// not copied, by every row that goes to it.
type Partition = Option<Arc<str>>;

/// A closed partition file.
struct WrittenFile {
    month: Partition,
    /// Its path in the lake.
    rel: String,
    rows: u64,
    /// None in a dry run.
    staged: Option<lake::Staged>,
}

/// Dropped unfinished (the ingest failed or was interrupted), it waits for
/// the thread, so nothing writes into staging once the caller cleans it.
struct WriterThread {
    sender: Option<std::sync::mpsc::SyncSender<WriterMessage>>,
    handle: Option<std::thread::JoinHandle<Result<Vec<WrittenFile>>>>,
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl WriterThread {
    fn start() -> Self {
        // A few batches in flight: enough to keep both sides busy, few enough
        // that memory stays bounded whatever the file size.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<WriterMessage>(4);
        let handle = std::thread::spawn(move || {
            let mut writers: HashMap<Partition, StagedWriter> = HashMap::new();
            for message in receiver {
                match message {
                    WriterMessage::Open {
                        month,
                        staged,
                        rel,
                        schema,
                    } => {
                        writers.insert(month, StagedWriter::create(staged, rel, schema)?);
                    }
                    WriterMessage::Batch { month, batch } => {
                        if let Some(writer) = writers.get_mut(&month) {
                            writer.write(&batch)?;
                        }
                        limit_buffers(&mut writers)?;
                    }
                }
            }
            let mut closed = Vec::new();
            for (month, writer) in writers {
                let rel = writer.rel.clone();
                let (staged, rows) = writer.finish()?;
                closed.push(WrittenFile {
                    month,
                    rel,
                    rows,
                    staged: Some(staged),
                });
            }
            Ok(closed)
        });
        WriterThread {
            sender: Some(sender),
            handle: Some(handle),
        }
    }

    fn send(&mut self, message: WriterMessage) -> Result<()> {
        // A closed channel means the writer stopped on an error: finish() reports it.
        if let Some(sender) = &self.sender {
            let _ = sender.send(message);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<WrittenFile>> {
        self.sender.take();
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(written)) => written,
            _ => Err(Error::lake("staging", "the Parquet writer thread panicked")),
        }
    }
}

impl PartitionSinks {
    fn new(def: &'static FeedDef, staging: Option<&Path>, seq: u64, zone: Zone) -> Self {
        PartitionSinks {
            def,
            staging: staging.map(Path::to_path_buf),
            seq,
            builders: HashMap::new(),
            rows: HashMap::new(),
            partition_column: def.partition_by.and_then(|c| def.column_index(c)),
            months: MonthLookup::new(zone),
            writer: None,
        }
    }

    fn partition_of(&mut self, row: &[Cell]) -> Partition {
        match self.partition_column.map(|i| &row[i]) {
            Some(Cell::Ts(t)) => Some(self.months.key(*t)),
            _ => None,
        }
    }

    fn rel_path(&self, month: Option<&str>) -> String {
        match month {
            Some(m) => format!("{}/month={m}/f{:06}.parquet", self.def.name, self.seq),
            None => format!("{}/f{:06}.parquet", self.def.name, self.seq),
        }
    }

    fn writer(&mut self) -> &mut WriterThread {
        self.writer.get_or_insert_with(WriterThread::start)
    }

    fn open(&mut self, month: &Partition) -> Result<()> {
        if self.builders.contains_key(month) {
            return Ok(());
        }
        let builder = BatchBuilder::new(self.def, self.months.zone);
        if let Some(staging) = &self.staging {
            let rel = self.rel_path(month.as_deref());
            let staged = staging.join(&rel);
            let schema = builder.schema.clone();
            self.writer().send(WriterMessage::Open {
                month: month.clone(),
                staged,
                rel,
                schema,
            })?;
        }
        self.builders.insert(month.clone(), builder);
        self.rows.insert(month.clone(), 0);
        Ok(())
    }

    /// Hands a full batch to the writer thread (dropped in a dry run).
    fn send_batch(&mut self, month: Partition, batch: RecordBatch) -> Result<()> {
        if self.staging.is_some() {
            self.writer().send(WriterMessage::Batch { month, batch })?;
        }
        Ok(())
    }

    fn append(
        &mut self,
        month: Partition,
        row: &[Cell],
        line: u64,
        hash: Option<u128>,
    ) -> Result<()> {
        self.open(&month)?;
        let (def, seq) = (self.def, self.seq);
        let builder = self
            .builders
            .get_mut(&month)
            .expect("partition opened above");
        builder.append(def, row, seq, line, hash);
        let full = builder.len() >= BATCH_ROWS;
        *self.rows.entry(month.clone()).or_default() += 1;
        if full {
            let batch = builder.finish()?;
            self.send_batch(month, batch)?;
        }
        Ok(())
    }

    /// Closes every file. A replacing feed always gets a file, even empty, so
    /// the table it replaces becomes empty rather than stale.
    fn finish(mut self) -> Result<(Vec<DataFile>, Vec<lake::Staged>)> {
        if self.def.retention == Retention::Replace {
            self.open(&None)?;
        }
        let mut rest: Vec<(Partition, BatchBuilder)> = self.builders.drain().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (month, mut builder) in rest {
            if builder.len() > 0 {
                let batch = builder.finish()?;
                self.send_batch(month, batch)?;
            }
        }
        let mut closed = match self.writer.take() {
            Some(writer) => writer.finish()?,
            None => self
                .rows
                .iter()
                .map(|(month, rows)| WrittenFile {
                    month: month.clone(),
                    rel: self.rel_path(month.as_deref()),
                    rows: *rows,
                    staged: None,
                })
                .collect(),
        };
        closed.sort_by(|a, b| a.month.cmp(&b.month));
        let mut files = Vec::new();
        let mut staged = Vec::new();
        for file in closed {
            files.push(DataFile {
                path: file.rel,
                rows: file.rows,
                month: file.month.map(|m| m.to_string()),
            });
            staged.extend(file.staged);
        }
        Ok((files, staged))
    }
}

/// Maps instants to local `YYYY-MM` keys, caching month boundaries so the
/// zone database is consulted once per month, not once per row.
struct MonthLookup {
    zone: Zone,
    /// (start, end) in UTC micros, and the key.
    known: Vec<(i64, i64, Arc<str>)>,
}

impl MonthLookup {
    fn new(zone: Zone) -> Self {
        MonthLookup {
            zone,
            known: Vec::new(),
        }
    }

    fn key(&mut self, micros: i64) -> Arc<str> {
        if let Some((_, _, key)) = self
            .known
            .iter()
            .find(|(start, end, _)| *start <= micros && micros < *end)
        {
            return key.clone();
        }
        let local = self.zone.to_local(micros);
        let key: Arc<str> = self.zone.month_key(micros).into();
        use chrono::Datelike;
        let first = chrono::NaiveDate::from_ymd_opt(local.year(), local.month(), 1);
        let next = first.and_then(|d| d.checked_add_months(chrono::Months::new(1)));
        if let (Some(first), Some(next)) = (first, next) {
            let start = self
                .zone
                .local_to_utc(first.and_time(chrono::NaiveTime::MIN));
            let end = self
                .zone
                .local_to_utc(next.and_time(chrono::NaiveTime::MIN));
            if let (Ok(start), Ok(end)) = (start, end)
                && self.known.len() < 1024
            {
                self.known.push((start, end, key.clone()));
            }
        }
        key
    }
}

/// Rejected rows of one input file, written to `quarantine/<feed>/fSEQ.parquet`.
struct QuarantineSink {
    /// None in a dry run: rows are counted, not written.
    staging: Option<PathBuf>,
    rel: String,
    source: String,
    seq: u64,
    writer: Option<StagedWriter>,
    lines: Int64Builder,
    columns: StringBuilder,
    reasons: StringBuilder,
    raws: StringBuilder,
}

impl QuarantineSink {
    fn new(def: &FeedDef, staging: Option<&Path>, seq: u64, source: &Path) -> Self {
        QuarantineSink {
            staging: staging.map(Path::to_path_buf),
            rel: format!("{}/{}/f{seq:06}.parquet", lake::QUARANTINE, def.name),
            source: source.display().to_string(),
            seq,
            writer: None,
            lines: Int64Builder::new(),
            columns: StringBuilder::new(),
            reasons: StringBuilder::new(),
            raws: StringBuilder::new(),
        }
    }

    fn push(&mut self, rejection: &Rejection, raw: &str) -> Result<()> {
        self.lines.append_value(rejection.line as i64);
        self.columns.append_option(rejection.column.as_deref());
        self.reasons.append_value(&rejection.reason);
        self.raws.append_value(raw);
        if self.lines.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let rows = self.lines.len();
        if rows == 0 {
            return Ok(());
        }
        let schema = lake::quarantine_schema();
        if let (None, Some(staging)) = (&self.writer, &self.staging) {
            let staged = staging.join(&self.rel);
            self.writer = Some(StagedWriter::create(
                staged,
                self.rel.clone(),
                schema.clone(),
            )?);
        }
        let feed = self.rel.split('/').nth(1).unwrap_or_default().to_string();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_value(self.seq as i64, rows)),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    feed, rows,
                ))),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    &self.source,
                    rows,
                ))),
                Arc::new(self.lines.finish()),
                Arc::new(self.columns.finish()),
                Arc::new(self.reasons.finish()),
                Arc::new(self.raws.finish()),
            ],
        )?;
        if let Some(writer) = self.writer.as_mut() {
            writer.write(&batch)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Option<lake::Staged>> {
        self.flush()?;
        match self.writer.take() {
            Some(writer) => Ok(Some(writer.finish()?.0)),
            None => Ok(None),
        }
    }
}

/// A set of 128-bit keys that are already xxh3 hashes: SipHash over them
/// again only costs time, so their low 64 bits serve as the hash. Split in
/// shards by the top bits: a shard grows on its own, so growing never holds
/// two copies of the whole set (at 20 M keys that was 300 MB at once).
struct KeySet {
    shards: Vec<HashSet<u128, std::hash::BuildHasherDefault<PassThroughHasher>>>,
}

const KEY_SHARDS_LOG2: u32 = 6;

impl Default for KeySet {
    fn default() -> Self {
        KeySet {
            shards: (0..1 << KEY_SHARDS_LOG2)
                .map(|_| HashSet::default())
                .collect(),
        }
    }
}

impl KeySet {
    fn shard(key: u128) -> usize {
        (key >> (128 - KEY_SHARDS_LOG2)) as usize
    }

    fn contains(&self, key: &u128) -> bool {
        self.shards[Self::shard(*key)].contains(key)
    }

    /// True when the key was not there.
    fn insert(&mut self, key: u128) -> bool {
        self.shards[Self::shard(key)].insert(key)
    }

    fn is_empty(&self) -> bool {
        self.shards.iter().all(HashSet::is_empty)
    }

    fn clear(&mut self) {
        self.shards.iter_mut().for_each(HashSet::clear);
    }

    /// Moves every key of `other` into this set.
    fn absorb(&mut self, other: &mut KeySet) {
        for (mine, theirs) in self.shards.iter_mut().zip(other.shards.iter_mut()) {
            mine.extend(theirs.drain());
        }
    }
}

#[derive(Default)]
struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys are hashed; this is the fallback for anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }
}

/// Which rows the lake already holds, for SPEC §4's duplicate rules. Keys are
/// 128-bit hashes; keys of the file being ingested stay pending until it
/// commits, so a failed file leaves no trace.
struct DedupIndex {
    feed: Feed,
    rule: DedupRule,
    id_column: Option<usize>,
    committed: KeySet,
    pending: KeySet,
    loaded_months: HashSet<String>,
    loaded_all: bool,
}

impl DedupIndex {
    fn new(def: &FeedDef) -> Self {
        let id_column = match def.dedup {
            DedupRule::UniqueId(column) => def.column_index(column),
            _ => None,
        };
        DedupIndex {
            feed: def.feed,
            rule: def.dedup,
            id_column,
            committed: KeySet::default(),
            pending: KeySet::default(),
            loaded_months: HashSet::new(),
            loaded_all: false,
        }
    }

    /// The row hash, when `key` (from `key_of`) is one.
    fn row_hash(&self, key: Option<u128>) -> Option<u128> {
        key.filter(|_| matches!(self.rule, DedupRule::IdenticalRow))
    }

    fn key_of(&self, row: &[Cell]) -> Option<u128> {
        match self.rule {
            DedupRule::IdenticalRow => Some(row_hash(row)),
            DedupRule::UniqueId(_) => match self.id_column.map(|i| &row[i]) {
                Some(Cell::Text(id)) => Some(xxh3_128(id.as_bytes())),
                _ => None,
            },
            DedupRule::None => None,
        }
    }

    /// Loads the committed keys a row's check needs: the row's month for
    /// identical-row rules (identical rows share a month), everything for ids.
    fn ensure_loaded(
        &mut self,
        manifest: &Manifest,
        root: &Path,
        month: Option<&str>,
    ) -> Result<()> {
        let (column, files): (&str, Vec<&DataFile>) = match self.rule {
            DedupRule::IdenticalRow => {
                let Some(month) = month else { return Ok(()) };
                // Asked once per row: no allocation unless the month is new.
                if self.loaded_months.contains(month) {
                    return Ok(());
                }
                self.loaded_months.insert(month.to_string());
                let feed = self.feed;
                (
                    crate::feeds::ROW_HASH,
                    manifest
                        .data_files(feed)
                        .into_iter()
                        .filter(|f| f.month.as_deref() == Some(month))
                        .collect(),
                )
            }
            DedupRule::UniqueId(column) => {
                if self.loaded_all {
                    return Ok(());
                }
                self.loaded_all = true;
                let feed = self.feed;
                (column, manifest.data_files(feed))
            }
            DedupRule::None => return Ok(()),
        };
        for file in files {
            read_keys(
                &root.join(&file.path),
                column,
                self.rule,
                &mut self.committed,
            )?;
        }
        Ok(())
    }

    /// True when the key is new (and now taken).
    fn insert(&mut self, key: u128) -> bool {
        !self.committed.contains(&key) && self.pending.insert(key)
    }

    fn commit(&mut self) {
        // Moving the first file's keys instead of copying them: at 20 M rows
        // both sets at once were a third of the ingest's peak memory.
        if self.committed.is_empty() {
            std::mem::swap(&mut self.committed, &mut self.pending);
        } else {
            self.committed.absorb(&mut self.pending);
        }
    }

    fn rollback(&mut self) {
        self.pending.clear();
    }
}

fn read_keys(path: &Path, column: &str, rule: DedupRule, into: &mut KeySet) -> Result<()> {
    use arrow::array::{Array, AsArray};
    for batch in crate::lake::read_columns(path, &[column])? {
        let batch = batch?;
        let array = batch.column(0);
        match rule {
            DedupRule::IdenticalRow => {
                let hashes = array
                    .as_fixed_size_binary_opt()
                    .filter(|h| h.value_length() == 16 && h.null_count() == 0)
                    .ok_or_else(|| lake::damaged(path, column, "16-byte hashes"))?;
                for i in 0..hashes.len() {
                    let mut bytes = [0u8; 16];
                    bytes.copy_from_slice(hashes.value(i));
                    into.insert(u128::from_le_bytes(bytes));
                }
            }
            _ => {
                let ids = array
                    .as_string_opt::<i32>()
                    .ok_or_else(|| lake::damaged(path, column, "text"))?;
                for id in ids.iter().flatten() {
                    into.insert(xxh3_128(id.as_bytes()));
                }
            }
        }
    }
    Ok(())
}

/// SPEC §2's whole-file rules for a units registry.
#[derive(Default)]
struct RegistryCheck {
    units: Vec<(String, Option<String>, u64)>,
}

impl RegistryCheck {
    fn add(&mut self, row: &[Cell], line: u64) {
        let text = |i: usize| match &row[i] {
            Cell::Text(s) => Some(s.to_string()),
            _ => None,
        };
        let code_column = crate::feeds::UNITS.column_index("unit_code");
        let parent_column = crate::feeds::UNITS.column_index("parent_code");
        if let (Some(code), Some(parent)) = (code_column, parent_column)
            && let Some(code) = text(code)
        {
            self.units.push((code, text(parent), line));
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.units.is_empty() {
            return Err("it has no valid unit rows; the registry was left as it was".into());
        }
        let mut lines: HashMap<&str, Vec<u64>> = HashMap::new();
        for (code, _, line) in &self.units {
            lines.entry(code).or_default().push(*line);
        }
        let mut duplicates: Vec<String> = lines
            .iter()
            .filter(|(_, l)| l.len() > 1)
            .map(|(code, l)| {
                let l: Vec<String> = l.iter().map(u64::to_string).collect();
                format!("{code} (lines {})", l.join(", "))
            })
            .collect();
        if !duplicates.is_empty() {
            duplicates.sort();
            return Err(format!("duplicate unit_code: {}", duplicates.join("; ")));
        }
        let parents: HashMap<&str, Option<&str>> = self
            .units
            .iter()
            .map(|(code, parent, _)| (code.as_str(), parent.as_deref()))
            .collect();
        let mut orphans: Vec<String> = self
            .units
            .iter()
            .filter_map(|(code, parent, line)| {
                let parent = parent.as_deref()?;
                (!parents.contains_key(parent)).then(|| format!("{code} → {parent} (line {line})"))
            })
            .collect();
        if !orphans.is_empty() {
            orphans.sort();
            return Err(format!(
                "parent_code not in the file: {}",
                orphans.join("; ")
            ));
        }
        // Walk up from every unit; a walk longer than the registry is a cycle.
        let mut in_cycle: Vec<&str> = Vec::new();
        for (code, _, _) in &self.units {
            let mut current = code.as_str();
            let mut steps = 0;
            while let Some(Some(parent)) = parents.get(current) {
                current = parent;
                steps += 1;
                if current == code {
                    in_cycle.push(code);
                    break;
                }
                if steps > parents.len() {
                    break;
                }
            }
        }
        if !in_cycle.is_empty() {
            in_cycle.sort();
            return Err(format!(
                "parent_code forms a cycle through: {}",
                in_cycle.join(", ")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(units: &[(&str, Option<&str>)]) -> RegistryCheck {
        RegistryCheck {
            units: units
                .iter()
                .zip(2..)
                .map(|((code, parent), line)| (code.to_string(), parent.map(str::to_string), line))
                .collect(),
        }
    }

    #[test]
    fn a_registry_is_a_tree_of_unique_codes() {
        assert_eq!(registry(&[("P", None), ("D", Some("P"))]).check(), Ok(()));
        assert_eq!(
            registry(&[]).check(),
            Err("it has no valid unit rows; the registry was left as it was".into())
        );
        assert_eq!(
            registry(&[("P", None), ("D", Some("P")), ("P", None)]).check(),
            Err("duplicate unit_code: P (lines 2, 4)".into())
        );
        assert_eq!(
            registry(&[("D", Some("X"))]).check(),
            Err("parent_code not in the file: D → X (line 2)".into())
        );
        assert_eq!(
            registry(&[("A", Some("B")), ("B", Some("A")), ("C", Some("A"))]).check(),
            Err("parent_code forms a cycle through: A, B".into())
        );
    }

    #[test]
    fn a_failed_files_keys_leave_no_trace_and_committed_keys_stay() {
        let mut keys = DedupIndex::new(&crate::feeds::SIGNATURES);
        assert!(keys.insert(1));
        assert!(!keys.insert(1), "a repeat within the file");
        keys.rollback();
        assert!(keys.insert(1), "the failed file claimed nothing");
        keys.commit();
        assert!(!keys.insert(1), "committed");
        assert!(keys.insert(u128::MAX));
        keys.commit();
        assert!(!keys.insert(u128::MAX) && !keys.insert(1));
    }

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
