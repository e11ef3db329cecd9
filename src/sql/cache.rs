//! Views cached in memory for one session.

use std::sync::Arc;

use datafusion::datasource::MemTable;

use crate::error::{Error, Result};

/// Memory the cached current state may hold when no `--memory-limit` is
/// given; beyond it the cache moves to a Parquet file on disk.
pub(crate) const DEFAULT_CACHE_BUDGET: usize = 1 << 30;

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
    pub(crate) plan: datafusion::logical_expr::LogicalPlan,
    pub(crate) schema: arrow::datatypes::SchemaRef,
    pub(crate) budget: usize,
    pub(crate) table: tokio::sync::OnceCell<Arc<dyn datafusion::catalog::TableProvider>>,
    pub(crate) spill: std::sync::Mutex<Option<tempfile::TempDir>>,
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
            let root = crate::Location::Folder(root.to_path_buf());
            return crate::sql::tables::parquet_table(&root, &[name], self.schema.clone());
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
