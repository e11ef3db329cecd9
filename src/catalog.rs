//! The lake as SQL: a DataFusion session with stable table and view names,
//! shared by analysts' queries and the KPI job.
//!
//! | name | what |
//! |---|---|
//! | `dossier_snapshots` | every ingested dossier snapshot |
//! | `dossiers` | current state: each dossier's latest snapshot (SPEC §4.1) |
//! | `portal_events`, `signatures` | the event logs |
//! | `units` | the current unit registry |
//! | `unit_closure` | (ancestor, descendant, depth): every unit with itself and all below it |
//! | `targets` | the current targets file |
//! | `quarantine` | every rejected row |
//! | `calendar` | every day, week, month, quarter and year 2000–2059 in the lake's zone |
//! | `kpi_catalog` | the KPIs of SPEC §5: id, family, kind, direction |

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{Datelike, Months, NaiveDate, NaiveTime};
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::feeds::timestamp_type;
use crate::kpi::{self, Direction, KpiKind};
use crate::lake::{self, Manifest};
use crate::time::{Zone, days_since_epoch};

/// The SQL that defines `dossiers` as the current state of each dossier in a
/// lake without an index of current snapshots (written before motcua kept one):
/// the snapshot with the greatest `updated_at`, then the later ingest, then
/// the later line. The winner is picked on the four key columns alone (a
/// snapshot is identified by its ingest and line), then joined back: sorting
/// every column of every snapshot costs several times more. The winners come
/// first because the first side of a join is the one DataFusion holds in
/// memory (a hash join cannot spill): two integers per dossier, not whole
/// snapshots — at 10 M dossiers the difference between fitting in 2 GiB or not.
const CURRENT_DOSSIERS: &str = "SELECT s.* FROM (
    SELECT ingest_seq, source_line FROM (
        SELECT ingest_seq, source_line, row_number() OVER (
            PARTITION BY dossier_id
            ORDER BY updated_at DESC, ingest_seq DESC, source_line DESC
        ) AS snapshot_rank
        FROM dossier_snapshots
    ) WHERE snapshot_rank = 1
) latest
JOIN dossier_snapshots s ON s.ingest_seq = latest.ingest_seq AND s.source_line = latest.source_line";

/// `dossiers` when the lake keeps an index of current snapshots.
const CURRENT_FROM_INDEX: &str =
    "SELECT * FROM dossier_snapshots WHERE is_current_snapshot(ingest_seq, source_line)";

/// `is_current_snapshot(ingest_seq, source_line)`: whether the snapshot is
/// its dossier's current state, by the index loaded with the session.
#[derive(Debug)]
struct IsCurrentSnapshot {
    set: Arc<crate::current::CurrentSet>,
    signature: datafusion::logical_expr::Signature,
}

impl IsCurrentSnapshot {
    fn new(set: Arc<crate::current::CurrentSet>) -> Self {
        IsCurrentSnapshot {
            set,
            signature: datafusion::logical_expr::Signature::exact(
                vec![DataType::Int64, DataType::Int64],
                datafusion::logical_expr::Volatility::Immutable,
            ),
        }
    }
}

impl PartialEq for IsCurrentSnapshot {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.set, &other.set)
    }
}

impl Eq for IsCurrentSnapshot {}

impl std::hash::Hash for IsCurrentSnapshot {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.set).hash(state);
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for IsCurrentSnapshot {
    fn name(&self) -> &str {
        "is_current_snapshot"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        use arrow::array::AsArray;
        use arrow::datatypes::Int64Type;
        let arrays = datafusion::logical_expr::ColumnarValue::values_to_arrays(&args.args)?;
        let marked = self.set.mark(
            arrays[0].as_primitive::<Int64Type>(),
            arrays[1].as_primitive::<Int64Type>(),
        );
        Ok(datafusion::logical_expr::ColumnarValue::Array(Arc::new(
            marked,
        )))
    }
}

/// Session settings for analysts and the job alike.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Memory the engine may use before it spills to disk, in bytes.
    pub memory_limit: Option<usize>,
    /// Memory the cached current state may hold before it moves to disk;
    /// by default a quarter of `memory_limit`, or 1 GiB without one.
    pub cache_budget: Option<usize>,
}

