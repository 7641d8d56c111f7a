//! Subscriptions: following the [`EventLog`] as a named consumer.
//!
//! A [`Subscription`] reads the log from its consumer's committed offset, keeps the
//! events that pass its [`EventFilter`] (and, for a tenant context, those the context
//! may receive: [`Event::visible_to`]), hands them to an [`EventHandler`] a page at a
//! time, and commits the offset once the handler succeeded. When it has caught up it
//! waits with [`EventLog::wait`]; it stops when its [`CancellationToken`] is cancelled.
//!
//! Delivery is **at least once**: a crash (or a failed handler) between handling and
//! the commit hands the same events again, so handlers are idempotent by
//! [`Event::id`]. A handler whose effect is durable makes it idempotent where it writes
//! (a de-duplicating append, an id derived from the event's); [`Deduplicate`] skips
//! events this process has already handled (a retried page), not those of a previous
//! process.
//!
//! One process follows a consumer at a time: two followers of the same consumer both
//! receive every event.
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::events::subscribe::{handler_fn, subscribe};
//! use tamma_bench_core::events::{EventFilter, EventLog, EventPayload, MemoryEventLog, NewEvent};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let log = Arc::new(MemoryEventLog::new());
//! let payload = EventPayload::JobStarted { job_id: "j".into(), attempt: 1 };
//! log.append(vec![NewEvent::new(None, payload)]).await.unwrap();
//! let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! let handler = handler_fn(move |event| {
//!     let sink = sink.clone();
//!     async move {
//!         sink.lock().unwrap().push(event.id);
//!         Ok(())
//!     }
//! });
//! let subscription = subscribe(log.clone(), "docs.example", EventFilter::all(), None).unwrap();
//! let stats = subscription.catch_up(&handler).await.unwrap();
//! assert_eq!(stats.delivered, 1);
//! assert_eq!(log.offset("docs.example").await.unwrap(), 1);
//! # });
//! ```

use super::{Event, EventFilter, EventId, EventLog, validate_consumer};
use crate::error::{Cause, Remedy};
use crate::model::TenantContext;
use crate::store::StoreError;
use async_trait::async_trait;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Events handed to a handler at once, by default.
pub const DEFAULT_PAGE_SIZE: usize = 256;

/// What a subscriber does with the events it receives.
///
/// The follower calls [`handle_page`](Self::handle_page) with the events of one read,
/// in log order, and commits the consumer's offset after it returns `Ok`. After an
/// error the whole page is handed again (after a back-off for a transient error), so
/// both methods must be idempotent by event id.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;

    /// Handles a page of events in log order; by default one by one. Override it to
    /// batch (a bus publisher sends the page, then awaits every acknowledgement).
    async fn handle_page(&self, events: &[Event]) -> Result<(), HandlerError> {
        for event in events {
            self.handle(event).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<H: EventHandler + ?Sized> EventHandler for Arc<H> {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        (**self).handle(event).await
    }

    async fn handle_page(&self, events: &[Event]) -> Result<(), HandlerError> {
        (**self).handle_page(events).await
    }
}

/// A handler made of a closure: see [`handler_fn`].
pub struct FnHandler<F>(F);

/// A handler that calls `f` with each event (a clone: the future owns it).
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    FnHandler(f)
}

#[async_trait]
impl<F, Fut> EventHandler for FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        (self.0)(event.clone()).await
    }
}

/// The ids of the most recent events handled, up to a capacity (the oldest forgotten
/// first).
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    inner: Mutex<(HashSet<EventId>, VecDeque<EventId>)>,
}

