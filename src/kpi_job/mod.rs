//! The KPI job (SPEC §5, §7): runs the saved query `kpi_values` over the lake
//! for one grain and range of periods and publishes the result as a new
//! version of `OUT/kpi_values` (or, restated on the units of one day,
//! `OUT/kpi_values_restated`), one slice per period.

mod plan;

pub(crate) use plan::*;

use std::path::PathBuf;
use std::time::Instant;

use arrow::array::{Array, Date32Array};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::publish::dataset::{self, Series, Slice, Version};
use crate::spec::feeds::Feed;
use crate::spec::grain::Grain;
use crate::sql::saved;
use crate::sql::session::{self, SessionOptions};
use crate::storage::Location;
use crate::validate::time::{date_from_days, days_since_epoch};

/// The query the job runs; analysts run the same file with `motcua query kpi_values`.
const QUERY: &str = "kpi_values";
/// What an incremental run asks first: from which day new ingests matter.
pub(crate) const TOUCHED_QUERY: &str = "kpi_touched";

#[derive(Debug, Clone)]
pub struct KpiJob {
    pub grain: Grain,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Where the outputs are published: a folder, or a bucket's prefix.
    pub out: Location,
    /// A user folder of saved queries; its `kpi_values.sql` and
    /// `kpi_touched.sql`, if any, replace the shipped ones.
    pub queries: Option<PathBuf>,
    pub session: SessionOptions,
    /// Recompute only the periods that ingests since the published output
    /// can have changed (and the ones it does not cover yet).
    pub incremental: bool,
    /// Compute every period on the units of this day (restated, SPEC
    /// §2.1) instead of each period's own last day (as reported).
    pub units_as_of: Option<NaiveDate>,
}

impl KpiJob {
    /// The dataset the job publishes.
    pub fn series(&self) -> Series {
        match self.units_as_of {
            None => Series::AsReported,
            Some(units_as_of) => Series::Restated { units_as_of },
        }
    }
}

/// What the published output reflects for one grain: every slice from
/// `from` to `to` (period starts) is up to date with the lake's ingests up
/// to `lake_seq`. Kept in the run manifest, carried from version to version;
/// fields in the order the JSON map wrote them (sorted), so the manifest's
/// bytes stay as they were.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Coverage {
    pub(crate) from: String,
    pub(crate) lake_seq: u64,
    pub(crate) to: String,
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

/// Runs the job; SIGINT or SIGTERM stops it wherever it is, publishing
/// nothing (the version being built removes itself).
pub async fn run(lake: &Location, job: &KpiJob) -> Result<KpiReport> {
    run_watched(lake, job, &Unwatched).await
}

/// What the job tells a watcher as it goes: the command line draws it.
pub trait Watch: Send + Sync {
    /// A stage begins.
    fn stage(&self, _what: &str) {}
    /// The periods the run computes.
    fn periods(&self, _total: usize) {}
    /// One period's slice is written.
    fn period_written(&self) {}
}

/// Nobody watches.
pub struct Unwatched;

impl Watch for Unwatched {}

/// `run`, telling `watch` how far it is.
pub async fn run_watched(lake: &Location, job: &KpiJob, watch: &dyn Watch) -> Result<KpiReport> {
    tokio::select! {
        result = compute(lake, job, watch) => result,
        () = crate::interrupt::stopped() => {
            let dataset = job.series().dataset();
            let what = if let Ok(Some(_)) = dataset::current_version(&job.out, dataset) {
                format!("the KPI run was stopped before it published; {} still holds the previous version", job.out.shown(dataset).display())
            } else {
                "the KPI run was stopped; nothing was published".to_string()
            };
            Err(Error::Interrupted { what })
        }
    }
}

