//! The `motcua` command line: the argument types, one file per command, and
//! `run`, which dispatches. `main.rs` only parses and exits with the code a
//! failure carries; what a command prints lives in `print.rs`.

#[cfg(feature = "distributed")]
mod cluster;
mod demo;
mod feeds;
mod ingest;
mod kpi;
mod lake;
mod print;
mod progress;
mod query;
mod report;
mod sample;
mod serve;
mod table;
mod units;
mod value;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::validate::time::{DEFAULT_ZONE, Zone};

pub use progress::LogWriter;
pub use value::refused;

#[derive(Parser)]
#[command(
    name = "motcua",
    version,
    about = "KPIs of one-stop shops and the online public-service portal, from their log exports",
    after_help = "Examples:
  motcua demo                                  sample data → lake → KPIs, in ./demo
  motcua ingest units exports/units.csv        then dossiers, portal_events, signatures, targets
  motcua kpi --from 2024-01-01 --to 2024-12-01 every KPI, unit and month → out/kpi_values
  motcua query ranking --param kpi=on_time_rate --param period=2024-12-01
  motcua report --unit 01 --period 2024-12 --output report.html"
)]
pub struct Cli {
    /// More log output on standard error: -v for progress, -vv for detail.
    #[arg(short, long, global = true, action = ArgAction::Count, display_order = 900)]
    pub verbose: u8,
    /// Errors only on standard error.
    #[arg(short, long, global = true, display_order = 901)]
    pub quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Ingest(ingest::IngestArgs),
    Lake(lake::LakeArgs),
    Query(query::QueryArgs),
    Kpi(kpi::KpiArgs),
    Feeds(feeds::FeedsArgs),
    /// Print the KPI catalog (Markdown).
    Kpis,
    Report(report::ReportArgs),
    Serve(serve::ServeArgs),
    Units(units::UnitsArgs),
    Sample(sample::SampleArgs),
    Demo(demo::DemoArgs),
    #[cfg(feature = "distributed")]
    Cluster(cluster::ClusterArgs),
}

/// The lake a command reads or writes.
#[derive(Args)]
struct LakeDir {
    /// The lake: a folder, or a prefix in an S3-compatible bucket
    /// (`s3://BUCKET/PREFIX`, reached with the standard `AWS_*` variables:
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, and `AWS_ALLOW_HTTP=true` for a server
    /// without TLS).
    #[arg(
        long = "lake",
        value_name = "DIR|s3://BUCKET/PREFIX",
        default_value = "lake",
        env = "MOTCUA_LAKE",
        value_parser = value::location
    )]
    path: crate::Location,
}

/// The cluster a command's SQL runs on (`--features distributed`).
#[cfg(feature = "distributed")]
#[derive(Args)]
struct ClusterArg {
    /// Run the SQL on the Ballista cluster whose scheduler is at
    /// df://HOST:PORT (`motcua cluster`) instead of in this process. Its
    /// executors read the lake themselves: it must be in a bucket, or in a
    /// folder they all mount at the same absolute path.
    #[arg(long, value_name = "df://HOST:PORT", value_parser = crate::cluster::ClusterUrl::parse)]
    cluster: Option<crate::cluster::ClusterUrl>,
}

/// The zone local times and calendar periods are read in.
#[derive(Args)]
struct ZoneArg {
    /// IANA time zone that local times and calendar periods are read in; a
    /// lake keeps the zone it was created with.
    #[arg(
        long = "tz",
        value_name = "ZONE",
        default_value = DEFAULT_ZONE,
        env = "MOTCUA_TZ",
        value_parser = value::parsed::<Zone>
    )]
    zone: Zone,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    progress::set_quiet(cli.quiet);
    match cli.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Lake(args) => lake::run(args),
        Command::Query(args) => query::run(args),
        Command::Kpi(args) => kpi::run(args),
        Command::Feeds(args) => feeds::run(args),
        Command::Kpis => {
            print!("{}", crate::spec::kpis::render_markdown());
            Ok(())
        }
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Units(args) => units::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Demo(args) => demo::run(args),
        #[cfg(feature = "distributed")]
        Command::Cluster(args) => cluster::run(args),
    }
}

/// The async runtime of the commands that run SQL. In a `distributed`
/// build its threads have room for deep recursion: a cluster's scheduler
/// and executors decode a plan recursively, one level per plan node, and
/// the KPI query's plan is deep (address space reserved, not memory used).
fn runtime() -> Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    #[cfg(feature = "distributed")]
    builder.thread_stack_size(64 << 20);
    builder
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}
