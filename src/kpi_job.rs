//! The KPI job (SPEC §5, §7): runs the saved query `kpi_values` over the lake
//! for one grain and range of periods and publishes the result as a new
//! version of `OUT/kpi_values`, one slice per period.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, Date32Array};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use futures::StreamExt;

use crate::catalog::{self, GRAINS, SessionOptions};
use crate::error::{Error, Result};
use crate::feeds::Feed;
use crate::lake::{IngestEntry, Manifest};
use crate::output::{self, Slice, Version};
use crate::query;
use crate::time::{Zone, date_from_days, days_since_epoch};

/// The query the job runs; analysts run the same file with `motcua query kpi_values`.
pub const QUERY: &str = "kpi_values";
/// What an incremental run asks first: from which day new ingests matter.
pub const TOUCHED_QUERY: &str = "kpi_touched";

#[derive(Debug, Clone)]
pub struct KpiJob {
    pub grain: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub out: PathBuf,
    /// A user folder of saved queries; its `kpi_values.sql` and
    /// `kpi_touched.sql`, if any, replace the shipped ones.
    pub queries: Option<PathBuf>,
    pub session: SessionOptions,
    /// Recompute only the periods that ingests since the published output
    /// can have changed (and the ones it does not cover yet).
    pub incremental: bool,
}

/// What the published output reflects for one grain: every slice from
/// `from` to `to` (period starts) is up to date with the lake's ingests up
/// to `lake_seq`. Kept in the run manifest, carried from version to version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    pub lake_seq: u64,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KpiReport {
    /// The first period computed: `from`, or later for an incremental run.
    pub from: NaiveDate,
    pub periods: usize,
    pub rows: usize,
    pub version: PathBuf,
    pub seconds: f64,
}

/// The periods of `grain` whose first day lies in [from, to].
pub fn periods_in(grain: &str, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut start = catalog::period_start(grain, from);
    if start < from {
        start = catalog::next_period(grain, start);
    }
    let mut out = Vec::new();
    while start <= to {
        out.push(start);
        start = catalog::next_period(grain, start);
    }
    out
}

/// The run manifest a published version carries (`OUT/.kpi_values/vNNNNNN.json`).
/// Typed, so that a field renamed or missing is an unreadable manifest (a
/// warning and a full recompute), not a silent empty coverage. Fields are in
/// the order they were written when this was a JSON map (sorted).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// Per grain, what the published slices are up to date with.
    pub coverage: BTreeMap<String, Coverage>,
    /// The first period this run computed.
    pub from: String,
    pub grain: String,
    pub lake: String,
    /// Every ingest of the lake the run read.
    pub lake_ingests: Vec<RunIngest>,
    pub motcua: String,
    /// The saved query's file, or "shipped kpi_values.sql".
    pub query: String,
    pub rows: usize,
    pub seconds: f64,
    /// Rows per slice written by this run.
    pub slices: BTreeMap<String, usize>,
    pub to: String,
}

/// One lake ingest a run read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunIngest {
    pub content_hash: String,
    pub feed: String,
    pub seq: u64,
}

/// The published run's coverage of each grain, if its lake ingests are
/// still the lake's (same seqs, same content): otherwise nothing is reused.
/// An unreadable run manifest is a warning, not an error: the run then
/// recomputes its whole range, which is always correct.
fn published_coverage(out: &Path, manifest: &Manifest) -> BTreeMap<String, Coverage> {
    let run: RunRecord = match output::run_manifest(out) {
        Ok(Some(run)) => run,
        Ok(None) => return BTreeMap::new(),
        Err(e) => {
            tracing::warn!("{e}; recomputing the whole range");
            return BTreeMap::new();
        }
    };
    let same_lake = run.lake_ingests.iter().all(|i| {
        manifest
            .ingests
            .iter()
            .any(|e| e.seq == i.seq && e.content_hash == i.content_hash)
    });
    if same_lake {
        run.coverage
    } else {
        BTreeMap::new()
    }
}

