//! The Flight SQL service: statements, prepared statements with
//! parameters, and the catalog calls clients browse with (catalogs,
//! schemas, tables with their columns, SQL info). A prepared statement's
//! handle carries its SQL and, once bound, its parameters, so the server
//! keeps no state for ADBC; for clients that keep using the handle they
//! were first given (flightsql-dbapi), the bound parameters are also kept
//! under it until the statement is closed.

use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use datafusion::dataframe::DataFrame;
use datafusion::scalar::ScalarValue;
use futures::{Stream, TryStreamExt};
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use super::Served;
use super::limits::Refusal;
use crate::error::Error;
use crate::sql::Snapshot;

/// Where the session's tables live, as clients see them.
const CATALOG: &str = "datafusion";
const SCHEMA: &str = "public";

static SQL_INFO: LazyLock<SqlInfoData> = LazyLock::new(|| {
    let mut builder = SqlInfoDataBuilder::new();
    builder.append(SqlInfo::FlightSqlServerName, "motcua");
    builder.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    builder.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    builder.append(SqlInfo::FlightSqlServerReadOnly, true);
    builder.append(SqlInfo::FlightSqlServerSql, true);
    builder.append(SqlInfo::FlightSqlServerSubstrait, false);
    // SqlSupportedTransaction::None: every query reads one snapshot.
    builder.append(SqlInfo::FlightSqlServerTransaction, 0i32);
    builder.append(SqlInfo::FlightSqlServerCancel, false);
    builder.append(SqlInfo::SqlDdlCatalog, false);
    builder.append(SqlInfo::SqlDdlSchema, false);
    builder.append(SqlInfo::SqlDdlTable, false);
    // flightsql-dbapi (Superset) quotes identifiers with what it reads here.
    builder.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    builder.append(SqlInfo::SqlAllTablesAreSelectable, true);
    builder.append(SqlInfo::SqlTransactionsSupported, false);
    builder.build().expect("the SQL info of motcua's server")
});

pub(super) struct FlightSql {
    served: Arc<Served>,
    /// Parameters bound to a handle as first given: the handle's bytes →
    /// the parameter row as Arrow IPC.
    bound: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Vec<u8>>>,
    /// Makes every handle this server gives out its own, so that two
    /// clients preparing the same SQL never share bound parameters.
    handles: std::sync::atomic::AtomicU64,
}

/// Bound parameters kept for clients that do not close their statements;
/// past this the oldest are forgotten all at once.
const MAX_BOUND: usize = 10_000;

type DoGetStream = <FlightSql as FlightService>::DoGetStream;

/// A prepared statement's handle: its SQL and, once bound, the parameter
/// row as Arrow IPC.
#[derive(serde::Serialize, serde::Deserialize)]
struct Handle {
    id: u64,
    sql: String,
    params: Option<Vec<u8>>,
}

impl Handle {
    fn encode(&self) -> Result<Vec<u8>, Status> {
        serde_json::to_vec(self).map_err(|e| Status::internal(e.to_string()))
    }

    fn decode(bytes: &[u8]) -> Result<Handle, Status> {
        serde_json::from_slice(bytes)
            .map_err(|_| Status::invalid_argument("not a prepared statement handle of this server"))
    }
}

/// Lets a call in when the server has no token, or the call carries it:
/// `authorization: Bearer TOKEN`, or Basic with the token as the password
/// (the handshake of JDBC tools); anything else gets this error and nothing
/// else. Every method passes here first.
#[allow(clippy::result_large_err)]
pub(super) fn authorize(token: Option<&str>, request: Request<()>) -> Result<Request<()>, Status> {
    let Some(token) = token else {
        return Ok(request);
    };
    let given = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let bearer = given.and_then(super::bearer);
    let password = given.and_then(basic_password);
    match (bearer, password) {
        (Some(given), _) if super::same_token(given, token) => Ok(request),
        (_, Some(given)) if super::same_token(&given, token) => Ok(request),
        _ => Err(Status::unauthenticated(
            "this server needs a bearer token: send the header `authorization: Bearer TOKEN`, or the token as the password",
        )),
    }
}

