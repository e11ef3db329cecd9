//! Ingestion: raw records → typed, validated rows → staged Parquet →
//! committed to the lake, one input file at a time (SPEC §4, §6).
//!
//! Every record read ends in exactly one of three places: the lake
//! (accepted), quarantine (with file, line, column and reason), or the
//! duplicate count. Validation comes before de-duplication, so a rejected row
//! never claims an id.
//!
//! `file` stages one input; `run` holds what one command has staged and
//! commits it; `report` says what happened to each file.

pub(crate) mod file;
pub(crate) mod report;
pub(crate) mod run;

pub use crate::validate::row::Rejection;
pub use report::{FileReport, RejectLimit, SHOWN_UNKNOWN_UNITS, WARN_REJECTED_SHARE};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::dedupe::DedupIndex;
use crate::error::{Error, Result};
use crate::ingest::file::{InputFile, Target, stage_file};
use crate::ingest::report::judge;
use crate::ingest::report::over_limit;
use crate::ingest::run::IngestRun;
use crate::lake::{self, Lake, Manifest};
use crate::read::{self, Format};
use crate::spec::feeds::Feed;
use crate::storage::Location;
use crate::validate::privacy::PiiKey;
use crate::validate::time::Zone;

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub zone: Zone,
    pub pii_key: Option<PiiKey>,
    /// Any rejected row makes the whole command fail with nothing committed.
    pub strict: bool,
    /// Overrides the format chosen by file extension.
    pub format: Option<Format>,
    /// Splits CSV fields on this byte instead of the one detected.
    pub delimiter: Option<u8>,
    /// The `updated_at` of every row of an export that has none (SPEC §4.5).
    pub exported_at: Option<String>,
    /// The workbook sheet to read, instead of the first holding a header.
    pub sheet: Option<String>,
    /// How the office's export names columns and values (`--profile`);
    /// the command line's `delimiter` and `sheet` come before its own.
    pub profile: Option<std::sync::Arc<crate::read::Profile>>,
    /// Fail at once, rather than wait, when another process holds the lake.
    pub no_wait: bool,
    /// A file with a larger share of rejected rows fails, committing
    /// nothing of it.
    pub max_rejected: Option<RejectLimit>,
    /// Dossier snapshots held in memory before a sorted run of the current
    /// state spills to disk (`current::RUN_RECORDS` when None); tests make
    /// it small to exercise many runs.
    pub run_records: Option<usize>,
    /// The size of the chunks a CSV file is cut into to be parsed on one
    /// thread per core (0: record by record, on one thread; None: 1 MiB).
    /// Tests cut small ones, to compare the two.
    pub chunk_bytes: Option<usize>,
    /// Counters a caller watches while the files are read (a progress bar).
    pub progress: Option<Arc<Progress>>,
}

/// What has been read so far, across the files of one command.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the inputs read by the parser.
    pub bytes: AtomicU64,
    /// Records read.
    pub rows: AtomicU64,
}

impl Progress {
    /// `input`, counting the bytes read from it into `progress`, if any.
    pub(crate) fn counted(progress: &Option<Arc<Progress>>, input: read::Input) -> read::Input {
        match progress {
            Some(progress) => Box::new(Counted {
                input,
                progress: progress.clone(),
            }),
            None => input,
        }
    }
}

struct Counted {
    input: read::Input,
    progress: Arc<Progress>,
}

impl std::io::Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Ingests `paths` into the lake at `location` as `feed`, in order. Without
/// `strict`, each file commits on its own; with it, all commit together or
/// none does. `on_report` sees each file's report as soon as it is known.
/// A failure part-way names the files committed before it and those never
/// read (`Error::Stopped`).
pub fn ingest_files(
    location: &Location,
    feed: Feed,
    paths: &[PathBuf],
    options: &IngestOptions,
    on_report: &mut dyn FnMut(&FileReport),
) -> Result<Vec<FileReport>> {
    // Every input must be there before the lake is touched.
    for path in paths {
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    }
    let mut lake = Lake::open_for_write(location, &options.zone, !options.no_wait)?;
    let key_check = check_key(lake.manifest(), location, feed, options)?;
    let mut run = IngestRun {
        txn: lake::Transaction::begin(&lake, key_check)?,
        dedup: DedupIndex::new(feed.def()),
        seq: lake.next_seq(),
        current: None,
    };
    let mut reports: Vec<FileReport> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let outcome = run
            .add_file(&mut lake, feed, path, options, on_report)
            .map(|report| reports.push(report));
        if let Err(e) = outcome {
            run.dedup.rollback();
            let _ = lake.remove_staging();
            return Err(stopped(e, &reports, options.strict, &paths[i + 1..]));
        }
    }
    if options.strict {
        if let Err(e) = refuse_rejections(&reports) {
            let _ = lake.remove_staging();
            return Err(e);
        }
        if let Some(last) = run.txn.entries().last().map(|e| e.seq) {
            run.commit(&mut lake, last)?;
        }
    }
    lake.remove_staging()?;
    judge(&reports, options)?;
    Ok(reports)
}