/// A session over the committed lake at `root` (one manifest snapshot).
pub async fn open(root: &Path, options: &SessionOptions) -> Result<(SessionContext, Manifest)> {
    let manifest = lake::read_manifest(root)?;
    let zone = manifest.zone()?;
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    config.options_mut().execution.time_zone = Some(zone.to_string());
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = options.memory_limit {
        // Greedy, not fair: the KPI query registers dozens of spillable
        // operators, and a fair share of 2 GiB each (~30 MB) was smaller than
        // one batch of a large aggregate while the whole query used 15 MB.
        // Tracked, so that running out names the operators holding memory.
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(limit),
            std::num::NonZeroUsize::new(4).unwrap_or(std::num::NonZeroUsize::MIN),
        );
        runtime = runtime.with_memory_pool(Arc::new(pool));
    }
    let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
    lake::register_tables(&ctx, root, &manifest).await?;
    // The lake table of dossiers holds snapshots; `dossiers` is the current state.
    let snapshots = ctx.table_provider("dossiers").await?;
    ctx.deregister_table("dossiers")?;
    ctx.register_table("dossier_snapshots", snapshots)?;
    match manifest.current_index() {
        // Kept at ingest: a filter on the snapshots, cheap enough to run for
        // each reference (at 1 M dossiers the KPI job ran 3 % faster and held
        // 240 MB less than with the state cached).
        Some(index) => {
            let set = crate::current::CurrentSet::load(root, &index)?;
            ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(
                IsCurrentSnapshot::new(Arc::new(set)),
            ));
            let current = ctx.sql(CURRENT_FROM_INDEX).await?;
            ctx.register_table("dossiers", current.into_view())?;
        }
        // A lake whose dossiers predate the index: computed once per session.
        None => {
            let current = ctx.sql(CURRENT_DOSSIERS).await?;
            let budget = options.cache_budget.unwrap_or(
                options
                    .memory_limit
                    .map_or(DEFAULT_CACHE_BUDGET, |limit| limit / 4),
            );
            ctx.register_table("dossiers", Arc::new(CachedView::new(current, budget)))?;
        }
    }

    register_unit_closure(&ctx).await?;
    ctx.register_batch("calendar", calendar(&zone)?)?;
    ctx.register_batch("kpi_catalog", kpi_catalog()?)?;
    Ok((ctx, manifest))
}

/// `unit_closure`: each unit paired with itself (depth 0) and every unit
/// below it, from the registry in the session.
async fn register_unit_closure(ctx: &SessionContext) -> Result<()> {
    let units = ctx
        .sql("SELECT unit_code, parent_code FROM units")
        .await?
        .collect()
        .await?;
    let mut parent: HashMap<String, Option<String>> = HashMap::new();
    for batch in &units {
        let codes = string_column(batch, 0)?;
        let parents = string_column(batch, 1)?;
        for i in 0..batch.num_rows() {
            let code = codes.value(i).to_string();
            let up =
                (!arrow::array::Array::is_null(parents, i)).then(|| parents.value(i).to_string());
            parent.insert(code, up);
        }
    }
    let mut codes: Vec<&String> = parent.keys().collect();
    codes.sort();
    let (mut ancestors, mut descendants, mut depths) = (Vec::new(), Vec::new(), Vec::new());
    for code in codes {
        // Ingest refuses cycles, so walking up ends; the bound guards anyway.
        let mut current = Some(code);
        let mut depth = 0i64;
        while let Some(unit) = current {
            ancestors.push(unit.clone());
            descendants.push(code.clone());
            depths.push(depth);
            depth += 1;
            current = parent.get(unit).and_then(|p| p.as_ref());
            if depth as usize > parent.len() {
                break;
            }
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("ancestor", DataType::Utf8, false),
        Field::new("descendant", DataType::Utf8, false),
        Field::new("depth", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ancestors)) as ArrayRef,
            Arc::new(StringArray::from(descendants)),
            Arc::new(Int64Array::from(depths)),
        ],
    )?;
    ctx.register_table(
        "unit_closure",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(())
}

fn string_column(batch: &RecordBatch, i: usize) -> Result<&StringArray> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::Usage(format!("column {i} is not text")))
}

