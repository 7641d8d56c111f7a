//! `tamma-bench worker`: claim queued jobs and run them until Ctrl-C or SIGTERM, then
//! drain (jobs in flight stop at a trial boundary and go back to the queue, to be
//! resumed by the next worker); a second signal exits at once.

use super::queue::{QueueArgs, open_queue};
use super::{Exit, Opened, StoreArgs};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench::agents::open_cache_beside;
use tamma_bench::core::config::Config;
use tamma_bench::core::events::EventLog;
use tamma_bench::core::flags::FlagHandle;
use tamma_bench::core::model::TenantId;
use tamma_bench::core::queue::worker::{WorkerOptions, WorkerReport, run_worker};
use tamma_bench::core::store::ResponseCache;
use tamma_bench::jobs::BenchmarkRunner;
use tamma_bench::reload::{ReloadOptions, ReloadTargets, watch_config};
use tokio_util::sync::CancellationToken;

/// The idle poll on SQLite, ms: how soon another process's submission is seen.
const SQLITE_POLL_MS: u64 = 1_000;
/// The idle poll on Postgres, ms: notifications wake the worker; the poll finds expired
/// leases.
const POSTGRES_POLL_MS: u64 = 10_000;

/// Arguments of `worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Claim only from these tiers (comma-separated; default: all).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub tiers: Option<Vec<String>>,
    /// Jobs run at once (1 to 1,024).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub slots: u16,
    /// The worker's id, unique in the deployment (default: host, process id and a random
    /// suffix).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// On shutdown, seconds the jobs in flight may go on before they are stopped and
    /// given back to the queue (default 0: stop them at the next trial boundary).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub drain_grace: u64,
    /// Longest wait between looks at the queue when nothing wakes the worker, ms.
    /// Default: 1,000 on SQLite (other processes' submissions are seen by this poll);
    /// 10,000 on Postgres, whose `LISTEN/NOTIFY` wakes the worker at once on submissions
    /// and freed slots (the poll finds expired leases of dead workers, which nothing
    /// announces, and covers a lost notification).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub poll_ms: Option<u64>,
    /// Connections to a Postgres database this worker may hold at once (its pool: claims,
    /// heartbeats, trial and audit writes; one more listens for new jobs). Ignored for
    /// SQLite. Keep the sum over all processes below the server's `max_connections`.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub pool_size: u16,
    /// Store (tenant options are ignored: each job runs as its submitter).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Queue configuration.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Deployment configuration (TOML with `TAMMA_BENCH__...` overrides;
    /// docs/configuration.md): the queue's tiers and the feature flags come from it, and
    /// a change to the file is validated and applied within a second, without a restart
    /// (an invalid file is refused and the old configuration stays); each applied change
    /// is recorded in the audit log.
    #[arg(long, value_name = "FILE", conflicts_with = "queue_config")]
    pub config: Option<PathBuf>,
}

/// Runs the worker until a signal, then drains and prints what it did.
pub async fn execute(args: WorkerArgs) -> Result<Exit> {
    let opened = args
        .store
        .database()
        .open_with_pool(true, usize::from(args.pool_size))
        .await?;
    let deployment = match &args.config {
        Some(path) => Some(Config::load(path, std::env::vars())?),
        None => None,
    };
    let queue = match &deployment {
        Some(config) => open_queue(&args.store, &opened, config.queue.clone()).await?,
        None => args.queue.open_in(&args.store, &opened).await?,
    };
    let shutdown = CancellationToken::new();
    let events = super::events::open_event_log(&args.store.database(), &opened).await?;
    if let (Some(path), Some(config)) = (&args.config, deployment) {
        let flags = Arc::new(FlagHandle::new(config.flag_set()?));
        let targets = ReloadTargets {
            queue: Some(queue.clone()),
            flags: Some(flags),
            audit: Some(super::audit_log(opened.audit.clone())?),
            events: Some(events.clone()),
        };
        watch_config(
            path.clone(),
            config,
            targets,
            ReloadOptions::new(args.store.context()),
            shutdown.clone(),
        );
    }
    let runner = build_runner(&args.store, &opened, events)?;
    let options = WorkerOptions {
        id: args.id.clone().unwrap_or_else(WorkerOptions::default_id),
        tiers: args.tiers.clone(),
        slots: usize::from(args.slots),
        idle_poll: args
            .poll_ms
            .map_or_else(|| default_poll(&opened), Duration::from_millis),
        drain_grace: Duration::from_secs(args.drain_grace),
    };
    let id = options.id.clone();
    tokio::spawn(watch_signals(shutdown.clone()));
    let _ = writeln!(
        std::io::stderr(),
        "worker {id}: {} slots, tiers {}; Ctrl-C or SIGTERM drains",
        options.slots,
        options
            .tiers
            .as_ref()
            .map_or_else(|| "all".to_owned(), |t| t.join(","))
    );
    let report = run_worker(queue, runner, options, shutdown).await;
    // The jobs are settled whether or not anyone still reads the summary.
    let _ = writeln!(std::io::stdout(), "{}", summary(&id, &report));
    Ok(Exit::Success)
}

