//! `clearsight scheduler` and `clearsight executor`: a Ballista cluster from the one binary, with
//! the project's functions and warehouse (both read `--project`'s config).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::Context;
use crate::cluster::{ExecutorOptions, SchedulerOptions};
use crate::error::{exit, Error, Result};

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "CLEARSIGHT_SCHEDULER_BIND",
        default_value = "0.0.0.0:50050"
    )]
    pub bind: SocketAddr,
    /// Host name executors and clients use to reach this scheduler.
    #[arg(
        long,
        env = "CLEARSIGHT_SCHEDULER_EXTERNAL_HOST",
        default_value = "localhost"
    )]
    pub external_host: String,
    /// Seconds without a heartbeat after which an executor is declared dead and its tasks fail.
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_TIMEOUT", default_value_t = 30)]
    pub executor_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// Address to listen on.
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_BIND", default_value = "0.0.0.0")]
    pub bind_host: String,
    /// Host name others use to fetch this executor's shuffle data (default: the bind address).
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_EXTERNAL_HOST")]
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data).
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_PORT", default_value_t = 50051)]
    pub port: u16,
    /// gRPC port.
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_GRPC_PORT", default_value_t = 50052)]
    pub grpc_port: u16,
    /// Tasks run at once (default: one per core).
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_TASK_SLOTS")]
    pub task_slots: Option<usize>,
    /// Folder for shuffle files (default: a temp folder, removed when the executor stops).
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, env = "CLEARSIGHT_EXECUTOR_HEARTBEAT", default_value_t = 5)]
    pub heartbeat: u64,
}

/// Runs the scheduler until stopped (Ctrl-C or SIGTERM).
pub async fn scheduler(ctx: &Context, args: &SchedulerArgs) -> Result<i32> {
    init_log();
    let engine = ctx.engine()?;
    let options = SchedulerOptions {
        bind: args.bind,
        external_host: args.external_host.clone(),
        executor_timeout_seconds: args.executor_timeout.max(1),
    };
    eprintln!(
        "clearsight scheduler: listening on {} (clients use --scheduler df://{}:{}), warehouse {}",
        args.bind,
        args.external_host,
        args.bind.port(),
        ctx.warehouse.url
    );
    until_stopped(crate::cluster::serve_scheduler(&engine, &options)).await
}

/// Runs an executor until stopped; it needs `--scheduler` (or `engine.scheduler` in config).
pub async fn executor(
    ctx: &Context,
    scheduler: Option<String>,
    args: &ExecutorArgs,
) -> Result<i32> {
    let scheduler = match scheduler.or(ctx.project.sources.engine.scheduler.clone()) {
        Some(url) => {
            crate::engine::engine_kind(Some("ballista"), Some(&url))?;
            url
        }
        None => {
            return Err(Error::Usage(
                "clearsight executor needs --scheduler df://HOST:PORT".into(),
            ))
        }
    };
    init_log();
    crate::cluster::check_reachable(&scheduler).await?;
    let engine = ctx.engine()?;
    let options = ExecutorOptions {
        scheduler: scheduler.clone(),
        bind_host: args.bind_host.clone(),
        external_host: args.external_host.clone(),
        flight_port: args.port,
        grpc_port: args.grpc_port,
        task_slots: args.task_slots,
        work_dir: args.work_dir.as_ref().map(|d| d.display().to_string()),
        heartbeat_seconds: args.heartbeat.max(1),
    };
    eprintln!(
        "clearsight executor: flight port {}, grpc port {}, registered with {scheduler}",
        args.port, args.grpc_port
    );
    until_stopped(crate::cluster::serve_executor(&engine, &options)).await
}

/// Logs of the scheduler or executor on stderr, filtered by `CLEARSIGHT_LOG` (default `info`),
/// e.g. `CLEARSIGHT_LOG=debug` or `CLEARSIGHT_LOG=warn,ballista_scheduler=info`.
fn init_log() {
    let filter = std::env::var("CLEARSIGHT_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Serves until the server returns or the process is asked to stop.
async fn until_stopped(server: impl std::future::Future<Output = Result<()>>) -> Result<i32> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        served = server => served.map(|_| exit::OK),
        _ = tokio::signal::ctrl_c() => Ok(exit::OK),
        _ = term.recv() => Ok(exit::OK),
    }
}
