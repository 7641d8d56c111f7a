//! Subscriptions follow the event log from their consumer's offset: in order, filtered,
//! by the rule of reads for a tenant context, at least once, committing after the handler.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::subscribe::{
    Deduplicate, EventHandler, HandlerError, RecentIds, SubscribeErrorKind, derived_event_id,
    handler_fn, subscribe,
};
use tamma_bench_core::events::{
    Event, EventFilter, EventId, EventLog, EventPayload, EventType, MemoryEventLog, NewEvent,
};
use tamma_bench_core::model::{TenantContext, TenantId, Tier};
use tokio_util::sync::CancellationToken;

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn job_started(tenant_id: &str, job: usize) -> NewEvent {
    NewEvent::new(
        Some(tenant(tenant_id)),
        EventPayload::JobStarted {
            job_id: format!("job-{job}"),
            attempt: 1,
        },
    )
}

fn insight(tenant_id: &str) -> NewEvent {
    NewEvent::new(
        Some(tenant(tenant_id)),
        EventPayload::InsightGenerated {
            run_id: "r".into(),
            text: "internal".into(),
        },
    )
}

/// Records the ids it is handed.
#[derive(Default)]
struct Recorder(Mutex<Vec<EventId>>);

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

impl Recorder {
    fn ids(&self) -> Vec<EventId> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn every_event_is_handled_once_in_order_and_a_restart_resumes_from_the_offset() {
    let log = Arc::new(MemoryEventLog::new());
    let first = log
        .append((0..10).map(|i| job_started("acme", i)).collect())
        .await
        .unwrap();
    let handler = Recorder::default();
    let sub = subscribe(log.clone(), "test.order", EventFilter::all(), None)
        .unwrap()
        .with_page_size(3);
    let stats = sub.catch_up(&handler).await.unwrap();
    assert_eq!(stats.delivered, 10);
    assert_eq!(stats.offset, 10);
    assert_eq!(log.offset("test.order").await.unwrap(), 10);
    let more = log
        .append((10..15).map(|i| job_started("acme", i)).collect())
        .await
        .unwrap();
    // A new follower of the same consumer starts where the last one committed.
    let again = subscribe(log.clone(), "test.order", EventFilter::all(), None).unwrap();
    assert_eq!(again.catch_up(&handler).await.unwrap().delivered, 5);
    let expected: Vec<EventId> = first.iter().chain(&more).map(|e| e.id.clone()).collect();
    assert_eq!(handler.ids(), expected);
    // Another consumer has its own offset.
    let other = Recorder::default();
    subscribe(log.clone(), "test.other", EventFilter::all(), None)
        .unwrap()
        .catch_up(&other)
        .await
        .unwrap();
    assert_eq!(other.ids().len(), 15);
}

#[tokio::test]
async fn a_filtered_consumer_receives_its_types_and_its_offset_passes_the_rest() {
    let log = Arc::new(MemoryEventLog::new());
    log.append(vec![
        job_started("acme", 1),
        insight("acme"),
        job_started("zed", 2),
    ])
    .await
    .unwrap();
    let filter = EventFilter {
        types: vec![EventType::InsightGenerated],
        tenant: None,
    };
    let handler = Recorder::default();
    let sub = subscribe(log.clone(), "test.filtered", filter, None).unwrap();
    let stats = sub.catch_up(&handler).await.unwrap();
    assert_eq!(stats.delivered, 1);
    // The events it skipped are behind its offset: the next read starts after them.
    assert_eq!(log.offset("test.filtered").await.unwrap(), 3);
    log.append(vec![job_started("acme", 3)]).await.unwrap();
    sub.catch_up(&handler).await.unwrap();
    assert_eq!(handler.ids().len(), 1);
    assert_eq!(log.offset("test.filtered").await.unwrap(), 4);
}

#[tokio::test]
async fn a_tenant_context_receives_only_what_it_may_read() {
    let log = Arc::new(MemoryEventLog::new());
    let published = NewEvent::new(
        Some(tenant("zed")),
        EventPayload::ResultsPublished {
            run_id: "r".into(),
            benchmark_id: "b".into(),
            benchmark_version: "1".into(),
        },
    );
    let logged = log
        .append(vec![
            job_started("acme", 1),
            insight("acme"),
            job_started("zed", 2),
            published,
        ])
        .await
        .unwrap();
    let external = TenantContext::external(tenant("acme"), Tier::Free, "u");
    let handler = Recorder::default();
    let sub = subscribe(log.clone(), "acme.feed", EventFilter::all(), Some(external)).unwrap();
    let stats = sub.catch_up(&handler).await.unwrap();
    // Its own job and the public result; never its internal insight nor zed's job.
    assert_eq!(
        handler.ids(),
        vec![logged[0].id.clone(), logged[3].id.clone()]
    );
    assert_eq!((stats.delivered, stats.hidden), (2, 2));
    assert_eq!(log.offset("acme.feed").await.unwrap(), 4);
    // An internal context of acme receives its insight too.
    let internal = Recorder::default();
    subscribe(
        log.clone(),
        "acme.internal",
        EventFilter::all(),
        Some(TenantContext::internal(tenant("acme"), "svc")),
    )
    .unwrap()
    .catch_up(&internal)
    .await
    .unwrap();
    assert_eq!(internal.ids().len(), 3);
}

#[tokio::test]
async fn a_failed_page_is_handed_again_and_deduplication_keeps_effects_single() {
    let log = Arc::new(MemoryEventLog::new());
    log.append((0..4).map(|i| job_started("acme", i)).collect())
        .await
        .unwrap();
    let effects = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (sink, count) = (effects.clone(), calls.clone());
    // Fails the first time it sees the third event, after the first two took effect.
    let flaky = handler_fn(move |event: Event| {
        let (sink, count) = (sink.clone(), count.clone());
        async move {
            let n = count.fetch_add(1, Ordering::SeqCst);
            if n == 2 {
                return Err(HandlerError::transient("bus unreachable"));
            }
            sink.lock().unwrap().push(event.id);
            Ok(())
        }
    });
    let handler = Deduplicate::new(flaky, 100);
    let sub = subscribe(log.clone(), "test.retry", EventFilter::all(), None)
        .unwrap()
        .with_retry_backoff(Duration::from_millis(1), Duration::from_millis(5));
    // catch_up reports the failure and leaves the offset before the page.
    let err = sub.catch_up(&handler).await.unwrap_err();
    assert_eq!(err.kind(), SubscribeErrorKind::Handler);
    assert_eq!(err.remedy(), Remedy::Retry);
    assert_eq!(err.position(), Some(0));
    assert_eq!(log.offset("test.retry").await.unwrap(), 0);
    // run retries the page; the two events already handled are not handed again.
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let follower = {
        let effects = effects.clone();
        tokio::spawn(async move {
            let sub = sub;
            let handle = async {
                while effects.lock().unwrap().len() < 4 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                stop.cancel();
            };
            let (stats, ()) = tokio::join!(sub.run(&handler, &cancel), handle);
            stats
        })
    };
    let stats = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stats.offset, 4);
    let effects = effects.lock().unwrap().clone();
    let mut unique = effects.clone();
    unique.dedup();
    assert_eq!(effects.len(), 4, "each event took effect once: {effects:?}");
    assert_eq!(unique.len(), 4);
    assert_eq!(log.offset("test.retry").await.unwrap(), 4);
}

