//! The behaviour suite every [`JobQueue`] must pass.
//!
//! Use [`crate::queue_conformance_tests!`] in a test file with an expression that makes
//! `(guard, factory)` for a fresh, empty database: `factory` is a [`QueueFactory`] (a
//! struct, or a closure wrapped by [`factory`]) whose every [`open`](QueueFactory::open)
//! opens a new handle on that same database with the configuration a behaviour chooses
//! (short leases, fast ageing, small tiers), as a second worker process would; the guard
//! keeps whatever the database needs alive (a temporary directory, a database to drop).
//! It expands to one `#[test]` per behaviour below.
//!
//! The behaviours sleep past leases and back-offs of a few hundred milliseconds; their
//! time bounds are generous (a claim is "immediate" when it happens well inside a lease
//! of seconds), so a loaded machine slows them down without failing them.

#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::{TenantContext, TenantId, Tier, now_ms};
use tamma_bench_core::queue::{
    Job, JobEvent, JobEventKind, JobFilter, JobKind, JobOutcome, JobQueue, JobState, Lease,
    LeaseStatus, MAX_PAYLOAD_BYTES, NewJob, QueueConfig, QueueErrorKind, tiers,
};

/// Opens handles on one database under test.
#[async_trait]
pub trait QueueFactory: Send + Sync {
    /// A new handle on the database, enforcing `config` (each call: another handle, as
    /// another process of the deployment would open).
    async fn open(&self, config: QueueConfig) -> Arc<dyn JobQueue>;
}

#[async_trait]
impl<F, Fut> QueueFactory for F
where
    F: Fn(QueueConfig) -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn JobQueue>> + Send,
{
    async fn open(&self, config: QueueConfig) -> Arc<dyn JobQueue> {
        self(config).await
    }
}

/// `open` as a [`QueueFactory`] (gives the closure its argument type).
pub fn factory<F, Fut>(open: F) -> F
where
    F: Fn(QueueConfig) -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn JobQueue>> + Send,
{
    open
}

/// The suite's configuration: the platform's tiers, ageing slow enough not to matter
/// (one point an hour), 30 s leases, 3 attempts, 1 s back-off.
pub fn config() -> QueueConfig {
    QueueConfig {
        aging_ms: 3_600_000,
        ..QueueConfig::default()
    }
}

/// [`config`] with leases of `lease_ms`.
fn with_lease(lease_ms: u64) -> QueueConfig {
    QueueConfig {
        lease_ms,
        ..config()
    }
}

/// Tenant `name` (a valid id).
fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// An external context of tenant `name` on `tier`.
pub fn external(name: &str, tier: Tier) -> TenantContext {
    TenantContext::external(tenant(name), tier, "user")
}

/// An internal context of tenant `name`.
pub fn internal(name: &str) -> TenantContext {
    TenantContext::internal(tenant(name), "operator")
}

/// A run job with payload `{"n": n}` in the submitter's tier.
pub fn job(n: usize) -> NewJob {
    NewJob::new(JobKind::Run, serde_json::json!({ "n": n }))
}

/// [`job`] into `tier`.
pub fn job_in(tier: &str, n: usize) -> NewJob {
    NewJob {
        tier: Some(tier.to_owned()),
        ..job(n)
    }
}

async fn submit(q: &dyn JobQueue, cx: &TenantContext, job: NewJob) -> Job {
    match q.submit(cx, job).await {
        Ok(j) => j,
        Err(e) => panic!("submit failed: {:?}: {e}", e.kind()),
    }
}

async fn claim(q: &dyn JobQueue, worker: &str) -> Option<Lease> {
    q.claim(worker, None).await.expect("claim")
}

async fn get(q: &dyn JobQueue, cx: &TenantContext, job: &Job) -> Job {
    q.get(cx, &job.id)
        .await
        .expect("get")
        .expect("the job exists")
}

async fn history(q: &dyn JobQueue, cx: &TenantContext, job: &Job) -> Vec<JobEvent> {
    q.history(cx, &job.id).await.expect("history")
}

fn kinds(events: &[JobEvent]) -> Vec<JobEventKind> {
    events.iter().map(|e| e.kind).collect()
}

