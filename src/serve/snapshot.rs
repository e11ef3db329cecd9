//! The lake as served: one session per manifest snapshot, published version
//! and local day (`units` are the units valid today), shared by every query
//! until one of them changes; the next query then opens the new one (and
//! its current-state cache) while queries already running finish on
//! theirs.

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::error::{Error, Result};
use crate::lake::Manifest;
use crate::sql::Snapshot;
use crate::sql::session::SessionOptions;
use crate::sql::tables::Published;

/// What a session was opened on; another key, another session.
#[derive(PartialEq)]
struct Key {
    manifest: Manifest,
    published: Published,
    today: i32,
}

/// A session being opened or opened: every query that needs it awaits the
/// same one. Errors are shared as text (they are reported, not matched on).
type Opening = Shared<BoxFuture<'static, std::result::Result<Arc<Snapshot>, Arc<str>>>>;

pub(super) struct Snapshots {
    lake: crate::Location,
    published: crate::Location,
    /// With the runtime all sessions share: one memory pool for every query.
    session: SessionOptions,
    held: Mutex<Option<(Key, Opening)>>,
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
            held: Mutex::new(None),
        })
    }

    /// The snapshot to answer from: the one held while its key holds, else
    /// a new one. The opening runs in a task of its own, so a query that
    /// gives up waiting (its deadline, its client gone) does not stop it for
    /// the others.
    pub(super) async fn now(&self) -> Result<Arc<Snapshot>> {
        let (lake, out) = (self.lake.clone(), self.published.clone());
        let key = super::off_workers(move || {
            let manifest = crate::lake::read_manifest(&lake)?;
            let zone = manifest.zone()?;
            Ok(Key {
                manifest,
                published: Published::now(&out)?,
                today: zone.local_days(chrono::Utc::now().timestamp_micros()),
            })
        })
        .await?;
        let opening = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            match held.as_ref() {
                Some((k, opening)) if *k == key => opening.clone(),
                _ => {
                    let opening = self.open();
                    *held = Some((key, opening.clone()));
                    opening
                }
            }
        };
        opening.await.map_err(|reason| {
            // Forget a failed opening: the next query tries again.
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            *held = None;
            Error::lake(self.lake.root_shown(), reason.to_string())
        })
    }

    fn open(&self) -> Opening {
        let (lake, published, session) = (
            self.lake.clone(),
            self.published.clone(),
            self.session.clone(),
        );
        let task = tokio::spawn(async move {
            let snapshot = Snapshot::open(&lake, &published, &session).await?;
            tracing::info!(
                "serving the lake as of its ingest {}",
                snapshot.manifest.ingests.len()
            );
            Ok::<_, Error>(Arc::new(snapshot))
        });
        async move {
            match task.await {
                Ok(Ok(snapshot)) => Ok(snapshot),
                Ok(Err(e)) => Err(Arc::from(e.to_string())),
                Err(e) => Err(Arc::from(format!("opening the lake failed: {e}"))),
            }
        }
        .boxed()
        .shared()
    }
}