pub const GRAINS: [&str; 5] = ["day", "week", "month", "quarter", "year"];

/// The first day of the period of `grain` that contains `day`.
pub fn period_start(grain: &str, day: NaiveDate) -> NaiveDate {
    match grain {
        "week" => day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday())),
        "month" => day.with_day(1).unwrap_or(day),
        "quarter" => {
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).unwrap_or(day)
        }
        "year" => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
        _ => day,
    }
}

/// The first day of the next period of `grain` after the one starting at `start`.
pub fn next_period(grain: &str, start: NaiveDate) -> NaiveDate {
    match grain {
        "week" => start + chrono::Days::new(7),
        "month" => start + Months::new(1),
        "quarter" => start + Months::new(3),
        "year" => start + Months::new(12),
        _ => start + chrono::Days::new(1),
    }
}

/// `calendar`: one row per period of every grain, with its bounds as local
/// dates and as UTC instants, and the start of the period before it.
pub fn calendar(zone: &Zone) -> Result<RecordBatch> {
    let first = NaiveDate::from_ymd_opt(crate::time::FIRST_YEAR, 1, 1).unwrap_or_default();
    let last = NaiveDate::from_ymd_opt(crate::time::LAST_YEAR + 1, 1, 1).unwrap_or_default();
    let instant = |d: NaiveDate| -> Result<i64> {
        zone.local_to_utc(d.and_time(NaiveTime::MIN))
            .map_err(|e| Error::Usage(format!("calendar: {e}")))
    };
    let (mut grains, mut starts, mut ends, mut years, mut start_at, mut end_at, mut prevs) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for grain in GRAINS {
        let mut start = period_start(grain, first);
        let mut prev = period_start(grain, start - chrono::Days::new(1));
        while start < last {
            let end = next_period(grain, start);
            grains.push(grain);
            starts.push(days_since_epoch(start));
            ends.push(days_since_epoch(end));
            years.push(i64::from(start.year()));
            start_at.push(instant(start)?);
            end_at.push(instant(end)?);
            prevs.push(days_since_epoch(prev));
            prev = start;
            start = end;
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("period_grain", DataType::Utf8, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("period_year", DataType::Int64, false),
        Field::new("start_at", timestamp_type(), false),
        Field::new("end_at", timestamp_type(), false),
        Field::new("prev_start", DataType::Date32, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(grains)) as ArrayRef,
            Arc::new(Date32Array::from(starts)),
            Arc::new(Date32Array::from(ends)),
            Arc::new(Int64Array::from(years)),
            Arc::new(TimestampMicrosecondArray::from(start_at).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(end_at).with_timezone("UTC")),
            Arc::new(Date32Array::from(prevs)),
        ],
    )?)
}

/// `kpi_catalog`, from `kpi::CATALOG`.
fn kpi_catalog() -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("kpi", DataType::Utf8, false),
        Field::new("family", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("direction", DataType::Utf8, false),
    ]));
    let rows = kpi::CATALOG;
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|k| k.id))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|k| k.family))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(
                |k| match k.kind {
                    KpiKind::Count => "count",
                    KpiKind::Rate => "rate",
                    KpiKind::Number => "number",
                },
            ))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(
                |k| match k.direction {
                    Direction::Up => "up",
                    Direction::Down => "down",
                },
            ))),
        ],
    )?)
}

/// Registers `OUT/kpi_values` as table `kpi_values` when it has been
/// published, with `period_grain` read back from its Hive directories;
/// false when nothing is published there.
pub async fn register_outputs(ctx: &SessionContext, out: &Path) -> Result<bool> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    let dataset = out.join(crate::output::DATASET);
    if !dataset.join("_SUCCESS").exists() {
        return Ok(false);
    }
    let dataset = dataset.canonicalize().map_err(|e| Error::io(&dataset, e))?;
    let url = ListingTableUrl::parse(format!("{}/", dataset.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("period_grain".to_string(), DataType::Utf8)]);
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(
        crate::output::DATASET,
        Arc::new(ListingTable::try_new(config)?),
    )?;
    Ok(true)
}

/// Memory the cached current state may hold when no `--memory-limit` is
/// given; beyond it the cache moves to a Parquet file on disk.
const DEFAULT_CACHE_BUDGET: usize = 1 << 30;