/// The first period an incremental run must compute, and the coverage it
/// leaves; `None` when the published slices are all up to date.
async fn plan_incremental(
    ctx: &datafusion::prelude::SessionContext,
    manifest: &Manifest,
    job: &KpiJob,
    covered: &Coverage,
    zone: &Zone,
) -> Result<Option<(NaiveDate, Coverage)>> {
    let grain = job.grain.as_str();
    let lake_seq = last_seq(manifest);
    let (Ok(covered_from), Ok(covered_to)) = (
        covered.from.parse::<NaiveDate>(),
        covered.to.parse::<NaiveDate>(),
    ) else {
        return Ok(Some((job.from, full_coverage(job, lake_seq))));
    };
    let new: Vec<&IngestEntry> = manifest
        .ingests
        .iter()
        .filter(|e| e.seq > covered.lake_seq)
        .collect();
    // A new registry or targets file can change any period.
    if new
        .iter()
        .any(|e| matches!(e.feed, Feed::Units | Feed::Targets))
    {
        return Ok(Some((job.from, full_coverage(job, lake_seq))));
    }
    let affected = if new.is_empty() {
        None
    } else {
        touched_since(ctx, job.queries.as_deref(), covered.lake_seq, zone)
            .await?
            .map(|day| catalog::period_start(grain, day))
    };
    let after_covered = catalog::next_period(grain, covered_to);
    let mut starts = Vec::new();
    if job.from < covered_from || job.from > after_covered {
        starts.push(job.from);
    }
    if job.to >= after_covered {
        starts.push(after_covered);
    }
    starts.extend(affected);
    let Some(start) = starts.into_iter().map(|s| s.max(job.from)).min() else {
        return Ok(None);
    };
    if start > job.to {
        return Ok(None);
    }
    // Periods before `start` that the old coverage holds stay valid when
    // nothing before `start` was touched; periods after `to` only when
    // nothing up to them was.
    let keeps_before =
        covered_from < start && start <= after_covered && affected.is_none_or(|a| a >= start);
    let keeps_after = covered_to > job.to && affected.is_none_or(|a| a > covered_to);
    let coverage = Coverage {
        lake_seq,
        from: if keeps_before { covered_from } else { start }.to_string(),
        to: if keeps_after { covered_to } else { job.to }.to_string(),
    };
    Ok(Some((start, coverage)))
}

fn full_coverage(job: &KpiJob, lake_seq: u64) -> Coverage {
    Coverage {
        lake_seq,
        from: job.from.to_string(),
        to: job.to.to_string(),
    }
}

fn last_seq(manifest: &Manifest) -> u64 {
    manifest.ingests.iter().map(|e| e.seq).max().unwrap_or(0)
}

/// The earliest day ingests after `after` can have changed, by `kpi_touched.sql`.
async fn touched_since(
    ctx: &datafusion::prelude::SessionContext,
    queries: Option<&Path>,
    after: u64,
    zone: &Zone,
) -> Result<Option<NaiveDate>> {
    let saved = query::find(queries, TOUCHED_QUERY)?;
    let params = saved.bind(&[("after".to_string(), after.to_string())], zone)?;
    let batches = query::plan(ctx, &saved.sql, params, &[], zone)
        .await?
        .collect()
        .await
        .map_err(query::sql_error)?;
    let day = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
        let days = b.column(0).as_any().downcast_ref::<Date32Array>()?;
        (!days.is_null(0)).then(|| date_from_days(days.value(0)))
    });
    Ok(day)
}

/// Runs the job; SIGINT or SIGTERM stops it wherever it is, publishing
/// nothing (the version being built removes itself).
pub async fn run(lake: &Path, job: &KpiJob) -> Result<KpiReport> {
    tokio::select! {
        result = compute(lake, job) => result,
        () = crate::interrupt::stopped() => {
            let dataset = job.out.join(output::DATASET);
            let what = if std::fs::symlink_metadata(&dataset).is_ok() {
                format!("the KPI run was stopped before it published; {} still holds the previous version", dataset.display())
            } else {
                "the KPI run was stopped; nothing was published".to_string()
            };
            Err(Error::Interrupted { what })
        }
    }
}

