//! Apache Ballista: the same models on a cluster. The client ([`connect`]), the scheduler
//! ([`serve_scheduler`]) and the executors ([`serve_executor`]) all build their sessions with
//! the one [`Engine`], so every node has the warehouse's object store and Clearsight's
//! functions (the Markov removal effects, channel grouping, URL parsing).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::BallistaCodec;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use ballista_scheduler::scheduler_server::SessionBuilder;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// How long the client waits for the scheduler to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The host and port of `df://host:port` (port 50050 when none is given).
fn host_and_port(scheduler: &str) -> Result<(String, u16)> {
    let url = url::Url::parse(scheduler)
        .map_err(|e| Error::Usage(format!("scheduler address {scheduler:?}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| Error::Usage(format!("scheduler address {scheduler:?} has no host")))?;
    Ok((host.to_string(), url.port().unwrap_or(50050)))
}

/// `df://host:port` as the scheduler's gRPC address `http://host:port`.
pub fn grpc_url(scheduler: &str) -> Result<String> {
    let (host, port) = host_and_port(scheduler)?;
    Ok(format!("http://{host}:{port}"))
}

/// The session settings of a Ballista job: Clearsight's, then Ballista's restrictions (no
/// dynamic filters across stages, no round-robin repartitioning, ...), without the adaptive
/// planner: in Ballista 55 a windowed query whose shuffle input is empty never finishes under
/// it (`int_touch_extensions` on a month without opportunities; see docs/cluster.md).
fn ballista_config(engine: &Engine) -> Result<SessionConfig> {
    Ok(engine
        .config()?
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_job_name("clearsight"))
}

/// Builds each job's session on a scheduler: the client's settings over the engine's runtime.
fn session_builder(engine: &Engine) -> SessionBuilder {
    let engine = engine.clone();
    Arc::new(move |config: SessionConfig| {
        let runtime = engine.runtime().map_err(external)?;
        engine.state(config, runtime).map_err(external)
    })
}

/// The session settings, made (and checked) once, given to every job.
fn config_producer(engine: &Engine) -> Result<ConfigProducer> {
    let config = ballista_config(engine)?;
    Ok(Arc::new(move || config.clone()))
}

/// Executors get the warehouse's object store and spill settings; their memory pool is set by
/// Ballista from `--memory-limit` (split across task slots).
fn runtime_producer(engine: &Engine) -> RuntimeProducer {
    let mut engine = engine.clone();
    engine.options.memory_limit = None;
    Arc::new(move |_: &SessionConfig| engine.runtime().map_err(external))
}

/// Every function a local session has: DataFusion's (including the nested ones Ballista's
/// default registry lacks, such as `string_to_array`) and Clearsight's.
fn function_registry(engine: &Engine) -> Result<BallistaFunctionRegistry> {
    let state = engine.state(engine.config()?, engine.runtime()?)?;
    Ok(BallistaFunctionRegistry::from(&state))
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Fails with an error naming `scheduler` when nothing answers there, or when no executor is
/// registered with it (a job would wait for one forever).
pub async fn check_scheduler(scheduler: &str) -> Result<()> {
    check_reachable(scheduler).await?;
    let url = executors_url(scheduler)?;
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    loop {
        match registered_executors(&url).await {
            Some(0) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Some(0) => {
                return Err(Error::engine(
                    scheduler,
                    format!(
                        "no executor is registered with the scheduler; start one with \
                         `clearsight executor --scheduler {scheduler}`"
                    ),
                ))
            }
            // Some executors, or a scheduler without the REST API: nothing more to check.
            _ => return Ok(()),
        }
    }
}

/// Returns, as an engine error naming `scheduler`, once the scheduler has listed no executor for
/// [`CONNECT_TIMEOUT`] on end; never returns while one is registered. A run races it: Ballista
/// fails the jobs running when the last executor is lost, but a job submitted after that waits
/// for an executor forever (the next model of the run would hang).
pub async fn executors_lost(scheduler: &str) -> Error {
    let Ok(url) = executors_url(scheduler) else {
        return std::future::pending().await;
    };
    let mut none_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        match registered_executors(&url).await {
            Some(0) => {
                let since = *none_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= CONNECT_TIMEOUT {
                    return Error::engine(
                        scheduler,
                        format!(
                            "every executor was lost and none registered again within \
                             {CONNECT_TIMEOUT:?}; the run stopped, nothing was published"
                        ),
                    );
                }
            }
            Some(_) => none_since = None,
            // A scheduler gone or without the REST API: its jobs fail on their own.
            None => {}
        }
    }
}

/// The scheduler's REST list of its executors.
fn executors_url(scheduler: &str) -> Result<String> {
    Ok(format!("{}/api/executors", grpc_url(scheduler)?))
}

/// How many executors the scheduler's REST API lists; `None` when it cannot say.
async fn registered_executors(url: &str) -> Option<usize> {
    let response = reqwest::get(url).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = response.text().await.ok()?;
    let executors: serde_json::Value = serde_json::from_str(&body).ok()?;
    executors.as_array().map(Vec::len)
}

/// Fails with an error naming `scheduler` when nothing answers there.
pub async fn check_reachable(scheduler: &str) -> Result<()> {
    let url = grpc_url(scheduler)?;
    match tokio::time::timeout(CONNECT_TIMEOUT, SchedulerGrpcClient::connect(url.clone())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::engine(
            scheduler,
            format!(
                "cannot reach the scheduler ({url}): {e}; is `clearsight scheduler` running there?"
            ),
        )),
        Err(_) => Err(Error::engine(
            scheduler,
            format!("the scheduler ({url}) did not answer within {CONNECT_TIMEOUT:?}"),
        )),
    }
}

/// A session whose queries run on the Ballista cluster behind `scheduler` (`df://host:port`).
pub async fn connect(engine: &Engine, scheduler: &str) -> Result<SessionContext> {
    check_scheduler(scheduler).await?;
    let (host, _) = host_and_port(scheduler)?;
    let local_host = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "::1");
    if engine.warehouse.url.starts_with("file://") && !local_host {
        eprintln!(
            "warning: the warehouse {} is a local folder but the scheduler {scheduler} may be on \
             another host: executors write the models where they run. Use an object store (s3://, \
             gs://, az://) or a shared file system (docs/cluster.md).",
            engine.warehouse.url
        );
    }
    let state = engine.state(ballista_config(engine)?, engine.runtime()?)?;
    let ctx = SessionContext::remote_with_state(scheduler, state)
        .await
        .map_err(|e| Error::engine(scheduler, e))?;
    // Ballista's client state keeps only DataFusion's built-in functions: register ours again so
    // the client can plan the models.
    crate::udf::register_all(&ctx, engine.rules.clone());
    Ok(ctx)
}

/// Settings of `clearsight scheduler`.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// The host name executors and clients use to reach this scheduler.
    pub external_host: String,
    /// Seconds without a heartbeat after which an executor is declared dead.
    pub executor_timeout_seconds: u64,
}

