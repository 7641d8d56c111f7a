//! The Postgres queue beyond the conformance suite: row-level security of `jobs` and
//! `job_events` against raw SQL, the worker functions' narrowness, many claimers on
//! separate connections, late heartbeats, the rate limit under concurrent submissions,
//! `LISTEN/NOTIFY` between handles (and core's worker loop woken by it), and recovery
//! after the server terminates the application role's connections.

use crate::rls::set_tenant;
use crate::support::{Migrated, TestDb, connect};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tamma_bench_core::model::{TenantContext, TenantId, Tier};
use tamma_bench_core::queue::worker::{
    JobFailure, JobRunner, RunEnd, Stop, WorkerOptions, run_worker,
};
use tamma_bench_core::queue::{
    Job, JobFilter, JobKind, JobOutcome, JobQueue, JobState, LeaseStatus, NewJob, QueueConfig,
    TierConfig,
};
use tamma_bench_postgres::{PostgresQueue, PostgresStore};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

fn free(tenant: &str) -> TenantContext {
    TenantContext::external(TenantId::new(tenant).unwrap(), Tier::Free, "user")
}

fn job(n: usize) -> NewJob {
    NewJob::new(
        JobKind::Run,
        serde_json::json!({ "secret": format!("payload-{n}") }),
    )
}

