//! `tamma-bench serve`: the service (`tamma-bench-server`) over the command's database,
//! with the public API and the internal API on their own addresses, and, on one machine,
//! workers in the same process (`--worker-slots`). The first Ctrl-C or SIGTERM stops
//! taking requests, lets those in flight finish and drains the embedded workers; a second
//! exits at once.

use super::queue::QueueArgs;
use super::worker::{Signals, build_runner, default_poll};
use super::{Exit, StoreArgs};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
use tamma_bench::database::Database;
use tamma_bench_server::{AppState, ServerConfig, serve};
use tokio_util::sync::CancellationToken;

/// Worker slots in the service's process on SQLite, unless `--worker-slots` says.
const SQLITE_WORKER_SLOTS: u16 = 4;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service's configuration (TOML: addresses, the key sets and issuers of both
    /// doors, request limits per tier, body limit, timeout, what submissions may name;
    /// docs/api.md).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The public API's address (overrides the file's `public_addr`; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    pub public_addr: Option<SocketAddr>,
    /// The internal API's address (overrides the file's `internal_addr`).
    #[arg(long, value_name = "ADDR")]
    pub internal_addr: Option<SocketAddr>,
    /// Jobs this process runs at once beside serving (0: none, run `tamma-bench worker`
    /// processes instead). Default: 4 on SQLite (one command serves and runs), 0 on
    /// Postgres (workers are processes of their own, on any machine).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub worker_slots: Option<u16>,
    /// Connections to a Postgres database the service may hold at once. Ignored for
    /// SQLite.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub pool_size: u16,
    /// Store (tenant options are ignored: each request acts as its token's tenant).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Queue configuration (the deployment's tiers: the same as the workers').
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// Serves until a signal, then shuts down gracefully.
pub async fn execute(args: ServeArgs) -> Result<Exit> {
    let mut config = ServerConfig::load(&args.config)
        .with_context(|| format!("the service configuration {}", args.config.display()))?;
    if let Some(addr) = args.public_addr {
        config.public_addr = addr;
    }
    if let Some(addr) = args.internal_addr {
        config.internal_addr = addr;
    }
    let database = args.store.database();
    let opened = database
        .open_with_pool(true, usize::from(args.pool_size))
        .await?;
    let state = AppState::open(&opened, args.queue.config()?, &config)
        .await
        .context("cannot start the service")?;
    let shutdown = CancellationToken::new();
    tokio::spawn(watch_signals(shutdown.clone()));
    let serving = serve(state.clone(), shutdown.clone())
        .await
        .context("cannot start the service")?;
    let mut out = std::io::stdout();
    writeln!(out, "public   http://{}/api/v1", serving.public_addr)?;
    writeln!(out, "internal http://{}/internal/v1", serving.internal_addr)?;
    out.flush()?;

    let slots = args.worker_slots.unwrap_or(match database {
        Database::Sqlite(_) => SQLITE_WORKER_SLOTS,
        Database::Postgres(_) => 0,
    });
    let worker = if slots > 0 {
        let runner = build_runner(&args.store, &opened, state.events().clone())?;
        let options = WorkerOptions {
            slots: usize::from(slots),
            idle_poll: default_poll(&opened),
            ..WorkerOptions::new(format!("{}-serve", WorkerOptions::default_id()))
        };
        let _ = writeln!(
            std::io::stderr(),
            "worker {}: {slots} slots in the service's process",
            options.id
        );
        Some(tokio::spawn(run_worker(
            state.queue().clone(),
            runner,
            options,
            shutdown.clone(),
        )))
    } else {
        None
    };
    let served = serving.wait().await;
    // The listeners are closed (a signal, or a listener failed): stop the workers too.
    shutdown.cancel();
    if let Some(worker) = worker {
        let report = worker.await.context("the embedded worker panicked")?;
        let _ = writeln!(
            std::io::stderr(),
            "worker: {} claimed, {} succeeded, {} failed, {} released",
            report.claimed,
            report.succeeded,
            report.failed,
            report.released
        );
    }
    served.context("the service stopped")?;
    let _ = writeln!(std::io::stderr(), "service stopped");
    Ok(Exit::Success)
}

/// First Ctrl-C or SIGTERM: shut down gracefully. Second: exit at once (status 130).
async fn watch_signals(shutdown: CancellationToken) {
    let mut signals = Signals::new();
    if !signals.next().await {
        return;
    }
    shutdown.cancel();
    let _ = writeln!(
        std::io::stderr(),
        "shutting down: requests in flight finish, jobs in flight go back to the queue \
         (signal again to quit at once)"
    );
    if !signals.next().await {
        return;
    }
    std::process::exit(130);
}
