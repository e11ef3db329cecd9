//! `motcua ingest`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::print;
use super::progress::IngestBar;
use super::value::Named;
use super::{LakeDir, ZoneArg};
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions, RejectLimit};
use crate::read::{Format, Profile};
use crate::spec::feeds::Feed;
use crate::validate::privacy::PiiKey;

/// Validate log exports and add them to the lake.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua ingest units exports/units.csv
  motcua ingest dossiers so-theo-doi.xlsx --exported-at \"2025-03-31 17:00\"
  motcua ingest dossiers exports/2025-0*.csv --max-rejected 5%
  motcua ingest signatures today.ndjson --dry-run")]
pub(super) struct IngestArgs {
    /// The feed the files hold.
    #[arg(value_parser = Named::<Feed>::new())]
    feed: Feed,
    /// CSV, NDJSON or workbook files, ingested in this order.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The files' format; by default a workbook (xlsx, xlsb, xls, ods) by
    /// its content, others by extension.
    #[arg(long, value_parser = Named::<Format>::new())]
    format: Option<Format>,
    /// What separates a CSV file's fields: ',', ';', 'tab' or '|'; by default
    /// detected from the header row.
    #[arg(long, value_name = "CHAR", value_parser = super::value::delimiter)]
    delimiter: Option<u8>,
    /// When a dossiers export without updated_at (a tracking book) was
    /// exported, e.g. "2025-03-31 17:00": every row's updated_at.
    #[arg(long, value_name = "TIMESTAMP")]
    exported_at: Option<String>,
    /// A TOML profile saying how this office's export names the feed's
    /// columns and values, and its delimiter, sheet and header row (README
    /// "Your own exports"; examples in sample_data/profiles/).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The workbook sheet to read; by default the first whose first rows
    /// hold the feed's header.
    #[arg(long, value_name = "NAME")]
    sheet: Option<String>,
    /// Fail, committing nothing, if any row is rejected.
    #[arg(long)]
    strict: bool,
    /// Fail at once if another process is writing to the lake, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Validate and count (accepted, quarantined, duplicates against the
    /// lake) without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Fail a file whose share of rejected rows is larger, e.g. 5% or
    /// 0.05, committing nothing of it (exit 7).
    #[arg(long, value_name = "RATE", value_parser = super::value::parsed::<RejectLimit>)]
    max_rejected: Option<RejectLimit>,
    #[command(flatten)]
    lake: LakeDir,
    #[command(flatten)]
    zone: ZoneArg,
}

pub(super) fn run(args: IngestArgs) -> Result<()> {
    if let Some(at) = &args.exported_at {
        check_exported_at(args.feed, at, &args.zone.zone)?;
    }
    crate::interrupt::install()?;
    let lake = &args.lake.path;
    let options = IngestOptions {
        zone: args.zone.zone,
        pii_key: PiiKey::from_env(lake.folder())?,
        strict: args.strict,
        format: args.format,
        delimiter: args.delimiter,
        exported_at: args.exported_at,
        sheet: args.sheet,
        profile: match &args.profile {
            Some(path) => Some(Arc::new(Profile::load(path, args.feed)?)),
            None => None,
        },
        no_wait: args.no_wait,
        max_rejected: args.max_rejected,
        run_records: None,
        chunk_bytes: None,
        // Counted only for a bar that is drawn: the count is on the row path.
        progress: super::progress::drawn().then(|| Arc::new(ingest::Progress::default())),
    };
    let files = &args.paths;
    let mut bar = options
        .progress
        .as_ref()
        .and_then(|counters| IngestBar::start(files, counters));
    let mut on_report = |report: &ingest::FileReport| match &mut bar {
        Some(bar) => bar.file_done(|| print::file_report(report)),
        None => print::file_report(report),
    };
    if args.dry_run {
        ingest::dry_run(lake, args.feed, files, &options, &mut on_report)?;
    } else {
        ingest::ingest_files(lake, args.feed, files, &options, &mut on_report)?;
    }
    Ok(())
}

/// `--exported-at` is a time, for a feed of snapshots.
fn check_exported_at(feed: Feed, at: &str, zone: &crate::validate::time::Zone) -> Result<()> {
    if feed.def().current_by.is_none() {
        return Err(Error::Usage(format!(
            "--exported-at gives snapshots their updated_at; {} rows have none",
            feed.name()
        )));
    }
    crate::validate::time::parse_timestamp(at, zone, false)
        .map(|_| ())
        .map_err(|why| Error::Usage(format!("--exported-at {why}")))
}