impl RecentIds {
    /// Remembers up to `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<EventId>, VecDeque<EventId>)> {
        // Each update leaves the set and the queue consistent: a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: &EventId) -> bool {
        self.lock().0.contains(id)
    }

    /// Remembers `id`; `false` when it already was.
    pub fn insert(&self, id: &EventId) -> bool {
        let mut guard = self.lock();
        let (set, order) = &mut *guard;
        if !set.insert(id.clone()) {
            return false;
        }
        order.push_back(id.clone());
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.lock().1.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handler that skips events whose id this process has already handled successfully
/// (among the last `capacity`): a page handed again after a failure reaches the inner
/// handler only with the events it has not handled yet. It hands events one at a time
/// ([`EventHandler::handle`]); a batching handler de-duplicates where it writes.
pub struct Deduplicate<H> {
    inner: H,
    seen: RecentIds,
}

impl<H> Deduplicate<H> {
    /// `inner`, remembering the last `capacity` ids it handled.
    pub fn new(inner: H, capacity: usize) -> Self {
        Self {
            inner,
            seen: RecentIds::new(capacity),
        }
    }

    /// The ids remembered.
    pub fn seen(&self) -> &RecentIds {
        &self.seen
    }
}

#[async_trait]
impl<H: EventHandler> EventHandler for Deduplicate<H> {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        if self.seen.contains(&event.id) {
            return Ok(());
        }
        self.inner.handle(event).await?;
        self.seen.insert(&event.id);
        Ok(())
    }

    // `handle_page` is the default, one by one: the events handled before a failure
    // are remembered.
}

/// Whether a handler's failure may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandlerErrorKind {
    /// It may succeed later (a database or a bus unreachable): the follower backs off
    /// and hands the page again.
    Transient,
    /// It will not (an invalid rule, damaged data): the follower stops with the error.
    Permanent,
}

/// A handler's failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandlerError {
    kind: HandlerErrorKind,
    message: String,
    source: Option<Cause>,
}