async fn compute(lake: &Path, job: &KpiJob) -> Result<KpiReport> {
    let started = Instant::now();
    if !GRAINS.contains(&job.grain.as_str()) {
        return Err(Error::Usage(format!(
            "unknown grain '{}'; use one of {}",
            job.grain,
            GRAINS.join(", ")
        )));
    }
    if job.from > job.to {
        return Err(Error::Usage(format!(
            "--from {} is after --to {}",
            job.from, job.to
        )));
    }
    use chrono::Datelike;
    let years = crate::time::FIRST_YEAR..=crate::time::LAST_YEAR;
    if !years.contains(&job.from.year()) || !years.contains(&job.to.year()) {
        return Err(Error::Usage(format!(
            "--from and --to must lie in the years {} to {}, the calendar's",
            crate::time::FIRST_YEAR,
            crate::time::LAST_YEAR
        )));
    }
    if periods_in(&job.grain, job.from, job.to).is_empty() {
        let first = catalog::period_start(&job.grain, job.from);
        return Err(Error::Usage(format!(
            "no {grain} starts between --from {} and --to {}: a {grain} is computed when its first day is in the range; the {grain}s around it start on {first} and {}",
            job.from,
            job.to,
            catalog::next_period(&job.grain, first),
            grain = job.grain,
        )));
    }
    let (ctx, manifest) = catalog::open(lake, &job.session).await?;
    if manifest.data_files(Feed::Units).is_empty() {
        return Err(Error::lake(
            lake,
            "holds no units registry, and every KPI is computed per unit; ingest one first (`motcua ingest units units.csv`)",
        ));
    }
    let zone = manifest.zone()?;
    let mut coverage = published_coverage(&job.out, &manifest);
    let planned = match coverage.get(&job.grain) {
        Some(covered) if job.incremental => {
            plan_incremental(&ctx, &manifest, job, covered, &zone).await?
        }
        _ => Some((job.from, full_coverage(job, last_seq(&manifest)))),
    };
    let Some((from, covers)) = planned else {
        tracing::info!("every {} slice is up to date with the lake", job.grain);
        return Ok(KpiReport {
            from: job.from,
            periods: 0,
            rows: 0,
            version: output::current_dir(&job.out)?,
            seconds: started.elapsed().as_secs_f64(),
        });
    };
    coverage.insert(job.grain.clone(), covers);
    let saved = query::find(job.queries.as_deref(), QUERY)?;
    let params = saved.bind(
        &[
            ("grain".to_string(), job.grain.clone()),
            ("from".to_string(), from.to_string()),
            ("to".to_string(), job.to.to_string()),
        ],
        &zone,
    )?;
    let df = query::plan(&ctx, &saved.sql, params, &[], &zone).await?;
    // The output files leave out period_grain: it is the Hive partition.
    let full_schema = df.schema().inner().clone();
    let keep: Vec<usize> = (0..full_schema.fields().len())
        .filter(|i| full_schema.field(*i).name() != "period_grain")
        .collect();
    let file_schema = std::sync::Arc::new(full_schema.project(&keep)?);
    let period_column = file_schema
        .index_of("period_start")
        .map_err(|_| Error::Sql("kpi_values must return period_start".into()))?;

    let periods = periods_in(&job.grain, from, job.to);
    let replaced: Vec<String> = periods
        .iter()
        .map(|p| output::slice_path(&job.grain, &p.to_string()))
        .collect();
    let mut version = Version::begin(&job.out, file_schema.clone(), &replaced)?;
    let mut stream = df.execute_stream().await.map_err(query::sql_error)?;
    let mut pending: Option<(i32, Vec<RecordBatch>)> = None;
    let mut rows = 0;
    let write = |version: &mut Version, day: i32, batches: Vec<RecordBatch>| -> Result<()> {
        version.write_slice(&Slice {
            grain: job.grain.clone(),
            period_start: date_from_days(day).to_string(),
            batches,
        })
    };
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(query::sql_error)?.project(&keep)?;
        rows += batch.num_rows();
        // Rows arrive sorted by period: cut the batch where the period changes.
        for (day, part) in split_by_period(&batch, period_column)? {
            match &mut pending {
                Some((current, parts)) if *current == day => parts.push(part),
                _ => {
                    if let Some((done, parts)) = pending.take() {
                        write(&mut version, done, parts)?;
                    }
                    pending = Some((day, vec![part]));
                }
            }
        }
    }
    if let Some((done, parts)) = pending.take() {
        write(&mut version, done, parts)?;
    }
    // A period with no registered unit still gets its (empty) slice.
    for period in &periods {
        let rel = output::slice_path(&job.grain, &period.to_string());
        if !version.written().contains_key(&rel) {
            write(
                &mut version,
                days_since_epoch(*period),
                vec![RecordBatch::new_empty(file_schema.clone())],
            )?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!("{rows} KPI rows computed and written in {seconds:.2} s in all");
    let run_manifest = RunRecord {
        coverage,
        from: from.to_string(),
        grain: job.grain.clone(),
        lake: lake.display().to_string(),
        lake_ingests: manifest
            .ingests
            .iter()
            .map(|e| RunIngest {
                content_hash: e.content_hash.clone(),
                feed: e.feed.name().to_string(),
                seq: e.seq,
            })
            .collect(),
        motcua: env!("CARGO_PKG_VERSION").to_string(),
        query: saved
            .path
            .as_ref()
            .map_or("shipped kpi_values.sql".to_string(), |p| {
                p.display().to_string()
            }),
        rows,
        seconds: (seconds * 1000.0).round() / 1000.0,
        slices: version.written().clone(),
        to: job.to.to_string(),
    };
    let dir = version.commit(&run_manifest)?;
    Ok(KpiReport {
        from,
        periods: periods.len(),
        rows,
        version: dir,
        seconds,
    })
}

/// Splits a batch sorted by `period_start` into runs of one period each.
fn split_by_period(batch: &RecordBatch, column: usize) -> Result<Vec<(i32, RecordBatch)>> {
    let dates = batch
        .column(column)
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| Error::Sql("kpi_values.period_start must be a DATE".into()))?;
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..=dates.len() {
        if i == dates.len() || dates.value(i) != dates.value(start) {
            if dates.is_null(start) {
                return Err(Error::Sql("kpi_values returned a null period_start".into()));
            }
            parts.push((dates.value(start), batch.slice(start, i - start)));
            start = i;
        }
    }
    Ok(parts)
}
