//! `motcua serve`: the lake and the published outputs for dashboards, over
//! Arrow Flight SQL (`flight.rs`) — the protocol Superset's DataFusion
//! engine, the Flight SQL JDBC driver and ADBC speak.
//!
//! Every query opens the lake as it is then (one manifest snapshot, the
//! same tables, views and read-only guard as `motcua query`), so a commit is
//! visible to the next query without a restart and never half-way through
//! one.

mod flight;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// What `serve` listens on and serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub lake: PathBuf,
    /// Where `motcua kpi` publishes: its outputs are tables too.
    pub published: PathBuf,
    /// A folder of the user's saved queries.
    pub queries: Option<PathBuf>,
    pub addr: SocketAddr,
    /// The bearer token every request must carry; required to listen on
    /// anything but loopback.
    pub token: Option<String>,
}

impl ServeOptions {
    /// Refuses to serve beyond this machine without a token.
    pub fn check(&self) -> Result<()> {
        if self.token.is_none() && !self.addr.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "--listen {}: serving beyond this machine needs a token; set MOTCUA_SERVE_TOKEN or --token-file FILE, or listen on 127.0.0.1",
                self.addr
            )));
        }
        if self.token.as_deref().is_some_and(|t| t.trim().len() < 16) {
            return Err(Error::Usage(
                "the serve token is shorter than 16 characters; make a long random one, e.g. `head -c 32 /dev/urandom | base64`".into(),
            ));
        }
        crate::lake::read_manifest(&self.lake)?;
        Ok(())
    }
}

/// Serves until SIGINT or SIGTERM; `ready` hears the address bound (port 0
/// picks a free one).
pub async fn run(options: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    options.check()?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| Error::io(format!("listening on {}", options.addr), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("the listening socket", e))?;
    ready(addr);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let service = flight::FlightSql::new(options);
    tonic::transport::Server::builder()
        .add_service(arrow_flight::flight_service_server::FlightServiceServer::new(service))
        .serve_with_incoming_shutdown(incoming, crate::interrupt::stopped())
        .await
        .map_err(|e| Error::io(format!("serving on {addr}"), std::io::Error::other(e)))
}
