//! NATS JetStream bridge of tamma-bench: the event log, published to a message bus.
//!
//! The [`Bridge`] follows the [`EventLog`] as consumer `nats:<deployment>` (a
//! [`Subscription`] of core) and publishes each event to the JetStream stream
//! `TAMMA_<DEPLOYMENT>` (created when missing, subjects `tamma.<deployment>.>`) on the
//! subject `tamma.<deployment>.<type>` (`tamma.prod.benchmark.completed`). It commits its
//! offset only after JetStream acknowledged every message of a page, and sets the
//! `Nats-Msg-Id` header to the event's id: an event published again after a crash (the
//! at-least-once of the log) is dropped by the stream's de-duplication, so the stream
//! holds each event once, in log order.
//!
//! **The bus is a host's.** It carries every event, internal ones included, with its
//! visibility and tenant in the headers `Tamma-Visibility` and `Tamma-Tenant` (absent
//! for deployment-wide events); its subscribers are trusted services of the deployment.
//! A tenant's feed is not read from the bus but from the log, through a subscription
//! with the tenant's context, which applies the rule of reads.
//!
//! ```no_run
//! # async fn f() -> Result<(), tamma_bench_nats::BusError> {
//! use std::sync::Arc;
//! use tamma_bench_core::events::MemoryEventLog;
//! use tamma_bench_nats::{Bridge, Deployment, JetStreamPublisher};
//! use tokio_util::sync::CancellationToken;
//!
//! let log = Arc::new(MemoryEventLog::new());
//! let publisher = JetStreamPublisher::connect("nats://127.0.0.1:4222", Deployment::new("prod")?).await?;
//! let bridge = Bridge::new(log, publisher)?;
//! let cancel = CancellationToken::new();
//! let stats = bridge.run(&cancel).await?;
//! # Ok(()) }
//! ```

mod error;

pub use error::{BusError, BusErrorKind};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage, stream};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::events::subscribe::{
    EventHandler, HandlerError, Subscription, SubscriptionStats, subscribe,
};
use tamma_bench_core::events::{Event, EventFilter, EventLog, EventType};
use tokio_util::sync::CancellationToken;

/// The header holding the event's id: JetStream drops a message whose id it has seen
/// within the stream's duplicate window.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// The header holding the event's visibility: `public`, `tenant` or `internal`.
pub const VISIBILITY_HEADER: &str = "Tamma-Visibility";
/// The header holding the event's tenant (absent for deployment-wide events).
pub const TENANT_HEADER: &str = "Tamma-Tenant";

/// Events published before their acknowledgements are awaited, by default.
pub const DEFAULT_PAGE_SIZE: usize = 512;

/// Longest deployment name.
pub const MAX_DEPLOYMENT_LEN: usize = 64;

/// A deployment's name on the bus: 1-64 characters of `[a-z0-9_-]`, one subject token
/// (`tamma.<deployment>.>`) and, upper-cased, the stream's name (`TAMMA_<DEPLOYMENT>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Deployment(String);

