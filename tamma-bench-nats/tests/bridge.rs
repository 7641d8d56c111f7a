//! The bridge against the NATS server at 127.0.0.1:4222 (JetStream on): each test has a
//! deployment of its own, whose stream it deletes at the end.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::subscribe::{EventHandler, HandlerError, subscribe};
use tamma_bench_core::events::{
    Event, EventFilter, EventLog, EventPayload, MemoryEventLog, NewEvent, Visibility,
};
use tamma_bench_core::model::TenantId;
use tamma_bench_nats::{
    Bridge, BusErrorKind, Deployment, JetStreamPublisher, MSG_ID_HEADER, TENANT_HEADER,
    VISIBILITY_HEADER,
};

const URL: &str = "nats://127.0.0.1:4222";

/// Runs `body` with a fresh deployment, then deletes its stream (also when it panics).
async fn with_deployment<F, Fut>(prefix: &str, body: F)
where
    F: FnOnce(Deployment) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let suffix: String = tamma_bench_core::events::EventId::generate().as_str()[4..16].into();
    let deployment = Deployment::new(format!("{prefix}-{suffix}")).unwrap();
    let outcome = tokio::spawn(body(deployment.clone())).await;
    let client = async_nats::connect(URL).await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(deployment.stream())
        .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| match i % 3 {
            0 => NewEvent::new(
                Some(TenantId::new("acme").unwrap()),
                EventPayload::JobQueued {
                    job_id: format!("job-{i}"),
                    kind: "run".into(),
                    tier: "external-free".into(),
                },
            ),
            1 => NewEvent::new(
                Some(TenantId::new("zed").unwrap()),
                EventPayload::InsightGenerated {
                    run_id: format!("run-{i}"),
                    text: "weakest tag: math".into(),
                },
            ),
            _ => NewEvent::new(
                None,
                EventPayload::ConfigChanged {
                    old_digest: "a".into(),
                    new_digest: "b".into(),
                    fields: vec!["queue.lease_ms".into()],
                    changed_by: "ops".into(),
                },
            ),
        })
        .collect()
}

/// The stream's messages, in order.
async fn stream_messages(
    publisher: &JetStreamPublisher,
) -> Vec<async_nats::jetstream::message::StreamMessage> {
    let stream = publisher
        .jetstream()
        .get_stream(publisher.deployment().stream())
        .await
        .unwrap();
    let info = stream.get_info().await.unwrap();
    let mut out = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        out.push(stream.get_raw_message(seq).await.unwrap());
    }
    out
}

async fn message_count(publisher: &JetStreamPublisher) -> u64 {
    let stream = publisher
        .jetstream()
        .get_stream(publisher.deployment().stream())
        .await
        .unwrap();
    stream.get_info().await.unwrap().state.messages
}

#[tokio::test]
async fn every_event_is_published_once_in_order_with_its_subject_and_headers() {
    with_deployment("order", |deployment| async move {
        let log = Arc::new(MemoryEventLog::new());
        let logged = log.append(events(30)).await.unwrap();
        let publisher = JetStreamPublisher::connect(URL, deployment.clone())
            .await
            .unwrap();
        let bridge = Bridge::new(log.clone(), publisher.clone())
            .unwrap()
            .with_page_size(7);
        let stats = bridge.catch_up().await.unwrap();
        assert_eq!(stats.delivered, 30);
        assert_eq!(log.offset(&deployment.consumer()).await.unwrap(), 30);
        let messages = stream_messages(&publisher).await;
        assert_eq!(messages.len(), 30);
        for (m, e) in messages.iter().zip(&logged) {
            let subject = format!("tamma.{}.{}", deployment.as_str(), e.event_type().as_str());
            assert_eq!(m.subject.as_str(), subject);
            let h = |name: &str| m.headers.get(name).map(|v| v.as_str().to_owned());
            assert_eq!(h(MSG_ID_HEADER).as_deref(), Some(e.id.as_str()));
            assert_eq!(h(VISIBILITY_HEADER).as_deref(), Some(e.visibility.as_str()));
            assert_eq!(
                h(TENANT_HEADER),
                e.tenant_id.as_ref().map(|t| t.as_str().to_owned())
            );
            let decoded: Event = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(&decoded, e);
        }
        // Internal events are on the bus too: its subscribers are the deployment's hosts.
        assert!(
            logged
                .iter()
                .any(|e| e.visibility == Visibility::Internal && e.tenant_id.is_none())
        );
        // Caught up: a second pass publishes nothing.
        assert_eq!(bridge.catch_up().await.unwrap().delivered, 0);
        assert_eq!(message_count(&publisher).await, 30);
    })
    .await;
}

/// Publishes each page, then fails once before the offset is committed: a crash
/// between the acknowledgements and the commit.
struct CrashAfterPublish {
    publisher: JetStreamPublisher,
    crashed: AtomicBool,
}