/// The password of a Basic `authorization` value (base64 of `user:password`).
fn basic_password(value: &str) -> Option<String> {
    use base64::Engine;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_string())
}

/// A motcua error as the status a client shows.
fn status(e: Error) -> Status {
    match e {
        Error::Usage(_) | Error::Sql(_) | Error::DataFusion(_) => {
            Status::invalid_argument(e.to_string())
        }
        Error::OutOfMemory(_) => Status::resource_exhausted(e.to_string()),
        _ => Status::internal(e.to_string()),
    }
}

/// A query refused or stopped, as the status a client shows.
fn refused(refusal: Refusal) -> Status {
    match refusal {
        Refusal::Busy { .. } => Status::resource_exhausted(refusal.to_string()),
        Refusal::TimedOut(_) => Status::deadline_exceeded(refusal.to_string()),
        Refusal::Query(e) => status(e),
    }
}

impl FlightSql {
    pub(super) fn new(served: Arc<Served>) -> Self {
        FlightSql {
            served,
            bound: Default::default(),
            handles: Default::default(),
        }
    }

    /// The lake as it is now, with the published outputs, once a query
    /// slot is free (opening a new snapshot is work like a query's).
    async fn snapshot(&self) -> Result<Arc<Snapshot>, Status> {
        let slot = self.served.slots.enter().await.map_err(refused)?;
        slot.within(self.served.snapshots.now())
            .await
            .map_err(refused)
    }

    /// The schema of `sql` with `params`, planned in a query slot.
    async fn schema_of(&self, sql: &str, params: Vec<ScalarValue>) -> Result<Schema, Status> {
        let slot = self.served.slots.enter().await.map_err(refused)?;
        let df = slot.within(self.plan(sql, params)).await.map_err(refused)?;
        Ok(df.schema().as_arrow().clone())
    }

    /// `sql` planned read-only with `params` bound to `$1`, `$2`, …
    async fn plan(&self, sql: &str, params: Vec<ScalarValue>) -> crate::error::Result<DataFrame> {
        let sql = &number_question_marks(sql);
        let snapshot = self.served.snapshots.now().await?;
        snapshot.check_outputs(sql)?;
        let named = params
            .into_iter()
            .enumerate()
            .map(|(i, v)| ((i + 1).to_string(), v))
            .collect();
        crate::sql::plan::plan(&snapshot.ctx, sql, named, &[], &snapshot.zone).await
    }

