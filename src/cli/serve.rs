//! `motcua serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{LakeDir, value};
use crate::error::{Error, Result};
use crate::serve::{self, Limits, ServeOptions, TlsFiles};

/// Serve the lake and the published KPIs to dashboards over Arrow Flight
/// SQL, read-only, until Ctrl-C.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua serve                                         Flight SQL on 127.0.0.1:50051, HTTP on 127.0.0.1:8080, no token
  MOTCUA_SERVE_TOKEN=… motcua serve --listen 0.0.0.0:50051
  motcua serve --token-file /etc/motcua/serve.token --tls-cert cert.pem --tls-key key.pem --listen 0.0.0.0:50051")]
pub(super) struct ServeArgs {
    /// The address to listen on; anything but loopback needs a token.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Where HTTP listens (`POST /sql`, `GET /queries/NAME`, `GET /health`);
    /// anything but loopback needs a token.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// The bearer token every request must carry (`authorization: Bearer
    /// TOKEN`); at least 16 characters.
    #[arg(
        long,
        env = "MOTCUA_SERVE_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// A file holding the token (its first line).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The folder (or s3:// prefix) `motcua kpi --out` publishes to: its
    /// outputs are tables.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "out",
        value_parser = super::value::location
    )]
    published: crate::Location,
    /// A folder of your own saved queries.
    #[arg(long, value_name = "DIR", env = "MOTCUA_QUERIES")]
    queries: Option<PathBuf>,
    /// Queries that run at once; the others wait for a free slot.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_queries)]
    max_queries: usize,
    /// How long a query waits for a free slot before it is refused as
    /// busy (gRPC RESOURCE_EXHAUSTED, HTTP 503), e.g. 30s.
    #[arg(long, value_name = "TIME", default_value = "30s", value_parser = value::queue_timeout)]
    queue_timeout: Duration,
    /// How long a query may run, to its last row, before it is stopped
    /// (gRPC DEADLINE_EXCEEDED, HTTP 504), e.g. 5m.
    #[arg(long, value_name = "TIME", default_value = "5m", value_parser = value::query_timeout)]
    query_timeout: Duration,
    /// The server's certificate chain (PEM): both protocols answer over TLS
    /// (grpc+tls://, https://).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Memory all running queries together may use before they spill,
    /// e.g. 2GiB; without it, as much as the machine has.
    #[arg(long, value_name = "SIZE", value_parser = value::bytes)]
    memory_limit: Option<usize>,
    #[command(flatten)]
    lake: LakeDir,
}

pub(super) fn run(args: ServeArgs) -> Result<()> {
    let token = match (&args.token, &args.token_file) {
        (Some(token), _) => Some(token.trim().to_string()),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
            Some(text.lines().next().unwrap_or_default().trim().to_string())
        }
        (None, None) => None,
    };
    let options = ServeOptions {
        lake: args.lake.path,
        published: args.published,
        queries: args.queries,
        addr: args.listen,
        http: args.http,
        token,
        limits: Limits {
            max_queries: args.max_queries,
            queue_timeout: args.queue_timeout,
            query_timeout: args.query_timeout,
            memory_limit: args.memory_limit,
        },
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
    };
    crate::interrupt::install()?;
    let with_token = options.token.is_some();
    super::runtime()?.block_on(serve::run(options, |bound| {
        use std::io::Write;
        println!(
            "serving Flight SQL on {} and HTTP on {} ({}); Ctrl-C stops",
            bound.flight_uri(),
            bound.http_uri(),
            if with_token {
                "bearer token required"
            } else {
                "no token: this machine only"
            }
        );
        let _ = std::io::stdout().flush();
    }))
}