/// Runs a Ballista scheduler until the process is stopped.
pub async fn serve_scheduler(engine: &Engine, options: &SchedulerOptions) -> Result<()> {
    let address = format!("df://{}", options.bind);
    let mut config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options.external_host.clone(),
        executor_timeout_seconds: options.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: (options.executor_timeout_seconds / 3).max(1),
        no_executors_grace_period_seconds: options.executor_timeout_seconds,
        ..SchedulerConfig::default()
    };
    config.override_session_builder = Some(session_builder(engine));
    config.override_config_producer = Some(config_producer(engine)?);
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| Error::engine(&address, e))?;
    start_server(cluster, options.bind, Arc::new(config))
        .await
        .map_err(|e| Error::engine(&address, e))
}

/// Settings of `clearsight executor`.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `df://host:port`.
    pub scheduler: String,
    pub bind_host: String,
    /// The host name other executors and the client use to fetch this executor's results.
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data) and gRPC port.
    pub flight_port: u16,
    pub grpc_port: u16,
    /// Concurrent task slots; `None` means one per core.
    pub task_slots: Option<usize>,
    /// Where shuffle files go (default: a temp folder removed when the executor stops).
    pub work_dir: Option<String>,
    pub heartbeat_seconds: u64,
}

/// Runs a Ballista executor until the process is stopped.
pub async fn serve_executor(engine: &Engine, options: &ExecutorOptions) -> Result<()> {
    let (scheduler_host, scheduler_port) = host_and_port(&options.scheduler)?;
    // Without --work-dir, Ballista names a temp folder and never removes it: ours lives as long
    // as the executor, and is removed when it stops (this future is dropped on SIGTERM).
    let own_work_dir = match options.work_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("clearsight-executor-")
                .tempdir()
                .map_err(|e| {
                    Error::engine(&options.scheduler, format!("executor work folder: {e}"))
                })?,
        ),
    };
    let work_dir = options.work_dir.clone().or_else(|| {
        own_work_dir
            .as_ref()
            .map(|d| d.path().display().to_string())
    });
    let mut config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: CONNECT_TIMEOUT.as_secs() as u16,
        work_dir,
        executor_heartbeat_interval_seconds: options.heartbeat_seconds,
        memory_pool_size: engine.options.memory_limit.map(|b| b as u64),
        print_thread_info: false,
        ..ExecutorProcessConfig::default()
    };
    if let Some(slots) = options.task_slots {
        config.vcores = slots.max(1);
    }
    config.override_function_registry = Some(Arc::new(function_registry(engine)?));
    config.override_runtime_producer = Some(runtime_producer(engine));
    config.override_config_producer = Some(config_producer(engine)?);
    let served = start_executor_process(Arc::new(config)).await;
    drop(own_work_dir);
    served.map_err(|e| Error::engine(&options.scheduler, e))
}