#[tokio::test]
async fn a_permanent_failure_stops_the_follower_without_committing() {
    let log = Arc::new(MemoryEventLog::new());
    log.append(vec![job_started("acme", 1)]).await.unwrap();
    let handler = handler_fn(|_| async { Err(HandlerError::permanent("no rule")) });
    let sub = subscribe(log.clone(), "test.permanent", EventFilter::all(), None).unwrap();
    let err = sub
        .run(&handler, &CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), SubscribeErrorKind::Handler);
    assert_eq!(err.remedy(), Remedy::GiveUp);
    assert!(err.to_string().contains("no rule"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(log.offset("test.permanent").await.unwrap(), 0);
}

#[tokio::test]
async fn a_running_follower_wakes_for_new_events_and_stops_when_cancelled() {
    let log = Arc::new(MemoryEventLog::new());
    let handler = Arc::new(Recorder::default());
    let cancel = CancellationToken::new();
    // A long poll: only the log's wake-up can deliver in time.
    let sub = subscribe(log.clone(), "test.live", EventFilter::all(), None)
        .unwrap()
        .with_poll_interval(Duration::from_secs(3600));
    let task = {
        let (handler, cancel) = (handler.clone(), cancel.clone());
        tokio::spawn(async move { sub.run(&handler, &cancel).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let logged = log.append(vec![job_started("acme", 1)]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while handler.ids().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    cancel.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(handler.ids(), vec![logged[0].id.clone()]);
    assert_eq!(stats.delivered, 1);
    assert_eq!(log.offset("test.live").await.unwrap(), 1);
}

#[test]
fn invalid_consumers_are_refused_and_recent_ids_are_bounded() {
    let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
    let err = subscribe(log, "no spaces", EventFilter::all(), None)
        .err()
        .unwrap();
    assert_eq!(err.kind(), SubscribeErrorKind::InvalidConsumer);
    assert_eq!(err.remedy(), Remedy::FixInput);
    let ids = RecentIds::new(2);
    let (a, b, c) = (
        EventId::generate(),
        EventId::generate(),
        EventId::generate(),
    );
    assert!(ids.insert(&a));
    assert!(!ids.insert(&a));
    assert!(ids.insert(&b) && ids.insert(&c));
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&a), "the oldest is forgotten first");
    assert!(ids.contains(&b) && ids.contains(&c));
}

#[tokio::test]
async fn derived_ids_make_an_answering_append_idempotent() {
    let source = EventId::generate();
    let a = derived_event_id(&source, "insight", "agent-1");
    assert_eq!(a, derived_event_id(&source, "insight", "agent-1"));
    assert_ne!(a, derived_event_id(&source, "insight", "agent-2"));
    assert_ne!(a, derived_event_id(&source, "trigger", "agent-1"));
    assert_ne!(
        a,
        derived_event_id(&EventId::generate(), "insight", "agent-1")
    );
    assert!(a.as_str().starts_with("evt-") && a.as_str().len() == 36);
    let log = MemoryEventLog::new();
    let answer = |id: EventId| NewEvent {
        id,
        ..insight("acme")
    };
    assert_eq!(log.append(vec![answer(a.clone())]).await.unwrap().len(), 1);
    assert!(log.append(vec![answer(a)]).await.unwrap().is_empty());
}
