//! What the SQLite queue does beyond the conformance suite: jobs outlive the handle that
//! wrote them, the queue shares the results file with the store, the configuration is
//! checked, a dead worker's cancelled job ends cancelled, the history cannot be
//! rewritten, and core's worker loop runs jobs through it.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::model::{TenantContext, TenantId, Tier};
use tamma_bench_core::queue::worker::{
    JobFailure, JobRunner, RunEnd, Stop, WorkerOptions, run_worker,
};
use tamma_bench_core::queue::{
    Job, JobEventKind, JobFilter, JobKind, JobOutcome, JobQueue, JobState, LeaseStatus, NewJob,
    QueueConfig, QueueErrorKind,
};
use tamma_bench_core::store::ResultStore;
use tamma_bench_sqlite::{SqliteQueue, SqliteStore};
use tokio_util::sync::CancellationToken;

fn job(n: u32) -> NewJob {
    NewJob::new(JobKind::Run, serde_json::json!({ "n": n }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_leases_and_histories_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let cx = TenantContext::external(TenantId::new("acme").unwrap(), Tier::Premium, "u");
    let (queued, running, lease) = {
        let q = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
        let running = q.submit(&cx, job(1)).await.unwrap();
        let queued = q.submit(&cx, job(2)).await.unwrap();
        let lease = q.claim("w1", None).await.unwrap().unwrap();
        assert_eq!(lease.job.id, running.id);
        (queued, running, lease)
    };

    // The results store opens the same file, and the queue opens it again.
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.list_runs(&cx.tenant_id).await.unwrap().is_empty());
    let q = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    assert_eq!(q.path(), path);
    let jobs = q.list(&cx, &JobFilter::default()).await.unwrap();
    let states: Vec<_> = jobs.iter().map(|j| (j.id.clone(), j.state)).collect();
    assert_eq!(
        states,
        [
            (queued.id.clone(), JobState::Queued),
            (running.id.clone(), JobState::Running)
        ]
    );
    assert_eq!(q.get(&cx, &queued.id).await.unwrap().unwrap(), queued);

    // The lease written by the first handle is still held, through the new one.
    assert_eq!(
        q.heartbeat(&lease).await.unwrap(),
        LeaseStatus::Held {
            cancel_requested: false
        }
    );
    let done = q.finish(&lease, JobOutcome::Succeeded).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    let kinds: Vec<_> = q
        .history(&cx, &running.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            JobEventKind::Submitted,
            JobEventKind::Claimed,
            JobEventKind::Succeeded
        ]
    );
}

#[test]
fn an_invalid_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = QueueConfig::default();
    config.tiers[2].concurrency = 0;
    let e = SqliteQueue::open(dir.path().join("results.db"), config).unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::Invalid);
    assert!(e.message().contains("concurrency"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_whose_worker_died_ends_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let config = QueueConfig {
        lease_ms: 300,
        ..QueueConfig::default()
    };
    let q = SqliteQueue::open(dir.path().join("results.db"), config).unwrap();
    let cx = TenantContext::local_operator();
    let j = q.submit(&cx, job(0)).await.unwrap();
    let lease = q.claim("w1", None).await.unwrap().unwrap();
    assert!(q.cancel(&cx, &j.id).await.unwrap().cancel_requested);
    // The worker dies: no heartbeat, no finish.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(q.claim("w2", None).await.unwrap().is_none());
    let ended = q.get(&cx, &j.id).await.unwrap().unwrap();
    assert_eq!(ended.state, JobState::Cancelled);
    assert!(ended.finished_at_ms.is_some());
    assert_eq!(q.heartbeat(&lease).await.unwrap(), LeaseStatus::Lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_events_cannot_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let q = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    q.submit(&TenantContext::local_operator(), job(0))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let e = conn
        .execute("UPDATE job_events SET kind = 'succeeded'", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

/// Finishes every job after a moment, counting them.
struct Quick(std::sync::atomic::AtomicUsize);

#[async_trait]
impl JobRunner for Quick {
    async fn run(&self, _job: &Job, _stop: Stop) -> Result<RunEnd, JobFailure> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(RunEnd::Finished)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_loop_runs_every_submitted_job_through_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let queue = Arc::new(SqliteQueue::open(&path, QueueConfig::default()).unwrap());
    let runner = Arc::new(Quick(Default::default()));
    let shutdown = CancellationToken::new();
    let mut options = WorkerOptions::new("w1");
    options.idle_poll = Duration::from_secs(30);
    let worker = tokio::spawn(run_worker(
        queue.clone() as Arc<dyn JobQueue>,
        runner.clone() as Arc<dyn JobRunner>,
        options,
        shutdown.clone(),
    ));

    // Submitted through another handle of the process once the worker idles: it wakes
    // at once (its idle poll is 30 s, longer than the test waits).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let submitter = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    let cx = TenantContext::local_operator();
    for n in 0..6 {
        submitter.submit(&cx, job(n)).await.unwrap();
    }
    let done = JobFilter {
        states: vec![JobState::Succeeded],
        limit: None,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while submitter.list(&cx, &done).await.unwrap().len() < 6 {
        assert!(std::time::Instant::now() < deadline, "jobs not run in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let report = worker.await.unwrap();
    assert_eq!((report.claimed, report.succeeded), (6, 6));
    assert_eq!(runner.0.load(std::sync::atomic::Ordering::SeqCst), 6);
}
