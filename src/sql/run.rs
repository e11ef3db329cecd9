//! Running a query over the lake, its result streamed.

use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::error::{Error, Result};
use crate::lake::Manifest;
use crate::sql::plan::plan;
use crate::sql::plan::sql_error;
use crate::sql::saved::SavedQuery;
use crate::sql::session::SessionOptions;
use crate::sql::tables::Published;
use crate::storage::Location;
use crate::validate::time::Zone;
use futures::TryStreamExt;

/// Rows of activity whose unit code the registry does not hold, per feed
/// (the shipped `dq_unknown_units` query, summed): for `motcua lake`.
pub(crate) async fn unknown_units(root: &crate::Location) -> Result<Vec<(String, u64)>> {
    let (ctx, _) = crate::sql::session::open(root, &Default::default()).await?;
    let saved = crate::sql::saved::find(None, "dq_unknown_units")?;
    let sql = format!(
        "SELECT feed, CAST(sum(rows) AS BIGINT) FROM ({}\n) GROUP BY feed ORDER BY feed",
        saved.sql
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut out = Vec::new();
    for batch in &batches {
        use arrow::array::AsArray;
        let (Some(feeds), Some(rows)) = (
            batch.column(0).as_string_opt::<i32>(),
            batch
                .column(1)
                .as_primitive_opt::<arrow::datatypes::Int64Type>(),
        ) else {
            return Err(Error::Sql("dq_unknown_units: expected (feed, rows)".into()));
        };
        for i in 0..batch.num_rows() {
            out.push((feeds.value(i).to_string(), rows.value(i) as u64));
        }
    }
    Ok(out)
}

/// What `motcua query` runs.
#[derive(Debug, Clone)]
pub enum QuerySource {
    Saved(SavedQuery),
    Sql(String),
}

/// A query's rows, with their schema: an empty result still has columns.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: arrow::datatypes::SchemaRef,
    pub batches: Vec<arrow::record_batch::RecordBatch>,
}

/// Runs a query read-only over the lake at `lake` and collects its rows.
/// When `out` holds a published `kpi_values`, it is a table too.
pub async fn run(
    lake: &Location,
    out: &Location,
    source: &QuerySource,
    params: &[(String, String)],
) -> Result<QueryResult> {
    let (stream, _) = stream(lake, out, source, params, &SessionOptions::default()).await?;
    let schema = stream.schema();
    let batches = stream.try_collect().await.map_err(sql_error)?;
    Ok(QueryResult { schema, batches })
}

/// Runs a query as `run` does, handing its rows over batch by batch as the
/// engine produces them; with the lake's zone, which its timestamps are
/// shown in.
pub(crate) async fn stream(
    lake: &Location,
    out: &Location,
    source: &QuerySource,
    params: &[(String, String)],
    options: &SessionOptions,
) -> Result<(datafusion::execution::SendableRecordBatchStream, Zone)> {
    let snapshot = Snapshot::open(lake, out, options).await?;
    let df = snapshot.plan(source, params).await?;
    let rows = df.execute_stream().await.map_err(sql_error)?;
    Ok((rows, snapshot.zone))
}

/// The lake as one manifest snapshot, with the outputs published in `out`
/// as tables: what a query reads.
pub(crate) struct Snapshot {
    pub(crate) ctx: SessionContext,
    pub(crate) manifest: Manifest,
    pub(crate) zone: Zone,
    pub(crate) published: Published,
    out: Location,
    options: SessionOptions,
}

impl Snapshot {
    /// Refuses `sql` when it reads an output that is not published, in a
    /// sentence that says how to publish it; whether it reads `kpi_values`.
    pub(crate) fn check_outputs(&self, sql: &str) -> Result<bool> {
        let out = self.out.root_shown();
        let reads_outputs = reads_table(&self.ctx, sql, crate::publish::dataset::DATASET)?;
        let reads_restated = reads_table(&self.ctx, sql, crate::publish::dataset::RESTATED)?;
        if reads_outputs || reads_restated {
            self.options.executors_reach("--published", &self.out)?;
        }
        if reads_outputs && self.published.kpi_values.is_none() {
            return Err(Error::Usage(format!(
                "kpi_values is not published in {} yet; run `motcua kpi --from … --to …` first, or point --published at its directory",
                out.display()
            )));
        }
        if reads_restated && self.published.restated.is_none() {
            return Err(Error::Usage(format!(
                "kpi_values_restated is not published in {} yet; run `motcua kpi --from … --to … --units-as-of DATE` first, or point --published at its directory",
                out.display()
            )));
        }
        Ok(reads_outputs)
    }

