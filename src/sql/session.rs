//! The lake as SQL: a DataFusion session with stable table and view names,
//! shared by analysts' queries and the KPI job.
//!
//! | name | what |
//! |---|---|
//! | `dossier_snapshots` | every ingested dossier snapshot |
//! | `dossiers` | current state: each dossier's latest snapshot (SPEC §4.1) |
//! | `portal_events`, `signatures` | the event logs |
//! | `unit_versions` | every version of every unit, with the days it is valid |
//! | `units` | the units valid today |
//! | `unit_closure` | (ancestor, descendant, depth, …, days_from, days_to): every unit with itself and all below it, and the days that holds |
//! | `unit_lineage` | where a unit's activity counts on an as-of day, with its share (SPEC §2.1) |
//! | `unit_changes` | the current unit changes file |
//! | `targets` | the current targets file |
//! | `quarantine` | every rejected row |
//! | `calendar` | every day, week, month, quarter and year 2000–2059 in the lake's zone |
//! | `kpi_catalog` | the KPIs of SPEC §5 and §7: kind, unit, direction, labels, definition |

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::current::CurrentSet;
use crate::error::{Error, Result};
use crate::lake::{self, IndexVersion, Manifest};
use crate::publish::catalog::CATALOG;
use crate::sql::cache::CachedView;
use crate::sql::cache::DEFAULT_CACHE_BUDGET;
use crate::sql::views::calendar;
use crate::storage::Location;

/// The SQL that defines `dossiers` as the current state of each dossier in a
/// lake without an index of current snapshots (written before motcua kept one):
/// the snapshot with the greatest `updated_at`, then the later ingest, then
/// the later line. The winner is picked on the four key columns alone (a
/// snapshot is identified by its ingest and line), then joined back: sorting
/// every column of every snapshot costs several times more. The winners come
/// first because the first side of a join is the one DataFusion holds in
/// memory (a hash join cannot spill): two integers per dossier, not whole
/// snapshots (README "Design measurements").
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

/// Where an index of current snapshots is read from: a lake (as
/// `Location::parse` reads it) and the index version its manifest names.
/// What the function below is rebuilt from on a cluster's machines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) struct IndexSource {
    lake: String,
    index: IndexVersion,
    /// In a folder, the base file as the command saw it. A folder's index
    /// names repeat in a new lake made at the same path, and an executor
    /// keeps an index between jobs: the stamp tells the two apart. (In a
    /// bucket every name carries a random tag.)
    stamp: Option<FileStamp>,
}

/// A file's size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
struct FileStamp {
    len: u64,
    modified_ns: u128,
}

impl IndexSource {
    fn of(location: &Location, index: &IndexVersion) -> Result<Self> {
        let stamp = match location {
            Location::Folder(root) => {
                let path = root.join(&index.base);
                let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
                let modified = meta.modified().map_err(|e| Error::io(&path, e))?;
                Some(FileStamp {
                    len: meta.len(),
                    modified_ns: modified
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos()),
                })
            }
            Location::Bucket(_) => None,
        };
        Ok(IndexSource {
            lake: location.root_shown().display().to_string(),
            index: index.clone(),
            stamp,
        })
    }

    /// The index, loaded once per process and shared: every task of a
    /// query on a cluster's executor decodes its own copy of the function.
    /// The two sources last asked for are kept, so that a job still on the
    /// lake's previous version and one on its new version (a nightly ingest
    /// while a query runs) do not take turns reloading.
    fn load_shared(&self) -> Result<Arc<CurrentSet>> {
        const KEPT: usize = 2;
        static LOADED: std::sync::Mutex<Vec<(IndexSource, Arc<CurrentSet>)>> =
            std::sync::Mutex::new(Vec::new());
        let mut loaded = LOADED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = loaded.iter().position(|(source, _)| source == self) {
            // The most recently used last.
            let entry = loaded.remove(at);
            let set = entry.1.clone();
            loaded.push(entry);
            return Ok(set);
        }
        let set = Arc::new(CurrentSet::load(
            &Location::parse(&self.lake)?,
            &self.index,
        )?);
        if loaded.len() == KEPT {
            loaded.remove(0);
        }
        loaded.push((self.clone(), set.clone()));
        Ok(set)
    }
}

/// `is_current_snapshot(ingest_seq, source_line)`: whether the snapshot is
/// its dossier's current state, by the index the session was opened on.
#[derive(Debug)]
pub(crate) struct IsCurrentSnapshot {
    source: IndexSource,
    /// Loaded with the session, or on first use where the function was
    /// rebuilt from its source (a cluster's executor).
    set: std::sync::OnceLock<Arc<CurrentSet>>,
    signature: datafusion::logical_expr::Signature,
}

impl IsCurrentSnapshot {
    fn new(source: IndexSource, set: Option<Arc<CurrentSet>>) -> Self {
        let loaded = std::sync::OnceLock::new();
        if let Some(set) = set {
            let _ = loaded.set(set);
        }
        IsCurrentSnapshot {
            source,
            set: loaded,
            signature: datafusion::logical_expr::Signature::exact(
                vec![DataType::Int64, DataType::Int64],
                datafusion::logical_expr::Volatility::Immutable,
            ),
        }
    }

    /// The function over the index at `source`, loaded when first called.
    #[cfg(feature = "distributed")]
    pub(crate) fn from_source(source: IndexSource) -> Self {
        IsCurrentSnapshot::new(source, None)
    }

    #[cfg(feature = "distributed")]
    pub(crate) fn source(&self) -> &IndexSource {
        &self.source
    }