impl HandlerError {
    /// A failure that may pass.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: HandlerErrorKind::Transient,
            message: message.into(),
            source: None,
        }
    }

    /// A failure that will not.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: HandlerErrorKind::Permanent,
            ..Self::transient(message)
        }
    }

    /// A failure whose kind follows `remedy` (retry: transient; otherwise permanent),
    /// with `cause` kept as its source.
    pub fn from_cause(
        remedy: Remedy,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let e = if remedy.is_retryable() {
            Self::transient(cause.to_string())
        } else {
            Self::permanent(cause.to_string())
        };
        e.with_source(cause)
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(crate::error::cause(cause));
        self
    }

    /// Transient or permanent.
    pub fn kind(&self) -> HandlerErrorKind {
        self.kind
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Retry a transient failure; give up on a permanent one.
    pub fn remedy(&self) -> Remedy {
        match self.kind {
            HandlerErrorKind::Transient => Remedy::Retry,
            HandlerErrorKind::Permanent => Remedy::GiveUp,
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// The id of the event a handler appends in answer to `source`, for `purpose` (and, for
/// several answers, a distinguishing `part`): the same on every delivery of `source`, so
/// the log's de-duplicating [`append`](EventLog::append) keeps one whatever the
/// redeliveries. `evt-` and 32 hex digits of SHA-256 over the three.
pub fn derived_event_id(source: &EventId, purpose: &str, part: &str) -> EventId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for s in [source.as_str(), purpose, part] {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    EventId::from_stored(format!("evt-{}", hex::encode(&h.finalize()[..16])))
}

/// What kind of subscription failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubscribeErrorKind {
    /// The consumer name is invalid: 1-128 characters of `[A-Za-z0-9._:-]`.
    InvalidConsumer,
    /// Reading the log or committing the offset failed (the store's error is the
    /// source; its remedy is this error's).
    Log,
    /// The handler failed (permanently, from [`Subscription::run`]).
    Handler,
}

/// A subscription's failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SubscribeError {
    kind: SubscribeErrorKind,
    remedy: Remedy,
    message: String,
    position: Option<u64>,
    source: Option<Cause>,
}

impl SubscribeError {
    fn log(consumer: &str, e: StoreError) -> Self {
        Self {
            kind: SubscribeErrorKind::Log,
            remedy: e.remedy(),
            message: format!("consumer {consumer}: event log: {e}"),
            position: None,
            source: Some(crate::error::cause(e)),
        }
    }

    fn handler(consumer: &str, position: u64, e: HandlerError) -> Self {
        Self {
            kind: SubscribeErrorKind::Handler,
            remedy: e.remedy(),
            message: format!("consumer {consumer}: handling events after position {position}: {e}"),
            position: Some(position),
            source: Some(crate::error::cause(e)),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> SubscribeErrorKind {
        self.kind
    }

    /// What a caller can do: fix the consumer name; retry a transient log or handler
    /// failure; give up on corrupt events or a permanent handler failure.
    pub fn remedy(&self) -> Remedy {
        self.remedy
    }

    /// The consumer's offset when handling failed: the page after it was not handled.
    pub fn position(&self) -> Option<u64> {
        self.position
    }
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SubscribeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// What a subscription did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionStats {
    /// Events handed to the handler (a page handed again counts again).
    pub delivered: u64,
    /// Events that passed the filter but not the context's visibility.
    pub hidden: u64,
    /// Transient failures (log or handler) that were retried.
    pub retries: u64,
    /// The offset committed last.
    pub offset: u64,
}

/// A consumer following the event log: see the [module](self) documentation.
pub struct Subscription {
    log: Arc<dyn EventLog>,
    consumer: String,
    filter: EventFilter,
    context: Option<TenantContext>,
    page_size: usize,
    poll: Duration,
    backoff: (Duration, Duration),
}

/// A subscription of `consumer` to the events of `log` that pass `filter` and, with a
/// `context`, that the context may receive ([`Event::visible_to`]); without one, the
/// host's view across tenants.
pub fn subscribe(
    log: Arc<dyn EventLog>,
    consumer: impl Into<String>,
    filter: EventFilter,
    context: Option<TenantContext>,
) -> Result<Subscription, SubscribeError> {
    let consumer = consumer.into();
    validate_consumer(&consumer).map_err(|e| SubscribeError {
        kind: SubscribeErrorKind::InvalidConsumer,
        remedy: Remedy::FixInput,
        message: e.to_string(),
        position: None,
        source: Some(crate::error::cause(e)),
    })?;
    Ok(Subscription {
        log,
        consumer,
        filter,
        context,
        page_size: DEFAULT_PAGE_SIZE,
        poll: Duration::from_secs(5),
        backoff: (Duration::from_millis(100), Duration::from_secs(30)),
    })
}

/// One page's outcome.
struct Step {
    delivered: u64,
    hidden: u64,
    caught_up: bool,
}

impl Subscription {
    /// Hands at most `n` events at once (at least 1; default [`DEFAULT_PAGE_SIZE`]).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Reads again after `poll` when caught up even if the log's wake-up did not come
    /// (a log whose other writers cannot wake this process; default 5 s).
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Backs off from `min` doubling to `max` after transient failures (default 100 ms
    /// to 30 s).
    pub fn with_retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max.max(min));
        self
    }

    /// The consumer's name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// One page from `cursor`: handled, then committed. Returns the new cursor.
    async fn step<H: EventHandler + ?Sized>(
        &self,
        handler: &H,
        cursor: &mut u64,
    ) -> Result<Step, SubscribeError> {
        let err = |e| SubscribeError::log(&self.consumer, e);
        // A narrowed read returns nothing for the events it skips: the head read first
        // lets the offset pass them once the read has seen everything up to it.
        let narrowed = self.filter != EventFilter::all();
        let head = if narrowed {
            self.log.head().await.map_err(err)?
        } else {
            0
        };
        let page = self
            .log
            .read(*cursor, &self.filter, self.page_size)
            .await
            .map_err(err)?;
        let caught_up = page.len() < self.page_size;
        let mut next = page.last().map_or(*cursor, |e| e.position);
        if caught_up {
            next = next.max(head);
        }
        let total = page.len() as u64;
        let visible: Vec<Event> = match &self.context {
            Some(cx) => page.into_iter().filter(|e| e.visible_to(cx)).collect(),
            None => page,
        };
        let delivered = visible.len() as u64;
        if !visible.is_empty() {
            handler
                .handle_page(&visible)
                .await
                .map_err(|e| SubscribeError::handler(&self.consumer, *cursor, e))?;
        }
        if next > *cursor {
            self.log
                .commit_offset(&self.consumer, next)
                .await
                .map_err(err)?;
            *cursor = next;
        }
        Ok(Step {
            delivered,
            hidden: total - delivered,
            caught_up,
        })
    }

    /// Handles every event logged up to now, then returns; the first failure is
    /// returned (the offset stays at the last page handled).
    pub async fn catch_up<H: EventHandler + ?Sized>(
        &self,
        handler: &H,
    ) -> Result<SubscriptionStats, SubscribeError> {
        let mut cursor = self
            .log
            .offset(&self.consumer)
            .await
            .map_err(|e| SubscribeError::log(&self.consumer, e))?;
        let mut stats = SubscriptionStats {
            offset: cursor,
            ..Default::default()
        };
        loop {
            let step = self.step(handler, &mut cursor).await?;
            stats.delivered += step.delivered;
            stats.hidden += step.hidden;
            stats.offset = cursor;
            if step.caught_up {
                return Ok(stats);
            }
        }
    }

    /// Follows the log until `cancel` is cancelled, then returns what it did. Transient
    /// failures (of the log or the handler) are retried after a back-off; a permanent
    /// one, or corrupt events, end the subscription with the error.
    pub async fn run<H: EventHandler + ?Sized>(
        &self,
        handler: &H,
        cancel: &CancellationToken,
    ) -> Result<SubscriptionStats, SubscribeError> {
        let mut stats = SubscriptionStats::default();
        let mut backoff = self.backoff.0;
        let mut cursor = loop {
            match self.log.offset(&self.consumer).await {
                Ok(offset) => break offset,
                Err(e) => {
                    let e = SubscribeError::log(&self.consumer, e);
                    if !self
                        .pause_after(&e, &mut backoff, &mut stats, cancel)
                        .await?
                    {
                        return Ok(stats);
                    }
                }
            }
        };
        stats.offset = cursor;
        while !cancel.is_cancelled() {
            match self.step(handler, &mut cursor).await {
                Ok(step) => {
                    backoff = self.backoff.0;
                    stats.delivered += step.delivered;
                    stats.hidden += step.hidden;
                    stats.offset = cursor;
                    if step.caught_up {
                        tokio::select! {
                            () = cancel.cancelled() => {}
                            () = self.log.wait(cursor, self.poll) => {}
                        }
                    }
                }
                Err(e) => {
                    if !self
                        .pause_after(&e, &mut backoff, &mut stats, cancel)
                        .await?
                    {
                        break;
                    }
                }
            }
        }
        Ok(stats)
    }

    /// After failure `e`: `Err` when it is not transient; otherwise waits the back-off
    /// (doubled for next time) and says whether to go on (`false`: cancelled).
    async fn pause_after(
        &self,
        e: &SubscribeError,
        backoff: &mut Duration,
        stats: &mut SubscriptionStats,
        cancel: &CancellationToken,
    ) -> Result<bool, SubscribeError> {
        if !e.remedy().is_retryable() {
            return Err(e.clone());
        }
        tracing::warn!(consumer = %self.consumer, error = %e, retry_in_ms = backoff.as_millis() as u64, "subscription retries");
        stats.retries += 1;
        let wait = *backoff;
        *backoff = (*backoff * 2).min(self.backoff.1);
        tokio::select! {
            () = cancel.cancelled() => Ok(false),
            () = tokio::time::sleep(wait) => Ok(true),
        }
    }
}