/// Claims until a lease comes or `within` has passed, every 50 ms.
async fn claim_within(q: &dyn JobQueue, worker: &str, within: Duration) -> Option<Lease> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(l) = claim(q, worker).await {
            return Some(l);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sleeps until the process clock reads past `at_ms` (plus a margin).
async fn sleep_past(at_ms: i64) {
    let wait = (at_ms - now_ms()).max(0) as u64 + 150;
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

fn retry(error: &str) -> JobOutcome {
    JobOutcome::Failed {
        error: error.into(),
        remedy: Remedy::Retry,
    }
}

/// Submit stores a queued job with a `submitted` event, as given; its tenant's get, list
/// and history see it, newest first and filtered; another tenant sees nothing of it.
pub async fn submit_stores_a_queued_job_seen_by_its_tenant_only(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let cx = external("acme", Tier::Free);
    let before = now_ms();
    let mut new = NewJob::new(
        JobKind::Study,
        serde_json::json!({"study": {"trials": [1, 2]}}),
    );
    new.run_id = Some("run-7".into());
    new.max_attempts = Some(5);
    let j = submit(q.as_ref(), &cx, new).await;
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(j.tenant_id, cx.tenant_id);
    assert_eq!(j.context, cx);
    assert_eq!((j.tier.as_str(), j.priority), (tiers::FREE, 10));
    assert_eq!(j.kind, JobKind::Study);
    assert_eq!(j.run_id, "run-7");
    assert_eq!(j.payload, serde_json::json!({"study": {"trials": [1, 2]}}));
    assert_eq!((j.attempts, j.max_attempts), (0, 5));
    assert!(!j.cancel_requested);
    assert_eq!((&j.last_error, &j.worker), (&None, &None));
    assert!(j.submitted_at_ms >= before && j.submitted_at_ms <= now_ms());
    assert!(j.available_at_ms <= now_ms());
    assert_eq!(
        (j.started_at_ms, j.lease_until_ms, j.finished_at_ms),
        (None, None, None)
    );
    assert_eq!(get(q.as_ref(), &cx, &j).await, j);

    let events = history(q.as_ref(), &cx, &j).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (
            &events[0].job_id,
            events[0].seq,
            events[0].kind,
            events[0].state
        ),
        (&j.id, 1, JobEventKind::Submitted, JobState::Queued)
    );

    // Defaults: the run id is the job's own id, attempts are the configuration's.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let j2 = submit(q.as_ref(), &cx, job(2)).await;
    assert_eq!(j2.run_id, j2.id.as_str());
    assert_eq!(j2.max_attempts, config().max_attempts);
    assert_eq!(j2.kind, JobKind::Run);
    assert_ne!(j2.id, j.id);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let j3 = submit(q.as_ref(), &cx, job(3)).await;
    q.cancel(&cx, &j3.id).await.expect("cancel");

    let all = q.list(&cx, &JobFilter::default()).await.expect("list");
    let ids: Vec<_> = all.iter().map(|j| j.id.clone()).collect();
    assert_eq!(
        ids,
        [j3.id.clone(), j2.id.clone(), j.id.clone()],
        "newest first"
    );
    let queued = JobFilter {
        states: vec![JobState::Queued],
        limit: None,
    };
    let ids: Vec<_> = q
        .list(&cx, &queued)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, [j2.id.clone(), j.id.clone()]);
    let limited = JobFilter {
        states: vec![],
        limit: Some(2),
    };
    assert_eq!(q.list(&cx, &limited).await.unwrap().len(), 2);

    // Another tenant (even an internal one) sees nothing of it.
    for other in [external("beta", Tier::Free), internal("tamma")] {
        assert_eq!(q.get(&other, &j.id).await.unwrap(), None);
        assert!(
            q.list(&other, &JobFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        let e = q.history(&other, &j.id).await.unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::NotFound);
        let e = q.cancel(&other, &j.id).await.unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::NotFound);
    }
    assert_eq!(get(q.as_ref(), &cx, &j).await.state, JobState::Queued);
}

