//! The behaviour suite every [`EventLog`] must pass.
//!
//! Use [`crate::event_log_conformance_tests!`] in a test file with an expression that makes
//! `(guard, factory)` for a fresh, empty log: `factory` is an [`EventLogFactory`] (a
//! struct, or a closure wrapped by [`factory`]) whose every [`open`](EventLogFactory::open)
//! opens a new handle on that same log, as another process would; the guard keeps
//! whatever the log needs alive (a temporary directory, a database to drop). It expands to
//! one `#[test]` per behaviour below.
//!
//! Positions are checked as strictly increasing, not as consecutive: a database sequence
//! may leave gaps where a transaction rolled back.

#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::events::{
    Event, EventFilter, EventLog, EventPayload, EventType, NewEvent, Visibility,
};
use tamma_bench_core::model::{TenantContext, TenantId, Tier};
use tamma_bench_core::store::StoreErrorKind;

/// Opens handles on one log under test.
#[async_trait]
pub trait EventLogFactory: Send + Sync {
    /// A new handle on the log (each call: another handle, as another process of the
    /// deployment would open).
    async fn open(&self) -> Arc<dyn EventLog>;
}

#[async_trait]
impl<F, Fut> EventLogFactory for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn EventLog>> + Send,
{
    async fn open(&self) -> Arc<dyn EventLog> {
        self().await
    }
}

/// `open` as an [`EventLogFactory`] (fixes the closure's type).
pub fn factory<F, Fut>(open: F) -> F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn EventLog>> + Send,
{
    open
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// A `job.queued` event of tenant `name` (visible to its tenant).
pub fn job_queued(name: &str, n: usize) -> NewEvent {
    NewEvent::new(
        Some(tenant(name)),
        EventPayload::JobQueued {
            job_id: format!("job-{n}"),
            kind: "run".into(),
            tier: "external-free".into(),
        },
    )
}

/// A `results.published` event of tenant `name` (public).
pub fn published(name: &str, run: &str) -> NewEvent {
    NewEvent::new(
        Some(tenant(name)),
        EventPayload::ResultsPublished {
            run_id: run.into(),
            benchmark_id: "bench".into(),
            benchmark_version: "1".into(),
        },
    )
}

/// An `insight.generated` event of tenant `name` (internal).
pub fn insight(name: &str, run: &str) -> NewEvent {
    NewEvent::new(
        Some(tenant(name)),
        EventPayload::InsightGenerated {
            run_id: run.into(),
            text: "secret finding".into(),
        },
    )
}

/// A deployment-wide `config.changed` event (internal).
pub fn config_changed() -> NewEvent {
    NewEvent::new(
        None,
        EventPayload::ConfigChanged {
            old_digest: "a".into(),
            new_digest: "b".into(),
            fields: vec!["queue.lease_ms".into()],
            changed_by: "ops".into(),
        },
    )
}

async fn append(log: &dyn EventLog, events: Vec<NewEvent>) -> Vec<Event> {
    match log.append(events).await {
        Ok(e) => e,
        Err(e) => panic!("append failed: {:?}: {e}", e.kind()),
    }
}

async fn all(log: &dyn EventLog) -> Vec<Event> {
    log.read(0, &EventFilter::all(), 10_000)
        .await
        .expect("read")
}

fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.to_string()).collect()
}

fn new_ids(events: &[NewEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.to_string()).collect()
}

fn assert_increasing(events: &[Event]) {
    assert!(
        events.windows(2).all(|w| w[0].position < w[1].position),
        "positions increase: {:?}",
        events.iter().map(|e| e.position).collect::<Vec<_>>()
    );
}

/// Appending assigns strictly increasing positions from 1 up, in the order given and
/// across appends, and returns the events as logged, payload, tenant and visibility kept.
pub async fn append_assigns_increasing_positions(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    assert_eq!(log.head().await.unwrap(), 0, "a fresh log is empty");
    let first = vec![job_queued("acme", 1), published("acme", "r1")];
    let logged = append(log.as_ref(), first.clone()).await;
    assert_eq!(ids(&logged), new_ids(&first));
    assert!(logged[0].position >= 1);
    assert_increasing(&logged);
    for (e, n) in logged.iter().zip(&first) {
        assert_eq!(e.payload, n.payload);
        assert_eq!(e.tenant_id, n.tenant_id);
        assert_eq!(e.visibility, n.visibility);
        assert_eq!(e.at_ms, n.at_ms);
        assert_eq!(e.version, tamma_bench_core::events::EVENT_VERSION);
    }
    let second = append(log.as_ref(), vec![config_changed()]).await;
    assert!(second[0].position > logged[1].position);
    assert_eq!(second[0].tenant_id, None);
    let stored = all(log.as_ref()).await;
    assert_eq!(
        stored,
        [logged, second].concat(),
        "read gives what append returned"
    );
    assert!(append(log.as_ref(), vec![]).await.is_empty());
}

