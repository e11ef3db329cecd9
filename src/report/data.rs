//! Reads what a report shows from the published `kpi_values` (or
//! `kpi_values_restated`): the unit's and its children's rows over the
//! periods the report spans, and how many units of each level are ranked.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use chrono::NaiveDate;
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::prelude::{DataFrame, Expr, SessionContext, col, lit};
use datafusion::scalar::ScalarValue;

use super::Request;
use crate::error::{Error, Result};
use crate::publish::dataset::Series;
use crate::storage::Location;
use crate::validate::time::days_since_epoch;

/// One published row of `kpi_values`.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub period_start: NaiveDate,
    pub unit_code: String,
    pub unit_name: String,
    pub unit_level: String,
    pub parent_code: Option<String>,
    pub kpi: String,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    pub target: Option<f64>,
    pub attainment: Option<f64>,
    pub status: Option<String>,
    pub rank: Option<i64>,
    pub rank_change: Option<i64>,
    /// Carried through a unit change with a share below one (restated).
    pub estimated: bool,
}

/// What the report reads.
pub(crate) struct Rows {
    /// The unit's and its children's rows, from the first period the report
    /// spans to the requested one.
    pub rows: Vec<Row>,
    /// Units ranked per (kpi, level) in the requested period.
    pub ranked: HashMap<(String, String), i64>,
    /// The published version read (`v000007`).
    pub version: String,
}

/// Reads the rows for `request` from the outputs published under `out`,
/// over the periods from `first` to the requested one.
pub(crate) async fn read(out: &Location, request: &Request, first: NaiveDate) -> Result<Rows> {
    let ctx = SessionContext::new();
    let published = crate::sql::tables::register_outputs(&ctx, out).await?;
    let series = request.series;
    let table = series.dataset();
    let read_dir = match series {
        Series::AsReported => published.kpi_values,
        Series::Restated { .. } => published.restated,
    };
    let flag = match series {
        Series::AsReported => String::new(),
        Series::Restated { units_as_of } => format!(" --units-as-of {units_as_of}"),
    };
    let Some(read_dir) = read_dir else {
        return Err(Error::Usage(format!(
            "{table} is not published in {} yet; run `motcua kpi --grain {} --from … --to …{flag}` first, or point --published at its directory",
            out.root_shown().display(),
            request.grain
        )));
    };
    let series_rows = series_filter(&ctx, request).await?;
    let period = date(request.period);
    let rows = series_rows
        .clone()
        .filter(col("period_start").between(date(first), period.clone()))?
        .filter(
            col("unit_code")
                .eq(lit(request.unit.as_str()))
                .or(col("parent_code").eq(lit(request.unit.as_str()))),
        )?
        .collect()
        .await?;
    let rows = rows.iter().map(rows_of).collect::<Result<Vec<_>>>()?;
    let rows: Vec<Row> = rows.into_iter().flatten().collect();
    let has_unit = rows
        .iter()
        .any(|r| r.period_start == request.period && r.unit_code == request.unit);
    if !has_unit {
        return Err(missing(series_rows, out, request, &flag).await);
    }
    let ranked = series_rows
        .filter(col("period_start").eq(period))?
        .aggregate(
            vec![col("kpi"), col("unit_level")],
            vec![count(col("rank")).alias("ranked")],
        )?
        .collect()
        .await?;
    let mut counts = HashMap::new();
    for batch in &ranked {
        let kpi = text(batch, "kpi")?;
        let level = text(batch, "unit_level")?;
        let n = batch.column(2).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            counts.insert(
                (
                    kpi[i].clone().unwrap_or_default(),
                    level[i].clone().unwrap_or_default(),
                ),
                n.value(i),
            );
        }
    }
    let version = read_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Rows {
        rows,
        ranked: counts,
        version,
    })
}

/// The published rows of the request's grain (and as-of day).
async fn series_filter(ctx: &SessionContext, request: &Request) -> Result<DataFrame> {
    let mut df = ctx
        .table(request.series.dataset())
        .await?
        .filter(col("period_grain").eq(lit(request.grain.name())))?;
    if let Series::Restated { units_as_of } = request.series {
        df = df.filter(col("units_as_of").eq(date(units_as_of)))?;
    }
    Ok(df)
}