/// An external tenant submits into its own tier only (`Forbidden`), an unknown tier is
/// `UnknownTier`, an internal context may choose any tier.
pub async fn tiers_resolve_by_context(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let free = external("acme", Tier::Free);
    let premium = external("big", Tier::Premium);
    let e = q
        .submit(&free, job_in(tiers::INTERNAL, 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::Forbidden);
    let e = q
        .submit(&free, job_in(tiers::PREMIUM, 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::Forbidden);
    assert!(
        q.list(&free, &JobFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(submit(q.as_ref(), &free, job(1)).await.tier, tiers::FREE);
    assert_eq!(
        submit(q.as_ref(), &premium, job(1)).await.tier,
        tiers::PREMIUM
    );

    let op = internal("tamma");
    let e = q.submit(&op, job_in("gold", 1)).await.unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::UnknownTier);
    let j = submit(q.as_ref(), &op, job(1)).await;
    assert_eq!((j.tier.as_str(), j.priority), (tiers::INTERNAL, 100));
    for tier in [tiers::PREMIUM, tiers::FREE] {
        let j = submit(q.as_ref(), &op, job_in(tier, 2)).await;
        assert_eq!(j.tier, tier);
    }
}

/// A free tenant's 11th submission in a minute is `RateLimited` with a wait of at most a
/// minute; another tenant is not affected; the internal tier has no limit.
pub async fn submissions_are_rate_limited_per_tenant_and_tier(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let acme = external("acme", Tier::Free);
    for n in 0..10 {
        submit(q.as_ref(), &acme, job(n)).await;
    }
    let e = q.submit(&acme, job(10)).await.unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::RateLimited);
    assert_eq!(e.remedy(), Remedy::Retry);
    let wait = e.retry_after().expect("a rate limit says how long to wait");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(
        q.list(&acme, &JobFilter::default()).await.unwrap().len(),
        10
    );

    // Another handle on the same database counts the same submissions.
    let q2 = queues.open(config()).await;
    let e = q2.submit(&acme, job(11)).await.unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::RateLimited);

    submit(q.as_ref(), &external("beta", Tier::Free), job(0)).await;
    let op = internal("tamma");
    for n in 0..150 {
        submit(q.as_ref(), &op, job(n)).await;
    }
    assert_eq!(q.list(&op, &JobFilter::default()).await.unwrap().len(), 150);
}

/// A payload over [`MAX_PAYLOAD_BYTES`] is `Invalid`, and nothing is stored.
pub async fn oversized_payloads_are_refused(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let cx = internal("tamma");
    let big = NewJob::new(
        JobKind::Run,
        serde_json::Value::String("x".repeat(MAX_PAYLOAD_BYTES)),
    );
    let e = q.submit(&cx, big).await.unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::Invalid);
    assert!(q.list(&cx, &JobFilter::default()).await.unwrap().is_empty());
    assert!(claim(q.as_ref(), "w").await.is_none());
}

