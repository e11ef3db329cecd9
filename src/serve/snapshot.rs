//! The lake as served: one session per manifest snapshot and published
//! version, shared by every query until an ingest or a `kpi` run commits;
//! the next query then opens the new one (and its current-state cache)
//! while queries already running finish on theirs.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Result;
use crate::sql::Snapshot;
use crate::sql::session::SessionOptions;
use crate::sql::tables::Published;

pub(super) struct Snapshots {
    lake: PathBuf,
    published: PathBuf,
    /// With the runtime all sessions share: one memory pool for every query.
    session: SessionOptions,
    held: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
}

impl Snapshots {
    pub(super) fn new(options: &super::ServeOptions) -> Result<Self> {
        let memory_limit = options.limits.memory_limit;
        Ok(Snapshots {
            lake: options.lake.clone(),
            published: options.published.clone(),
            session: SessionOptions {
                memory_limit,
                runtime: Some(crate::sql::session::runtime(memory_limit)?),
                ..Default::default()
            },
            held: Default::default(),
        })
    }

    /// The snapshot to answer from: the one held while the lake's manifest
    /// and the published versions are those it was opened on, else a new
    /// one. One caller opens it; the others wait for it.
    pub(super) async fn now(&self) -> Result<Arc<Snapshot>> {
        let mut held = self.held.lock().await;
        let manifest = crate::lake::read_manifest(&self.lake)?;
        let published = Published::now(&self.published)?;
        if let Some(snapshot) = held.as_ref()
            && snapshot.manifest == manifest
            && snapshot.published == published
        {
            return Ok(snapshot.clone());
        }
        let fresh = Arc::new(Snapshot::open(&self.lake, &self.published, &self.session).await?);
        tracing::info!(
            "serving the lake as of its ingest {}",
            fresh.manifest.ingests.len()
        );
        *held = Some(fresh.clone());
        Ok(fresh)
    }
}
