//! `motcua report`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::value::{self, Named};
use crate::error::{Error, Result};
use crate::publish::dataset::Series;
use crate::report::format::Lang;
use crate::report::{Report, Request};
use crate::spec::grain::Grain;

/// Write the report a director reads for a unit and its children in one
/// period, from the published kpi_values: goal summary, scorecard, trends,
/// ranking.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua report --unit 01 --period 2025-06 --output hanoi-2025-06.html
  motcua report --unit 01 --grain quarter --period 2025-Q2 --lang en --output q2.html
  motcua report --unit 01 --period 2025-06 --output hanoi-2025-06.xlsx
  motcua report --unit 01 --period 2026-05 --units-as-of 2026-06-30 --output restated.html")]
pub(super) struct ReportArgs {
    /// The unit's code; its children are ranked below it.
    #[arg(long, value_name = "CODE")]
    unit: String,
    /// The calendar period the report covers.
    #[arg(long, default_value = "month", value_parser = Named::<Grain>::new())]
    grain: Grain,
    /// The period: 2025-06 (month), 2025-Q2, 2025, 2025-W24, or any day of
    /// it as YYYY-MM-DD.
    #[arg(long, value_name = "PERIOD")]
    period: String,
    /// The report's language: vi (97,0 %, 1.500.000 đ) or en.
    #[arg(long, default_value = "vi", value_parser = Named::<Lang>::new())]
    lang: Lang,
    /// The file to write (whole or not at all): .html or .xlsx.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// html (one self-contained page) or xlsx; by default from --output's
    /// extension.
    #[arg(long, value_parser = Named::<ReportFormat>::new())]
    format: Option<ReportFormat>,
    /// Report the series restated on this day's units (published by `motcua
    /// kpi --units-as-of DATE`) instead of the series as reported.
    #[arg(long, value_name = "DATE", value_parser = value::units_as_of)]
    units_as_of: Option<NaiveDate>,
    /// A child unit with fewer dossiers than this behind a rate is marked:
    /// its rank says little.
    #[arg(long, value_name = "N", default_value_t = 30)]
    min_dossiers: u64,
    /// The folder (or s3:// prefix) `motcua kpi --out` publishes to.
    #[arg(long, value_name = "DIR", default_value = "out", value_parser = value::location)]
    published: crate::Location,
}

/// What `report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportFormat {
    Html,
    Xlsx,
}

impl ReportFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ReportFormat::Html => "html",
            ReportFormat::Xlsx => "xlsx",
        }
    }
}

impl std::str::FromStr for ReportFormat {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "html" | "htm" => Ok(ReportFormat::Html),
            "xlsx" => Ok(ReportFormat::Xlsx),
            _ => Err(Error::Usage(format!(
                "report format '{text}': use html or xlsx"
            ))),
        }
    }
}

pub(super) fn run(args: ReportArgs) -> Result<()> {
    let format = match args.format {
        Some(format) => format,
        None => {
            let extension = args
                .output
                .extension()
                .map(|e| e.to_string_lossy().to_string())
                .unwrap_or_default();
            extension.parse().map_err(|_| {
                Error::Usage(format!(
                    "--output {}: end the name in .html or .xlsx, or pass --format",
                    args.output.display()
                ))
            })?
        }
    };
    let request = Request {
        unit: args.unit.trim().to_string(),
        grain: args.grain,
        period: args.grain.parse_period(&args.period)?,
        lang: args.lang,
        series: match args.units_as_of {
            Some(units_as_of) => Series::Restated { units_as_of },
            None => Series::AsReported,
        },
        min_dossiers: args.min_dossiers,
    };
    let period = args.lang.period(request.grain, request.period);
    let report = super::runtime()?.block_on(Report::read(&args.published, request))?;
    match format {
        ReportFormat::Html => {
            crate::storage::write_atomic(&args.output, report.html()?.as_bytes())?
        }
        ReportFormat::Xlsx => report.write_xlsx(&args.output)?,
    }
    println!(
        "report: {} {period} → {}",
        report.unit_name(),
        args.output.display()
    );
    Ok(())
}