/// What a multi-file command that failed at one file tells: the files
/// committed before it (none under `--strict`) and those never read.
pub(crate) fn stopped(
    error: Error,
    reports: &[FileReport],
    strict: bool,
    rest: &[PathBuf],
) -> Error {
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

/// The fingerprint of the PII key to record with an ingest of `feed`, after
/// refusing a key other than the one the lake's applicant keys were made with.
fn check_key(
    manifest: &Manifest,
    location: &Location,
    feed: Feed,
    options: &IngestOptions,
) -> Result<Option<String>> {
    match &options.pii_key {
        Some(key) if feed.def().has_personal_id() => {
            manifest.check_pii_key(&location.root_shown(), key)?;
            Ok(Some(key.fingerprint()))
        }
        _ => Ok(None),
    }
}

/// Checks `paths` as `ingest_files` would ingest them into the lake at `location`
/// (which may not exist yet), in order, and reports what each would add —
/// without writing anything or taking the writer's lock. Duplicates are
/// counted against the lake as it is and against the earlier paths. What
/// the real ingest would refuse (another zone or PII key, a file over
/// `--max-rejected`) it refuses too.
pub fn dry_run(
    location: &Location,
    feed: Feed,
    paths: &[PathBuf],
    options: &IngestOptions,
    on_report: &mut dyn FnMut(&FileReport),
) -> Result<Vec<FileReport>> {
    let manifest = match lake::read_committed(location)? {
        Some(committed) => committed.manifest,
        None => Manifest::new(&options.zone),
    };
    manifest.check_zone(&location.root_shown(), &options.zone)?;
    check_key(&manifest, location, feed, options)?;
    let mut dedup = DedupIndex::new(feed.def());
    // (content hash, seq it would get) of the files this run would ingest.
    let mut would_ingest: Vec<(String, u64)> = Vec::new();
    let mut seq = manifest.next_seq;
    let mut reports = Vec::new();
    for path in paths {
        let scan = read::scan(path)?;
        let this_run = would_ingest.iter().map(|(h, seq)| (h.as_str(), *seq));
        let report = match earlier_ingest(&manifest, feed, &scan.content_hash, this_run) {
            Some(earlier) => skipped_report(path, feed, earlier),
            None => {
                let target = Target {
                    manifest: &manifest,
                    location,
                    staging: None,
                };
                let file = InputFile {
                    feed,
                    path,
                    scan: &scan,
                    seq,
                };
                let input = Progress::counted(&options.progress, read::open_input(path)?);
                let staged = stage_file(&target, &file, input, options, &mut dedup)?;
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
pub(crate) fn earlier_ingest<'a>(
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
pub(crate) fn skipped_report(path: &Path, feed: Feed, earlier: u64) -> FileReport {
    FileReport {
        path: path.to_path_buf(),
        feed: Some(feed),
        already_ingested_as: Some(earlier),
        ..Default::default()
    }
}

/// `--strict`: any rejected row fails the whole command.
fn refuse_rejections(reports: &[FileReport]) -> Result<()> {
    let rejected: u64 = reports.iter().map(FileReport::rejected).sum();
    if rejected > 0 {
        return Err(Error::StrictRejected { rejected });
    }
    Ok(())
}

/// Validates one input held in memory as a dry run into an empty lake: the
/// whole parsing path of `ingest`, without the file system. For fuzzing.
pub(crate) fn check_bytes(
    feed: Feed,
    format: Format,
    bytes: &[u8],
    options: &IngestOptions,
) -> Result<FileReport> {
    let path = Path::new("<input>");
    let manifest = Manifest::new(&options.zone);
    let scan = read::scan_input(path, Box::new(std::io::Cursor::new(bytes.to_vec())))?;
    let input = Box::new(std::io::Cursor::new(bytes.to_vec()));
    let options = IngestOptions {
        format: Some(format),
        ..options.clone()
    };
    let mut dedup = DedupIndex::new(feed.def());
    // No lake: the empty manifest names no file, so nothing is read here.
    let no_lake = Location::Folder(path.to_path_buf());
    let target = Target {
        manifest: &manifest,
        location: &no_lake,
        staging: None,
    };
    let file = InputFile {
        feed,
        path,
        scan: &scan,
        seq: 1,
    };
    let staged = stage_file(&target, &file, input, &options, &mut dedup)?;
    Ok(staged.report)
}
