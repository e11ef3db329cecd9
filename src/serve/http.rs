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

use futures::TryStreamExt;

use super::limits::Refusal;
use super::{ServeOptions, Served};
use crate::error::Error;
use crate::sql::plan::sql_error;
use crate::sql::{QueryResult, QuerySource};

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
#[allow(clippy::result_large_err)]
fn check(options: &ServeOptions, headers: &HeaderMap) -> Result<(), Response> {
    let Some(token) = &options.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if super::same_token(given, token) => Ok(()),
        _ => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "this server needs a bearer token: send the header `Authorization: Bearer TOKEN`",
        )),
    }
}

async fn health(State(served): State<Arc<Served>>, headers: HeaderMap) -> Response {
    if let Err(refused) = check(&served.options, &headers) {
        return refused;
    }
    match crate::lake::read_manifest(&served.options.lake) {
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
    if let Err(refused) = check(&served.options, &headers) {
        return refused;
    }
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
    if let Err(refused) = check(&served.options, &headers) {
        return refused;
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
    let result = match collect(served, &source, &params).await {
        Ok(result) => result,
        Err(why) => return refused(why),
    };
    let kind = Answer::of(headers);
    match encode(&result, kind) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, kind.content_type())],
            body,
        )
            .into_response(),
        Err(e) => error(e),
    }
}

/// The rows of `source` over the lake as it is now, within a query slot.
async fn collect(
    served: &Served,
    source: &QuerySource,
    params: &[(String, String)],
) -> Result<QueryResult, Refusal> {
    let slot = served.slots.enter().await?;
    let snapshot = slot.within(served.snapshots.now()).await?;
    let df = slot.within(snapshot.plan(source, params)).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let rows = slot
        .within(async { df.execute_stream().await.map_err(sql_error) })
        .await?;
    let batches = slot.rows(rows).try_collect().await?;
    Ok(QueryResult { schema, batches })
}

/// The rows in `kind`; an empty result keeps its columns (a CSV header, an
/// Arrow schema) or is `[]`.
fn encode(result: &QueryResult, kind: Answer) -> crate::error::Result<Vec<u8>> {
    let batches: Vec<&RecordBatch> = result.batches.iter().collect();
    let mut out = Vec::new();
    match kind {
        Answer::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut out);
            writer.write_batches(&batches)?;
            writer.finish()?;
            if out.is_empty() {
                out.extend_from_slice(b"[]");
            }
        }
        Answer::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            writer.write(&RecordBatch::new_empty(result.schema.clone()))?;
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Answer::Arrow => {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &result.schema)?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    Ok(out)
}
