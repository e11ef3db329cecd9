//! The incremental plan: which periods a run must recompute.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, Date32Array};
use chrono::NaiveDate;

use crate::error::Result;
use crate::kpi_job::Coverage;
use crate::kpi_job::KpiJob;
use crate::lake::{IngestEntry, Manifest};
use crate::publish::dataset::{self};
use crate::spec::feeds::Feed;
use crate::sql::saved;
use crate::validate::time::{Zone, date_from_days};

use crate::kpi_job::TOUCHED_QUERY;

/// The run manifest a published version carries (`OUT/.kpi_values/vNNNNNN.json`).
/// Typed, so that a field renamed or missing is an unreadable manifest (a
/// warning and a full recompute), not a silent empty coverage. Fields are in
/// the order they were written when this was a JSON map (sorted).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RunRecord {
    /// Per grain (and, restated, per as-of day: `units_as_of=DAY/grain`),
    /// what the published slices are up to date with.
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
pub(crate) struct RunIngest {
    pub(crate) content_hash: String,
    pub feed: String,
    pub seq: u64,
}

impl RunIngest {
    pub(crate) fn of(entry: &IngestEntry) -> Self {
        RunIngest {
            content_hash: entry.content_hash.clone(),
            feed: entry.feed.name().to_string(),
            seq: entry.seq,
        }
    }
}

/// The published run's coverage of each grain, if its lake ingests are
/// still the lake's (same seqs, same content): otherwise nothing is reused.
/// An unreadable run manifest is a warning, not an error: the run then
/// recomputes its whole range, which is always correct.
pub(crate) fn published_coverage(
    out: &crate::Location,
    dataset: &str,
    manifest: &Manifest,
) -> Published {
    let nothing = Published {
        version: None,
        coverage: BTreeMap::new(),
    };
    let read = dataset::current_version(out, dataset).and_then(|version| match version {
        Some(version) => {
            Ok(dataset::run_manifest_of::<RunRecord>(out, &version)?.map(|run| (version, run)))
        }
        None => Ok(None),
    });
    let (version, run) = match read {
        Ok(Some(found)) => found,
        Ok(None) => return nothing,
        Err(e) => {
            tracing::warn!("{e}; recomputing the whole range");
            return nothing;
        }
    };
    let same_lake = run.lake_ingests.iter().all(|i| {
        manifest
            .ingests
            .iter()
            .any(|e| e.seq == i.seq && e.content_hash == i.content_hash)
    });
    if !same_lake {
        return nothing;
    }
    Published {
        version: Some(version),
        coverage: run.coverage,
    }
}

/// What a run plans from: the published version it read and that
/// version's coverage.
pub(crate) struct Published {
    /// The version's folder, relative to OUT; `None` when nothing of it is
    /// reused.
    pub(crate) version: Option<String>,
    pub(crate) coverage: BTreeMap<String, Coverage>,
}

/// The first period an incremental run must compute, and the coverage it
/// leaves; `None` when the published slices are all up to date.
pub(crate) async fn plan_incremental(
    ctx: &datafusion::prelude::SessionContext,
    manifest: &Manifest,
    job: &KpiJob,
    covered: &Coverage,
    zone: &Zone,
) -> Result<Option<(NaiveDate, Coverage)>> {
    let grain = job.grain;
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
    // A new registry, changes or targets file can change any period.
    if new
        .iter()
        .any(|e| matches!(e.feed, Feed::Units | Feed::Targets | Feed::UnitChanges))
    {
        return Ok(Some((job.from, full_coverage(job, lake_seq))));
    }
    let affected = if new.is_empty() {
        None
    } else {
        touched_since(ctx, job.queries.as_deref(), covered.lake_seq, zone)
            .await?
            .map(|day| grain.period_start(day))
    };
    Ok(plan_range(
        job,
        (covered_from, covered_to),
        affected,
        lake_seq,
    ))
}