#[async_trait::async_trait]
impl EventHandler for CrashAfterPublish {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.handle_page(std::slice::from_ref(event)).await
    }

    async fn handle_page(&self, events: &[Event]) -> Result<(), HandlerError> {
        self.publisher.handle_page(events).await?;
        if !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(HandlerError::transient("crashed before the commit"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_restarted_bridge_republishes_only_duplicates_that_jetstream_drops() {
    with_deployment("restart", |deployment| async move {
        let log = Arc::new(MemoryEventLog::new());
        log.append(events(20)).await.unwrap();
        let publisher = JetStreamPublisher::connect(URL, deployment.clone())
            .await
            .unwrap();
        // The first process publishes everything but dies before committing.
        let crashing = CrashAfterPublish {
            publisher: publisher.clone(),
            crashed: AtomicBool::new(false),
        };
        let sub = subscribe(log.clone(), deployment.consumer(), EventFilter::all(), None)
            .unwrap()
            .with_page_size(50);
        let err = sub.catch_up(&crashing).await.unwrap_err();
        assert_eq!(err.remedy(), Remedy::Retry);
        assert_eq!(log.offset(&deployment.consumer()).await.unwrap(), 0);
        assert_eq!(message_count(&publisher).await, 20);
        // Its successor (a new connection) publishes the same events again, and more.
        log.append(events(5)).await.unwrap();
        let restarted = JetStreamPublisher::connect(URL, deployment.clone())
            .await
            .unwrap();
        let events: Vec<Event> = log.read(0, &EventFilter::all(), 100).await.unwrap();
        let report = restarted.publish(&events[..20]).await.unwrap();
        assert_eq!((report.stored, report.duplicates), (0, 20));
        let bridge = Bridge::new(log.clone(), restarted.clone()).unwrap();
        let stats = bridge.catch_up().await.unwrap();
        assert_eq!(
            stats.delivered, 25,
            "at least once: the 20 again, and 5 new"
        );
        assert_eq!(
            message_count(&restarted).await,
            25,
            "each event stored once"
        );
        assert_eq!(log.offset(&deployment.consumer()).await.unwrap(), 25);
        let ids: Vec<String> = stream_messages(&restarted)
            .await
            .iter()
            .map(|m| m.headers.get(MSG_ID_HEADER).unwrap().as_str().to_owned())
            .collect();
        let logged: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, logged, "in log order");
    })
    .await;
}

#[tokio::test]
async fn a_deleted_stream_is_created_again_and_the_page_retried() {
    with_deployment("recreate", |deployment| async move {
        let log = Arc::new(MemoryEventLog::new());
        log.append(events(3)).await.unwrap();
        let publisher = JetStreamPublisher::connect(URL, deployment.clone())
            .await
            .unwrap();
        publisher
            .jetstream()
            .delete_stream(deployment.stream())
            .await
            .unwrap();
        let bridge = Bridge::new(log.clone(), publisher.clone()).unwrap();
        let err = bridge.catch_up().await.unwrap_err();
        assert_eq!(err.remedy(), Remedy::Retry, "{err}");
        // The handler re-created the stream: the retry goes through.
        assert_eq!(bridge.catch_up().await.unwrap().delivered, 3);
        assert_eq!(message_count(&publisher).await, 3);
    })
    .await;
}

#[tokio::test]
async fn invalid_deployments_and_unreachable_servers_are_reported() {
    for bad in ["", "Prod", "a.b", "a>b", &"x".repeat(65)] {
        let e = Deployment::new(bad).unwrap_err();
        assert_eq!(e.kind(), BusErrorKind::InvalidDeployment);
        assert_eq!(e.remedy(), Remedy::FixInput);
    }
    let d = Deployment::new("prod-eu_1").unwrap();
    assert_eq!(d.stream(), "TAMMA_PROD-EU_1");
    assert_eq!(d.consumer(), "nats:prod-eu_1");
    // Nothing listens on port 1.
    let e = JetStreamPublisher::connect("nats://127.0.0.1:1", d)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), BusErrorKind::Unavailable, "{e}");
    assert_eq!(e.remedy(), Remedy::Retry);
    assert!(std::error::Error::source(&e).is_some());
}

/// Not a timing assertion: measures the bridge over loopback and prints the rate
/// (`cargo test -p tamma-bench-nats --test bridge -- --nocapture`); the figure is in
/// docs/performance.md.
#[tokio::test]
async fn the_bridge_publishes_ten_thousand_events_measured() {
    with_deployment("rate", |deployment| async move {
        const N: usize = 10_000;
        let log = Arc::new(MemoryEventLog::new());
        log.append(events(N)).await.unwrap();
        let publisher = JetStreamPublisher::connect(URL, deployment.clone())
            .await
            .unwrap();
        let bridge = Bridge::new(log.clone(), publisher.clone()).unwrap();
        let start = Instant::now();
        let stats = bridge.catch_up().await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(stats.delivered, N as u64);
        assert_eq!(message_count(&publisher).await, N as u64);
        eprintln!(
            "bridge: {N} events in {:.1} ms: {:.0} events/s",
            elapsed.as_secs_f64() * 1e3,
            N as f64 / elapsed.as_secs_f64()
        );
    })
    .await;
}

#[tokio::test]
async fn a_running_bridge_publishes_events_as_they_are_logged_until_cancelled() {
    with_deployment("live", |deployment| async move {
        let log = Arc::new(MemoryEventLog::new());
        let publisher = JetStreamPublisher::connect(URL, deployment.clone())
            .await
            .unwrap();
        let bridge = Bridge::new(log.clone(), publisher.clone()).unwrap();
        let cancel = tokio_util::sync::CancellationToken::new();
        let task = {
            let cancel = cancel.clone();
            tokio::spawn(async move { bridge.run(&cancel).await })
        };
        for _ in 0..3 {
            log.append(events(4)).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while message_count(&publisher).await < 12 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        cancel.cancel();
        let stats = tokio::time::timeout(std::time::Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(stats.delivered, 12);
        assert_eq!(message_count(&publisher).await, 12);
        assert_eq!(log.offset(&deployment.consumer()).await.unwrap(), 12);
    })
    .await;
}