/// The runner of queued jobs over `opened`: the repository with the keys of the
/// environment, the event log for the studies' events, and the response cache (per tenant
/// in Postgres, whose rows are scoped by tenant; one file beside the SQLite database
/// otherwise).
pub(crate) fn build_runner(
    store: &StoreArgs,
    opened: &Opened,
    events: Arc<dyn EventLog>,
) -> Result<Arc<BenchmarkRunner>> {
    let repo = super::repository_over(opened.store.clone(), opened.audit.clone())?;
    // External jobs read their keys from their tenants' credentials in this database
    // (sealed with `$TAMMA_BENCH_DATA_KEYS`), never from this process's environment.
    let runner = BenchmarkRunner::new(repo)
        .with_events(events)
        .with_credentials(opened.credentials()?);
    let runner = match &opened.postgres {
        Some(pg) => {
            let pg = pg.clone();
            runner.with_cache_per_tenant(Arc::new(move |tenant: &TenantId| {
                Arc::new(pg.response_cache(tenant.clone())) as Arc<dyn ResponseCache>
            }))
        }
        None => runner.with_cache(open_cache_beside(&store.db).with_context(|| {
            format!(
                "cannot open the response cache beside {}",
                store.db.display()
            )
        })?),
    };
    Ok(Arc::new(runner))
}

/// The idle poll of a worker on `opened` (see `--poll-ms`).
pub(crate) fn default_poll(opened: &Opened) -> Duration {
    Duration::from_millis(if opened.postgres.is_some() {
        POSTGRES_POLL_MS
    } else {
        SQLITE_POLL_MS
    })
}

/// One line: what the worker did.
fn summary(id: &str, r: &WorkerReport) -> String {
    format!(
        "worker {id}: {} claimed, {} succeeded, {} failed, {} cancelled, {} released, {} lost",
        r.claimed, r.succeeded, r.failed, r.cancelled, r.released, r.lost
    )
}

/// First Ctrl-C or SIGTERM: drain. Second: exit at once with status 130 (the jobs in
/// flight are left to expire and be taken over).
async fn watch_signals(shutdown: CancellationToken) {
    let mut signals = Signals::new();
    if !signals.next().await {
        return;
    }
    // Drain first: a closed stderr (a detached worker) must not keep it from draining.
    shutdown.cancel();
    let _ = writeln!(
        std::io::stderr(),
        "draining: jobs in flight stop at the next trial boundary and go back to the queue \
         (signal again to quit at once)"
    );
    if !signals.next().await {
        return;
    }
    let _ = writeln!(
        std::io::stderr(),
        "stopped at once: jobs in flight resume on another worker after their lease"
    );
    std::process::exit(130);
}

/// Ctrl-C, and SIGTERM on Unix (registered once, so none is missed between two waits).
pub(crate) struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// Waits for the next signal; false when signals cannot be watched.
    pub(crate) async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some(term) = self.term.as_mut() {
            return tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                r = term.recv() => r.is_some(),
            };
        }
        tokio::signal::ctrl_c().await.is_ok()
    }
}
