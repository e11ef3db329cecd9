//! `motcua report`: what a Department director reads. For a unit and its
//! children in one period, from the published `kpi_values`: the goal
//! summary, a scorecard of every KPI, the trends of the headline KPIs and
//! the children ranked on them — as one self-contained HTML page
//! (`html.rs`, charts by `chart.rs`) or an Excel workbook (`xlsx.rs`).
//!
//! `data.rs` reads the rows, `model.rs` says what they mean, `format.rs`
//! writes numbers in the report's language.

mod chart;
mod data;
pub mod format;
mod html;
mod model;
pub mod xlsx;

use std::path::Path;

use chrono::NaiveDate;

use crate::error::Result;
use crate::publish::dataset::Series;
use crate::spec::grain::Grain;
use format::Lang;

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    /// The unit's code.
    pub unit: String,
    pub grain: Grain,
    /// The period's first day.
    pub period: NaiveDate,
    pub lang: Lang,
    /// As reported, or restated on one day's units.
    pub series: Series,
    /// A child with fewer dossiers than this in a rate's denominator is
    /// marked: its rank says little.
    pub min_dossiers: u64,
}

/// A report, read and ready to write.
pub struct Report(model::Report);

impl Report {
    /// Reads what the report shows from the outputs published under `out`.
    pub async fn read(out: &crate::Location, request: Request) -> Result<Report> {
        let (_, first) = model::periods(&request);
        let rows = data::read(out, &request, first).await?;
        Ok(Report(model::build(request, rows)))
    }

    /// The report as one self-contained HTML page.
    pub fn html(&self) -> Result<String> {
        html::render(&self.0)
    }

    /// The report as an Excel workbook, written whole or not at all.
    pub fn write_xlsx(&self, path: &Path) -> Result<()> {
        xlsx::write_report(&self.0, path)
    }

    /// The unit's name, for what the command prints.
    pub fn unit_name(&self) -> &str {
        &self.0.unit_name
    }
}
