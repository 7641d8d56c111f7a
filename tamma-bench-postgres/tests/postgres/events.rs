//! The Postgres event log beyond the conformance suite: the outbox (a run's first
//! completion and each job change logged in the transaction of the change, nothing for a
//! change that does not commit), row-level security of `events` against raw SQL, and a
//! waiting reader woken by the queue's transaction.

use crate::rls::set_tenant;
use crate::support::{Migrated, TestDb};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::{Event, EventFilter, EventLog, EventPayload, EventType};
use tamma_bench_core::model::{Run, RunStatus, TenantContext, TenantId, Tier, Visibility, now_ms};
use tamma_bench_core::queue::{
    JobKind, JobOutcome, JobQueue, NewJob, QueueConfig, QueueErrorKind, tiers,
};
use tamma_bench_core::store::ResultStore;
use tokio_postgres::error::SqlState;

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn run(owner: &str, id: &str, visibility: Visibility) -> Run {
    Run {
        id: id.into(),
        tenant_id: tenant(owner),
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

fn job(n: u32) -> NewJob {
    NewJob::new(JobKind::Run, serde_json::json!({ "n": n }))
}

fn types(events: &[Event]) -> Vec<EventType> {
    events.iter().map(Event::event_type).collect()
}

async fn all(log: &dyn EventLog) -> Vec<Event> {
    log.read(0, &EventFilter::all(), 1000).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_first_completion_is_logged_in_its_transaction() {
    let db = TestDb::create().await;
    let store = db.store(4).await;
    let log = store.events().await.unwrap();
    store
        .begin_run(&run("acme", "pub", Visibility::Public))
        .await
        .unwrap();
    store
        .begin_run(&run("acme", "priv", Visibility::Private))
        .await
        .unwrap();
    store
        .set_run_status(&tenant("acme"), "priv", RunStatus::Failed)
        .await
        .unwrap();
    assert!(all(&log).await.is_empty(), "only completion is an event");

    // A completion that rolls back logs nothing.
    let app = db.app_client().await;
    app.batch_execute("BEGIN").await.unwrap();
    set_tenant(&app, "acme").await;
    let n = app
        .execute("UPDATE runs SET status = 'completed' WHERE id = 'pub'", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.batch_execute("ROLLBACK").await.unwrap();
    assert!(all(&log).await.is_empty(), "rolled back, not logged");

    for _ in 0..2 {
        store
            .set_run_status(&tenant("acme"), "pub", RunStatus::Completed)
            .await
            .unwrap();
    }
    store
        .set_run_status(&tenant("acme"), "priv", RunStatus::Completed)
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
    assert_eq!(
        events[2].payload,
        EventPayload::BenchmarkCompleted {
            run_id: "priv".into(),
            benchmark_id: "arith".into(),
            benchmark_version: "2".into(),
            public: false,
        }
    );
    assert!(events.iter().all(|e| e.tenant_id == Some(tenant("acme"))));
    assert!(events.iter().all(|e| e.id.as_str().len() == 36));
    let zed = TenantContext::external(tenant("zed"), Tier::Free, "u");
    let seen = log.read_as(&zed, 0, &EventFilter::all(), 10).await.unwrap();
    assert_eq!(
        types(&seen),
        [EventType::ResultsPublished],
        "only the public one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_life_is_logged_in_order_and_only_what_commits() {
    let db = TestDb::create().await;
    let store = db.store(4).await;
    let log = store.events().await.unwrap();
    let config = QueueConfig {
        retry_backoff_ms: 1,
        ..QueueConfig::default()
    };
    let queue = store.queue(config).await.unwrap();
    let cx = TenantContext::external(tenant("acme"), Tier::Free, "u");

    let first = queue.submit(&cx, job(1)).await.unwrap();
    let lease = queue.claim("w1", None).await.unwrap().unwrap();
    let retry = JobOutcome::Failed {
        error: "flaky".into(),
        remedy: Remedy::Retry,
    };
    queue.finish(&lease, retry).await.unwrap();
    let lease = loop {
        if let Some(l) = queue.claim("w2", None).await.unwrap() {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    queue.finish(&lease, JobOutcome::Succeeded).await.unwrap();
    // A finish with the lost lease is refused and logs nothing.
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
    // job logs `job.finished` cancelled; a refused cancellation logs nothing.
    let second = queue.submit(&cx, job(2)).await.unwrap();
    let lease = queue.claim("w1", None).await.unwrap().unwrap();
    let fatal = JobOutcome::Failed {
        error: "bad input".into(),
        remedy: Remedy::FixInput,
    };
    queue.finish(&lease, fatal).await.unwrap();
    let third = queue.submit(&cx, job(3)).await.unwrap();
    queue.cancel(&cx, &third.id).await.unwrap();
    assert!(queue.cancel(&cx, &third.id).await.is_err());
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

    // Submissions refused by the free tier's limit (10 a minute; 3 made) log nothing.
    for n in 0..7 {
        queue.submit(&cx, job(10 + n)).await.unwrap();
    }
    let err = queue.submit(&cx, job(99)).await.unwrap_err();
    assert_eq!(err.kind(), QueueErrorKind::RateLimited);
    let queued = EventFilter {
        types: vec![EventType::JobQueued],
        tenant: Some(tenant("acme")),
    };
    assert_eq!(log.read(0, &queued, 100).await.unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_level_security_binds_the_events_table() {
    let db = TestDb::create().await;
    let store = db.store(4).await;
    let log = store.events().await.unwrap();
    // acme: a private and a public completed run; globex: a private one.
    for (owner, id, visibility) in [
        ("acme", "a1", Visibility::Private),
        ("acme", "a2", Visibility::Public),
        ("globex", "g1", Visibility::Private),
    ] {
        store.begin_run(&run(owner, id, visibility)).await.unwrap();
        store
            .set_run_status(&tenant(owner), id, RunStatus::Completed)
            .await
            .unwrap();
    }
    assert_eq!(all(&log).await.len(), 4, "the host sees every event");

    let app = db.app_client().await;
    let count = |rows: Vec<tokio_postgres::Row>| rows.len();
    // No tenant: public events only.
    let rows = app
        .query("SELECT tenant_id FROM events", &[])
        .await
        .unwrap();
    assert_eq!(count(rows), 1);
    let tx = &app;
    tx.batch_execute("BEGIN").await.unwrap();
    set_tenant(tx, "globex").await;
    let rows = tx
        .query("SELECT tenant_id, visibility FROM events ORDER BY pos", &[])
        .await
        .unwrap();
    let seen: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        seen,
        [
            ("acme".to_owned(), "public".to_owned()),
            ("globex".to_owned(), "tenant".to_owned())
        ],
        "its own and others' public events"
    );
    // Another tenant's event, or none, may not be inserted; nothing may be changed.
    for tenant_id in [Some("acme"), None] {
        let err = tx
            .execute(
                "INSERT INTO events (id, version, at_ms, tenant_id, visibility, type, payload_json) \
                 VALUES ('evt-forged', 1, 0, $1, 'public', 'results.published', '{}')",
                &[&tenant_id],
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
        tx.batch_execute("ROLLBACK; BEGIN").await.unwrap();
        set_tenant(tx, "globex").await;
    }
    for sql in [
        "UPDATE events SET payload_json = '{}'",
        "DELETE FROM events",
        "DELETE FROM consumer_offsets",
    ] {
        let err = tx.execute(sql, &[]).await.unwrap_err();
        assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}");
        tx.batch_execute("ROLLBACK; BEGIN").await.unwrap();
        set_tenant(tx, "globex").await;
    }
    tx.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(all(&log).await.len(), 4, "nothing changed");

    // Through the log: an external context never receives an internal event, even its
    // own; an internal one receives its own and deployment-wide ones.
    let insight = tamma_bench_core::events::NewEvent::new(
        Some(tenant("globex")),
        EventPayload::InsightGenerated {
            run_id: "g1".into(),
            text: "t".into(),
        },
    );
    let config = tamma_bench_core::events::NewEvent::new(
        None,
        EventPayload::ConfigChanged {
            old_digest: "a".into(),
            new_digest: "b".into(),
            fields: vec![],
            changed_by: "ops".into(),
        },
    );
    log.append(vec![insight, config]).await.unwrap();
    let ext = TenantContext::external(tenant("globex"), Tier::Free, "u");
    let int = TenantContext::internal(tenant("globex"), "svc");
    let ext_seen = log
        .read_as(&ext, 0, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert_eq!(
        types(&ext_seen),
        [EventType::ResultsPublished, EventType::BenchmarkCompleted]
    );
    let int_seen = log
        .read_as(&int, 0, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert_eq!(
        types(&int_seen),
        [
            EventType::ResultsPublished,
            EventType::BenchmarkCompleted,
            EventType::InsightGenerated,
            EventType::ConfigChanged
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_reader_wakes_when_another_process_submits_a_job() {
    let db = TestDb::create().await;
    let log = Arc::new(db.store(2).await.events().await.unwrap());
    let queue = db
        .store(2)
        .await
        .queue(QueueConfig::default())
        .await
        .unwrap();
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
    let cx = TenantContext::internal(tenant("acme"), "ops");
    queue.submit(&cx, job(1)).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "woken by the submit: {waited:?}"
    );
    assert_eq!(types(&all(log.as_ref()).await), [EventType::JobQueued]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_misses_nothing_while_many_connections_append() {
    let db = TestDb::create().await;
    let store = db.store(8).await;
    let log = Arc::new(store.events().await.unwrap());
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for n in 0..20 {
                    let event = tamma_bench_core::events::NewEvent::new(
                        Some(tenant("acme")),
                        EventPayload::JobStarted {
                            job_id: format!("job-{w}-{n}"),
                            attempt: 1,
                        },
                    );
                    log.append(vec![event]).await.unwrap();
                }
            })
        })
        .collect();
    // Follows while they append: a reader past position p must never find a later-
    // committed event below p.
    let mut seen = Vec::new();
    let mut position = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 120 && Instant::now() < deadline {
        let page = log.read(position, &EventFilter::all(), 7).await.unwrap();
        match page.last() {
            Some(last) => {
                position = last.position;
                seen.extend(page.into_iter().map(|e| e.id));
            }
            None => log.wait(position, Duration::from_millis(200)).await,
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let everything = all(log.as_ref()).await;
    assert_eq!(everything.len(), 120);
    let ids: Vec<_> = everything.into_iter().map(|e| e.id).collect();
    assert_eq!(seen, ids, "the follower saw every event once, in log order");
}