/// The first period a run must compute and the coverage it leaves, given
/// the published coverage (first and last period start) and the first
/// period that new ingests touched; `None` when everything is up to date.
fn plan_range(
    job: &KpiJob,
    (covered_from, covered_to): (NaiveDate, NaiveDate),
    affected: Option<NaiveDate>,
    lake_seq: u64,
) -> Option<(NaiveDate, Coverage)> {
    let after_covered = job.grain.next_period(covered_to);
    let mut starts = Vec::new();
    if job.from < covered_from || job.from > after_covered {
        starts.push(job.from);
    }
    if job.to >= after_covered {
        starts.push(after_covered);
    }
    starts.extend(affected);
    let start = starts.into_iter().map(|s| s.max(job.from)).min()?;
    if start > job.to {
        return None;
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
    Some((start, coverage))
}

pub(crate) fn full_coverage(job: &KpiJob, lake_seq: u64) -> Coverage {
    Coverage {
        lake_seq,
        from: job.from.to_string(),
        to: job.to.to_string(),
    }
}

pub(crate) fn last_seq(manifest: &Manifest) -> u64 {
    manifest.ingests.iter().map(|e| e.seq).max().unwrap_or(0)
}

/// The earliest day ingests after `after` can have changed, by `kpi_touched.sql`.
async fn touched_since(
    ctx: &datafusion::prelude::SessionContext,
    queries: Option<&Path>,
    after: u64,
    zone: &Zone,
) -> Result<Option<NaiveDate>> {
    let saved = saved::find(queries, TOUCHED_QUERY)?;
    let params = saved.bind(&[("after".to_string(), after.to_string())], zone)?;
    let batches = crate::sql::plan::plan(ctx, &saved.sql, params, &[], zone)
        .await?
        .collect()
        .await
        .map_err(crate::sql::plan::sql_error)?;
    let day = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
        let days = b.column(0).as_any().downcast_ref::<Date32Array>()?;
        (!days.is_null(0)).then(|| date_from_days(days.value(0)))
    });
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::grain::Grain;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn job(from: &str, to: &str) -> KpiJob {
        KpiJob {
            grain: Grain::Month,
            from: day(from),
            to: day(to),
            out: crate::Location::Folder("out".into()),
            queries: None,
            session: Default::default(),
            incremental: true,
            units_as_of: None,
        }
    }

    /// `affected`: the first touched period's start.
    fn plan(job: &KpiJob, affected: Option<&str>) -> Option<(String, String, String)> {
        let covered = (day("2024-01-01"), day("2024-06-01"));
        plan_range(job, covered, affected.map(day), 9)
            .map(|(start, c)| (start.to_string(), c.from, c.to))
    }

    #[test]
    fn an_incremental_run_computes_from_the_first_period_it_cannot_keep() {
        let same = job("2024-01-01", "2024-06-01");
        assert_eq!(plan(&same, None), None, "nothing new, nothing to do");
        let s = |a: &str, b: &str, c: &str| Some((a.into(), b.into(), c.into()));
        assert_eq!(
            plan(&same, Some("2024-04-01")),
            s("2024-04-01", "2024-01-01", "2024-06-01"),
            "from the touched period on; what is before it is kept"
        );
        assert_eq!(
            plan(&job("2024-01-01", "2024-08-01"), None),
            s("2024-07-01", "2024-01-01", "2024-08-01"),
            "only the months after the published ones"
        );
        assert_eq!(
            plan(&job("2023-11-01", "2024-06-01"), None),
            s("2023-11-01", "2023-11-01", "2024-06-01"),
            "a range that starts earlier is computed from its start"
        );
        assert_eq!(
            plan(&job("2024-01-01", "2024-03-01"), Some("2024-05-01")),
            None,
            "a touched period after the range changes nothing in it"
        );
        assert_eq!(
            plan(&job("2024-01-01", "2024-03-01"), Some("2024-02-01")),
            s("2024-02-01", "2024-01-01", "2024-03-01"),
            "the periods after --to are no longer up to date"
        );
    }
}