impl Deployment {
    /// Checks `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, BusError> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= MAX_DEPLOYMENT_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
        if ok {
            Ok(Self(name))
        } else {
            Err(BusError::new(
                BusErrorKind::InvalidDeployment,
                format!(
                    "invalid deployment name {:?}: 1-{MAX_DEPLOYMENT_LEN} characters of [a-z0-9_-]",
                    name.chars().take(80).collect::<String>()
                ),
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stream: `TAMMA_` and the name upper-cased.
    pub fn stream(&self) -> String {
        format!("TAMMA_{}", self.0.to_ascii_uppercase())
    }

    /// The subject of events of type `t`: `tamma.<deployment>.<dotted type>`.
    pub fn subject(&self, t: EventType) -> String {
        format!("tamma.{}.{}", self.0, t.as_str())
    }

    /// The stream's subjects: `tamma.<deployment>.>`.
    pub fn subjects(&self) -> String {
        format!("tamma.{}.>", self.0)
    }

    /// The bridge's consumer name in the event log: `nats:<deployment>`.
    pub fn consumer(&self) -> String {
        format!("nats:{}", self.0)
    }
}

/// What one call to [`JetStreamPublisher::publish`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Messages the stream stored.
    pub stored: u64,
    /// Messages the stream dropped as duplicates (published before, within the window).
    pub duplicates: u64,
}

/// Publishes events to a deployment's JetStream stream.
#[derive(Debug, Clone)]
pub struct JetStreamPublisher {
    js: jetstream::Context,
    deployment: Deployment,
    duplicate_window: Duration,
}

impl JetStreamPublisher {
    /// Connects to the NATS server at `url` and makes sure the deployment's stream exists.
    /// For credentials or TLS, connect with `async_nats::ConnectOptions` and use
    /// [`from_client`](Self::from_client).
    pub async fn connect(url: &str, deployment: Deployment) -> Result<Self, BusError> {
        let client = async_nats::connect(url).await.map_err(|e| {
            use async_nats::ConnectErrorKind as K;
            let kind = match e.kind() {
                K::Io | K::TimedOut | K::MaxReconnects => BusErrorKind::Unavailable,
                _ => BusErrorKind::Connect,
            };
            BusError::new(kind, format!("connecting to {url}: {e}")).with_source(e)
        })?;
        Self::from_client(client, deployment).await
    }

    /// Publishes through `client`; makes sure the deployment's stream exists.
    pub async fn from_client(
        client: async_nats::Client,
        deployment: Deployment,
    ) -> Result<Self, BusError> {
        let publisher = Self {
            js: jetstream::new(client),
            deployment,
            duplicate_window: Duration::from_secs(120),
        };
        publisher.ensure_stream().await?;
        Ok(publisher)
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The JetStream context (to read the stream, or manage it).
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Creates the stream when missing (file storage, the deployment's subjects, a
    /// duplicate window of two minutes); an existing stream is left as configured.
    pub async fn ensure_stream(&self) -> Result<(), BusError> {
        let config = stream::Config {
            name: self.deployment.stream(),
            subjects: vec![self.deployment.subjects()],
            duplicate_window: self.duplicate_window,
            ..Default::default()
        };
        self.js.get_or_create_stream(config).await.map_err(|e| {
            let kind = match e.kind() {
                jetstream::context::CreateStreamErrorKind::TimedOut
                | jetstream::context::CreateStreamErrorKind::JetStreamUnavailable => {
                    BusErrorKind::Unavailable
                }
                _ => BusErrorKind::Stream,
            };
            BusError::new(kind, format!("stream {}: {e}", self.deployment.stream())).with_source(e)
        })?;
        Ok(())
    }

    /// The message of `event`: its JSON, its id, visibility and tenant in headers.
    fn message(event: &Event) -> Result<PublishMessage, BusError> {
        let payload = serde_json::to_vec(event).map_err(|e| {
            BusError::new(BusErrorKind::Publish, format!("event {}: {e}", event.id)).with_source(e)
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(MSG_ID_HEADER, event.id.as_str());
        headers.insert(VISIBILITY_HEADER, event.visibility.as_str());
        if let Some(t) = &event.tenant_id {
            headers.insert(TENANT_HEADER, t.as_str());
        }
        Ok(PublishMessage::build()
            .payload(payload.into())
            .headers(headers))
    }

    /// Publishes `events` in order and waits for every acknowledgement. On an error
    /// some may be stored: publishing them again is harmless within the duplicate window.
    pub async fn publish(&self, events: &[Event]) -> Result<PublishReport, BusError> {
        let publish_err = |e: jetstream::context::PublishError| {
            let kind = match e.kind() {
                PublishErrorKind::StreamNotFound => BusErrorKind::Stream,
                PublishErrorKind::MaxPayloadExceeded => BusErrorKind::Publish,
                _ => BusErrorKind::Unavailable,
            };
            BusError::new(
                kind,
                format!("publishing to {}: {e}", self.deployment.stream()),
            )
            .with_source(e)
        };
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let subject = self.deployment.subject(event.event_type());
            let ack = self
                .js
                .send_publish(subject, Self::message(event)?)
                .await
                .map_err(publish_err)?;
            acks.push(ack);
        }
        let mut report = PublishReport::default();
        for ack in acks {
            let ack = ack.await.map_err(publish_err)?;
            if ack.duplicate {
                report.duplicates += 1;
            } else {
                report.stored += 1;
            }
        }
        Ok(report)
    }
}

#[async_trait]
impl EventHandler for JetStreamPublisher {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.handle_page(std::slice::from_ref(event)).await
    }

    async fn handle_page(&self, events: &[Event]) -> Result<(), HandlerError> {
        match self.publish(events).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if e.kind() == BusErrorKind::Stream {
                    // The stream was deleted under us: create it again, then retry the page.
                    let _ = self.ensure_stream().await;
                    return Err(HandlerError::transient(e.to_string()).with_source(e));
                }
                Err(HandlerError::from_cause(e.remedy(), e))
            }
        }
    }
}

/// Follows the event log as consumer `nats:<deployment>` and publishes every event to
/// the deployment's stream (see the [crate](crate) documentation).
pub struct Bridge {
    subscription: Subscription,
    publisher: JetStreamPublisher,
}

impl Bridge {
    /// A bridge from `log` to `publisher`'s stream, publishing pages of
    /// [`DEFAULT_PAGE_SIZE`] events.
    pub fn new(log: Arc<dyn EventLog>, publisher: JetStreamPublisher) -> Result<Self, BusError> {
        let subscription = subscribe(
            log,
            publisher.deployment.consumer(),
            EventFilter::all(),
            None,
        )
        .map_err(|e| BusError::new(BusErrorKind::Log, e.to_string()).with_source(e))?
        .with_page_size(DEFAULT_PAGE_SIZE);
        Ok(Self {
            subscription,
            publisher,
        })
    }

    /// Publishes pages of at most `n` events (at least 1).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.subscription = self.subscription.with_page_size(n);
        self
    }

    /// The publisher.
    pub fn publisher(&self) -> &JetStreamPublisher {
        &self.publisher
    }

    /// Publishes every event logged and not yet published, then returns.
    pub async fn catch_up(&self) -> Result<SubscriptionStats, BusError> {
        self.subscription
            .catch_up(&self.publisher)
            .await
            .map_err(BusError::from_subscription)
    }

    /// Publishes events as they are logged until `cancel` is cancelled; an unreachable
    /// server is retried with a back-off.
    pub async fn run(&self, cancel: &CancellationToken) -> Result<SubscriptionStats, BusError> {
        self.subscription
            .run(&self.publisher, cancel)
            .await
            .map_err(BusError::from_subscription)
    }
}
