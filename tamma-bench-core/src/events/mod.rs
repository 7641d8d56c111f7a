//! Domain events and the durable event log.
//!
//! An [`Event`] says that something happened to the platform's state: a benchmark
//! completed, results were published, a job moved, a study was triggered or finished, an
//! insight was found, the configuration changed. Each is typed ([`EventPayload`]),
//! versioned ([`Event::version`]), and carries an id (consumers de-duplicate by it), a time,
//! its tenant (none for deployment-wide events) and a [`Visibility`] that decides who may
//! receive it, by the same rule as reads.
//!
//! Events are written to the [`EventLog`] **in the same transaction as the state change
//! they report** (an outbox in the results database): a backend's store and queue append
//! them inside their own transactions, so an event is never lost and never announces a
//! change that rolled back. The log is read by position: replay from any position,
//! consumers keep their own offsets ([`EventLog::offset`], [`EventLog::commit_offset`]),
//! delivery is at-least-once and handlers are idempotent by event id.

pub mod follow;
mod memory;
pub mod subscribe;

pub use memory::MemoryEventLog;

use crate::model::{Run, TenantContext, TenantId};
/// The event log fails as the stores do: the same error, kinds and remedies.
pub use crate::store::StoreError;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The payload schema version this build writes and reads.
pub const EVENT_VERSION: u16 = 1;

/// Longest consumer name: 1-128 characters of `[A-Za-z0-9._:-]`.
pub const MAX_CONSUMER_LEN: usize = 128;

/// An event's id: `evt-` and 32 hex digits, unique across deployments.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// A new random id.
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(format!("evt-{}", hex::encode(bytes)))
    }

    /// An id as stored (not checked: ids come from the log).
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may receive an event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every tenant (a published result).
    Public,
    /// The event's tenant, in any context (its own job moved, its run completed).
    Tenant,
    /// Internal contexts only (of the event's tenant; deployment-wide ones of any
    /// internal tenant): agent configurations, costs, optimization, insights, config.
    Internal,
}

impl Visibility {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Tenant => "tenant",
            Self::Internal => "internal",
        }
    }

    /// The visibility named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Public, Self::Tenant, Self::Internal]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The kinds of events.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A run ended completed.
    BenchmarkCompleted,
    /// A public run completed: its public results are on the leaderboard.
    ResultsPublished,
    /// An optimization study was started (by a subscriber or a person).
    OptimizationTriggered,
    /// A study ended with a recommendation.
    OptimizationCompleted,
    /// An insight was found in results.
    InsightGenerated,
    /// The deployment's configuration changed.
    ConfigChanged,
    /// A job was queued.
    JobQueued,
    /// A worker started (claimed) a job.
    JobStarted,
    /// A job ended succeeded or cancelled.
    JobFinished,
    /// A job ended failed.
    JobFailed,
}

impl EventType {
    /// Every type.
    pub const ALL: [Self; 10] = [
        Self::BenchmarkCompleted,
        Self::ResultsPublished,
        Self::OptimizationTriggered,
        Self::OptimizationCompleted,
        Self::InsightGenerated,
        Self::ConfigChanged,
        Self::JobQueued,
        Self::JobStarted,
        Self::JobFinished,
        Self::JobFailed,
    ];

    /// The dotted name, also the subject's last part on a message bus:
    /// `benchmark.completed`, `job.queued`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BenchmarkCompleted => "benchmark.completed",
            Self::ResultsPublished => "results.published",
            Self::OptimizationTriggered => "optimization.triggered",
            Self::OptimizationCompleted => "optimization.completed",
            Self::InsightGenerated => "insight.generated",
            Self::ConfigChanged => "config.changed",
            Self::JobQueued => "job.queued",
            Self::JobStarted => "job.started",
            Self::JobFinished => "job.finished",
            Self::JobFailed => "job.failed",
        }
    }

    /// The type named `s` (dotted, as [`as_str`](Self::as_str)).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, with its data. Payloads hold ids and outcomes, never a prompt, an