    pub(crate) async fn open(
        lake: &Location,
        out: &Location,
        options: &SessionOptions,
    ) -> Result<Self> {
        let (ctx, manifest) = crate::sql::session::open(lake, options).await?;
        let zone = manifest.zone()?;
        let published = crate::sql::tables::register_outputs(&ctx, out).await?;
        Ok(Snapshot {
            ctx,
            manifest,
            zone,
            published,
            out: out.clone(),
            options: options.clone(),
        })
    }

    /// `source` planned read-only: a saved query's parameters typed and
    /// bound, a read of an output that is not published refused
    /// (`check_outputs`).
    pub(crate) async fn plan(
        &self,
        source: &QuerySource,
        params: &[(String, String)],
    ) -> Result<DataFrame> {
        let (ctx, out, zone) = (&self.ctx, &self.out, &self.zone);
        let sql = match source {
            QuerySource::Saved(saved) => &saved.sql,
            QuerySource::Sql(sql) => sql,
        };
        let reads_outputs = self.check_outputs(sql)?;
        match source {
            QuerySource::Saved(saved) => {
                let values = saved.bind(params, zone)?;
                if reads_outputs {
                    check_published(ctx, saved, &values, out).await?;
                }
                plan(ctx, &saved.sql, values, &[], zone).await
            }
            QuerySource::Sql(sql) => plan(ctx, sql, Vec::new(), params, zone).await,
        }
    }
}

/// Whether `sql` names the table `table` anywhere.
fn reads_table(ctx: &SessionContext, sql: &str, table: &str) -> Result<bool> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect).map_err(sql_error)?;
    let tables = state
        .resolve_table_references(&statement)
        .map_err(sql_error)?;
    Ok(tables.iter().any(|t| t.table() == table))
}

/// A saved query over `kpi_values` asked for a period the published output
/// does not hold would answer an empty table: say which periods it holds.
async fn check_published(
    ctx: &SessionContext,
    saved: &SavedQuery,
    values: &[(String, ScalarValue)],
    out: &Location,
) -> Result<()> {
    let Some((period, day, grain)) = saved.period_of(values) else {
        return Ok(());
    };
    let held = ctx
        .sql("SELECT min(period_start), max(period_start), bool_or(period_start = $period) FROM kpi_values WHERE period_grain = $grain")
        .await
        .and_then(|df| {
            df.with_param_values(ParamValues::from(vec![
                (
                    "period".to_string(),
                    ScalarValue::Date32(Some(crate::validate::time::days_since_epoch(day))),
                ),
                ("grain".to_string(), ScalarValue::Utf8(Some(grain.name().to_string()))),
            ]))
        })
        .map_err(sql_error)?
        .collect()
        .await
        .map_err(sql_error)?;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Date32Type;
    let Some(row) = held.iter().find(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    if row
        .column(2)
        .as_boolean_opt()
        .is_some_and(|f| f.is_valid(0) && f.value(0))
    {
        return Ok(());
    }
    let date = |i: usize| {
        let dates = row.column(i).as_primitive_opt::<Date32Type>()?;
        dates
            .is_valid(0)
            .then(|| crate::validate::time::date_from_days(dates.value(0)))
    };
    Err(Error::Usage(
        if let (Some(first), Some(last)) = (date(0), date(1)) {
            format!(
                "parameter {}: the {grain} starting {day} is not published in {} (it holds {first} to {last}); run `motcua kpi --grain {grain}` over it, or pick a published period",
                period.name,
                out.shown(crate::publish::dataset::DATASET).display()
            )
        } else {
            format!(
                "parameter {}: {} holds no {grain} periods; run `motcua kpi --grain {grain} …` first",
                period.name,
                out.shown(crate::publish::dataset::DATASET).display()
            )
        },
    ))
}
