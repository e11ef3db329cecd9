//! What one ingest command has staged and not yet committed.

use std::path::Path;

use crate::current;
use crate::dedupe::DedupIndex;
use crate::error::Result;
use crate::ingest::IngestOptions;
use crate::ingest::earlier_ingest;
use crate::ingest::file::{InputFile, StagedFile, Target, absolute, stage_file};
use crate::ingest::report::FileReport;
use crate::ingest::report::over_limit;
use crate::ingest::report::too_many_rejected;
use crate::ingest::skipped_report;
use crate::lake::{self, IngestEntry, Lake};
use crate::read::{self};
use crate::spec::feeds::Feed;

/// One ingest command's files on their way to the lake: the lake
/// transaction (everything under `--strict`, one file at a time otherwise),
/// the keys its rows claimed and their claims to be current snapshots.
pub(crate) struct IngestRun {
    pub(crate) txn: lake::Transaction,
    pub(crate) dedup: DedupIndex,
    /// The seq the next file gets.
    pub(crate) seq: u64,
    /// Current-snapshot claims of the files staged, not yet merged into the
    /// index (under `--strict`, until the commit).
    pub(crate) current: Option<current::Collector>,
}

impl IngestRun {
    /// Stages one file — and, without `--strict`, commits it — and reports
    /// it (before refusing it, when it is refused).
    pub(crate) fn add_file(
        &mut self,
        lake: &mut Lake,
        feed: Feed,
        path: &Path,
        options: &IngestOptions,
        on_report: &mut dyn FnMut(&FileReport),
    ) -> Result<FileReport> {
        let scan = read::scan(path)?;
        let this_run = self
            .txn
            .entries()
            .iter()
            .map(|e| (e.content_hash.as_str(), e.seq));
        if let Some(earlier) = earlier_ingest(lake.manifest(), feed, &scan.content_hash, this_run) {
            let report = skipped_report(path, feed, earlier);
            on_report(&report);
            return Ok(report);
        }
        let target = Target {
            manifest: lake.manifest(),
            location: lake.location(),
            staging: Some(self.txn.staging()),
        };
        let file = InputFile {
            feed,
            path,
            scan: &scan,
            seq: self.seq,
        };
        let staged_file = stage_file(
            &target,
            &file,
            super::Progress::counted(&options.progress, read::open_input(path)?),
            options,
            &mut self.dedup,
        )?;
        self.seq += 1;
        let StagedFile {
            mut report,
            staged,
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
        let entry = entry_of(&report, feed, path, scan);
        tracing::info!(
            "ingest #{}: {} row(s) accepted into {} file(s)",
            entry.seq,
            entry.accepted,
            entry.data_files.len()
        );
        let seq = entry.seq;
        self.txn.add(entry, staged);
        if let Some(current) = current {
            match self.current.as_mut() {
                Some(pending) => pending.absorb(current)?,
                None => self.current = Some(current),
            }
        }
        if !options.strict {
            self.commit(lake, seq)?;
        }
        Ok(report)
    }

    /// Merges the staged claims into the index as the index of ingest
    /// `seq`, and commits everything staged.
    pub(crate) fn commit(&mut self, lake: &mut Lake, seq: u64) -> Result<()> {
        let collector = self.current.take();
        if let Some((version, staged)) = stage_index(lake, collector, self.txn.staging(), seq)? {
            self.txn.set_index(version, staged);
        }
        self.txn.commit(lake)?;
        self.dedup.commit();
        Ok(())
    }
}

/// The manifest's record of a file staged as `report` says.
fn entry_of(report: &FileReport, feed: Feed, path: &Path, scan: read::FileScan) -> IngestEntry {
    IngestEntry {
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
    }
}

/// Merges a transaction's snapshots into the lake's index of current
/// dossiers, staged as the index of ingest `seq`; returns the version to
/// commit and its staged file. A lake from before the index existed gets
/// one built from every committed snapshot first.
fn stage_index(
    lake: &Lake,
    collector: Option<current::Collector>,
    staging: &Path,
    seq: u64,
) -> Result<Option<(lake::IndexVersion, lake::Staged)>> {
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
            collector.add_committed(lake.location(), &file.path, Feed::Dossiers.def())?;
        }
    }
    let update = current::update(
        lake.location(),
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
    Ok(Some((update.version, update.staged)))
}