/// output or a secret; those whose data is internal are [`Visibility::Internal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventPayload {
    /// A run ended completed.
    BenchmarkCompleted {
        /// The run.
        run_id: String,
        /// Its benchmark.
        benchmark_id: String,
        /// The benchmark's version.
        benchmark_version: String,
        /// Whether the run is public.
        public: bool,
    },
    /// A public run completed.
    ResultsPublished {
        /// The run.
        run_id: String,
        /// Its benchmark.
        benchmark_id: String,
        /// The benchmark's version.
        benchmark_version: String,
    },
    /// A study was started.
    OptimizationTriggered {
        /// The study (its job's run id).
        study_id: String,
        /// The benchmark it optimizes on.
        benchmark_id: String,
        /// Why: the event that triggered it, or who.
        reason: String,
    },
    /// A study ended.
    OptimizationCompleted {
        /// The study.
        study_id: String,
        /// The recommended configuration.
        recommendation: String,
        /// Whether the recommendation is certified ε-best.
        certified: bool,
    },
    /// An insight was found.
    InsightGenerated {
        /// The run it is about.
        run_id: String,
        /// What it says.
        text: String,
    },
    /// The configuration changed.
    ConfigChanged {
        /// Digest of the old configuration.
        old_digest: String,
        /// Digest of the new one.
        new_digest: String,
        /// The fields that changed (paths).
        fields: Vec<String>,
        /// Who changed it.
        changed_by: String,
    },
    /// A job was queued.
    JobQueued {
        /// The job.
        job_id: String,
        /// Run or study.
        kind: String,
        /// Its tier.
        tier: String,
    },
    /// A worker started a job.
    JobStarted {
        /// The job.
        job_id: String,
        /// Its attempt (1, 2, ...).
        attempt: u32,
    },
    /// A job ended succeeded or cancelled.
    JobFinished {
        /// The job.
        job_id: String,
        /// `succeeded` or `cancelled`.
        state: String,
    },
    /// A job ended failed.
    JobFailed {
        /// The job.
        job_id: String,
        /// Its last error.
        error: String,
    },
}

impl EventPayload {
    /// The payload's type.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::BenchmarkCompleted { .. } => EventType::BenchmarkCompleted,
            Self::ResultsPublished { .. } => EventType::ResultsPublished,
            Self::OptimizationTriggered { .. } => EventType::OptimizationTriggered,
            Self::OptimizationCompleted { .. } => EventType::OptimizationCompleted,
            Self::InsightGenerated { .. } => EventType::InsightGenerated,
            Self::ConfigChanged { .. } => EventType::ConfigChanged,
            Self::JobQueued { .. } => EventType::JobQueued,
            Self::JobStarted { .. } => EventType::JobStarted,
            Self::JobFinished { .. } => EventType::JobFinished,
            Self::JobFailed { .. } => EventType::JobFailed,
        }
    }

    /// Who may receive it by default: published results are public; runs and jobs are
    /// their tenant's; optimization, insights and configuration are internal.
    pub fn default_visibility(&self) -> Visibility {
        match self.event_type() {
            EventType::ResultsPublished => Visibility::Public,
            EventType::BenchmarkCompleted
            | EventType::JobQueued
            | EventType::JobStarted
            | EventType::JobFinished
            | EventType::JobFailed => Visibility::Tenant,
            EventType::OptimizationTriggered
            | EventType::OptimizationCompleted
            | EventType::InsightGenerated
            | EventType::ConfigChanged => Visibility::Internal,
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Its id (made when the event is made, so a retried append is de-duplicated).
    pub id: EventId,
    /// Unix ms.
    pub at_ms: i64,
    /// The tenant it concerns; `None` for deployment-wide events.
    pub tenant_id: Option<TenantId>,
    /// Who may receive it.
    pub visibility: Visibility,
    /// What happened.
    pub payload: EventPayload,
}

impl NewEvent {
    /// An event of `tenant` now, with its payload's default visibility.
    pub fn new(tenant_id: Option<TenantId>, payload: EventPayload) -> Self {
        Self {
            id: EventId::generate(),
            at_ms: crate::model::now_ms(),
            tenant_id,
            visibility: payload.default_visibility(),
            payload,
        }
    }

    /// The payload as stored: `{"type": ..., "data": ...}` JSON.
    pub fn payload_json(&self) -> String {
        serde_json::to_string(&self.payload).unwrap_or_else(|_| "null".into())
    }
}

/// An event as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Its position in the log: 1, 2, ... (gaps possible where a transaction rolled back).
    pub position: u64,
    /// Its id.
    pub id: EventId,
    /// The payload schema version.
    pub version: u16,
    /// Unix ms.
    pub at_ms: i64,
    /// The tenant it concerns; `None` for deployment-wide events.
    pub tenant_id: Option<TenantId>,
    /// Who may receive it.
    pub visibility: Visibility,
    /// What happened.
    #[serde(flatten)]
    pub payload: EventPayload,
}

