//! The KPI job (SPEC §5, §7): runs the saved query `kpi_values` over the lake
//! for one grain and range of periods and publishes the result as a new
//! version of `OUT/kpi_values`, one slice per period.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, Date32Array};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use futures::StreamExt;

use crate::catalog::{self, GRAINS, SessionOptions};
use crate::error::{Error, Result};
use crate::output::{self, Slice, Version};
use crate::query::{self, SavedQuery};
use crate::time::{date_from_days, days_since_epoch};

/// The query the job runs; analysts run the same file with `motcua query kpi_values`.
pub const QUERY: &str = "kpi_values";
/// The shipped copy, used when no `queries/` directory holds one.
const SHIPPED: &str = include_str!("../queries/kpi_values.sql");

#[derive(Debug, Clone)]
pub struct KpiJob {
    pub grain: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub out: PathBuf,
    /// Where saved queries live; the shipped `kpi_values` is used if absent there.
    pub queries: PathBuf,
    pub session: SessionOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KpiReport {
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

pub fn load_query(dir: &Path) -> Result<SavedQuery> {
    let path = dir.join(format!("{QUERY}.sql"));
    if path.exists() {
        SavedQuery::load(&path)
    } else {
        SavedQuery::parse(QUERY, None, SHIPPED)
    }
}

pub async fn run(lake: &Path, job: &KpiJob) -> Result<KpiReport> {
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
    let (ctx, manifest) = catalog::open(lake, &job.session).await?;
    let saved = load_query(&job.queries)?;
    let params = saved.bind(&[
        ("grain".to_string(), job.grain.clone()),
        ("from".to_string(), job.from.to_string()),
        ("to".to_string(), job.to.to_string()),
    ])?;
    let df = query::plan(&ctx, &saved.sql, params, &[]).await?;
    // The output files leave out period_grain: it is the Hive partition.
    let full_schema = df.schema().inner().clone();
    let keep: Vec<usize> = (0..full_schema.fields().len())
        .filter(|i| full_schema.field(*i).name() != "period_grain")
        .collect();
    let file_schema = std::sync::Arc::new(full_schema.project(&keep)?);
    let period_column = file_schema
        .index_of("period_start")
        .map_err(|_| Error::Sql("kpi_values must return period_start".into()))?;

    let periods = periods_in(&job.grain, job.from, job.to);
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
    let run_manifest = serde_json::json!({
        "motcua": env!("CARGO_PKG_VERSION"),
        "query": saved.path.as_ref().map_or("shipped kpi_values.sql".to_string(), |p| p.display().to_string()),
        "grain": job.grain,
        "from": job.from.to_string(),
        "to": job.to.to_string(),
        "lake": lake.display().to_string(),
        "lake_ingests": manifest.ingests.iter().map(|e| serde_json::json!({
            "seq": e.seq, "feed": e.feed.name(), "content_hash": e.content_hash,
        })).collect::<Vec<_>>(),
        "rows": rows,
        "slices": version.written(),
        "seconds": (seconds * 1000.0).round() / 1000.0,
    });
    let dir = version.commit(&run_manifest)?;
    Ok(KpiReport {
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
