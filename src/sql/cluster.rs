//! A session whose queries run on an Apache DataFusion Ballista cluster
//! (`--cluster`, cargo feature `distributed`): the scheduler's address, and
//! the session handed over to it. The cluster's processes are in
//! `src/cluster/`; what plans carry to them, in `codec.rs`.

use std::sync::Arc;

use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// A scheduler's address, `df://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    pub host: String,
    pub port: u16,
}

impl ClusterUrl {
    pub fn parse(text: &str) -> Result<Self> {
        let refuse = || {
            Error::Usage(format!(
                "{text}: name a cluster's scheduler as df://HOST:PORT, as `motcua cluster scheduler` prints it"
            ))
        };
        let rest = text.strip_prefix("df://").ok_or_else(refuse)?;
        let (host, port) = rest
            .trim_end_matches('/')
            .rsplit_once(':')
            .ok_or_else(refuse)?;
        let port = port.parse().map_err(|_| refuse())?;
        if host.is_empty() {
            return Err(refuse());
        }
        Ok(ClusterUrl {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

/// The session `ctx`, its tables and functions registered, with its
/// queries planned and run on the cluster at `url`.
pub(crate) fn connect(ctx: &SessionContext, url: &ClusterUrl) -> Result<SessionContext> {
    let state = ctx.state();
    let ours: Vec<_> = state
        .scalar_functions()
        .values()
        .filter(|udf| super::codec::is_motcua_function(udf))
        .cloned()
        .collect();
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(Arc::new(super::codec::LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(super::codec::PhysicalCodec::default()))
        // The session's catalog, with the lake's tables, stays.
        .with_create_default_catalog_and_schema(false);
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    let mut state = state.upgrade_for_ballista(format!("http://{}:{}", url.host, url.port))?;
    // Ballista's functions replace the session's list: motcua's back.
    for udf in ours {
        state.register_udf(udf)?;
    }
    Ok(SessionContext::new_with_state(state))
}

/// Refuses, before anything is read, a scheduler no one answers at, in one
/// sentence (Ballista would fail the first query with a transport error).
pub(crate) fn check_reachable(url: &ClusterUrl) -> Result<()> {
    use std::net::ToSocketAddrs;
    let refuse = |why: String| {
        Error::Cluster(format!(
            "no scheduler answers at {url} ({why}); start one with `motcua cluster scheduler` or check --cluster"
        ))
    };
    // `[::1]` as URLs write an IPv6 host; a name may resolve to several
    // addresses, of which the scheduler listens on one.
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    let addresses = (host, url.port)
        .to_socket_addrs()
        .map_err(|e| refuse(e.to_string()))?;
    let mut last = "the host has no address".to_string();
    for address in addresses {
        match std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(refuse(last))
}