impl Event {
    /// Its type.
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }

    /// An event decoded from a stored row: `payload_json` is `{"type": ..., "data": ...}`.
    pub fn from_stored(
        position: u64,
        id: String,
        version: u16,
        at_ms: i64,
        tenant_id: Option<&str>,
        visibility: &str,
        payload_json: &str,
    ) -> Result<Self, StoreError> {
        use crate::store::StoreErrorKind::Corrupt;
        if version != EVENT_VERSION {
            return Err(StoreError::new(
                Corrupt,
                format!("event {id}: payload version {version}; this build reads {EVENT_VERSION}"),
            ));
        }
        let tenant_id = tenant_id
            .map(TenantId::new)
            .transpose()
            .map_err(|e| StoreError::new(Corrupt, format!("event {id}: {e}")))?;
        let visibility = Visibility::parse(visibility).ok_or_else(|| {
            StoreError::new(Corrupt, format!("event {id}: visibility {visibility:?}"))
        })?;
        let payload = serde_json::from_str(payload_json)
            .map_err(|e| StoreError::new(Corrupt, format!("event {id}: payload: {e}")))?;
        Ok(Self {
            position,
            id: EventId(id),
            version,
            at_ms,
            tenant_id,
            visibility,
            payload,
        })
    }

    /// Whether `cx` may receive this event: public events reach everyone; a tenant's
    /// event reaches that tenant's contexts; an internal one only internal contexts of
    /// its tenant (a deployment-wide internal event: any internal context). The rule of
    /// reads: an internal event's payload never reaches an external tenant.
    pub fn visible_to(&self, cx: &TenantContext) -> bool {
        match self.visibility {
            Visibility::Public => true,
            Visibility::Tenant => self.tenant_id.as_ref() == Some(&cx.tenant_id),
            Visibility::Internal => {
                cx.is_internal() && self.tenant_id.as_ref().is_none_or(|t| *t == cx.tenant_id)
            }
        }
    }
}

/// Which events to read or receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these types (all when empty).
    pub types: Vec<EventType>,
    /// Only events of this tenant (and, with it, public ones are not added: a filter
    /// narrows, visibility decides).
    pub tenant: Option<TenantId>,
}

impl EventFilter {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether `event` passes the filter (visibility aside).
    pub fn matches(&self, event: &Event) -> bool {
        (self.types.is_empty() || self.types.contains(&event.event_type()))
            && self
                .tenant
                .as_ref()
                .is_none_or(|t| event.tenant_id.as_ref() == Some(t))
    }
}