/// Why the requested unit has no row in the requested period: the period
/// is not published, or the unit is not among that period's units.
async fn missing(series_rows: DataFrame, out: &Location, request: &Request, flag: &str) -> Error {
    let range = async {
        let batches = series_rows
            .aggregate(
                vec![],
                vec![
                    min(col("period_start")).alias("first"),
                    max(col("period_start")).alias("last"),
                ],
            )?
            .collect()
            .await?;
        let day = |i: usize| {
            batches.first().and_then(|b| {
                let c = b.column(i).as_primitive::<Date32Type>();
                (b.num_rows() > 0 && c.is_valid(0))
                    .then(|| c.value_as_date(0))
                    .flatten()
            })
        };
        Ok::<_, Error>((day(0), day(1)))
    };
    let dataset = match request.series {
        Series::AsReported => out.shown(crate::publish::dataset::DATASET),
        Series::Restated { units_as_of } => out
            .shown(request.series.dataset())
            .join(format!("units_as_of={units_as_of}")),
    };
    // The units a period's rows hold: its own (as reported), or the as-of day's.
    let units_day = match request.series {
        Series::AsReported => request.period,
        Series::Restated { units_as_of } => units_as_of,
    };
    let grain = request.grain;
    match range.await {
        Err(e) => e,
        Ok((Some(first), Some(last))) if request.period >= first && request.period <= last => {
            Error::Usage(format!(
                "unit {} is not among the units of the {grain} starting {} in {}; see `motcua units --at {units_day}` for the units of that day",
                request.unit,
                request.period,
                dataset.display(),
            ))
        }
        Ok((Some(first), Some(last))) => Error::Usage(format!(
            "{} holds the {grain}s from {first} to {last}, not the one starting {}; pick one of those, or run `motcua kpi --grain {grain}{flag}` over it",
            dataset.display(),
            request.period
        )),
        Ok(_) => Error::Usage(format!(
            "{} holds no {grain} periods; run `motcua kpi --grain {grain} --from … --to …{flag}` first",
            dataset.display()
        )),
    }
}

fn date(day: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(days_since_epoch(day))))
}

/// A batch's rows as `Row`s; a column the output does not have (an output
/// from before `estimated`) reads as empty.
fn rows_of(batch: &RecordBatch) -> Result<Vec<Row>> {
    let texts = |name| text(batch, name);
    let numbers = |name| numbers(batch, name);
    let ints = |name| ints(batch, name);
    let (codes, names, levels, parents, kpis, statuses) = (
        texts("unit_code")?,
        texts("unit_name")?,
        texts("unit_level")?,
        texts("parent_code")?,
        texts("kpi")?,
        texts("status")?,
    );
    let (num, den, value, target, attainment) = (
        numbers("numerator")?,
        numbers("denominator")?,
        numbers("value")?,
        numbers("target")?,
        numbers("attainment")?,
    );
    let (rank, change) = (ints("rank")?, ints("rank_change")?);
    let estimated = match batch.column_by_name("estimated") {
        Some(c) => {
            let c = arrow::compute::cast(c, &DataType::Boolean)?;
            let c = c.as_boolean();
            (0..c.len()).map(|i| c.is_valid(i) && c.value(i)).collect()
        }
        None => vec![false; batch.num_rows()],
    };
    let starts = column(batch, "period_start", &DataType::Date32)?;
    let starts = starts.as_primitive::<Date32Type>();
    (0..batch.num_rows())
        .map(|i| {
            Ok(Row {
                period_start: starts
                    .value_as_date(i)
                    .ok_or_else(|| Error::Render("a kpi_values row has no period_start".into()))?,
                unit_code: codes[i].clone().unwrap_or_default(),
                unit_name: names[i].clone().unwrap_or_default(),
                unit_level: levels[i].clone().unwrap_or_default(),
                parent_code: parents[i].clone(),
                kpi: kpis[i].clone().unwrap_or_default(),
                numerator: num[i],
                denominator: den[i],
                value: value[i],
                target: target[i],
                attainment: attainment[i],
                status: statuses[i].clone(),
                rank: rank[i],
                rank_change: change[i],
                estimated: estimated[i],
            })
        })
        .collect()
}

fn column(batch: &RecordBatch, name: &str, ty: &DataType) -> Result<arrow::array::ArrayRef> {
    let c = batch.column_by_name(name).ok_or_else(|| {
        Error::Render(format!(
            "the published kpi_values has no column {name}; publish it again with `motcua kpi`"
        ))
    })?;
    Ok(arrow::compute::cast(c, ty)?)
}

fn text(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let c = column(batch, name, &DataType::Utf8)?;
    Ok(c.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn numbers(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    let c = column(batch, name, &DataType::Float64)?;
    Ok(c.as_primitive::<Float64Type>().iter().collect())
}

fn ints(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let c = column(batch, name, &DataType::Int64)?;
    Ok(c.as_primitive::<Int64Type>().iter().collect())
}