/// Starts a scheduler and `executors` executors inside this process (for tests and trying
/// things out) and returns the scheduler's address, `df://localhost:PORT`.
pub async fn start_in_process(engine: &Engine, executors: usize, slots: usize) -> Result<String> {
    let codec = BallistaCodec::default();
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        session_builder(engine),
        config_producer(engine)?,
        codec.clone(),
    )
    .await
    .map_err(|e| Error::engine("in-process scheduler", e))?;
    let scheduler = format!("df://localhost:{}", addr.port());
    let client = SchedulerGrpcClient::connect(grpc_url(&scheduler)?)
        .await
        .map_err(|e| Error::engine(&scheduler, e))?;
    for _ in 0..executors.max(1) {
        ballista_executor::new_standalone_executor_from_builder(
            client.clone(),
            slots.max(1),
            config_producer(engine)?,
            runtime_producer(engine),
            codec.clone(),
            function_registry(engine)?,
        )
        .await
        .map_err(|e| Error::engine(&scheduler, e))?;
    }
    Ok(scheduler)
}

/// Why a run on the cluster failed, when the cause is the cluster itself (the scheduler no longer
/// answers, or executors were lost) rather than a model: an error naming the scheduler.
pub async fn cluster_failure(scheduler: &str, report: &crate::run::RunReport) -> Option<Error> {
    let failed: Vec<&str> = report
        .nodes
        .iter()
        .filter_map(|n| n.message.as_deref())
        .collect();
    let message = *failed.first()?;
    let lost = |m: &str| {
        let m = m.to_ascii_lowercase();
        m.contains("executor")
            && [
                "lost",
                "fetch partition",
                "connect error",
                "unavailable",
                "transport error",
            ]
            .iter()
            .any(|symptom| m.contains(symptom))
    };
    let reason = match check_scheduler(scheduler).await {
        Err(Error::Engine { message, .. }) => message,
        _ if failed.iter().any(|m| lost(m)) => "executors were lost".to_string(),
        _ => return None,
    };
    Some(Error::engine(
        scheduler,
        format!("{reason}; {message}; nothing was published"),
    ))
}
