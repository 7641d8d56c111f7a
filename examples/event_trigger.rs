//! A host that reacts to events: when a benchmark completes, it triggers an optimization
//! study on that benchmark, and a worker runs the study.
//!
//! The parts, all on one SQLite file (the same works on Postgres with `PostgresStore`,
//! `store.queue(..)` and `store.events()`):
//! - the results store, written through the tenant-aware repository; completing a run
//!   appends `benchmark.completed` to the event log in the same transaction (the outbox);
//! - the optimizer's `StudyTrigger`, a subscriber of `benchmark.completed`: by its rule
//!   for the benchmark it submits a study job to the queue and logs
//!   `optimization.triggered`;
//! - a worker (`run_worker` with the CLI's `BenchmarkRunner`) that runs the study and
//!   logs `optimization.completed`.
//!
//! Offline (replayed providers): `cargo run --example event_trigger`

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench::core::events::{EventFilter, EventLog};
use tamma_bench::core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench::core::model::{TenantContext, TenantId};
use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
use tamma_bench::core::queue::{JobQueue, JobState, QueueConfig};
use tamma_bench::jobs::{BenchmarkRunner, StudyJob};
use tamma_bench::optimize::SearchSpace;
use tamma_bench::optimize::subscribers::{StudyTrigger, TriggerRule};
use tamma_bench::privacy::Repository;
use tamma_bench::providers::build_provider;
use tamma_bench::sqlite::{SqliteEventLog, SqliteQueue, SqliteStore};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/optimize");
    let (benchmark_file, space_file) = (dir.join("benchmark.toml"), dir.join("space.toml"));
    let scratch = tempfile::tempdir()?;
    let db = scratch.path().join("tamma-bench.db");

    // One database: results, queue and event log.
    let store = Arc::new(SqliteStore::open(&db)?);
    let queue: Arc<dyn JobQueue> = Arc::new(SqliteQueue::open(&db, QueueConfig::default())?);
    let log: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open(&db)?);
    let repo = Repository::new(store)?;
    let cx = TenantContext::internal(TenantId::new("tamma")?, "platform");

    // The rule: a completed run of this benchmark starts a study over the search space.
    let study = StudyJob::from_files(&benchmark_file, &space_file)?;
    let rule = TriggerRule {
        benchmark_id: study.benchmark.id.clone(),
        payload: study.to_new_job()?.payload,
        tier: None,
    };
    let trigger = StudyTrigger::new(queue.clone(), log.clone(), vec![rule]);

    // A benchmark completes: the production configuration, run as usual.
    let space = SearchSpace::load(&space_file)?;
    let config = space.candidates()?.remove(0).config;
    let provider = build_provider(&config, &dir)?;
    let executor = Executor::new(Arc::new(repo.store_for(&cx)));
    let report = executor
        .run(
            &cx,
            &study.benchmark,
            vec![AgentRuntime::new(config, provider)],
            RunOptions::default(),
        )
        .await?;
    println!("run {} completed", report.run.id);

    // The trigger handles what the log holds now (a long-running host calls `run`).
    let stats = trigger.subscription()?.catch_up(&trigger).await?;
    println!("trigger handled {} event(s)", stats.delivered);
    let jobs = queue.list(&cx, &Default::default()).await?;
    let job = jobs.first().ok_or("the trigger submitted no study")?;
    println!("study job {} queued (run id {})", job.id, job.run_id);

    // A worker runs the study.
    let runner = Arc::new(BenchmarkRunner::new(repo).with_events(log.clone()));
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        runner,
        WorkerOptions {
            idle_poll: Duration::from_millis(200),
            ..WorkerOptions::new("example-worker")
        },
        shutdown.clone(),
    ));
    loop {
        let state = queue.get(&cx, &job.id).await?.map(|j| j.state);
        if state.is_some_and(JobState::is_terminal) {
            println!("study job ended {}", state.map_or("?", JobState::as_str));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    worker.await?;

    // What happened, as the platform's internal context sees the log.
    for event in log.read_as(&cx, 0, &EventFilter::all(), 1000).await? {
        println!(
            "{:>3}  {:<24} {}",
            event.position,
            event.event_type().as_str(),
            serde_json::to_value(&event.payload)?["data"]
        );
    }
    Ok(())
}