/// An event whose id is logged already is skipped (a retried append), in another append
/// or within the same one, and the others of the batch are logged.
pub async fn duplicate_ids_are_skipped(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let a = job_queued("acme", 1);
    let b = job_queued("acme", 2);
    append(log.as_ref(), vec![a.clone()]).await;
    let again = append(log.as_ref(), vec![a.clone(), b.clone(), b.clone()]).await;
    assert_eq!(
        ids(&again),
        new_ids(std::slice::from_ref(&b)),
        "only b is new, once"
    );
    let other = logs.open().await;
    assert!(append(other.as_ref(), vec![a.clone()]).await.is_empty());
    assert_eq!(ids(&all(log.as_ref()).await), new_ids(&[a, b]));
}

/// `read` gives the events after a position, narrowed by type and tenant, at most
/// `limit`, in log order, across tenants and visibilities.
pub async fn read_after_a_position_filters_and_limits(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let logged = append(
        log.as_ref(),
        vec![
            job_queued("acme", 1),
            published("zed", "r1"),
            insight("acme", "r1"),
            job_queued("zed", 2),
            config_changed(),
            job_queued("acme", 3),
        ],
    )
    .await;
    let after = log
        .read(logged[1].position, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert_eq!(ids(&after), ids(&logged[2..]));
    let limited = log.read(0, &EventFilter::all(), 2).await.unwrap();
    assert_eq!(ids(&limited), ids(&logged[..2]));
    let queued = EventFilter {
        types: vec![EventType::JobQueued],
        tenant: None,
    };
    let jobs = log.read(0, &queued, 100).await.unwrap();
    assert_eq!(
        ids(&jobs),
        ids(&[logged[0].clone(), logged[3].clone(), logged[5].clone()])
    );
    let acme = EventFilter {
        types: vec![],
        tenant: Some(tenant("acme")),
    };
    let of_acme = log.read(0, &acme, 100).await.unwrap();
    assert_eq!(
        ids(&of_acme),
        ids(&[logged[0].clone(), logged[2].clone(), logged[5].clone()])
    );
    let both = EventFilter {
        types: vec![EventType::JobQueued, EventType::ResultsPublished],
        tenant: Some(tenant("zed")),
    };
    let of_zed = log.read(0, &both, 1).await.unwrap();
    assert_eq!(ids(&of_zed), ids(&logged[1..2]), "filter, then limit");
    let past = log
        .read(logged[5].position, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert!(past.is_empty());
    assert!(
        log.read(0, &EventFilter::all(), 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `read_as` gives only what the context may receive: an external tenant its own
/// tenant events and everyone's public ones, never an internal one (its own or
/// deployment-wide); an internal context its tenant's internal events and deployment-wide
/// ones, not another tenant's internal ones.
pub async fn read_as_follows_visibility(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let logged = append(
        log.as_ref(),
        vec![
            job_queued("acme", 1),  // 0: acme's
            published("zed", "r1"), // 1: public
            insight("acme", "r1"),  // 2: acme internal
            job_queued("zed", 2),   // 3: zed's
            config_changed(),       // 4: deployment-wide internal
            insight("zed", "r2"),   // 5: zed internal
        ],
    )
    .await;
    let pick = |i: &[usize]| ids(&i.iter().map(|&i| logged[i].clone()).collect::<Vec<_>>());
    let acme_ext = TenantContext::external(tenant("acme"), Tier::Free, "user");
    let acme_int = TenantContext::internal(tenant("acme"), "operator");
    let zed_ext = TenantContext::external(tenant("zed"), Tier::Premium, "user");
    let read = |cx: TenantContext, limit: usize| {
        let log = log.clone();
        async move {
            log.read_as(&cx, 0, &EventFilter::all(), limit)
                .await
                .unwrap()
        }
    };
    let seen = read(acme_ext.clone(), 100).await;
    assert_eq!(ids(&seen), pick(&[0, 1]));
    assert!(seen.iter().all(|e| e.visibility != Visibility::Internal));
    assert_eq!(ids(&read(acme_int, 100).await), pick(&[0, 1, 2, 4]));
    assert_eq!(ids(&read(zed_ext.clone(), 100).await), pick(&[1, 3]));
    assert_eq!(ids(&read(acme_ext.clone(), 1).await), pick(&[0]), "limit");
    let later = log
        .read_as(&acme_ext, logged[0].position, &EventFilter::all(), 100)
        .await
        .unwrap();
    assert_eq!(ids(&later), pick(&[1]));
    // A filter naming another tenant narrows; it does not widen visibility.
    let of_zed = EventFilter {
        types: vec![],
        tenant: Some(tenant("zed")),
    };
    let other = log.read_as(&acme_ext, 0, &of_zed, 100).await.unwrap();
    assert_eq!(ids(&other), pick(&[1]), "only zed's public event");
}

/// `head` is the newest position, on every handle.
pub async fn head_is_the_newest_position(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let other = logs.open().await;
    assert_eq!(other.head().await.unwrap(), 0);
    let logged = append(
        log.as_ref(),
        vec![job_queued("acme", 1), job_queued("acme", 2)],
    )
    .await;
    assert_eq!(other.head().await.unwrap(), logged[1].position);
    let more = append(other.as_ref(), vec![config_changed()]).await;
    assert_eq!(log.head().await.unwrap(), more[0].position);
}

/// Offsets are kept per consumer, start at 0, never move back, are seen by every
/// handle, and invalid consumer names are refused.
pub async fn offsets_are_per_consumer_and_never_move_back(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let other = logs.open().await;
    assert_eq!(log.offset("optimizer.trigger").await.unwrap(), 0);
    log.commit_offset("optimizer.trigger", 5).await.unwrap();
    log.commit_offset("bus:nats-1", 2).await.unwrap();
    assert_eq!(other.offset("optimizer.trigger").await.unwrap(), 5);
    assert_eq!(other.offset("bus:nats-1").await.unwrap(), 2);
    other.commit_offset("optimizer.trigger", 3).await.unwrap();
    assert_eq!(
        log.offset("optimizer.trigger").await.unwrap(),
        5,
        "never back"
    );
    other.commit_offset("optimizer.trigger", 9).await.unwrap();
    assert_eq!(log.offset("optimizer.trigger").await.unwrap(), 9);
    assert_eq!(log.offset("bus:nats-1").await.unwrap(), 2, "per consumer");
    let long = "c".repeat(tamma_bench_core::events::MAX_CONSUMER_LEN + 1);
    for bad in ["", "a b", "x/y", "ü", long.as_str()] {
        let err = log.commit_offset(bad, 1).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Conflict, "{bad:?}");
        assert!(log.offset(bad).await.is_err(), "{bad:?}");
    }
}

/// `wait` returns soon after another handle appends, at once when an event after the
/// position is logged already, and after its timeout when nothing happens.
pub async fn wait_wakes_on_an_append_or_times_out(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let other = logs.open().await;

    let started = Instant::now();
    log.wait(0, Duration::from_millis(300)).await;
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_millis(250),
        "waited its timeout: {idle:?}"
    );
    assert!(idle < Duration::from_secs(20), "{idle:?}");

    let waiter = tokio::spawn({
        let log = log.clone();
        async move {
            let started = Instant::now();
            log.wait(0, Duration::from_secs(30)).await;
            started.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = append(other.as_ref(), vec![job_queued("acme", 1)]).await;
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "woken by the append: {waited:?}"
    );

    let started = Instant::now();
    log.wait(logged[0].position - 1, Duration::from_secs(30))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an event after the position is logged already"
    );
}

/// Replaying from position 0 in pages gives every event once, in the order appended,
/// across handles and appends.
pub async fn replay_from_zero_gives_everything_in_order(logs: &dyn EventLogFactory) {
    let log = logs.open().await;
    let other = logs.open().await;
    let mut appended = Vec::new();
    for n in 0..25 {
        let handle = if n % 2 == 0 { &log } else { &other };
        let batch = vec![job_queued("acme", n), published("zed", &format!("r{n}"))];
        appended.extend(append(handle.as_ref(), batch).await);
    }
    let mut replayed = Vec::new();
    let mut position = 0;
    loop {
        let page = other.read(position, &EventFilter::all(), 7).await.unwrap();
        let Some(last) = page.last() else { break };
        position = last.position;
        replayed.extend(page);
    }
    assert_increasing(&replayed);
    assert_eq!(replayed, appended);
    assert_eq!(log.head().await.unwrap(), position);
}

/// Expands to one `#[test]` per behaviour of the event log conformance suite. `$make` is
/// evaluated per test and yields `(guard, factory)`, `factory` an [`EventLogFactory`]
/// over a fresh log (the guard is kept to the test's end).
#[macro_export]
macro_rules! event_log_conformance_tests {
    ($make:expr) => {
        $crate::event_log_conformance_tests!(@tests $make;
            append_assigns_increasing_positions,
            duplicate_ids_are_skipped,
            read_after_a_position_filters_and_limits,
            read_as_follows_visibility,
            head_is_the_newest_position,
            offsets_are_per_consumer_and_never_move_back,
            wait_wakes_on_an_append_or_times_out,
            replay_from_zero_gives_everything_in_order,
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
                    $crate::conformance::events::$name(&factory).await;
                });
            }
        )*
    };
}
