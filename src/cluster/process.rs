//! A cluster's processes: Ballista's scheduler and executor with motcua's
//! codecs (`sql/codec.rs`) and object stores (`stores.rs`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use super::stores::EnvStores;
use crate::error::{Error, Result};
use crate::sql::cluster::ClusterUrl;
use crate::sql::codec::{LogicalCodec, PhysicalCodec};

fn cluster_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Cluster(format!("{what}: {e}"))
}

/// A runtime whose object stores reach any bucket a plan names.
fn runtime(spill_dir: Option<&str>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut runtime =
        RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(EnvStores::default()));
    if let Some(dir) = spill_dir {
        runtime = runtime.with_temp_file_path(dir);
    }
    runtime.build_arc()
}

/// The scheduler's session for each job: Ballista's, reading buckets.
fn scheduler_session(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    Ok(
        datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime(None)?)
            .build(),
    )
}

/// Runs a scheduler on `bind` (port 0: any free one) until the process is
/// stopped; `ready` gets the address it listens on once it does.
pub async fn run_scheduler(bind: SocketAddr, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| cluster_error(&format!("cannot listen on {bind}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| cluster_error("the scheduler's address", e))?;
    let config = Arc::new(SchedulerConfig {
        external_host: addr.ip().to_string(),
        bind_host: addr.ip().to_string(),
        bind_port: addr.port(),
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_session_builder: Some(Arc::new(scheduler_session)),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..Default::default()
    });
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| cluster_error("the scheduler could not start", e))?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
        .await
        .map_err(|e| cluster_error("the scheduler could not start", e))?;
    ready(addr);
    start_grpc_service_with_listener(listener, scheduler)
        .await
        .map_err(|e| cluster_error("the scheduler stopped", e))
}

/// How an executor joins a cluster.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: ClusterUrl,
    /// The address it listens on.
    pub bind: IpAddr,
    /// The host name the scheduler and other executors reach it by; by
    /// default `bind`.
    pub advertise: Option<String>,
    /// Its Flight port, where results and shuffles are fetched; 0: any
    /// free one.
    pub flight_port: u16,
    /// Where it keeps shuffle files and spills; by default a fresh
    /// temporary folder.
    pub work_dir: Option<PathBuf>,
    /// Tasks it runs at once; 0: one per core.
    pub vcores: usize,
    /// Memory its tasks may use before they spill, in bytes; by default a
    /// share of the machine's.
    pub memory_limit: Option<u64>,
}

/// A port on `ip` no one listens on now.
fn free_port(ip: IpAddr) -> Result<u16> {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| cluster_error(&format!("no free port on {ip}"), e))
}

/// Runs an executor until it is stopped (SIGINT or SIGTERM: it finishes
/// its tasks first); `ready` gets its Flight address first.
pub async fn run_executor(options: &ExecutorOptions, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let advertise = match (&options.advertise, options.bind.is_unspecified()) {
        (Some(name), _) => name.clone(),
        (None, false) => options.bind.to_string(),
        (None, true) => {
            return Err(Error::Usage(format!(
                "--bind {}: name the host the scheduler and the other executors reach this one by with --advertise HOST",
                options.bind
            )));
        }
    };
    let flight_port = match options.flight_port {
        0 => free_port(options.bind)?,
        port => port,
    };
    // Ballista serves this port only to schedulers that push tasks; motcua's
    // pulls them, but the executor announces one.
    let grpc_port = free_port(options.bind)?;
    // Held until the executor stops, then deleted with its shuffle files
    // (Ballista's own temporary folder would be left behind).
    let temporary = match &options.work_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().map_err(|e| cluster_error("no temporary folder", e))?),
    };
    let work_dir = options
        .work_dir
        .as_deref()
        .or(temporary.as_ref().map(|t| t.path()))
        .map(|d| d.display().to_string());
    let spill_dir = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.to_string(),
        external_host: Some(advertise),
        port: flight_port,
        grpc_port,
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        // The scheduler may still be starting (a cluster started at once).
        scheduler_connect_timeout_seconds: 30,
        vcores: options.vcores,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir,
        memory_pool_size: options.memory_limit,
        override_runtime_producer: Some(Arc::new(move |_: &SessionConfig| {
            runtime(spill_dir.as_deref())
        })),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..Default::default()
    };
    let stopped = stop_requested();
    ready(SocketAddr::new(options.bind, flight_port));
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| cluster_error("the executor stopped", e))?;
    // Ballista returns without an error also when one of its services
    // failed (a port taken, the scheduler gone).
    match stopped.load(std::sync::atomic::Ordering::SeqCst) {
        true => Ok(()),
        false => Err(Error::Cluster(
            "the executor stopped without being asked to: one of its services failed (a port in use, or the scheduler gone); start it again".into(),
        )),
    }
}

/// Set once SIGINT or SIGTERM arrives (Ballista handles both itself and
/// stops the executor; this only tells its stop from a failure).
fn stop_requested() -> Arc<std::sync::atomic::AtomicBool> {
    use tokio::signal::unix::{SignalKind, signal};
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stopped.clone();
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    stopped
}