/// Claims take the highest tier first (internal, premium, free), oldest first within a
/// tier; with fast ageing an old free job outranks a newer internal one.
pub async fn claims_follow_priority_then_age(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let op = internal("tamma");
    let mut submitted = Vec::new();
    for tier in [
        tiers::FREE,
        tiers::FREE,
        tiers::PREMIUM,
        tiers::INTERNAL,
        tiers::INTERNAL,
    ] {
        submitted.push(submit(q.as_ref(), &op, job_in(tier, submitted.len())).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut leases = Vec::new();
    while let Some(l) = claim(q.as_ref(), "w").await {
        assert_eq!(l.job.state, JobState::Running);
        leases.push(l);
    }
    let order: Vec<_> = leases.iter().map(|l| l.job.id.clone()).collect();
    let expected: Vec<_> = [3, 4, 2, 0, 1]
        .iter()
        .map(|&i| submitted[i].id.clone())
        .collect();
    assert_eq!(order, expected);
    for l in &leases {
        q.finish(l, JobOutcome::Succeeded).await.unwrap();
    }

    // Ageing: one point per 2 ms. A free job that waited 400 ms longer than an internal
    // one gains 200 points on it, more than the 90 between their tiers.
    let q = queues
        .open(QueueConfig {
            aging_ms: 2,
            ..config()
        })
        .await;
    let cx = internal("ageing");
    let old_free = submit(q.as_ref(), &cx, job_in(tiers::FREE, 0)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let new_internal = submit(q.as_ref(), &cx, job_in(tiers::INTERNAL, 1)).await;
    let first = claim(q.as_ref(), "w").await.expect("a job");
    assert_eq!(first.job.id, old_free.id, "the aged free job first");
    let second = claim(q.as_ref(), "w").await.expect("a job");
    assert_eq!(second.job.id, new_internal.id);
}

/// With free concurrency 2, a third free job is not claimed (by any handle) while two
/// free leases are live; once one finishes, it is. Other tiers are not held back.
pub async fn tier_concurrency_holds_across_handles(queues: &dyn QueueFactory) {
    let q1 = queues.open(config()).await;
    let q2 = queues.open(config()).await;
    let cx = internal("tamma");
    for n in 0..3 {
        submit(q1.as_ref(), &cx, job_in(tiers::FREE, n)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let a = claim(q1.as_ref(), "w1").await.expect("first free job");
    let b = claim(q2.as_ref(), "w2").await.expect("second free job");
    assert_ne!(a.job.id, b.job.id);
    assert!(claim(q1.as_ref(), "w1").await.is_none(), "tier full");
    assert!(
        claim(q2.as_ref(), "w3").await.is_none(),
        "tier full, other handle"
    );
    let i = submit(q1.as_ref(), &cx, job_in(tiers::INTERNAL, 9)).await;
    assert_eq!(
        claim(q2.as_ref(), "w3").await.expect("internal job").job.id,
        i.id
    );
    assert!(claim(q2.as_ref(), "w3").await.is_none());

    let done = q1.finish(&a, JobOutcome::Succeeded).await.expect("finish");
    assert_eq!(done.state, JobState::Succeeded);
    let c = claim(q2.as_ref(), "w2").await.expect("a free slot again");
    assert_ne!(c.job.id, a.job.id);
    assert_ne!(c.job.id, b.job.id);
    assert_eq!(c.job.tier, tiers::FREE);
}

/// A claim with a tiers filter takes only from those tiers.
pub async fn claims_take_only_the_chosen_tiers(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let cx = internal("tamma");
    let i = submit(q.as_ref(), &cx, job_in(tiers::INTERNAL, 0)).await;
    let f = submit(q.as_ref(), &cx, job_in(tiers::FREE, 1)).await;
    let only_free = [tiers::FREE.to_owned()];
    let only_premium = [tiers::PREMIUM.to_owned()];
    assert!(q.claim("w", Some(&only_premium)).await.unwrap().is_none());
    let l = q
        .claim("w", Some(&only_free))
        .await
        .unwrap()
        .expect("the free job");
    assert_eq!(l.job.id, f.id);
    assert!(q.claim("w", Some(&only_free)).await.unwrap().is_none());
    assert_eq!(
        claim(q.as_ref(), "w")
            .await
            .expect("the internal job")
            .job
            .id,
        i.id
    );
}

/// A heartbeat renews the lease; an expired lease is taken over by another worker's
/// claim (`lease_expired` then `claimed`, attempt 2), and the old holder's heartbeat is
/// `Lost` and its finish `LeaseLost`, changing nothing.
pub async fn expired_leases_are_taken_over_and_the_old_holder_is_locked_out(
    queues: &dyn QueueFactory,
) {
    let q1 = queues.open(with_lease(1_500)).await;
    let q2 = queues.open(with_lease(1_500)).await;
    let cx = internal("tamma");
    let j = submit(q1.as_ref(), &cx, job(0)).await;
    let first = claim(q1.as_ref(), "w1").await.expect("claimed");
    assert_eq!(first.worker, "w1");
    assert_eq!(first.job.id, j.id);
    assert_eq!(first.job.attempts, 1);
    assert_eq!(first.job.worker.as_deref(), Some("w1"));
    let until = first.job.lease_until_ms.expect("a lease end");
    assert!(until >= first.job.started_at_ms.expect("started") + 1_000);

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        q1.heartbeat(&first).await.unwrap(),
        LeaseStatus::Held {
            cancel_requested: false
        }
    );
    let renewed = get(q1.as_ref(), &cx, &j)
        .await
        .lease_until_ms
        .expect("a lease end");
    assert!(renewed > until, "renewed: {renewed} > {until}");
    assert!(
        claim(q2.as_ref(), "w2").await.is_none(),
        "the lease is live"
    );

    sleep_past(renewed).await;
    let second = claim(q2.as_ref(), "w2").await.expect("taken over");
    assert_eq!(second.job.id, j.id);
    assert_eq!(second.job.attempts, 2);
    assert_eq!(second.worker, "w2");
    assert_ne!(second.token, first.token);
    let events = history(q1.as_ref(), &cx, &j).await;
    assert_eq!(
        kinds(&events),
        [
            JobEventKind::Submitted,
            JobEventKind::Claimed,
            JobEventKind::LeaseExpired,
            JobEventKind::Claimed
        ]
    );
    assert_eq!(events[3].worker.as_deref(), Some("w2"));

    assert_eq!(q1.heartbeat(&first).await.unwrap(), LeaseStatus::Lost);
    let e = q1.finish(&first, JobOutcome::Succeeded).await.unwrap_err();
    assert_eq!(e.kind(), QueueErrorKind::LeaseLost);
    let now = get(q1.as_ref(), &cx, &j).await;
    assert_eq!(now.state, JobState::Running);
    assert_eq!(now.worker.as_deref(), Some("w2"));
    assert_eq!(
        history(q1.as_ref(), &cx, &j).await.len(),
        4,
        "nothing written"
    );

    let done = q2.finish(&second, JobOutcome::Succeeded).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(q2.heartbeat(&second).await.unwrap(), LeaseStatus::Lost);
}

/// Finishing: success ends `succeeded`; a retryable failure with attempts left queues
/// the job again after its back-off; with attempts spent it ends `failed` with the
/// error; a failure that retrying cannot fix ends `failed` at once.
pub async fn outcomes_end_or_requeue_jobs(queues: &dyn QueueFactory) {
    let q = queues
        .open(QueueConfig {
            retry_backoff_ms: 1_500,
            ..config()
        })
        .await;
    let cx = internal("tamma");

    let ok = submit(q.as_ref(), &cx, job(0)).await;
    let l = claim(q.as_ref(), "w").await.unwrap();
    let done = q.finish(&l, JobOutcome::Succeeded).await.unwrap();
    assert_eq!(done.id, ok.id);
    assert_eq!(done.state, JobState::Succeeded);
    assert!(done.finished_at_ms.is_some());
    assert_eq!(get(q.as_ref(), &cx, &ok).await, done);

    let mut twice = job(1);
    twice.max_attempts = Some(2);
    let flaky = submit(q.as_ref(), &cx, twice).await;
    let l = claim(q.as_ref(), "w").await.unwrap();
    let before = now_ms();
    let again = q.finish(&l, retry("timeout")).await.unwrap();
    assert_eq!(again.state, JobState::Queued);
    assert_eq!(again.attempts, 1);
    assert_eq!(again.last_error.as_deref(), Some("timeout"));
    assert_eq!(again.finished_at_ms, None);
    assert!(again.available_at_ms >= before + 1_400, "backed off");
    assert!(
        claim(q.as_ref(), "w").await.is_none(),
        "not before its back-off"
    );
    sleep_past(again.available_at_ms).await;
    let l = claim(q.as_ref(), "w")
        .await
        .expect("claimable after its back-off");
    assert_eq!((l.job.id.clone(), l.job.attempts), (flaky.id.clone(), 2));
    let failed = q.finish(&l, retry("timeout again")).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("timeout again"));
    assert!(failed.finished_at_ms.is_some());
    assert!(claim(q.as_ref(), "w").await.is_none());

    let bad = submit(q.as_ref(), &cx, job(2)).await;
    let l = claim(q.as_ref(), "w").await.unwrap();
    let failed = q
        .finish(
            &l,
            JobOutcome::Failed {
                error: "no such benchmark".into(),
                remedy: Remedy::FixInput,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (failed.id.clone(), failed.state),
        (bad.id.clone(), JobState::Failed)
    );
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("no such benchmark"));
    assert_eq!(
        kinds(&history(q.as_ref(), &cx, &bad).await),
        [
            JobEventKind::Submitted,
            JobEventKind::Claimed,
            JobEventKind::Failed
        ]
    );
    let e = q.finish(&l, JobOutcome::Succeeded).await.unwrap_err();
    assert_eq!(
        e.kind(),
        QueueErrorKind::LeaseLost,
        "a finished lease is gone"
    );
}

/// A released job is queued again at once and its attempt is given back.
pub async fn released_jobs_requeue_at_once_without_spending_an_attempt(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let cx = internal("tamma");
    let mut once = job(0);
    once.max_attempts = Some(1);
    let j = submit(q.as_ref(), &cx, once).await;
    let l = claim(q.as_ref(), "w1").await.unwrap();
    let back = q.finish(&l, JobOutcome::Released).await.unwrap();
    assert_eq!(back.state, JobState::Queued);
    assert_eq!(back.attempts, 0);
    let l = claim(q.as_ref(), "w2").await.expect("claimable at once");
    assert_eq!((l.job.id.clone(), l.job.attempts), (j.id.clone(), 1));
    assert_eq!(
        kinds(&history(q.as_ref(), &cx, &j).await),
        [
            JobEventKind::Submitted,
            JobEventKind::Claimed,
            JobEventKind::Released,
            JobEventKind::Claimed
        ]
    );
}

/// A job whose lease expired with its attempts spent ends `failed` and is never claimed
/// again.
pub async fn expired_leases_with_attempts_spent_fail(queues: &dyn QueueFactory) {
    let q1 = queues.open(with_lease(400)).await;
    let q2 = queues.open(with_lease(400)).await;
    let cx = internal("tamma");
    let mut once = job(0);
    once.max_attempts = Some(1);
    let j = submit(q1.as_ref(), &cx, once).await;
    let l = claim(q1.as_ref(), "w1").await.unwrap();
    sleep_past(l.job.lease_until_ms.unwrap()).await;
    assert!(claim(q2.as_ref(), "w2").await.is_none());
    let failed = get(q2.as_ref(), &cx, &j).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempts, 1);
    assert!(failed.finished_at_ms.is_some());
    assert!(failed.last_error.is_some(), "says why");
    let events = history(q2.as_ref(), &cx, &j).await;
    assert_eq!(events.last().unwrap().kind, JobEventKind::Failed);
    assert!(!kinds(&events[2..]).contains(&JobEventKind::Claimed));
    assert!(claim(q2.as_ref(), "w2").await.is_none());
    assert_eq!(q1.heartbeat(&l).await.unwrap(), LeaseStatus::Lost);
}

/// Cancelling a queued job ends it at once (never claimed); a running one is marked, its
/// heartbeat says so, and its worker's `Cancelled` ends it; a finished one is
/// `InvalidState`.
pub async fn cancel_stops_queued_and_running_jobs(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let cx = external("acme", Tier::Premium);
    let queued = submit(q.as_ref(), &cx, job(0)).await;
    let c = q.cancel(&cx, &queued.id).await.unwrap();
    assert_eq!(c.state, JobState::Cancelled);
    assert!(c.finished_at_ms.is_some());
    assert!(claim(q.as_ref(), "w").await.is_none(), "never claimed");
    assert_eq!(
        kinds(&history(q.as_ref(), &cx, &queued).await),
        [JobEventKind::Submitted, JobEventKind::Cancelled]
    );

    let running = submit(q.as_ref(), &cx, job(1)).await;
    let l = claim(q.as_ref(), "w").await.unwrap();
    assert_eq!(l.job.id, running.id);
    let marked = q.cancel(&cx, &running.id).await.unwrap();
    assert_eq!(marked.state, JobState::Running);
    assert!(marked.cancel_requested);
    assert_eq!(
        q.heartbeat(&l).await.unwrap(),
        LeaseStatus::Held {
            cancel_requested: true
        }
    );
    let done = q.finish(&l, JobOutcome::Cancelled).await.unwrap();
    assert_eq!(done.state, JobState::Cancelled);
    assert!(done.finished_at_ms.is_some());
    assert_eq!(
        kinds(&history(q.as_ref(), &cx, &running).await),
        [
            JobEventKind::Submitted,
            JobEventKind::Claimed,
            JobEventKind::CancelRequested,
            JobEventKind::Cancelled
        ]
    );

    for finished in [&queued, &running] {
        let e = q.cancel(&cx, &finished.id).await.unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::InvalidState);
    }
}

/// A job's history is in order, numbered 1..n, each event with the state it left.
pub async fn history_is_numbered_in_order_with_states(queues: &dyn QueueFactory) {
    let q = queues
        .open(QueueConfig {
            retry_backoff_ms: 1,
            ..config()
        })
        .await;
    let cx = internal("tamma");
    let j = submit(q.as_ref(), &cx, job(0)).await;
    let l = claim(q.as_ref(), "w1").await.unwrap();
    q.finish(&l, retry("flaky")).await.unwrap();
    let l = claim_within(q.as_ref(), "w2", Duration::from_secs(10))
        .await
        .expect("retried");
    q.finish(&l, JobOutcome::Succeeded).await.unwrap();

    let events = history(q.as_ref(), &cx, &j).await;
    let got: Vec<_> = events.iter().map(|e| (e.seq, e.kind, e.state)).collect();
    assert_eq!(
        got,
        [
            (1, JobEventKind::Submitted, JobState::Queued),
            (2, JobEventKind::Claimed, JobState::Running),
            (3, JobEventKind::Retried, JobState::Queued),
            (4, JobEventKind::Claimed, JobState::Running),
            (5, JobEventKind::Succeeded, JobState::Succeeded),
        ]
    );
    assert!(events.iter().all(|e| e.job_id == j.id));
    assert!(events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_eq!(events[1].worker.as_deref(), Some("w1"));
    assert_eq!(events[3].worker.as_deref(), Some("w2"));
    assert_eq!(events[2].message.as_deref(), Some("flaky"));
}

/// Tasks claiming at once over several handles never hold one job twice, never exceed a
/// tier's concurrency, and finish every job.
pub async fn concurrent_claims_never_duplicate_or_overfill(queues: &dyn QueueFactory) {
    // No submission limits: one tenant submits 20 jobs into each tier.
    let mut unlimited = config();
    for t in &mut unlimited.tiers {
        t.submissions_per_minute = None;
    }
    let handles: Vec<Arc<dyn JobQueue>> =
        futures::future::join_all((0..3).map(|_| queues.open(unlimited.clone()))).await;
    let cx = internal("tamma");
    for n in 0..60 {
        let tier = [tiers::INTERNAL, tiers::PREMIUM, tiers::FREE][n % 3];
        submit(handles[n % 3].as_ref(), &cx, job_in(tier, n)).await;
    }
    let concurrency: HashMap<String, usize> = unlimited
        .tiers
        .iter()
        .map(|t| (t.name.clone(), t.concurrency as usize))
        .collect();

    #[derive(Default)]
    struct Seen {
        held: HashSet<String>,
        running: HashMap<String, usize>,
        claims: usize,
        done: usize,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut tasks = Vec::new();
    for t in 0..6 {
        let q = handles[t % 3].clone();
        let seen = seen.clone();
        let concurrency = concurrency.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{t}");
            let deadline = Instant::now() + Duration::from_secs(120);
            while seen.lock().unwrap().done < 60 {
                assert!(Instant::now() < deadline, "60 jobs not done in 2 minutes");
                let Some(l) = q.claim(&worker, None).await.expect("claim") else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                {
                    let mut s = seen.lock().unwrap();
                    assert!(
                        s.held.insert(l.job.id.to_string()),
                        "{} claimed twice",
                        l.job.id
                    );
                    let r = s.running.entry(l.job.tier.clone()).or_default();
                    *r += 1;
                    assert!(
                        *r <= concurrency[&l.job.tier],
                        "tier {} over its concurrency",
                        l.job.tier
                    );
                    s.claims += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                {
                    let mut s = seen.lock().unwrap();
                    s.held.remove(l.job.id.as_str());
                    *s.running.get_mut(&l.job.tier).unwrap() -= 1;
                }
                let j = q.finish(&l, JobOutcome::Succeeded).await.expect("finish");
                assert_eq!(j.state, JobState::Succeeded);
                seen.lock().unwrap().done += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("a claiming task");
    }
    assert_eq!(seen.lock().unwrap().claims, 60, "each job claimed once");
    let succeeded = JobFilter {
        states: vec![JobState::Succeeded],
        limit: None,
    };
    assert_eq!(handles[0].list(&cx, &succeeded).await.unwrap().len(), 60);
}

/// Stats count each configured tier's queued jobs and those running under a live lease.
pub async fn stats_count_queued_and_running_per_tier(queues: &dyn QueueFactory) {
    let q = queues.open(config()).await;
    let cx = internal("tamma");
    for n in 0..3 {
        submit(q.as_ref(), &cx, job_in(tiers::INTERNAL, n)).await;
    }
    for n in 0..2 {
        submit(q.as_ref(), &external(&format!("t{n}"), Tier::Free), job(n)).await;
    }
    claim(q.as_ref(), "w").await.expect("an internal job");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stats = q.stats().await.unwrap();
    let by: HashMap<_, _> = stats.iter().map(|s| (s.tier.as_str(), s)).collect();
    assert_eq!(by.len(), 3, "every configured tier: {stats:?}");
    assert_eq!(
        (by[tiers::INTERNAL].queued, by[tiers::INTERNAL].running),
        (2, 1)
    );
    assert_eq!((by[tiers::FREE].queued, by[tiers::FREE].running), (2, 0));
    assert_eq!(
        (by[tiers::PREMIUM].queued, by[tiers::PREMIUM].running),
        (0, 0)
    );
    assert_eq!(by[tiers::PREMIUM].oldest_wait_ms, 0);
    assert!(by[tiers::FREE].oldest_wait_ms > 0);
    assert!(by[tiers::FREE].oldest_wait_ms < 600_000);
}

/// `wait_for_work` returns soon after another handle of the process submits, and after
/// its timeout when nothing happens.
pub async fn wait_for_work_wakes_on_submission_or_times_out(queues: &dyn QueueFactory) {
    let q1 = queues.open(config()).await;
    let q2 = queues.open(config()).await;

    let started = Instant::now();
    q1.wait_for_work(Duration::from_millis(300)).await;
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_millis(250),
        "waited its timeout: {idle:?}"
    );
    assert!(idle < Duration::from_secs(20), "{idle:?}");

    let waiter = tokio::spawn({
        let q1 = q1.clone();
        async move {
            let started = Instant::now();
            q1.wait_for_work(Duration::from_secs(30)).await;
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    submit(q2.as_ref(), &internal("tamma"), job(0)).await;
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "woken by the submission: {waited:?}"
    );
}

/// Expands to one `#[test]` per behaviour of the queue conformance suite. `$make` is
/// evaluated per test and yields `(guard, factory)`, `factory` a [`QueueFactory`] over a
/// fresh database (the guard is kept to the test's end).
#[macro_export]
macro_rules! queue_conformance_tests {
    ($make:expr) => {
        $crate::queue_conformance_tests!(@tests $make;
            submit_stores_a_queued_job_seen_by_its_tenant_only,
            tiers_resolve_by_context,
            submissions_are_rate_limited_per_tenant_and_tier,
            oversized_payloads_are_refused,
            claims_follow_priority_then_age,
            tier_concurrency_holds_across_handles,
            claims_take_only_the_chosen_tiers,
            expired_leases_are_taken_over_and_the_old_holder_is_locked_out,
            outcomes_end_or_requeue_jobs,
            released_jobs_requeue_at_once_without_spending_an_attempt,
            expired_leases_with_attempts_spent_fail,
            cancel_stops_queued_and_running_jobs,
            history_is_numbered_in_order_with_states,
            concurrent_claims_never_duplicate_or_overfill,
            stats_count_queued_and_running_per_tier,
            wait_for_work_wakes_on_submission_or_times_out,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                // `$make` is evaluated inside the runtime: it may `.await`, and its guard
                // drops there too.
                $crate::block_on(async {
                    let (_guard, factory) = $make;
                    $crate::conformance::queue::$name(&factory).await;
                });
            }
        )*
    };
}