    /// The rows of `sql` with `params`, streamed as Flight data once a
    /// query slot is free, stopped at the query's deadline.
    async fn run(
        &self,
        sql: &str,
        params: Vec<ScalarValue>,
    ) -> Result<Response<DoGetStream>, Status> {
        let slot = self.served.slots.enter().await.map_err(refused)?;
        let df = slot.within(self.plan(sql, params)).await.map_err(refused)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = slot
            .run(df)
            .await
            .map_err(refused)?
            .map_err(|refusal| FlightError::Tonic(Box::new(refused(refusal))));
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    /// A flight of one endpoint whose ticket is `ticket`.
    fn info(
        schema: &Schema,
        ticket: Vec<u8>,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Status> {
        Ok(FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
            .with_descriptor(descriptor))
    }

    /// A prepared statement's SQL and parameters: those its handle carries,
    /// else those bound to it as first given.
    #[allow(clippy::result_large_err)]
    fn prepared(&self, handle_bytes: &[u8]) -> Result<(String, Vec<ScalarValue>), Status> {
        let handle = Handle::decode(handle_bytes)?;
        let kept = match &handle.params {
            Some(_) => None,
            None => self
                .bound
                .lock()
                .ok()
                .and_then(|bound| bound.get(handle_bytes).cloned()),
        };
        let params = params_of(handle.params.as_ref().or(kept.as_ref()))?;
        Ok((handle.sql, params))
    }

    /// The flight of a catalog command: answered by its own `do_get_*`.
    #[allow(clippy::result_large_err)]
    fn command_info(
        &self,
        command: &impl ProstMessageExt,
        schema: &Schema,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = command.as_any().encode_to_vec();
        Ok(Response::new(Self::info(
            schema,
            ticket,
            request.into_inner(),
        )?))
    }

    /// One batch (a catalog answer) streamed as Flight data.
    fn one_batch(batch: Result<RecordBatch, FlightError>) -> Result<Response<DoGetStream>, Status> {
        let batch = batch.map_err(Status::from)?;
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(batch.schema())
            .build(futures::stream::once(async { Ok(batch) }))
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// `?` placeholders (ODBC, JDBC and ADBC clients write them) numbered as
/// DataFusion's `$1`, `$2`, … in order; the rest of the text is kept as
/// written (quotes, comments and all), only the placeholders' spans change.
fn number_question_marks(sql: &str) -> String {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !sql.contains('?') {
        return sql.to_string();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        // The planner says what is wrong with it.
        return sql.to_string();
    };
    // Byte offsets of each line's start: spans are (line, column) in chars.
    let lines: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |line: u64, column: u64| -> Option<usize> {
        let start = *lines.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let skip = usize::try_from(column).ok()?.checked_sub(1)?;
        Some(start + sql[start..].char_indices().nth(skip)?.0)
    };
    let mut out = String::with_capacity(sql.len() + 8);
    let (mut copied, mut n) = (0, 0);
    for token in tokens {
        if !matches!(&token.token, Token::Placeholder(p) if p == "?") {
            continue;
        }
        let Some(at) = offset(token.span.start.line, token.span.start.column) else {
            return sql.to_string();
        };
        n += 1;
        out.push_str(&sql[copied..at]);
        out.push_str(&format!("${n}"));
        copied = at + 1;
    }
    out.push_str(&sql[copied..]);
    out
}

/// The parameters of a prepared statement: the first row of what the
/// client bound, `$1` from its first column (a union, as flightsql-dbapi
/// sends each parameter, stands for its value).
fn params_of(ipc: Option<&Vec<u8>>) -> Result<Vec<ScalarValue>, Status> {
    let Some(ipc) = ipc else {
        return Ok(Vec::new());
    };
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let batch = reader
        .into_iter()
        .next()
        .transpose()
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let Some(batch) = batch.filter(|b| b.num_rows() > 0) else {
        return Ok(Vec::new());
    };
    batch
        .columns()
        .iter()
        .map(|c| match ScalarValue::try_from_array(c, 0) {
            Ok(ScalarValue::Union(Some((_, value)), _, _)) => Ok(*value),
            Ok(value) => Ok(value),
            Err(e) => Err(Status::invalid_argument(e.to_string())),
        })
        .collect()
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    /// With a token in the `authorization` header the handshake echoes it;
    /// with a user name and password (Basic, as JDBC tools such as DBeaver
    /// send them) the password must be the token, and the answer carries
    /// the bearer token the client then sends on every call.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        // The interceptor let only the token in, as a bearer or a password.
        let header = request.metadata().get("authorization").cloned();
        let bearer = match (&self.served.options.token, &header) {
            (Some(token), Some(given))
                if given.to_str().is_ok_and(|v| basic_password(v).is_some()) =>
            {
                Some(
                    format!("Bearer {token}")
                        .parse()
                        .map_err(|_| Status::internal("the token is not a valid header value"))?,
                )
            }
            _ => header,
        };
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: Default::default(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::iter([Ok(answer)])));
        if let Some(bearer) = bearer {
            response.metadata_mut().insert("authorization", bearer);
        }
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = self.schema_of(&query.query, Vec::new()).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        let info = Self::info(
            &schema,
            ticket.as_any().encode_to_vec(),
            request.into_inner(),
        )?;
        Ok(Response::new(info))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let sql = String::from_utf8(ticket.statement_handle.to_vec())
            .map_err(|_| Status::invalid_argument("the statement is not UTF-8"))?;
        self.run(&sql, Vec::new()).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let slot = self.served.slots.enter().await.map_err(refused)?;
        let snapshot = slot
            .within(self.served.snapshots.now())
            .await
            .map_err(refused)?;
        let sql = number_question_marks(&query.query);
        let (df, wanted) = slot
            .within(crate::sql::plan::plan_unbound(&snapshot.ctx, &sql))
            .await
            .map_err(refused)?;
        let parameters = Schema::new(
            wanted
                .iter()
                .map(|(name, ty)| {
                    Field::new(
                        name,
                        ty.clone().unwrap_or(arrow::datatypes::DataType::Utf8),
                        true,
                    )
                })
                .collect::<Vec<_>>(),
        );
        let ipc = |schema: &Schema| -> Result<prost::bytes::Bytes, Status> {
            let IpcMessage(bytes) = SchemaAsIpc::new(schema, &Default::default())
                .try_into()
                .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
            Ok(bytes)
        };
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: Handle {
                id: self
                    .handles
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                sql: query.query,
                params: None,
            }
            .encode()?
            .into(),
            dataset_schema: ipc(df.schema().as_arrow())?,
            parameter_schema: ipc(&parameters)?,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let mut handle = Handle::decode(&query.prepared_statement_handle)?;
        let data = request.into_inner().map_err(FlightError::from);
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(data)
            .try_collect()
            .await
            .map_err(Status::from)?;
        let mut ipc = Vec::new();
        if let Some(first) = batches.first() {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut ipc, &first.schema())
                .map_err(|e| Status::internal(e.to_string()))?;
            writer
                .write(first)
                .and_then(|_| writer.finish())
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        handle.params = (!batches.is_empty()).then_some(ipc.clone());
        if let Ok(mut bound) = self.bound.lock() {
            let key = query.prepared_statement_handle.to_vec();
            if batches.is_empty() {
                bound.remove(&key);
            } else {
                if bound.len() >= MAX_BOUND {
                    bound.clear();
                }
                bound.insert(key, ipc);
            }
        }
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle.encode()?.into()),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let (sql, params) = self.prepared(&query.prepared_statement_handle)?;
        let schema = self.schema_of(&sql, params).await?;
        let info = Self::info(
            &schema,
            query.as_any().encode_to_vec(),
            request.into_inner(),
        )?;
        Ok(Response::new(info))
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (sql, params) = self.prepared(&query.prepared_statement_handle)?;
        self.run(&sql, params).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        if let Ok(mut bound) = self.bound.lock() {
            bound.remove(query.prepared_statement_handle.as_ref());
        }
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(&query, &schema, request)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG);
        Self::one_batch(builder.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(&query, &schema, request)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG, SCHEMA);
        Self::one_batch(builder.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.command_info(&query, &schema, request)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let snapshot = self.snapshot().await?;
        let tables = snapshot
            .ctx
            .catalog(CATALOG)
            .and_then(|c| c.schema(SCHEMA))
            .ok_or_else(|| Status::internal("the session has no public schema"))?;
        let mut names = tables.table_names();
        names.sort();
        let mut builder = query.into_builder();
        for name in names {
            let Some(table) = tables
                .table(&name)
                .await
                .map_err(|e| Status::internal(e.to_string()))?
            else {
                continue;
            };
            let kind = match table.table_type() {
                datafusion::datasource::TableType::View => "VIEW",
                _ => "TABLE",
            };
            builder
                .append(CATALOG, SCHEMA, &name, kind, &table.schema())
                .map_err(Status::from)?;
        }
        Self::one_batch(builder.build())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.command_info(&query, &schema, request)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let mut builder = query.into_builder();
        // As `do_get_tables` names them.
        builder.append("TABLE");
        builder.append("VIEW");
        Self::one_batch(builder.build())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&SQL_INFO).schema();
        self.command_info(&query, &schema, request)
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Self::one_batch(query.into_builder(&SQL_INFO).build())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

#[cfg(test)]
mod tests {
    use super::number_question_marks;

    #[test]
    fn question_marks_are_numbered_outside_strings() {
        assert_eq!(
            number_question_marks("SELECT '?' AS q, a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT '?' AS q, a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        // Quotes, escapes, comments, line breaks and non-ASCII text as written.
        assert_eq!(
            number_question_marks(
                "SELECT 'O''Brien', \"Tỉnh\" -- là ?\nFROM t\n  WHERE x = 'Xã ?' AND y = ?"
            ),
            "SELECT 'O''Brien', \"Tỉnh\" -- là ?\nFROM t\n  WHERE x = 'Xã ?' AND y = $1"
        );
        assert_eq!(number_question_marks("SELECT 1"), "SELECT 1");
    }
}