/// A `kpi_values.sql` of the user's written before units could change
/// reads `units` and `unit_closure` by code alone: on a registry with
/// validity dates it would count a reused code's activity twice. Such a
/// query is refused there rather than computed wrong.
async fn refuse_query_without_as_of(
    ctx: &datafusion::prelude::SessionContext,
    saved: &saved::SavedQuery,
) -> Result<()> {
    if saved.params.iter().any(|p| p.name == "units_as_of") {
        return Ok(());
    }
    let dated = ctx
        .sql("SELECT count(*) FROM unit_versions WHERE valid_from IS NOT NULL OR valid_to IS NOT NULL")
        .await?
        .collect()
        .await
        .map_err(crate::sql::plan::sql_error)?;
    let count = dated
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
        })
        .map_or(0, |c| c.value(0));
    if count == 0 {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{} has no units_as_of parameter: it was written before units could change, and the registry has {count} unit(s) with validity dates, whose reused codes it would count twice; start again from the shipped queries/kpi_values.sql",
        saved.origin()
    )))
}

pub(crate) async fn compute(lake: &Location, job: &KpiJob, watch: &dyn Watch) -> Result<KpiReport> {
    let started = Instant::now();
    check_range(job)?;
    watch.stage("reading the lake");
    let (ctx, manifest) = session::open(lake, &job.session).await?;
    if manifest.data_files(Feed::Units).is_empty() {
        return Err(Error::lake(
            lake.root_shown(),
            "holds no units registry, and every KPI is computed per unit; ingest one first (`motcua ingest units units.csv`)",
        ));
    }
    let zone = manifest.zone()?;
    let series = job.series();
    let coverage_key = series.coverage_key(job.grain.name());
    let published = published_coverage(&job.out, series.dataset(), &manifest);
    let mut coverage = published.coverage;
    let planned = match coverage.get(&coverage_key) {
        Some(covered) if job.incremental => {
            plan_incremental(&ctx, &manifest, job, covered, &zone).await?
        }
        _ => Some((job.from, full_coverage(job, last_seq(&manifest)))),
    };
    // Beside every run's output, also one that found nothing to compute (an
    // output published before the catalog existed gains it).
    crate::publish::catalog::publish(&job.out)?;
    let Some((from, covers)) = planned else {
        tracing::info!("every {} slice is up to date with the lake", job.grain);
        return Ok(KpiReport {
            from: job.from,
            periods: 0,
            rows: 0,
            version: dataset::current_dir(&job.out, series.dataset())?,
            seconds: started.elapsed().as_secs_f64(),
        });
    };
    coverage.insert(coverage_key, covers);
    let saved = saved::find(job.queries.as_deref(), QUERY)?;
    refuse_query_without_as_of(&ctx, &saved).await?;
    let mut given = vec![
        ("grain".to_string(), job.grain.name().to_string()),
        ("from".to_string(), from.to_string()),
        ("to".to_string(), job.to.to_string()),
    ];
    if let Some(day) = job.units_as_of {
        given.push(("units_as_of".to_string(), day.to_string()));
    }
    let params = saved.bind(&given, &zone)?;
    let df = crate::sql::plan::plan(&ctx, &saved.sql, params, &[], &zone).await?;
    let periods = job.grain.periods_in(from, job.to);
    watch.stage(&format!(
        "computing {} {} period(s)",
        periods.len(),
        job.grain
    ));
    watch.periods(periods.len());
    let (version, rows) = write_slices(job, df, &periods, published.version, watch).await?;
    watch.stage("publishing");
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!("{rows} KPI rows computed and written in {seconds:.2} s in all");
    let run_manifest = RunRecord {
        coverage,
        from: from.to_string(),
        grain: job.grain.name().to_string(),
        lake: lake.root_shown().display().to_string(),
        lake_ingests: manifest.ingests.iter().map(RunIngest::of).collect(),
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

/// Refuses a range the calendar does not hold or no period starts in.
fn check_range(job: &KpiJob) -> Result<()> {
    if job.from > job.to {
        return Err(Error::Usage(format!(
            "--from {} is after --to {}",
            job.from, job.to
        )));
    }
    use chrono::Datelike;
    let years = crate::validate::time::FIRST_YEAR..=crate::validate::time::LAST_YEAR;
    if let Some(day) = job.units_as_of.filter(|d| !years.contains(&d.year())) {
        return Err(Error::Usage(format!(
            "--units-as-of {day} must lie in the years {} to {}, the calendar's",
            crate::validate::time::FIRST_YEAR,
            crate::validate::time::LAST_YEAR
        )));
    }
    if !years.contains(&job.from.year()) || !years.contains(&job.to.year()) {
        return Err(Error::Usage(format!(
            "--from and --to must lie in the years {} to {}, the calendar's",
            crate::validate::time::FIRST_YEAR,
            crate::validate::time::LAST_YEAR
        )));
    }
    if job.grain.periods_in(job.from, job.to).is_empty() {
        let first = job.grain.period_start(job.from);
        return Err(Error::Usage(format!(
            "no {grain} starts between --from {} and --to {}: a {grain} is computed when its first day is in the range; the {grain}s around it start on {first} and {}",
            job.from,
            job.to,
            job.grain.next_period(first),
            grain = job.grain,
        )));
    }
    Ok(())
}

/// Runs the planned query and writes its rows into a new version, one slice
/// per period (an empty one for a period without rows); returns the version,
/// not yet committed, and the rows written.
async fn write_slices(
    job: &KpiJob,
    df: datafusion::dataframe::DataFrame,
    periods: &[NaiveDate],
    based_on: Option<String>,
    watch: &dyn Watch,
) -> Result<(Version, usize)> {
    // The output files leave out period_grain: it is the Hive partition.
    let full_schema = df.schema().inner().clone();
    let keep: Vec<usize> = (0..full_schema.fields().len())
        .filter(|i| full_schema.field(*i).name() != "period_grain")
        .collect();
    let file_schema = std::sync::Arc::new(full_schema.project(&keep)?);
    let period_column = file_schema
        .index_of("period_start")
        .map_err(|_| Error::Sql("kpi_values must return period_start".into()))?;
    let replaced: Vec<String> = periods
        .iter()
        .map(|p| job.series().slice_path(job.grain.name(), &p.to_string()))
        .collect();
    let mut version = Version::begin(
        &job.out,
        job.series(),
        file_schema.clone(),
        &replaced,
        based_on.as_deref(),
    )?;
    let write = |version: &mut Version, day: i32, batches: Vec<RecordBatch>| -> Result<()> {
        // A period's rows must come together: a second run of them would
        // replace the first's slice.
        let day = date_from_days(day);
        let period = day.to_string();
        // A slice outside them would clash with one the version keeps.
        if !periods.contains(&day) {
            return Err(Error::Sql(format!(
                "the KPI query returned rows of period {period}, which this run does not compute; it must return only the periods from :from up to :to",
            )));
        }
        if version
            .written()
            .contains_key(&job.series().slice_path(job.grain.name(), &period))
        {
            return Err(Error::Sql(format!(
                "the KPI query returned the rows of period {period} apart; it must order its rows by period_start"
            )));
        }
        version.write_slice(&Slice {
            grain: job.grain.name().to_string(),
            period_start: period,
            batches,
        })?;
        watch.period_written();
        Ok(())
    };
    let mut stream = df
        .execute_stream()
        .await
        .map_err(crate::sql::plan::sql_error)?;
    let mut pending: Option<(i32, Vec<RecordBatch>)> = None;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(crate::sql::plan::sql_error)?.project(&keep)?;
        rows += batch.num_rows();
        // Rows arrive sorted by period: cut the batch where the period changes.
        for (day, part) in split_by_period(&batch, period_column)? {
            match &mut pending {
                Some((current, parts)) if *current == day => parts.push(part),
                _ => {
                    if let Some((done, parts)) = pending.replace((day, vec![part])) {
                        write(&mut version, done, parts)?;
                    }
                }
            }
        }
    }
    if let Some((done, parts)) = pending.take() {
        write(&mut version, done, parts)?;
    }
    for period in periods {
        let rel = job
            .series()
            .slice_path(job.grain.name(), &period.to_string());
        if !version.written().contains_key(&rel) {
            let empty = vec![RecordBatch::new_empty(file_schema.clone())];
            write(&mut version, days_since_epoch(*period), empty)?;
        }
    }
    Ok((version, rows))
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
