//! The SQLite event log: it passes the suite every event log passes, and the store and
//! the queue log their changes in the transactions that make them (the outbox): an
//! event is written if and only if its change commits.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::{Event, EventFilter, EventLog, EventPayload, EventType};
use tamma_bench_core::model::{Run, RunStatus, TenantContext, TenantId, Tier, Visibility, now_ms};
use tamma_bench_core::queue::{
    JobKind, JobOutcome, JobQueue, Lease, NewJob, QueueConfig, QueueErrorKind, tiers,
};
use tamma_bench_core::store::{ResultStore, StoreErrorKind};
use tamma_bench_sqlite::{SqliteEventLog, SqliteQueue, SqliteStore};
use tamma_bench_testkit::conformance::events::factory;

mod conformance {
    use super::*;

    tamma_bench_testkit::event_log_conformance_tests!({
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("results.db");
        let open = factory(move || {
            let path = path.clone();
            async move { Arc::new(SqliteEventLog::open(&path).expect("opens")) as Arc<dyn EventLog> }
        });
        (dir, open)
    });
}

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn run(id: &str, visibility: Visibility) -> Run {
    Run {
        id: id.into(),
        tenant_id: acme(),
        benchmark_id: "arith".into(),
        benchmark_version: "2".into(),
        visibility,
        fingerprint: "f".into(),
        agents: vec![],
        epochs: 1,
        n_cases: 3,
        status: RunStatus::Running,
        created_at_ms: now_ms(),
        updated_at_ms: now_ms(),
    }
}

async fn all(log: &SqliteEventLog) -> Vec<Event> {
    log.read(0, &EventFilter::all(), 1000).await.unwrap()
}

fn types(events: &[Event]) -> Vec<EventType> {
    events.iter().map(Event::event_type).collect()
}

