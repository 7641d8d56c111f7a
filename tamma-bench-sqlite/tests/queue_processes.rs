//! Claims are correct across processes sharing the file: three processes (this test
//! binary, started again as children) each run core's worker loop with three slots over
//! one database. Every job is claimed once and ends succeeded, more than one process
//! works, and no tier ever runs more jobs at once than its concurrency allows (read
//! from the jobs' histories: claimed at, finished at).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::queue::worker::{
    JobFailure, JobRunner, RunEnd, Stop, WorkerOptions, run_worker,
};
use tamma_bench_core::queue::{
    Job, JobEventKind, JobFilter, JobKind, JobQueue, JobState, NewJob, QueueConfig, tiers,
};
use tamma_bench_sqlite::SqliteQueue;
use tokio_util::sync::CancellationToken;

/// Set in a child: the database it works on.
const CHILD_DB: &str = "TAMMA_BENCH_QUEUE_CHILD_DB";
const JOBS: usize = 40;

/// Small tiers, so that nine slots over three processes press against them.
fn config() -> QueueConfig {
    let mut c = QueueConfig::default();
    for t in &mut c.tiers {
        t.submissions_per_minute = None;
    }
    c.tiers[0].concurrency = 4;
    c
}

struct Slow;

#[async_trait]
impl JobRunner for Slow {
    async fn run(&self, _job: &Job, _stop: Stop) -> Result<RunEnd, JobFailure> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(RunEnd::Finished)
    }
}

/// A child: runs a worker until nothing is queued or running.
async fn work(db: &Path) {
    let queue: Arc<dyn JobQueue> = Arc::new(SqliteQueue::open(db, config()).unwrap());
    let shutdown = CancellationToken::new();
    let mut options = WorkerOptions::new(format!("worker-{}", std::process::id()));
    options.slots = 3;
    options.idle_poll = Duration::from_millis(100);
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        Arc::new(Slow),
        options,
        shutdown.clone(),
    ));
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stats = queue.stats().await.unwrap();
        if stats.iter().all(|s| s.queued == 0 && s.running == 0) {
            break;
        }
    }
    shutdown.cancel();
    worker.await.unwrap();
}

#[test]
fn claims_are_exclusive_across_processes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(db) = std::env::var_os(CHILD_DB) {
        runtime.block_on(work(Path::new(&db)));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let cx = TenantContext::local_operator();
    let queue = SqliteQueue::open(&db, config()).unwrap();
    runtime.block_on(async {
        for n in 0..JOBS {
            let mut job = NewJob::new(JobKind::Run, serde_json::json!({ "n": n }));
            job.tier = Some([tiers::INTERNAL, tiers::FREE][n % 2].to_owned());
            queue.submit(&cx, job).await.unwrap();
        }
    });
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "claims_are_exclusive_across_processes",
                    "--quiet",
                ])
                .env(CHILD_DB, &db)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a worker process failed");
    }

    runtime.block_on(async {
        let jobs = queue.list(&cx, &JobFilter::default()).await.unwrap();
        assert_eq!(jobs.len(), JOBS);
        let mut workers = BTreeSet::new();
        // Per tier: (time, +1 claimed / -1 finished).
        let mut changes: HashMap<String, Vec<(i64, i32)>> = HashMap::new();
        for job in &jobs {
            assert_eq!(
                (job.state, job.attempts),
                (JobState::Succeeded, 1),
                "{job:?}"
            );
            let events = queue.history(&cx, &job.id).await.unwrap();
            let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
            assert_eq!(
                kinds,
                [
                    JobEventKind::Submitted,
                    JobEventKind::Claimed,
                    JobEventKind::Succeeded
                ],
                "claimed once"
            );
            workers.insert(events[1].worker.clone().unwrap());
            let c = changes.entry(job.tier.clone()).or_default();
            c.push((events[1].at_ms, 1));
            c.push((events[2].at_ms, -1));
        }
        assert!(
            workers.len() >= 2,
            "more than one process worked: {workers:?}"
        );
        for (tier, mut c) in changes {
            // A finish and a claim in the same millisecond: the finish came first (the
            // claim saw the slot free).
            c.sort();
            let limit = config().tier(&tier).unwrap().concurrency as i32;
            let mut running = 0;
            for (_, d) in c {
                running += d;
                assert!(running <= limit, "tier {tier} ran {running} jobs at once");
            }
        }
    });
}