/// The durable event log (the outbox of a results database).
///
/// [`append`](Self::append) writes events in a transaction of their own: for events
/// that report no stored change (a study triggered by a person). Events that report a
/// change are appended by the backend inside the transaction of that change.
/// [`read`](Self::read) is the host's (operator) view across tenants;
/// [`read_as`](Self::read_as) a tenant context's, filtered by [`Event::visible_to`].
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Appends `events` in one transaction; an event whose id is already logged is
    /// skipped (a retried append). Returns the events logged now, with their positions.
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError>;

    /// Up to `limit` events after position `after` that pass `filter`, in log order,
    /// across tenants (for hosts and their subscribers: the optimizer, a bus publisher).
    async fn read(
        &self,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError>;

    /// As [`read`](Self::read), only the events `cx` may receive.
    async fn read_as(
        &self,
        cx: &TenantContext,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        let mut position = after;
        // Page through the host view, keeping what the context may receive.
        loop {
            let page = self.read(position, filter, limit.max(1)).await?;
            let last = page.last().map(|e| e.position);
            out.extend(page.into_iter().filter(|e| e.visible_to(cx)));
            match last {
                Some(p) if out.len() < limit => position = p,
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// The position of the newest event (0 when empty).
    async fn head(&self) -> Result<u64, StoreError>;

    /// Consumer `name`'s committed position (0 when it has none).
    async fn offset(&self, consumer: &str) -> Result<u64, StoreError>;

    /// Records that consumer `name` has handled every event up to `position`. Offsets
    /// never move back: committing a lower position leaves the higher one.
    async fn commit_offset(&self, consumer: &str, position: u64) -> Result<(), StoreError>;

    /// Returns when an event after `after` may have been logged, or after `timeout`.
    async fn wait(&self, after: u64, timeout: Duration);
}

/// The events of `run` becoming completed: [`EventPayload::BenchmarkCompleted`] and, for a
/// public run, [`EventPayload::ResultsPublished`]. A store appends them in the transaction
/// that first sets the run completed.
pub fn run_completed_events(run: &Run) -> Vec<NewEvent> {
    let public = run.visibility == crate::model::Visibility::Public;
    let mut events = vec![NewEvent::new(
        Some(run.tenant_id.clone()),
        EventPayload::BenchmarkCompleted {
            run_id: run.id.clone(),
            benchmark_id: run.benchmark_id.clone(),
            benchmark_version: run.benchmark_version.clone(),
            public,
        },
    )];
    if public {
        events.push(NewEvent::new(
            Some(run.tenant_id.clone()),
            EventPayload::ResultsPublished {
                run_id: run.id.clone(),
                benchmark_id: run.benchmark_id.clone(),
                benchmark_version: run.benchmark_version.clone(),
            },
        ));
    }
    events
}

/// The body of a backend's [`EventLog::wait`]: returns once the log's head is past
/// `after` (or cannot be read: the caller's next read says why), re-checking it each time
/// `changes` moves (a counter bumped after commits or notifications, subscribed by the
/// caller before this call, so no change between the look and the wait is missed), or
/// when `timeout` has passed.
pub async fn wait_past_head<L: EventLog + ?Sized>(
    log: &L,
    after: u64,
    timeout: Duration,
    mut changes: tokio::sync::watch::Receiver<u64>,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match log.head().await {
            Ok(head) if head <= after => {}
            _ => return,
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Checks a consumer name.
pub fn validate_consumer(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CONSUMER_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::new(
            crate::store::StoreErrorKind::Conflict,
            format!("invalid consumer name {name:?}: 1-128 characters of [A-Za-z0-9._:-]"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    fn tenant(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    fn event(tenant_id: Option<&str>, payload: EventPayload) -> Event {
        let new = NewEvent::new(tenant_id.map(tenant), payload);
        Event::from_stored(
            7,
            new.id.as_str().to_owned(),
            EVENT_VERSION,
            new.at_ms,
            new.tenant_id.as_ref().map(TenantId::as_str),
            new.visibility.as_str(),
            &new.payload_json(),
        )
        .unwrap()
    }

    #[test]
    fn visibility_follows_the_rule_of_reads() {
        let acme_ext = TenantContext::external(tenant("acme"), Tier::Free, "u");
        let zed_ext = TenantContext::external(tenant("zed"), Tier::Premium, "u");
        let acme_int = TenantContext::internal(tenant("acme"), "svc");
        let zed_int = TenantContext::internal(tenant("zed"), "svc");
        let job = event(
            Some("acme"),
            EventPayload::JobQueued {
                job_id: "j".into(),
                kind: "run".into(),
                tier: "external-free".into(),
            },
        );
        assert!(job.visible_to(&acme_ext) && job.visible_to(&acme_int));
        assert!(!job.visible_to(&zed_ext) && !job.visible_to(&zed_int));
        let published = event(
            Some("acme"),
            EventPayload::ResultsPublished {
                run_id: "r".into(),
                benchmark_id: "b".into(),
                benchmark_version: "1".into(),
            },
        );
        assert!(published.visible_to(&zed_ext));
        let study = event(
            Some("acme"),
            EventPayload::OptimizationTriggered {
                study_id: "s".into(),
                benchmark_id: "b".into(),
                reason: "r".into(),
            },
        );
        assert!(study.visible_to(&acme_int));
        assert!(
            !study.visible_to(&acme_ext),
            "internal never reaches external"
        );
        assert!(!study.visible_to(&zed_int));
        let config = event(
            None,
            EventPayload::ConfigChanged {
                old_digest: "a".into(),
                new_digest: "b".into(),
                fields: vec!["queue.lease_ms".into()],
                changed_by: "ops".into(),
            },
        );
        assert!(config.visible_to(&zed_int) && !config.visible_to(&zed_ext));
    }

    #[test]
    fn payloads_round_trip_with_their_type_and_refuse_other_versions() {
        let e = event(
            Some("acme"),
            EventPayload::JobFailed {
                job_id: "j".into(),
                error: "boom".into(),
            },
        );
        assert_eq!(e.event_type(), EventType::JobFailed);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "job_failed");
        assert_eq!(json["data"]["error"], "boom");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
        let err = Event::from_stored(1, "evt-x".into(), 2, 0, None, "public", "{}").unwrap_err();
        assert_eq!(err.kind(), crate::store::StoreErrorKind::Corrupt);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn filters_narrow_by_type_and_tenant() {
        let e = event(
            Some("acme"),
            EventPayload::JobStarted {
                job_id: "j".into(),
                attempt: 1,
            },
        );
        assert!(EventFilter::all().matches(&e));
        let types = EventFilter {
            types: vec![EventType::JobFailed],
            tenant: None,
        };
        assert!(!types.matches(&e));
        let other = EventFilter {
            types: vec![],
            tenant: Some(tenant("zed")),
        };
        assert!(!other.matches(&e));
        assert!(validate_consumer("optimizer.trigger").is_ok());
        assert!(validate_consumer("a b").is_err());
    }
}
