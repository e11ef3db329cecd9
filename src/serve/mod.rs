//! `motcua serve`: the lake and the published outputs for dashboards, over
//! Arrow Flight SQL (`flight.rs`) — the protocol Superset's DataFusion
//! engine, the Flight SQL JDBC driver and ADBC speak — and HTTP beside it
//! (`http.rs`) for `curl` and Grafana.
//!
//! Every query reads one manifest snapshot with the same tables, views and
//! read-only guard as `motcua query` (`snapshot.rs`): a commit is visible to
//! the next query without a restart and never half-way through one. How
//! many queries run at once, and for how long, is `limits.rs`.

mod flight;
mod http;
mod limits;
mod snapshot;
mod tls;

pub use limits::Limits;
pub use tls::TlsFiles;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};

/// What `serve` listens on and serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub lake: crate::Location,
    /// Where `motcua kpi` publishes: its outputs are tables too.
    pub published: crate::Location,
    /// A folder of the user's saved queries.
    pub queries: Option<PathBuf>,
    /// Where Flight SQL listens.
    pub addr: SocketAddr,
    /// Where HTTP listens.
    pub http: SocketAddr,
    /// The bearer token every request must carry; required to listen on
    /// anything but loopback.
    pub token: Option<String>,
    pub limits: Limits,
    /// The certificate and key both protocols answer over TLS with.
    pub tls: Option<TlsFiles>,
}

/// What both protocols answer from.
pub(crate) struct Served {
    options: ServeOptions,
    snapshots: snapshot::Snapshots,
    slots: limits::Slots,
}

impl Served {
    fn new(options: ServeOptions) -> Result<Arc<Self>> {
        Ok(Arc::new(Served {
            snapshots: snapshot::Snapshots::new(&options)?,
            slots: limits::Slots::new(options.limits),
            options,
        }))
    }
}

impl ServeOptions {
    /// Refuses to serve beyond this machine without a token.
    pub fn check(&self) -> Result<()> {
        for (flag, addr) in [("--listen", self.addr), ("--http", self.http)] {
            if self.token.is_none() && !addr.ip().is_loopback() {
                return Err(Error::Usage(format!(
                    "{flag} {addr}: serving beyond this machine needs a token; set MOTCUA_SERVE_TOKEN or --token-file FILE, or listen on 127.0.0.1"
                )));
            }
        }
        if self.limits.max_queries == 0 {
            return Err(Error::Usage(
                "--max-queries 0 would answer nothing; allow at least 1".into(),
            ));
        }
        if self.token.as_deref().is_some_and(|t| t.trim().len() < 16) {
            return Err(Error::Usage(
                "the serve token is shorter than 16 characters; make a long random one, e.g. `openssl rand -hex 32`".into(),
            ));
        }
        let beyond = !self.addr.ip().is_loopback() || !self.http.ip().is_loopback();
        if beyond && self.tls.is_none() {
            tracing::warn!(
                "serving beyond this machine without TLS: the token and the answers cross the network in clear; give --tls-cert and --tls-key, or keep a TLS proxy in front"
            );
        }
        crate::lake::read_manifest(&self.lake)?;
        Ok(())
    }
}

/// The addresses bound (port 0 picks a free one).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub flight: SocketAddr,
    pub http: SocketAddr,
    /// Whether both answer over TLS.
    pub tls: bool,
}

impl Bound {
    /// The Flight SQL address as clients write it.
    pub fn flight_uri(&self) -> String {
        let scheme = if self.tls { "grpc+tls" } else { "grpc" };
        format!("{scheme}://{}", self.flight)
    }

    /// The HTTP address as clients write it.
    pub fn http_uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.http)
    }
}

/// Serves until SIGINT or SIGTERM; `ready` hears the addresses bound.
pub async fn run(options: ServeOptions, ready: impl FnOnce(Bound)) -> Result<()> {
    options.check()?;
    let tls = options.tls.as_ref().map(tls::Tls::load).transpose()?;
    let (flight_listener, flight_addr) = bind(options.addr).await?;
    let (http_listener, http_addr) = bind(options.http).await?;
    let served = Served::new(options)?;
    let mut grpc = tonic::transport::Server::builder();
    if let Some(tls) = &tls {
        grpc = grpc.tls_config(tls.grpc.clone()).map_err(|e| {
            Error::Usage(format!(
                "--tls-cert and --tls-key: {e}; give a PEM certificate and its key"
            ))
        })?;
    }
    ready(Bound {
        flight: flight_addr,
        http: http_addr,
        tls: tls.is_some(),
    });
    let incoming = tonic::transport::server::TcpIncoming::from(flight_listener);
    let token = served.options.token.clone();
    let service = arrow_flight::flight_service_server::FlightServiceServer::with_interceptor(
        flight::FlightSql::new(served.clone()),
        move |request| flight::authorize(token.as_deref(), request),
    );
    let flight = grpc
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, crate::interrupt::stopped());
    let routes = http::routes(served);
    let http: std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match tls {
        Some(tls) => Box::pin(
            axum::serve(
                tls::TlsListener::new(http_listener, http_addr, tls.http),
                routes,
            )
            .with_graceful_shutdown(crate::interrupt::stopped())
            .into_future(),
        ),
        None => Box::pin(
            axum::serve(http_listener, routes)
                .with_graceful_shutdown(crate::interrupt::stopped())
                .into_future(),
        ),
    };
    let (flight, http) = tokio::join!(flight, http);
    flight.map_err(|e| {
        Error::io(
            format!("serving on {flight_addr}"),
            std::io::Error::other(e),
        )
    })?;
    http.map_err(|e| Error::io(format!("serving on {http_addr}"), e))
}

async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io(format!("listening on {addr}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io("the listening socket", e))?;
    Ok((listener, bound))
}

/// The token of an `authorization: Bearer TOKEN` value (the scheme in any
/// case).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether `given` is the token, compared without telling by its timing
/// how much of it matched.
fn same_token(given: &str, token: &str) -> bool {
    let (a, b) = (given.trim().as_bytes(), token.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs `read` on the runtime's blocking threads, not on the workers that
/// answer clients: a lake or outputs in a bucket are read over the network.
pub(super) async fn off_workers<T: Send + 'static>(
    read: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Error::io("serve", std::io::Error::other(e.to_string())))?
}
