//! The HTTP side of `motcua serve`, for `curl` and Grafana's JSON data
//! sources (ROAPI's shape): `POST /sql` (the body is the SQL),
//! `GET /queries/NAME?param=value` (a saved query, parameters typed as in
//! `motcua query`) and `GET /health`, answering JSON, CSV or Arrow IPC by
//! the `Accept` header.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::execution::memory_pool::MemoryConsumer;
use futures::StreamExt;

use super::Served;
use super::limits::Refusal;
use crate::error::Error;
use crate::sql::QuerySource;
use crate::sql::plan::sql_error;

/// What a client asks the answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Json,
    Csv,
    Arrow,
}

impl Answer {
    /// By the `Accept` header; JSON unless it names CSV or Arrow.
    fn of(headers: &HeaderMap) -> Answer {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.contains("text/csv") {
            Answer::Csv
        } else if accept.contains("application/vnd.apache.arrow.stream") {
            Answer::Arrow
        } else {
            Answer::Json
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Answer::Json => "application/json",
            Answer::Csv => "text/csv; charset=utf-8",
            Answer::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

/// The routes, over `options`.
pub(super) fn routes(served: Arc<Served>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/sql", post(sql))
        .route("/queries/{name}", get(saved))
        // Before anything reads the request, on every route and on none.
        .layer(axum::middleware::from_fn_with_state(
            served.clone(),
            authorize,
        ))
        .with_state(served)
}

/// An error as JSON `{"error": "…"}` with its status.
fn refusal(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(e: Error) -> Response {
    let status = match &e {
        Error::Usage(_) | Error::Sql(_) | Error::DataFusion(_) => StatusCode::BAD_REQUEST,
        Error::OutOfMemory(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refusal(status, &e.to_string())
}

/// A query refused or stopped: 503 with `Retry-After` when busy, 504 past
/// its deadline.
fn refused(why: Refusal) -> Response {
    match why {
        Refusal::Busy { .. } => {
            let mut response = refusal(StatusCode::SERVICE_UNAVAILABLE, &why.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
        Refusal::TimedOut(_) => refusal(StatusCode::GATEWAY_TIMEOUT, &why.to_string()),
        Refusal::Query(e) => error(e),
    }
}

/// The bearer token, when the server has one; a request without it gets
/// 401 and nothing else.
async fn authorize(
    State(served): State<Arc<Served>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = &served.options.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(super::bearer);
        if !given.is_some_and(|given| super::same_token(given, token)) {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "this server needs a bearer token: send the header `Authorization: Bearer TOKEN`",
            );
        }
    }
    next.run(request).await
}

async fn health(State(served): State<Arc<Served>>) -> Response {
    let lake = served.options.lake.clone();
    match super::off_workers(move || crate::lake::read_manifest(&lake)).await {
        Ok(manifest) => {
            let body = serde_json::json!({
                "status": "ok",
                "ingests": manifest.ingests.len(),
                "running": served.slots.running(),
                "waiting": served.slots.waiting(),
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(e) => error(e),
    }
}

async fn sql(State(served): State<Arc<Served>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(sql) = String::from_utf8(body.to_vec()) else {
        return refusal(StatusCode::BAD_REQUEST, "the body is not UTF-8 SQL text");
    };
    answer(&served, &headers, QuerySource::Sql(sql), Vec::new()).await
}

async fn saved(
    State(served): State<Arc<Served>>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    // A name, never a path: `find` also opens `.sql` files.
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return refusal(
            StatusCode::NOT_FOUND,
            &format!("{name}: a saved query's name is letters, digits, _ and -"),
        );
    }
    match crate::sql::find(served.options.queries.as_deref(), &name) {
        Ok(query) => answer(&served, &headers, QuerySource::Saved(query), params).await,
        Err(e) => refusal(StatusCode::NOT_FOUND, &e.to_string()),
    }
}

/// Runs the query over the lake as it is now, once a query slot is free,
/// and writes its rows as asked. A client that goes away drops this, and
/// with it the query.
async fn answer(
    served: &Served,
    headers: &HeaderMap,
    source: QuerySource,
    params: Vec<(String, String)>,
) -> Response {
    let kind = Answer::of(headers);
    match encoded(served, &source, &params, kind).await {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, kind.content_type())],
            body,
        )
            .into_response(),
        Err(why) => refused(why),
    }
}

/// The rows of `source` over the lake as it is now, encoded batch by batch
/// within a query slot. The answer is whole before it is sent (an error
/// gets its status, not a cut-off body), and its bytes are counted in the
/// `--memory-limit` pool the queries share.
async fn encoded(
    served: &Served,
    source: &QuerySource,
    params: &[(String, String)],
    kind: Answer,
) -> Result<Vec<u8>, Refusal> {
    let slot = served.slots.enter().await?;
    let snapshot = slot.within(served.snapshots.now()).await?;
    let df = slot.within(snapshot.plan(source, params)).await?;
    let schema = df.schema().as_arrow().clone();
    let pool = &snapshot.ctx.runtime_env().memory_pool;
    let reservation = MemoryConsumer::new("HTTP answer").register(pool);
    let tally = Arc::new(AtomicUsize::new(0));
    let mut encoder = Encoder::new(kind, &schema, &tally)?;
    let mut rows = std::pin::pin!(slot.run(df).await?);
    while let Some(batch) = rows.next().await {
        encoder.write(&batch?)?;
        reservation
            .try_resize(tally.load(Ordering::Relaxed))
            .map_err(sql_error)?;
    }
    Ok(encoder.finish()?)
}

/// An answer's bytes, their count shared with the memory reservation.
struct Tallied {
    bytes: Vec<u8>,
    tally: Arc<AtomicUsize>,
}

impl std::io::Write for Tallied {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        self.tally.fetch_add(buf.len(), Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Rows into JSON (an array; `[]` when empty), CSV (a header even when
/// empty) or an Arrow IPC stream (its schema even when empty).
enum Encoder {
    Json(arrow::json::ArrayWriter<Tallied>),
    Csv(Box<arrow::csv::Writer<Tallied>>),
    Arrow(arrow::ipc::writer::StreamWriter<Tallied>),
}

impl Encoder {
    fn new(
        kind: Answer,
        schema: &arrow::datatypes::Schema,
        tally: &Arc<AtomicUsize>,
    ) -> crate::error::Result<Encoder> {
        let out = Tallied {
            bytes: Vec::new(),
            tally: tally.clone(),
        };
        Ok(match kind {
            Answer::Json => Encoder::Json(arrow::json::ArrayWriter::new(out)),
            Answer::Csv => {
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out);
                writer.write(&RecordBatch::new_empty(Arc::new(schema.clone())))?;
                Encoder::Csv(Box::new(writer))
            }
            Answer::Arrow => {
                Encoder::Arrow(arrow::ipc::writer::StreamWriter::try_new(out, schema)?)
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> crate::error::Result<()> {
        match self {
            Encoder::Json(writer) => writer.write(batch)?,
            Encoder::Csv(writer) => writer.write(batch)?,
            Encoder::Arrow(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> crate::error::Result<Vec<u8>> {
        Ok(match self {
            Encoder::Json(mut writer) => {
                writer.finish()?;
                let out = writer.into_inner().bytes;
                if out.is_empty() { b"[]".to_vec() } else { out }
            }
            Encoder::Csv(writer) => writer.into_inner().bytes,
            Encoder::Arrow(mut writer) => {
                writer.finish()?;
                writer.into_inner()?.bytes
            }
        })
    }
}
