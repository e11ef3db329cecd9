//! `motcua kpi`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::LakeDir;
use super::print;
use super::value::{self, Named};
use crate::error::Result;
use crate::kpi_job::{self, KpiJob};
use crate::spec::grain::Grain;
use crate::sql::session::SessionOptions;

/// Compute every KPI for every unit and period; publish OUT/kpi_values
/// (or OUT/kpi_values_restated with --units-as-of).
#[derive(Args)]
#[command(after_help = "Examples:
  motcua kpi --from 2024-01-01 --to 2024-12-01
  motcua kpi --grain quarter --from 2024-01-01 --to 2024-10-01 --memory-limit 2GiB
  motcua kpi --from 2024-01-01 --to 2025-06-01 --incremental     (nightly, after the ingests)
  motcua kpi --from 2024-01-01 --to 2026-06-01 --units-as-of 2026-06-30   (restated on that day's units)")]
pub(super) struct KpiArgs {
    /// The calendar period each value covers.
    #[arg(long, default_value = "month", value_parser = Named::<Grain>::new())]
    grain: Grain,
    /// First period start to compute (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = value::from_date)]
    from: NaiveDate,
    /// Last period start to compute (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = value::to_date)]
    to: NaiveDate,
    /// Where kpi_values is published (as OUT/kpi_values): a folder, or
    /// s3://BUCKET/PREFIX (the bucket's settings as for --lake).
    #[arg(long, value_name = "OUT", default_value = "out", value_parser = value::location)]
    out: crate::Location,
    /// A folder of your own saved queries; its kpi_values.sql and
    /// kpi_touched.sql, if any, replace the shipped ones.
    #[arg(long, value_name = "DIR", env = "MOTCUA_QUERIES")]
    queries: Option<PathBuf>,
    /// Memory the engine may use before spilling, e.g. 2GiB, 512MiB or 2GB.
    #[arg(long, value_name = "SIZE", value_parser = value::bytes)]
    memory_limit: Option<usize>,
    /// Recompute only the periods that ingests since the published run
    /// can have changed, and those it does not hold yet; keep the rest.
    #[arg(long)]
    incremental: bool,
    /// Restate: compute every period on the units valid on this day
    /// (YYYY-MM-DD), carrying activity through the unit changes, and
    /// publish OUT/kpi_values_restated/units_as_of=DATE. Without it each
    /// period is computed on its own last day's units (as reported).
    #[arg(long, value_name = "DATE", value_parser = value::units_as_of)]
    units_as_of: Option<NaiveDate>,
    #[command(flatten)]
    lake: LakeDir,
    #[cfg(feature = "distributed")]
    #[command(flatten)]
    cluster: super::ClusterArg,
}

pub(super) fn run(args: KpiArgs) -> Result<()> {
    crate::interrupt::install()?;
    let job = KpiJob {
        grain: args.grain,
        from: args.from,
        to: args.to,
        out: args.out,
        queries: args.queries,
        session: SessionOptions {
            memory_limit: args.memory_limit,
            #[cfg(feature = "distributed")]
            cluster: args.cluster.cluster,
            ..Default::default()
        },
        incremental: args.incremental,
        units_as_of: args.units_as_of,
    };
    let bar = super::progress::JobBar::start();
    let report = super::runtime()?.block_on(kpi_job::run_watched(&args.lake.path, &job, &bar))?;
    drop(bar);
    let dataset = job.out.shown(job.series().dataset());
    println!("{}", print::kpi_report(&job, &report, &dataset));
    Ok(())
}