async fn queue(db: &TestDb, config: QueueConfig) -> PostgresQueue {
    db.store(4).await.queue(config).await.unwrap()
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// acme: a queued, a running (claimed) and a finished job; globex: the same. Returns
/// globex's jobs as (queued, running lease's job, finished).
async fn seed_jobs(q: &PostgresQueue) -> (Job, Job, Job) {
    let mut globex = Vec::new();
    for tenant in ["acme", "globex"] {
        let cx = free(tenant);
        let submitted = q.submit(&cx, job(0)).await.unwrap();
        let l = q.claim("w", None).await.unwrap().unwrap();
        assert_eq!(l.job.id, submitted.id);
        let done = q.finish(&l, JobOutcome::Succeeded).await.unwrap();
        let running = q.submit(&cx, job(1)).await.unwrap();
        let l = q.claim("w", None).await.unwrap().unwrap();
        assert_eq!(l.job.id, running.id);
        globex = vec![l.job, done];
    }
    q.submit(&free("acme"), job(2)).await.unwrap();
    let queued = q.submit(&free("globex"), job(2)).await.unwrap();
    let mut it = globex.into_iter();
    (queued, it.next().unwrap(), it.next().unwrap())
}

#[tokio::test]
async fn jobs_and_their_events_show_no_other_tenants_rows_to_raw_sql() {
    let db = TestDb::create().await;
    let q = queue(&db, QueueConfig::default()).await;
    let (globex_queued, _, _) = seed_jobs(&q).await;
    let app = db.app_client().await;
    for table in ["jobs", "job_events"] {
        let all = format!("SELECT count(*) FROM {table}");
        assert_eq!(count(&app, &all).await, 0, "{table} without a tenant");
        app.batch_execute("BEGIN").await.unwrap();
        set_tenant(&app, "").await;
        assert_eq!(count(&app, &all).await, 0, "{table} with an empty tenant");
        set_tenant(&app, "mallory").await;
        assert_eq!(
            count(&app, &all).await,
            0,
            "{table} for a tenant with no job"
        );
        set_tenant(&app, "acme").await;
        let seen: Vec<String> = app
            .query(&format!("SELECT DISTINCT tenant_id FROM {table}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(seen, ["acme"], "{table}");
        let spoofed = format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = 'globex' OR tenant_id <> 'acme'"
        );
        assert_eq!(
            count(&app, &spoofed).await,
            0,
            "{table}: a filter for others"
        );
        app.batch_execute("COMMIT").await.unwrap();
        assert_eq!(count(&app, &all).await, 0, "{table} after the transaction");
    }

    // Writes aimed at another tenant's jobs touch nothing or are refused.
    app.batch_execute("BEGIN").await.unwrap();
    set_tenant(&app, "acme").await;
    let n = app
        .execute(
            "UPDATE jobs SET state = 'cancelled' WHERE tenant_id = 'globex' OR true",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 3, "acme's own three only");
    app.batch_execute("ROLLBACK").await.unwrap();
    let refused = [
        // Another tenant's job, or one that would run as another tenant.
        "INSERT INTO jobs (tenant_id, id, context_json, tier, priority, kind, run_id, \
         payload_json, state, attempts, max_attempts, submitted_at_ms, available_at_ms) \
         VALUES ('globex', 'forged', '{\"tenant_id\": \"globex\"}', 'external-free', 10, \
         'run', 'r', '{}', 'queued', 0, 3, 0, 0)"
            .to_owned(),
        // A job that skips the queue: running with a lease of its own making.
        "INSERT INTO jobs (tenant_id, id, context_json, tier, priority, kind, run_id, \
         payload_json, state, attempts, max_attempts, lease_token, submitted_at_ms, \
         available_at_ms) VALUES ('acme', 'forged', '{\"tenant_id\": \"acme\"}', \
         'external-free', 10, 'run', 'r', '{}', 'running', 1, 3, 't', 0, 0)"
            .into(),
        format!(
            "INSERT INTO job_events (tenant_id, job_id, seq, at_ms, kind, state) \
             VALUES ('globex', '{}', 99, 0, 'cancelled', 'cancelled')",
            globex_queued.id
        ),
        "UPDATE job_events SET message = 'x'".into(),
        "DELETE FROM job_events".into(),
        "TRUNCATE job_events".into(),
        "DELETE FROM jobs".into(),
        "UPDATE jobs SET lease_token = 'mine', tenant_id = 'acme'".into(),
    ];
    for sql in &refused {
        for tenant in [None, Some("acme")] {
            app.batch_execute("BEGIN").await.unwrap();
            if let Some(t) = tenant {
                set_tenant(&app, t).await;
            }
            let e = app.execute(sql.as_str(), &[]).await.unwrap_err();
            assert_eq!(
                e.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{sql} as {tenant:?}: {e}"
            );
            app.batch_execute("ROLLBACK").await.unwrap();
        }
    }
    // A job of acme's whose context names another tenant (the worker would run it as
    // that tenant) breaks the table's check.
    app.batch_execute("BEGIN").await.unwrap();
    set_tenant(&app, "acme").await;
    let e = app
        .execute(
            "INSERT INTO jobs (tenant_id, id, context_json, tier, priority, kind, run_id, \
             payload_json, state, attempts, max_attempts, submitted_at_ms, available_at_ms) \
             VALUES ('acme', 'forged', '{\"tenant_id\": \"globex\"}', 'external-free', 10, \
             'run', 'r', '{}', 'queued', 0, 3, 0, 0)",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::CHECK_VIOLATION), "{e}");
    app.batch_execute("ROLLBACK").await.unwrap();

    let globex = free("globex");
    let now = q.get(&globex, &globex_queued.id).await.unwrap().unwrap();
    assert_eq!(now, globex_queued, "globex's job unchanged");
    assert_eq!(
        q.history(&globex, &globex_queued.id).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn the_worker_functions_give_nothing_away_without_the_lease() {
    let db = TestDb::create().await;
    let q = queue(&db, QueueConfig::default()).await;
    let (globex_queued, globex_running, globex_done) = seed_jobs(&q).await;
    let app = db.app_client().await;

    // An application role's temporary table cannot stand in for `jobs` inside the
    // functions (their search_path puts pg_temp last): a forged lease opens nothing.
    app.batch_execute(
        "CREATE TEMP TABLE jobs AS SELECT * FROM public.jobs WITH NO DATA; \
         CREATE TEMP TABLE job_events AS SELECT * FROM public.job_events WITH NO DATA",
    )
    .await
    .unwrap();
    app.execute(
        "INSERT INTO pg_temp.jobs (tenant_id, id, ord, context_json, tier, priority, kind, \
         run_id, payload_json, state, attempts, max_attempts, lease_token, submitted_at_ms, \
         available_at_ms, lease_until_ms) VALUES ('globex', $1, 1, '{}', 'external-free', \
         10, 'run', 'r', '{}', 'running', 1, 3, 'forged', 0, 0, 9223372036854775807)",
        &[&globex_running.id.as_str()],
    )
    .await
    .unwrap();
    for job in [&globex_queued, &globex_running, &globex_done] {
        for token in ["forged", "", "' OR true --"] {
            let beat = app
                .query_one(
                    "SELECT lease_held, cancel_asked FROM tamma_job_heartbeat('globex', $1, $2, 60000, 10)",
                    &[&job.id.as_str(), &token],
                )
                .await
                .unwrap();
            assert!(!beat.get::<_, bool>(0), "heartbeat with {token:?}");
            for outcome in ["succeeded", "released", "cancelled", "failed"] {
                let rows = app
                    .query(
                        "SELECT * FROM tamma_job_finish('globex', $1, $2, $3, 'x', true, 0)",
                        &[&job.id.as_str(), &token, &outcome],
                    )
                    .await
                    .unwrap();
                assert!(
                    rows.is_empty(),
                    "finish {outcome} with {token:?}: a row came back"
                );
            }
        }
        // Even the right job with no token at all.
        let rows = app
            .query(
                "SELECT * FROM tamma_job_finish('globex', $1, NULL, 'succeeded', NULL, false, 0)",
                &[&job.id.as_str()],
            )
            .await
            .unwrap();
        assert!(rows.is_empty());
    }
    let globex = free("globex");
    for job in [&globex_queued, &globex_running, &globex_done] {
        let now = q.get(&globex, &job.id).await.unwrap().unwrap();
        assert_eq!(now.state, job.state, "{} unchanged", job.id);
        assert_eq!(now.lease_until_ms, job.lease_until_ms);
    }

    // The internal helper is not the application's; stats are counts, no job content.
    let e = app
        .execute(
            "SELECT tamma_job_event('globex', $1, 'cancelled', 'cancelled', NULL, NULL, 0)",
            &[&globex_queued.id.as_str()],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{e}");
    let stats = app
        .query("SELECT * FROM tamma_job_stats(ARRAY['external-free'])", &[])
        .await
        .unwrap();
    let columns: Vec<&str> = stats[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(columns, ["tier", "queued", "running", "oldest_wait_ms"]);

    // Each function runs as the owner with its search path pinned; the application role
    // cannot create objects in the schema to shadow what they name.
    let owner = db.owner_client().await;
    let functions = owner
        .query(
            "SELECT proname, prosecdef, pg_get_userbyid(proowner)::text, \
             array_to_string(proconfig, ',') FROM pg_proc \
             WHERE proname LIKE 'tamma\\_job\\_%' ORDER BY proname",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = functions.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        names,
        [
            "tamma_job_claim",
            "tamma_job_event",
            "tamma_job_finish",
            "tamma_job_heartbeat",
            "tamma_job_stats"
        ]
    );
    for f in &functions {
        let name: String = f.get(0);
        assert_eq!(f.get::<_, String>(2), db.owner_role(), "{name}");
        assert_eq!(
            f.get::<_, Option<String>>(3).as_deref(),
            Some("search_path=public, pg_temp"),
            "{name}"
        );
        assert_eq!(f.get::<_, bool>(1), name != "tamma_job_event", "{name}");
    }
    let e = app
        .batch_execute("CREATE TABLE public.jobs_shadow (id text)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_claimers_on_separate_connections_never_double_claim_or_overfill_a_tier() {
    const HANDLES: usize = 8;
    const JOBS: usize = 48;
    let config = QueueConfig {
        tiers: vec![
            TierConfig {
                name: "narrow".into(),
                priority: 10,
                concurrency: 3,
                submissions_per_minute: None,
            },
            TierConfig {
                name: "wide".into(),
                priority: 10,
                concurrency: 5,
                submissions_per_minute: None,
            },
        ],
        ..QueueConfig::default()
    };
    let db = TestDb::create().await;
    let mut handles = Vec::new();
    for _ in 0..HANDLES {
        // One pool of one connection each: every claimer on its own connection.
        let store = PostgresStore::connect(db.app_config(), 1).await.unwrap();
        handles.push(store.queue(config.clone()).await.unwrap());
    }
    let cx = TenantContext::internal(TenantId::new("tamma").unwrap(), "op");
    for n in 0..JOBS {
        let tier = if n % 2 == 0 { "narrow" } else { "wide" };
        let new = NewJob {
            tier: Some(tier.into()),
            ..job(n)
        };
        handles[n % HANDLES].submit(&cx, new).await.unwrap();
    }

    #[derive(Default)]
    struct Seen {
        held: HashSet<String>,
        running: HashMap<String, usize>,
        peak: HashMap<String, usize>,
        claimed: Vec<String>,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (w, q) in handles.iter().cloned().enumerate() {
        let (seen, done) = (seen.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while done.load(std::sync::atomic::Ordering::SeqCst) < JOBS {
                assert!(Instant::now() < deadline, "jobs not done in 2 minutes");
                let Some(l) = q.claim(&format!("w{w}"), None).await.unwrap() else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                {
                    let mut s = seen.lock().unwrap();
                    assert!(
                        s.held.insert(l.job.id.to_string()),
                        "{} held twice",
                        l.job.id
                    );
                    s.claimed.push(l.job.id.to_string());
                    let r = s.running.entry(l.job.tier.clone()).or_default();
                    *r += 1;
                    let r = *r;
                    let peak = s.peak.entry(l.job.tier.clone()).or_default();
                    *peak = (*peak).max(r);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                {
                    let mut s = seen.lock().unwrap();
                    s.held.remove(l.job.id.as_str());
                    *s.running.get_mut(&l.job.tier).unwrap() -= 1;
                }
                let j = q.finish(&l, JobOutcome::Succeeded).await.unwrap();
                assert_eq!(j.state, JobState::Succeeded);
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }
    // Meanwhile the database's own count never exceeds a tier's concurrency either.
    let watcher = {
        let q = handles[0].clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak: HashMap<String, u64> = HashMap::new();
            while done.load(std::sync::atomic::Ordering::SeqCst) < JOBS {
                for s in q.stats().await.unwrap() {
                    let p = peak.entry(s.tier).or_default();
                    *p = (*p).max(s.running);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    let db_peak = watcher.await.unwrap();
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.claimed.len(), JOBS, "each job claimed once");
        assert_eq!(s.claimed.iter().collect::<HashSet<_>>().len(), JOBS);
        assert!(s.peak["narrow"] <= 3 && s.peak["wide"] <= 5, "{:?}", s.peak);
        assert!(
            db_peak.get("narrow").copied().unwrap_or(0) <= 3
                && db_peak.get("wide").copied().unwrap_or(0) <= 5,
            "{db_peak:?}"
        );
    }
    let succeeded = JobFilter {
        states: vec![JobState::Succeeded],
        limit: None,
    };
    assert_eq!(handles[0].list(&cx, &succeeded).await.unwrap().len(), JOBS);
}

/// How long `q.wait_for_work(30 s)` takes when `act` runs 200 ms after it starts.
async fn woken_after(q: &PostgresQueue, act: impl std::future::Future<Output = ()>) -> Duration {
    let waiter = tokio::spawn({
        let q = q.clone();
        async move {
            let started = Instant::now();
            q.wait_for_work(Duration::from_secs(30)).await;
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    act.await;
    waiter.await.unwrap()
}

/// Asserts that `q` has no wake-up pending: a short wait runs to its timeout.
async fn assert_idle(q: &PostgresQueue) {
    let started = Instant::now();
    q.wait_for_work(Duration::from_millis(300)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "woke early: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_handles_submit_finish_and_cancel_wake_a_waiting_handle() {
    let db = TestDb::create().await;
    let waiting = queue(&db, QueueConfig::default()).await;
    let other = queue(&db, QueueConfig::default()).await;
    let cx = free("acme");
    assert_idle(&waiting).await;

    let waited = woken_after(&waiting, async {
        other.submit(&cx, job(0)).await.unwrap();
    })
    .await;
    assert!(waited < Duration::from_secs(10), "submit: {waited:?}");

    let lease = other.claim("w", None).await.unwrap().unwrap();
    assert_idle(&waiting).await;
    let waited = woken_after(&waiting, async {
        other.finish(&lease, JobOutcome::Released).await.unwrap();
    })
    .await;
    assert!(waited < Duration::from_secs(10), "release: {waited:?}");

    let queued = other.list(&cx, &JobFilter::default()).await.unwrap();
    assert_idle(&waiting).await;
    let waited = woken_after(&waiting, async {
        other.cancel(&cx, &queued[0].id).await.unwrap();
    })
    .await;
    assert!(waited < Duration::from_secs(10), "cancel: {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_server_terminates_the_connections_calls_and_wake_ups_work_again() {
    let db = TestDb::create().await;
    let q = queue(&db, QueueConfig::default()).await;
    let cx = free("acme");
    q.submit(&cx, job(0)).await.unwrap();
    let admin = connect(&db.superuser_config()).await;
    let listening = "SELECT count(*) FROM pg_stat_activity \
                     WHERE usename = $1 AND query = 'LISTEN tamma_jobs'";
    let app_role = db.app_role();
    let n: i64 = admin
        .query_one(listening, &[&app_role])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "one listening connection");

    // Every connection of the application role, the listener's among them; each
    // termination waits until the backend is gone.
    let pids: Vec<i32> = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE usename = $1",
            &[&app_role],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut terminated = 0;
    for pid in pids {
        let gone: bool = admin
            .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
            .await
            .unwrap()
            .get(0);
        terminated += usize::from(gone);
    }
    assert!(
        terminated >= 2,
        "the pool's and the listener's: {terminated}"
    );

    // The very next calls work: the pool drops the dead connections.
    let j = q.submit(&cx, job(1)).await.unwrap();
    let l = q.claim("w", None).await.unwrap().expect("a job to claim");
    assert_eq!(
        q.heartbeat(&l).await.unwrap(),
        LeaseStatus::Held {
            cancel_requested: false
        }
    );
    q.finish(&l, JobOutcome::Succeeded).await.unwrap();
    assert_eq!(q.get(&cx, &j.id).await.unwrap().unwrap().id, j.id);

    // The listener reconnects by itself, and wakes its waiters when it does.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = admin
            .query_one(listening, &[&app_role])
            .await
            .unwrap()
            .get(0);
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the listener did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    q.wait_for_work(Duration::from_secs(10)).await;
    assert_idle(&q).await;
    let other = queue(&db, QueueConfig::default()).await;
    let waited = woken_after(&q, async {
        other.submit(&cx, job(2)).await.unwrap();
    })
    .await;
    assert!(waited < Duration::from_secs(10), "woken again: {waited:?}");
}

#[tokio::test]
async fn a_late_heartbeat_renews_an_expired_lease_only_into_a_free_slot() {
    // One tier "t" with one slot; the second handle's configuration ranks its jobs
    // higher (a job keeps the priority it was submitted with).
    let tier = |priority| QueueConfig {
        tiers: vec![TierConfig {
            name: "t".into(),
            priority,
            concurrency: 1,
            submissions_per_minute: None,
        }],
        lease_ms: 400,
        aging_ms: 3_600_000,
        ..QueueConfig::default()
    };
    let db = TestDb::create().await;
    let low = queue(&db, tier(1)).await;
    let high = queue(&db, tier(100)).await;
    let cx = TenantContext::internal(TenantId::new("tamma").unwrap(), "op");
    let in_t = |n| NewJob {
        tier: Some("t".into()),
        ..job(n)
    };

    // Expired, not taken over, the slot free: the late heartbeat renews it.
    low.submit(&cx, in_t(0)).await.unwrap();
    let a = low.claim("w1", None).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        low.heartbeat(&a).await.unwrap(),
        LeaseStatus::Held {
            cancel_requested: false
        }
    );
    let renewed = low.get(&cx, &a.job.id).await.unwrap().unwrap();
    assert!(renewed.lease_until_ms > a.job.lease_until_ms);

    // Expired again, and meanwhile a higher job took the slot: the heartbeat would
    // overfill the tier, so the lease is lost (and the old job is taken over later).
    let b = high.submit(&cx, in_t(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let taken = high.claim("w2", None).await.unwrap().unwrap();
    assert_eq!(taken.job.id, b.id, "the higher job, not the expired one");
    assert_eq!(low.heartbeat(&a).await.unwrap(), LeaseStatus::Lost);
    let stats = high.stats().await.unwrap();
    assert_eq!((stats[0].running, stats[0].queued), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_of_one_tenant_never_pass_its_rate_limit() {
    let db = TestDb::create().await;
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(queue(&db, QueueConfig::default()).await);
    }
    let cx = free("acme");
    let attempts = futures::future::join_all((0..30).map(|n| {
        let (q, cx) = (handles[n % 4].clone(), cx.clone());
        async move { q.submit(&cx, job(n)).await }
    }))
    .await;
    let accepted = attempts.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 10, "the free tier's 10 a minute, exactly");
    for e in attempts.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            e.kind(),
            tamma_bench_core::queue::QueueErrorKind::RateLimited,
            "{e}"
        );
        let wait = e.retry_after().unwrap();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "until the first submission is a minute old: {wait:?}"
        );
    }
    assert_eq!(
        handles[0]
            .list(&cx, &JobFilter::default())
            .await
            .unwrap()
            .len(),
        10
    );
}

/// A runner that finishes every job after a moment.
struct Quick;

#[async_trait::async_trait]
impl JobRunner for Quick {
    async fn run(&self, _job: &Job, _stop: Stop) -> Result<RunEnd, JobFailure> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(RunEnd::Finished)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_in_two_processes_are_woken_by_notifications_not_their_poll() {
    let db = TestDb::create().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut workers = Vec::new();
    for w in 0..2 {
        let q: Arc<dyn JobQueue> = Arc::new(queue(&db, QueueConfig::default()).await);
        let options = WorkerOptions {
            slots: 2,
            // Longer than the test may take: only a notification gets them going.
            idle_poll: Duration::from_secs(120),
            ..WorkerOptions::new(format!("worker-{w}"))
        };
        workers.push(tokio::spawn(run_worker(
            q,
            Arc::new(Quick),
            options,
            shutdown.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let submitter = queue(&db, QueueConfig::default()).await;
    let cx = TenantContext::internal(TenantId::new("tamma").unwrap(), "op");
    for n in 0..10 {
        submitter.submit(&cx, job(n)).await.unwrap();
    }
    let succeeded = JobFilter {
        states: vec![JobState::Succeeded],
        limit: None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while submitter.list(&cx, &succeeded).await.unwrap().len() < 10 {
        assert!(Instant::now() < deadline, "the idle workers were not woken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let mut claimed = 0;
    let mut done = 0;
    for w in workers {
        let report = w.await.unwrap();
        claimed += report.claimed;
        done += report.succeeded;
    }
    assert_eq!((claimed, done), (10, 10));
}