/// A view computed once per session, on first use, and then served from
/// memory — or, past its memory budget, from a Parquet file in a temporary
/// directory that lives as long as the session. `dossiers` (the current
/// state) is read by many parts of one query; DataFusion inlines views, and
/// recomputing the current state for each reference costs far more than
/// holding it. The budget keeps memory bounded when the lake is large.
#[derive(Debug)]
pub struct CachedView {
    /// A logical plan, not a DataFrame: a DataFrame holds its session, whose
    /// catalog holds this view — a cycle that would never drop (nor delete
    /// the spill directory).
    plan: datafusion::logical_expr::LogicalPlan,
    schema: arrow::datatypes::SchemaRef,
    budget: usize,
    table: tokio::sync::OnceCell<Arc<dyn datafusion::catalog::TableProvider>>,
    spill: std::sync::Mutex<Option<tempfile::TempDir>>,
}

impl CachedView {
    /// `budget`: bytes of batches held in memory before spilling to disk.
    pub fn new(plan: datafusion::dataframe::DataFrame, budget: usize) -> Self {
        let schema = plan.schema().inner().clone();
        CachedView {
            plan: plan.into_unoptimized_plan(),
            schema,
            budget,
            table: tokio::sync::OnceCell::new(),
            spill: std::sync::Mutex::new(None),
        }
    }

    /// Where the view went on disk, if it did; deleted with the session.
    pub fn spill_dir(&self) -> Option<std::path::PathBuf> {
        let spill = self.spill.lock().ok()?;
        spill.as_ref().map(|dir| dir.path().to_path_buf())
    }

    /// Runs the plan once, keeping batches in memory until they pass the
    /// budget, then writing them all to one Parquet file.
    async fn materialize(
        &self,
        state: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        use futures::StreamExt;
        let partitions = state.config().target_partitions().max(1);
        let physical = state.create_physical_plan(&self.plan).await?;
        let mut stream = datafusion::physical_plan::execute_stream(physical, state.task_ctx())?;
        let (mut held, mut bytes) = (Vec::new(), 0usize);
        let mut spilled: Option<(
            std::path::PathBuf,
            parquet::arrow::ArrowWriter<std::fs::File>,
        )> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            if let Some((_, writer)) = spilled.as_mut() {
                writer.write(&batch)?;
                continue;
            }
            bytes += batch.get_array_memory_size();
            held.push(batch);
            if bytes > self.budget {
                let (path, mut writer) = self.spill_file()?;
                tracing::info!(
                    "the current state passed its {} MiB memory budget; continuing in {}",
                    self.budget >> 20,
                    path.display()
                );
                for batch in held.drain(..) {
                    writer.write(&batch)?;
                }
                spilled = Some((path, writer));
            }
        }
        if let Some((path, writer)) = spilled {
            writer.close()?;
            let root = path.parent().unwrap_or(&path);
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            return lake::parquet_table(root, &[name], self.schema.clone());
        }
        // Spread the batches so scans of it run on every core.
        let mut split = vec![Vec::new(); partitions];
        for (i, batch) in held.into_iter().enumerate() {
            split[i % partitions].push(batch);
        }
        Ok(Arc::new(MemTable::try_new(self.schema.clone(), split)?))
    }

    fn spill_file(
        &self,
    ) -> Result<(
        std::path::PathBuf,
        parquet::arrow::ArrowWriter<std::fs::File>,
    )> {
        let dir = tempfile::Builder::new()
            .prefix("motcua-current-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let path = dir.path().join("current.parquet");
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        // Read back within seconds and then deleted: no compression.
        let properties = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::UNCOMPRESSED)
            .set_max_row_group_row_count(Some(128 * 1024))
            .build();
        let writer =
            parquet::arrow::ArrowWriter::try_new(file, self.schema.clone(), Some(properties))?;
        if let Ok(mut spill) = self.spill.lock() {
            *spill = Some(dir);
        }
        Ok((path, writer))
    }
}

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for CachedView {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::View
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::prelude::Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let table = self
            .table
            .get_or_try_init(|| async {
                self.materialize(state)
                    .await
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
            })
            .await?;
        table.scan(state, projection, filters, limit).await
    }
}