fn job(n: u32) -> NewJob {
    NewJob::new(JobKind::Run, serde_json::json!({ "n": n }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completing_logs_its_events_once_in_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let store = SqliteStore::open(&path).unwrap();
    let log = SqliteEventLog::open(&path).unwrap();
    store
        .begin_run(&run("pub", Visibility::Public))
        .await
        .unwrap();
    store
        .begin_run(&run("priv", Visibility::Private))
        .await
        .unwrap();

    store
        .set_run_status(&acme(), "priv", RunStatus::Interrupted)
        .await
        .unwrap();
    let err = store
        .set_run_status(&TenantId::new("zed").unwrap(), "pub", RunStatus::Completed)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::NotFound, "another tenant's run");
    assert!(all(&log).await.is_empty(), "no completion, no event");

    for _ in 0..2 {
        store
            .set_run_status(&acme(), "pub", RunStatus::Completed)
            .await
            .unwrap();
    }
    store
        .set_run_status(&acme(), "priv", RunStatus::Completed)
        .await
        .unwrap();
    let events = all(&log).await;
    assert_eq!(
        types(&events),
        [
            EventType::BenchmarkCompleted,
            EventType::ResultsPublished,
            EventType::BenchmarkCompleted
        ],
        "the second completion of `pub` logs nothing"
    );
    assert_eq!(
        events[0].payload,
        EventPayload::BenchmarkCompleted {
            run_id: "pub".into(),
            benchmark_id: "arith".into(),
            benchmark_version: "2".into(),
            public: true,
        }
    );
    assert!(events.iter().all(|e| e.tenant_id == Some(acme())));
    let zed = TenantContext::external(TenantId::new("zed").unwrap(), Tier::Free, "u");
    let seen = log.read_as(&zed, 0, &EventFilter::all(), 10).await.unwrap();
    assert_eq!(
        types(&seen),
        [EventType::ResultsPublished],
        "only the public one"
    );
    assert_eq!(
        store.get_run(&acme(), "pub").await.unwrap().unwrap().status,
        RunStatus::Completed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_life_is_logged_in_order_and_only_what_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let queue = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    let log = SqliteEventLog::open(&path).unwrap();
    let cx = TenantContext::external(acme(), Tier::Free, "u");

    // Submitted, claimed, failed with a retry (queued again: no event), claimed again,
    // succeeded.
    let first = queue.submit(&cx, job(1)).await.unwrap();
    let lease = queue.claim("w1", None).await.unwrap().unwrap();
    let retry = JobOutcome::Failed {
        error: "flaky".into(),
        remedy: Remedy::Retry,
    };
    queue.finish(&lease, retry).await.unwrap();
    let lease = loop {
        // The retry waits out its back-off.
        if let Some(l) = queue.claim("w2", None).await.unwrap() {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    queue.finish(&lease, JobOutcome::Succeeded).await.unwrap();
    // A finish with the lost lease (the job ended) is refused and logs nothing.
    let err = queue
        .finish(&lease, JobOutcome::Succeeded)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), QueueErrorKind::LeaseLost);

    let events = all(&log).await;
    assert_eq!(
        types(&events),
        [
            EventType::JobQueued,
            EventType::JobStarted,
            EventType::JobStarted,
            EventType::JobFinished
        ]
    );
    assert!(events.windows(2).all(|w| w[0].position < w[1].position));
    let id = first.id.to_string();
    assert_eq!(
        events[0].payload,
        EventPayload::JobQueued {
            job_id: id.clone(),
            kind: "run".into(),
            tier: tiers::FREE.into()
        }
    );
    assert_eq!(
        events[2].payload,
        EventPayload::JobStarted {
            job_id: id.clone(),
            attempt: 2
        }
    );
    assert_eq!(
        events[3].payload,
        EventPayload::JobFinished {
            job_id: id,
            state: "succeeded".into()
        }
    );

    // A failure that ends the job logs `job.failed` with its error; cancelling a queued
    // job logs `job.finished` cancelled.
    let second = queue.submit(&cx, job(2)).await.unwrap();
    let lease: Lease = queue.claim("w1", None).await.unwrap().unwrap();
    let fatal = JobOutcome::Failed {
        error: "bad input".into(),
        remedy: Remedy::FixInput,
    };
    queue.finish(&lease, fatal).await.unwrap();
    let third = queue.submit(&cx, job(3)).await.unwrap();
    queue.cancel(&cx, &third.id).await.unwrap();
    let later = log
        .read(events[3].position, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert_eq!(
        types(&later),
        [
            EventType::JobQueued,
            EventType::JobStarted,
            EventType::JobFailed,
            EventType::JobQueued,
            EventType::JobFinished
        ]
    );
    assert_eq!(
        later[2].payload,
        EventPayload::JobFailed {
            job_id: second.id.to_string(),
            error: "bad input".into()
        }
    );
    assert_eq!(
        later[4].payload,
        EventPayload::JobFinished {
            job_id: third.id.to_string(),
            state: "cancelled".into()
        }
    );
    // Cancelling it again is refused and logs nothing.
    assert!(queue.cancel(&cx, &third.id).await.is_err());
    assert_eq!(log.head().await.unwrap(), later[4].position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_refused_by_the_rate_limit_logs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let queue = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    let log = SqliteEventLog::open(&path).unwrap();
    let cx = TenantContext::external(acme(), Tier::Free, "u");
    // The free tier takes 10 submissions a minute.
    for n in 0..10 {
        queue.submit(&cx, job(n)).await.unwrap();
    }
    let err = queue.submit(&cx, job(10)).await.unwrap_err();
    assert_eq!(err.kind(), QueueErrorKind::RateLimited);
    let events = all(&log).await;
    assert_eq!(events.len(), 10);
    assert!(
        events
            .iter()
            .all(|e| e.event_type() == EventType::JobQueued)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_reader_wakes_when_the_queue_logs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let queue = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    let log = Arc::new(SqliteEventLog::open(&path).unwrap());
    let head = log.head().await.unwrap();
    let waiter = tokio::spawn({
        let log = log.clone();
        async move {
            let started = Instant::now();
            log.wait(head, Duration::from_secs(30)).await;
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cx = TenantContext::internal(acme(), "ops");
    queue.submit(&cx, job(1)).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "woken by the submit: {waited:?}"
    );
    assert_eq!(types(&all(&log).await), [EventType::JobQueued]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_events_cannot_be_changed_or_deleted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let log = SqliteEventLog::open(&path).unwrap();
    let cx = TenantContext::internal(acme(), "ops");
    let queue = SqliteQueue::open(&path, QueueConfig::default()).unwrap();
    queue.submit(&cx, job(1)).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE events SET payload_json = '{}'",
        "DELETE FROM events",
    ] {
        let err = conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(types(&all(&log).await), [EventType::JobQueued]);
}
