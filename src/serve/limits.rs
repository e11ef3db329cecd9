//! How much the server takes on at once: at most `--max-queries` queries
//! run (the others wait their turn up to `--queue-timeout`), each until
//! its `--query-timeout`; all draw on one `--memory-limit` pool
//! (`snapshot.rs`). A query whose client goes away is dropped, and with it
//! the engine's work and its slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::Error;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Queries running at once.
    pub max_queries: usize,
    /// How long a query waits for a free slot before it is refused.
    pub queue_timeout: Duration,
    /// How long a query may run, from its slot to its last row.
    pub query_timeout: Duration,
    /// Memory all queries together may use before they spill.
    pub memory_limit: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_queries: 8,
            queue_timeout: Duration::from_secs(30),
            query_timeout: Duration::from_secs(300),
            memory_limit: None,
        }
    }
}

/// Why a query got no answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum Refusal {
    #[error(
        "the server is busy: all {running} query slots stayed taken for {}; try again later, or start `motcua serve` with a higher --max-queries",
        humantime::format_duration(*waited)
    )]
    Busy { running: usize, waited: Duration },
    #[error(
        "the query ran past --query-timeout {} and was stopped; narrow it, or start `motcua serve` with a longer --query-timeout",
        humantime::format_duration(*.0)
    )]
    TimedOut(Duration),
    #[error(transparent)]
    Query(#[from] Error),
}

/// The query slots.
pub(super) struct Slots {
    limits: Limits,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// A running query's slot: freed when dropped.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
    deadline: Instant,
    timeout: Duration,
}

impl Slots {
    pub(super) fn new(limits: Limits) -> Self {
        Slots {
            limits,
            permits: Arc::new(Semaphore::new(limits.max_queries.max(1))),
            waiting: Default::default(),
        }
    }

    /// Queries running now.
    pub(super) fn running(&self) -> usize {
        self.limits.max_queries.max(1) - self.permits.available_permits()
    }

    /// Queries waiting for a slot now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A slot, once one is free within the queue timeout.
    pub(super) async fn enter(&self) -> Result<Slot, Refusal> {
        let waited = self.limits.queue_timeout;
        let permit = {
            // Counted while queued, also when the wait is dropped (its client
            // went away).
            let _queued = Queued::new(&self.waiting);
            tokio::time::timeout(waited, Arc::clone(&self.permits).acquire_owned()).await
        };
        match permit {
            Ok(Ok(permit)) => Ok(Slot {
                _permit: permit,
                deadline: Instant::now() + self.limits.query_timeout,
                timeout: self.limits.query_timeout,
            }),
            // The semaphore is never closed; a timeout is the busy case.
            _ => Err(Refusal::Busy {
                running: self.running(),
                waited,
            }),
        }
    }
}

/// One query in the queue, for `/health`.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Queued(waiting)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Slot {
    /// `work`, stopped at the query's deadline.
    pub(super) async fn within<T>(
        &self,
        work: impl Future<Output = crate::error::Result<T>>,
    ) -> Result<T, Refusal> {
        match tokio::time::timeout_at(self.deadline, work).await {
            Ok(done) => Ok(done?),
            Err(_) => Err(Refusal::TimedOut(self.timeout)),
        }
    }

    /// The rows of `df`, started within the query's deadline (see `rows`).
    pub(super) async fn run(
        self,
        df: DataFrame,
    ) -> Result<impl Stream<Item = Result<RecordBatch, Refusal>> + Send + 'static, Refusal> {
        let rows = self
            .within(async {
                df.execute_stream()
                    .await
                    .map_err(crate::sql::plan::sql_error)
            })
            .await?;
        Ok(self.rows(rows))
    }

    /// The rows of `rows`, ending with `TimedOut` at the deadline; the slot
    /// is held until the last row is sent or the stream is dropped (the
    /// client went away).
    fn rows(
        self,
        rows: SendableRecordBatchStream,
    ) -> impl Stream<Item = Result<RecordBatch, Refusal>> + Send + 'static {
        futures::stream::unfold(Some((rows, self)), |state| async move {
            let (mut rows, slot) = state?;
            match tokio::time::timeout_at(slot.deadline, rows.next()).await {
                Ok(Some(Ok(batch))) => Some((Ok(batch), Some((rows, slot)))),
                Ok(Some(Err(e))) => Some((Err(crate::sql::plan::sql_error(e).into()), None)),
                Ok(None) => None,
                Err(_) => Some((Err(Refusal::TimedOut(slot.timeout)), None)),
            }
        })
    }
}