    fn set(&self) -> datafusion::error::Result<Arc<CurrentSet>> {
        if let Some(set) = self.set.get() {
            return Ok(set.clone());
        }
        let set = self
            .source
            .load_shared()
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        Ok(self.set.get_or_init(|| set).clone())
    }
}

impl PartialEq for IsCurrentSnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for IsCurrentSnapshot {}

impl std::hash::Hash for IsCurrentSnapshot {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.source.hash(state);
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
        let (Some(seqs), Some(lines)) = (
            arrays
                .first()
                .and_then(|a| a.as_primitive_opt::<Int64Type>()),
            arrays
                .get(1)
                .and_then(|a| a.as_primitive_opt::<Int64Type>()),
        ) else {
            return Err(datafusion::error::DataFusionError::Execution(
                "is_current_snapshot takes a snapshot's ingest_seq and source_line (integers)"
                    .into(),
            ));
        };
        let marked = self.set()?.mark(seqs, lines);
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
    /// A runtime shared with other sessions, whose memory pool they all
    /// draw on (`motcua serve`); by default each session has its own, of
    /// `memory_limit`.
    pub runtime: Option<Arc<RuntimeEnv>>,
    /// Run the session's queries on this Ballista cluster instead of in
    /// this process (`--cluster`).
    #[cfg(feature = "distributed")]
    pub cluster: Option<crate::sql::cluster::ClusterUrl>,
}

impl SessionOptions {
    /// Whether the session's queries run on a cluster.
    pub(crate) fn on_cluster(&self) -> bool {
        #[cfg(feature = "distributed")]
        return self.cluster.is_some();
        #[cfg(not(feature = "distributed"))]
        false
    }

    /// On a cluster, refuses a relative folder given as `flag`: the
    /// executors read it themselves, on other machines.
    pub(crate) fn executors_reach(&self, flag: &str, location: &Location) -> Result<()> {
        match location {
            Location::Folder(root) if self.on_cluster() && root.is_relative() => {
                Err(Error::Usage(format!(
                    "{flag} {}: a cluster's executors read it themselves; give it as s3://BUCKET/PREFIX or as the absolute path of a folder they all mount",
                    root.display()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// A runtime whose engine may use `memory_limit` bytes before spilling.
pub fn runtime(memory_limit: Option<usize>) -> Result<Arc<RuntimeEnv>> {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        // Greedy, not fair: the KPI query registers dozens of spillable
        // operators, and a fair share of the limit each was smaller than one
        // batch of a large aggregate while the whole query used far less.
        // Tracked, so that running out names the operators holding memory.
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(limit),
            std::num::NonZeroUsize::new(4).unwrap_or(std::num::NonZeroUsize::MIN),
        );
        runtime = runtime.with_memory_pool(Arc::new(pool));
    }
    Ok(runtime.build_arc()?)
}

/// A session over the committed lake at `location` (one manifest snapshot).
pub async fn open(
    location: &Location,
    options: &SessionOptions,
) -> Result<(SessionContext, Manifest)> {
    options.executors_reach("--lake", location)?;
    #[cfg(feature = "distributed")]
    if let Some(cluster) = &options.cluster {
        crate::sql::cluster::check_reachable(cluster)?;
    }
    let manifest = lake::read_manifest(location)?;
    let zone = manifest.zone()?;
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    config.options_mut().execution.time_zone = Some(zone.to_string());
    let runtime = match &options.runtime {
        Some(shared) => shared.clone(),
        None => runtime(options.memory_limit)?,
    };
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    crate::sql::tables::register_tables(&ctx, location, &manifest).await?;
    // The lake table of dossiers holds snapshots; `dossiers` is the current state.
    let snapshots = ctx.table_provider("dossiers").await?;
    ctx.deregister_table("dossiers")?;
    ctx.register_table("dossier_snapshots", snapshots)?;
    match manifest.current_index() {
        // Kept at ingest: a filter on the snapshots, cheap enough to run for
        // each reference (faster, and less memory, than caching the state).
        Some(index) => {
            // On a cluster only the executors call it: they load the index.
            let set = match options.on_cluster() {
                true => None,
                false => Some(Arc::new(CurrentSet::load(location, &index)?)),
            };
            ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(
                IsCurrentSnapshot::new(IndexSource::of(location, &index)?, set),
            ));
            let current = ctx.sql(CURRENT_FROM_INDEX).await?;
            ctx.register_table("dossiers", current.into_view())?;
        }
        // A lake whose dossiers predate the index: computed once per session,
        // or on a cluster (which cannot ship a cache) a view.
        None => {
            let current = ctx.sql(CURRENT_DOSSIERS).await?;
            if options.on_cluster() {
                ctx.register_table("dossiers", current.into_view())?;
            } else {
                let budget = options.cache_budget.unwrap_or(
                    options
                        .memory_limit
                        .map_or(DEFAULT_CACHE_BUDGET, |limit| limit / 4),
                );
                ctx.register_table("dossiers", Arc::new(CachedView::new(current, budget)))?;
            }
        }
    }

    crate::sql::unit_tables::register(&ctx, &zone).await?;
    ctx.register_batch("calendar", calendar(&zone)?)?;
    ctx.register_batch(CATALOG, crate::publish::catalog::batch()?)?;
    #[cfg(feature = "distributed")]
    if let Some(cluster) = &options.cluster {
        return Ok((crate::sql::cluster::connect(&ctx, cluster)?, manifest));
    }
    Ok((ctx, manifest))
}
