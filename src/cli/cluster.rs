//! `motcua cluster scheduler|executor`: the processes of a Ballista cluster
//! that runs motcua's SQL (`--features distributed`).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::value;
use crate::cluster::{self, ClusterUrl, ExecutorOptions};
use crate::error::Result;

/// Run a scheduler or an executor of a cluster that `kpi --cluster` and
/// `query --cluster` run on.
#[derive(Args)]
#[command(
    after_help = "A cluster is three commands, each on its machine (or all on one):
  motcua cluster scheduler --bind 0.0.0.0:50050
  motcua cluster executor --scheduler df://SCHEDULER:50050 --bind 0.0.0.0 --advertise EXECUTOR_1 --flight-port 50051
  motcua cluster executor --scheduler df://SCHEDULER:50050 --bind 0.0.0.0 --advertise EXECUTOR_2 --flight-port 50051
then, with the lake in a bucket (or a folder every executor mounts at the same path):
  motcua kpi --lake s3://bucket/lake --out s3://bucket/out --from 2025-01-01 --to 2025-12-01 --cluster df://SCHEDULER:50050
Every process reaches a bucket with its own AWS_* variables."
)]
pub(super) struct ClusterArgs {
    #[command(subcommand)]
    process: Process,
}

#[derive(Subcommand)]
enum Process {
    Scheduler(SchedulerArgs),
    Executor(ExecutorArgs),
}

/// Plan queries and hand their tasks to the executors; prints
/// "scheduler listening on df://HOST:PORT" when it does.
#[derive(Args)]
struct SchedulerArgs {
    /// The address to listen on; port 0 takes any free port.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
}

/// Run the tasks a scheduler hands out, reading the lake itself.
#[derive(Args)]
struct ExecutorArgs {
    /// The scheduler, as it printed itself: df://HOST:PORT.
    #[arg(long, value_name = "df://HOST:PORT", value_parser = ClusterUrl::parse)]
    scheduler: ClusterUrl,
    /// The address to listen on; 0.0.0.0 (every interface) for a cluster
    /// of several machines, with --advertise.
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// The host name the scheduler and the other executors reach this one
    /// by; by default the --bind address.
    #[arg(long, value_name = "HOST")]
    advertise: Option<String>,
    /// The port results and shuffles are fetched from; 0: any free port.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    flight_port: u16,
    /// Where it keeps shuffle files and spills; by default a new temporary
    /// folder.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Tasks it runs at once; 0: one per core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    vcores: usize,
    /// Memory its tasks may use before they spill, e.g. 4GiB; by default a
    /// share of the machine's.
    #[arg(long, value_name = "SIZE", value_parser = value::bytes)]
    memory_limit: Option<usize>,
}

pub(super) fn run(args: ClusterArgs) -> Result<()> {
    let runtime = super::runtime()?;
    match args.process {
        Process::Scheduler(args) => runtime.block_on(cluster::run_scheduler(args.bind, |addr| {
            announce(&format!("scheduler listening on df://{addr}"));
        })),
        Process::Executor(args) => {
            let options = ExecutorOptions {
                scheduler: args.scheduler,
                bind: args.bind,
                advertise: args.advertise,
                flight_port: args.flight_port,
                work_dir: args.work_dir,
                vcores: args.vcores,
                memory_limit: args.memory_limit.map(|m| m as u64),
            };
            let scheduler = options.scheduler.clone();
            runtime.block_on(cluster::run_executor(&options, |flight| {
                announce(&format!("executor on {flight}, joining {scheduler}"));
            }))
        }
    }
}

/// One line on standard output, at once: scripts and tests wait for it.
fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
