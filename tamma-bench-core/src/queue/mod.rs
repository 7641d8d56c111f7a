//! The durable job queue: the contract every backend implements, its configuration
//! (tiers with priorities, concurrency and submission rates) and the worker loop.
//!
//! A **job** is a benchmark run or an optimization study, submitted by a tenant context
//! into a **tier**. Workers (processes, possibly on many machines) [`claim`] jobs under a
//! **lease** that they keep alive with [`heartbeat`]s; a worker that dies stops
//! heartbeating, its lease expires, and another worker claims the job again. Because a
//! job's run id is fixed at submission, the next worker *resumes* the run through the
//! executor's resume: the trials already stored are skipped, none is run twice.
//!
//! Claim order: among the tiers that have a free slot (fewer jobs running, across all
//! workers, than the tier's `concurrency`), the job with the highest *effective
//! priority*: its tier's `priority` plus one point per [`QueueConfig::aging`] it has
//! waited (so nothing starves), oldest first on a tie.
//!
//! Backends: `tamma-bench-sqlite` (one machine, the embedded default) and
//! `tamma-bench-postgres` (`FOR UPDATE SKIP LOCKED`, `LISTEN/NOTIFY`). Both pass the
//! conformance suite of `tamma-bench-testkit`. The worker loop is in [`worker`].
//!
//! [`claim`]: JobQueue::claim
//! [`heartbeat`]: JobQueue::heartbeat

pub mod worker;

use crate::error::{Cause, Remedy};
use crate::model::{TenantContext, TenantId, Tier};
use crate::store::StoreError;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The tier names of [`QueueConfig::default`].
pub mod tiers {
    /// Tamma's own optimization work: priority 100, 10 jobs at once, no submission limit.
    pub const INTERNAL: &str = "internal-optimization";
    /// Paying external customers: priority 50, 5 jobs at once, 100 submissions a minute.
    pub const PREMIUM: &str = "external-premium";
    /// Free external customers: priority 10, 2 jobs at once, 10 submissions a minute.
    pub const FREE: &str = "external-free";
}

/// Longest job payload accepted, in bytes of JSON.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Longest error message kept with a job; longer ones are cut.
pub const MAX_ERROR_CHARS: usize = 4096;

/// A job's id: 1-128 characters of `[A-Za-z0-9._:-]`, safe in shells, paths and logs.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Checks `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, QueueError> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(Self(id))
        } else {
            Err(QueueError::invalid(format!(
                "invalid job id {:?}: 1-128 characters of [A-Za-z0-9._:-]",
                id.chars().take(140).collect::<String>()
            )))
        }
    }

    /// A new random id, `job-` and 24 hex digits.
    pub fn generate() -> Self {
        let bytes: [u8; 12] = rand::random();
        Self(format!("job-{}", hex::encode(bytes)))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for JobId {
    type Error = QueueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for JobId {
    type Err = QueueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// What a job does. The queue stores the payload as it is given; the host that runs the
/// job reads it (the CLI's worker: a benchmark definition and its agents, or a study).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A benchmark run.
    Run,
    /// An optimization study.
    Study,
}

impl JobKind {
    /// `run` or `study`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Study => "study",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "run" => Some(Self::Run),
            "study" => Some(Self::Study),
            _ => None,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (new, or back after a retryable failure or a release).
    Queued,
    /// Held by a worker under a lease (which may have expired: the next claim takes it).
    Running,
    /// Finished.
    Succeeded,
    /// Given up: a failure that retrying cannot fix, or its attempts are spent.
    Failed,
    /// Cancelled: before it started, or stopped at a trial boundary (what finished is kept).
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the job will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Run or study.
    pub kind: JobKind,
    /// The tier; `None` is the submitter's tier ([`QueueConfig::tier_for`]). An external
    /// tenant may only submit into the tier of its own context.
    pub tier: Option<String>,
    /// The id of the run (or study) the job writes; `None` is the job's own id. Fixed at
    /// submission, so that a job claimed again resumes the same run.
    pub run_id: Option<String>,
    /// What the host needs to run it (at most [`MAX_PAYLOAD_BYTES`] as JSON).
    pub payload: serde_json::Value,
    /// Attempts before the job ends `failed`; `None` is [`QueueConfig::max_attempts`].
    pub max_attempts: Option<u32>,
}

impl NewJob {
    /// A job of `kind` with `payload`, defaults otherwise.
    pub fn new(kind: JobKind, payload: serde_json::Value) -> Self {
        Self {
            kind,
            tier: None,
            run_id: None,
            payload,
            max_attempts: None,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The tenant that submitted it (its results are written as this tenant).
    pub tenant_id: TenantId,
    /// The context it was submitted in; the worker runs it in this context.
    pub context: TenantContext,
    /// Its tier.
    pub tier: String,
    /// Its tier's priority when submitted.
    pub priority: i32,
    /// Run or study.
    pub kind: JobKind,
    /// The run (or study) it writes.
    pub run_id: String,
    /// What the host needs to run it.
    pub payload: serde_json::Value,
    /// Where it is.
    pub state: JobState,
    /// Claims so far (each claim, including one that takes over an expired lease, is an
    /// attempt; a worker's orderly release gives its attempt back).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// A cancellation was asked for while it ran; its worker stops at the next trial
    /// boundary.
    pub cancel_requested: bool,
    /// The last failure's message, if any.
    pub last_error: Option<String>,
    /// The worker holding (or that last held) it.
    pub worker: Option<String>,
    /// Unix ms: submitted.
    pub submitted_at_ms: i64,
    /// Unix ms: not claimable before (a retry's back-off).
    pub available_at_ms: i64,
    /// Unix ms: claimed last.
    pub started_at_ms: Option<i64>,
    /// Unix ms: the running lease ends (unless renewed).
    pub lease_until_ms: Option<i64>,
    /// Unix ms: reached a terminal state.
    pub finished_at_ms: Option<i64>,
}

/// What happened to a job: one entry of its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub job_id: JobId,
    /// 1, 2, ... in the job's order.
    pub seq: u64,
    /// Unix ms.
    pub at_ms: i64,
    /// What happened.
    pub kind: JobEventKind,
    /// The state the job was left in.
    pub state: JobState,
    /// The worker involved, if any.
    pub worker: Option<String>,
    /// Details (an error's message, who cancelled).
    pub message: Option<String>,
}

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobEventKind {
    /// Submitted.
    Submitted,
    /// A worker claimed it.
    Claimed,
    /// A worker's lease expired and another claim took the job over.
    LeaseExpired,
    /// Its worker gave it back (draining); the attempt does not count.
    Released,
    /// It failed and was queued again (after a back-off).
    Retried,
    /// Cancellation was asked for.
    CancelRequested,
    /// Finished.
    Succeeded,
    /// Given up.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl JobEventKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Claimed => "claimed",
            Self::LeaseExpired => "lease_expired",
            Self::Released => "released",
            Self::Retried => "retried",
            Self::CancelRequested => "cancel_requested",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submitted,
            Self::Claimed,
            Self::LeaseExpired,
            Self::Released,
            Self::Retried,
            Self::CancelRequested,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A claimed job and the proof of holding it: heartbeats and the final word must show
/// the lease's token, so a worker whose lease was taken over cannot write over the new
/// holder.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// The job as claimed (state `running`, attempts counted).
    pub job: Job,
    /// The worker holding it.
    pub worker: String,
    /// This claim's token.
    pub token: String,
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    /// Still held, renewed; `cancel_requested` asks the worker to stop at the next trial
    /// boundary.
    Held {
        /// Cancellation was asked for.
        cancel_requested: bool,
    },
    /// Lost (expired and claimed by another worker, or the job was cancelled while
    /// queued): stop working on it and do not report it.
    Lost,
}

/// How a worker's attempt at a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Done.
    Succeeded,
    /// Failed. With [`Remedy::Retry`] the job is queued again (after a back-off) until its
    /// attempts are spent; otherwise it ends `failed` at once.
    Failed {
        /// What went wrong.
        error: String,
        /// Whether another attempt may succeed.
        remedy: Remedy,
    },
    /// Stopped after a cancellation request; what finished is kept.
    Cancelled,
    /// Given back unfinished (the worker is draining): queued again at once, and the
    /// attempt does not count.
    Released,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in one of these states (all when empty).
    pub states: Vec<JobState>,
    /// At most this many, newest first (`None`: all).
    pub limit: Option<usize>,
}

/// A tier's load, for operators (metrics, `jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierStats {
    /// The tier.
    pub tier: String,
    /// Jobs waiting.
    pub queued: u64,
    /// Jobs running under a live lease.
    pub running: u64,
    /// How long the oldest queued job has waited, ms (0 when none waits).
    pub oldest_wait_ms: i64,
}

/// A tier: a class of jobs with a priority, a cap on jobs running at once across all
/// workers, and a cap on each tenant's submissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Its name.
    pub name: String,
    /// Higher is claimed first.
    pub priority: i32,
    /// Jobs of the tier running at once, across all workers (at least 1).
    pub concurrency: u32,
    /// Submissions per tenant per minute (`None`: no limit).
    #[serde(default)]
    pub submissions_per_minute: Option<u32>,
}

/// The queue's configuration: every process of a deployment (workers and submitters)
/// must use the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The tiers.
    pub tiers: Vec<TierConfig>,
    /// A waiting job gains one priority point per this long (ms): a free job that waited
    /// `(100 - 10) × aging` ranks with a new internal one.
    pub aging_ms: u64,
    /// A claim's lease (ms): a worker that sends no heartbeat for this long loses its job.
    pub lease_ms: u64,
    /// Attempts a job gets unless it says otherwise.
    pub max_attempts: u32,
    /// Back-off before a failed attempt is retried: this (ms), doubled per attempt, at
    /// most 60 s.
    pub retry_backoff_ms: u64,
}

impl Default for QueueConfig {
    /// The platform's tiers: internal-optimization (100, 10 at once, no limit),
    /// external-premium (50, 5, 100/min), external-free (10, 2, 10/min); ageing one point
    /// per 10 s; 30 s leases; 3 attempts; 1 s back-off.
    fn default() -> Self {
        Self {
            tiers: vec![
                TierConfig {
                    name: tiers::INTERNAL.into(),
                    priority: 100,
                    concurrency: 10,
                    submissions_per_minute: None,
                },
                TierConfig {
                    name: tiers::PREMIUM.into(),
                    priority: 50,
                    concurrency: 5,
                    submissions_per_minute: Some(100),
                },
                TierConfig {
                    name: tiers::FREE.into(),
                    priority: 10,
                    concurrency: 2,
                    submissions_per_minute: Some(10),
                },
            ],
            aging_ms: 10_000,
            lease_ms: 30_000,
            max_attempts: 3,
            retry_backoff_ms: 1_000,
        }
    }
}

impl QueueConfig {
    /// Checks the configuration: at least one tier, unique non-empty names, concurrency
    /// and attempts at least 1, aging and lease at least 1 ms.
    pub fn validate(&self) -> Result<(), QueueError> {
        if self.tiers.is_empty() {
            return Err(QueueError::invalid("the queue needs at least one tier"));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.tiers {
            if t.name.is_empty() || t.name.len() > 64 {
                return Err(QueueError::invalid("a tier name has 1-64 characters"));
            }
            if !seen.insert(t.name.as_str()) {
                return Err(QueueError::invalid(format!(
                    "tier {:?} appears twice",
                    t.name
                )));
            }
            if t.concurrency == 0 {
                return Err(QueueError::invalid(format!(
                    "tier {:?}: concurrency must be at least 1",
                    t.name
                )));
            }
            if t.submissions_per_minute == Some(0) {
                return Err(QueueError::invalid(format!(
                    "tier {:?}: submissions_per_minute must be at least 1 (omit it for no limit)",
                    t.name
                )));
            }
        }
        if self.max_attempts == 0 || self.aging_ms == 0 || self.lease_ms == 0 {
            return Err(QueueError::invalid(
                "max_attempts, aging_ms and lease_ms must be at least 1",
            ));
        }
        Ok(())
    }

    /// The tier named `name`.
    pub fn tier(&self, name: &str) -> Option<&TierConfig> {
        self.tiers.iter().find(|t| t.name == name)
    }

    /// The tier a context submits into by default: internal contexts into
    /// `internal-optimization`, external ones by their tier.
    pub fn tier_for(cx: &TenantContext) -> &'static str {
        if cx.is_internal() {
            return tiers::INTERNAL;
        }
        match cx.tier {
            Tier::Internal => tiers::INTERNAL,
            Tier::Premium => tiers::PREMIUM,
            Tier::Free => tiers::FREE,
        }
    }

    /// The tier `job` goes into when `cx` submits it: the job's own tier if `cx` may use
    /// it (internal contexts may use any tier, external ones only their own), else an
    /// error; the tier must exist.
    pub fn resolve_tier(
        &self,
        cx: &TenantContext,
        job: &NewJob,
    ) -> Result<&TierConfig, QueueError> {
        let own = Self::tier_for(cx);
        let name = job.tier.as_deref().unwrap_or(own);
        if !cx.is_internal() && name != own {
            return Err(QueueError::new(
                QueueErrorKind::Forbidden,
                format!("an external tenant submits into its own tier ({own}), not {name:?}"),
            ));
        }
        self.tier(name).ok_or_else(|| {
            QueueError::new(
                QueueErrorKind::UnknownTier,
                format!(
                    "unknown tier {name:?}; configured: {}",
                    self.tiers
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// The lease as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// The back-off before attempt `attempts + 1`, after `attempts` failed: the base
    /// doubled per attempt, at most 60 s.
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let factor = 1u64 << attempts.saturating_sub(1).min(16);
        self.retry_backoff_ms.saturating_mul(factor).min(60_000) as i64
    }

    /// `job`'s effective priority at `now_ms`: its priority plus one point per `aging_ms`
    /// waited.
    pub fn effective_priority(&self, priority: i32, submitted_at_ms: i64, now_ms: i64) -> i64 {
        let waited = now_ms.saturating_sub(submitted_at_ms).max(0) as u64;
        i64::from(priority) + (waited / self.aging_ms) as i64
    }
}

/// What kind of queue failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueueErrorKind {
    /// The tenant submitted more than its tier allows per minute; wait
    /// [`QueueError::retry_after`].
    RateLimited,
    /// No such tier in the configuration.
    UnknownTier,
    /// The caller may not do this (another tier, another tenant's job).
    Forbidden,
    /// No such job for this tenant (it may exist for another: we do not say).
    NotFound,
    /// The lease is no longer held (expired and taken over, or the job was cancelled).
    LeaseLost,
    /// The job is not in a state that allows this (cancel a finished job).
    InvalidState,
    /// Invalid input: a job id, a payload too large, a configuration.
    Invalid,
    /// The database failed or is unreachable.
    Backend,
    /// Stored data could not be decoded.
    Corrupt,
}

impl QueueErrorKind {
    /// What a caller can do: wait and retry a rate limit or a backend failure; fix the
    /// request otherwise; give up on corrupt data or a lost lease.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::RateLimited | Self::Backend => Remedy::Retry,
            Self::UnknownTier
            | Self::Forbidden
            | Self::NotFound
            | Self::InvalidState
            | Self::Invalid => Remedy::FixInput,
            Self::LeaseLost | Self::Corrupt => Remedy::GiveUp,
        }
    }
}

/// A queue failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueError {
    kind: QueueErrorKind,
    message: String,
    retry_after: Option<Duration>,
    source: Option<Cause>,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl QueueError {
    /// An error of `kind`.
    pub fn new(kind: QueueErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Invalid input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(QueueErrorKind::Invalid, message)
    }

    /// No job `id` for the caller's tenant.
    pub fn not_found(id: &JobId) -> Self {
        Self::new(
            QueueErrorKind::NotFound,
            format!("no job {id} for this tenant"),
        )
    }

    /// The lease of `id` is no longer held.
    pub fn lease_lost(id: &JobId) -> Self {
        Self::new(
            QueueErrorKind::LeaseLost,
            format!("the lease on job {id} is no longer held"),
        )
    }

    /// Over the tier's submission rate: wait `retry_after`.
    pub fn rate_limited(tier: &str, per_minute: u32, retry_after: Duration) -> Self {
        let mut e = Self::new(
            QueueErrorKind::RateLimited,
            format!(
                "tier {tier} accepts {per_minute} submissions per minute per tenant; retry in {:.1} s",
                retry_after.as_secs_f64()
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// A failure of the database: its message is `cause`'s, kept as the source.
    pub fn backend(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(QueueErrorKind::Backend, cause.to_string()).with_source(cause)
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(crate::error::cause(cause));
        self
    }

    /// What kind of failure.
    pub fn kind(&self) -> QueueErrorKind {
        self.kind
    }

    /// Details (never names another tenant's data).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long to wait before submitting again (rate limits only).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }
}

impl From<StoreError> for QueueError {
    fn from(e: StoreError) -> Self {
        use crate::store::StoreErrorKind as K;
        let kind = match e.kind() {
            K::Corrupt => QueueErrorKind::Corrupt,
            K::NotFound => QueueErrorKind::NotFound,
            _ => QueueErrorKind::Backend,
        };
        Self::new(kind, e.message().to_owned()).with_source(e)
    }
}

/// The durable job queue.
///
/// Tenant-scoped calls ([`get`](Self::get), [`list`](Self::list),
/// [`history`](Self::history), [`cancel`](Self::cancel)) see only the jobs of the
/// context's tenant. Worker calls ([`claim`](Self::claim), [`heartbeat`](Self::heartbeat),
/// [`finish`](Self::finish)) act across tenants, and only through a lease.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// The configuration the queue enforces, which a host may replace while it runs.
    fn live_config(&self) -> &LiveConfig;

    /// The configuration in force now.
    fn config(&self) -> Arc<QueueConfig> {
        self.live_config().current()
    }

    /// Replaces the configuration (tier limits, leases, ageing) from the next call on,
    /// without a restart; an invalid one is refused and the old one stays. Returns the
    /// old one.
    fn reconfigure(&self, config: QueueConfig) -> Result<Arc<QueueConfig>, QueueError> {
        self.live_config().replace(config)
    }

    /// Submits `job` as `cx`: checks the tier ([`QueueConfig::resolve_tier`]), the
    /// tenant's submissions in the last minute (over the limit: `RateLimited` with the
    /// time until the oldest of them leaves the window) and the payload's size; stores it
    /// `queued` with a `submitted` event and wakes a waiting worker.
    async fn submit(&self, cx: &TenantContext, job: NewJob) -> Result<Job, QueueError>;

    /// Claims the job to run next for `worker`, from `tiers` (all when `None`): among
    /// tiers with a free slot, the highest effective priority, oldest first; a `queued`
    /// job whose back-off is over, or a `running` one whose lease expired (recorded as
    /// `lease_expired`, then `claimed`). The claim counts an attempt; a job whose lease
    /// expired with its attempts spent ends `failed` instead of being claimed. `None`
    /// when nothing can be claimed now.
    async fn claim(
        &self,
        worker: &str,
        tiers: Option<&[String]>,
    ) -> Result<Option<Lease>, QueueError>;

    /// Renews `lease` for another [`QueueConfig::lease_ms`], and says whether a
    /// cancellation was asked for; `Lost` when another worker holds the job now or it
    /// reached a terminal state.
    async fn heartbeat(&self, lease: &Lease) -> Result<LeaseStatus, QueueError>;

    /// Ends `lease` with `outcome` and returns the job as left. `LeaseLost` when the lease
    /// is no longer held (nothing is written).
    async fn finish(&self, lease: &Lease, outcome: JobOutcome) -> Result<Job, QueueError>;

    /// Cancels job `id` of `cx`'s tenant: a queued job ends `cancelled` at once; a running
    /// one is marked, and its worker stops at the next trial boundary. `InvalidState` for
    /// a job already finished.
    async fn cancel(&self, cx: &TenantContext, id: &JobId) -> Result<Job, QueueError>;

    /// Job `id` of `cx`'s tenant.
    async fn get(&self, cx: &TenantContext, id: &JobId) -> Result<Option<Job>, QueueError>;

    /// Jobs of `cx`'s tenant, newest first.
    async fn list(&self, cx: &TenantContext, filter: &JobFilter) -> Result<Vec<Job>, QueueError>;

    /// The history of job `id` of `cx`'s tenant, in order (`NotFound` when it is not
    /// the tenant's).
    async fn history(&self, cx: &TenantContext, id: &JobId) -> Result<Vec<JobEvent>, QueueError>;

    /// Each tier's load (across tenants: for operators and metrics; no job content).
    async fn stats(&self) -> Result<Vec<TierStats>, QueueError>;

    /// Returns when work may have appeared (a submission, a released slot, a requeued
    /// job) or after `timeout`, whichever is first. Postgres wakes through
    /// `LISTEN/NOTIFY`; SQLite wakes the processes' own workers at once and others by
    /// the timeout.
    async fn wait_for_work(&self, timeout: Duration);
}

/// A queue's configuration that can be replaced while the queue runs (hot reload):
/// readers take the current one with [`current`](Self::current), a cheap `Arc` clone;
/// [`replace`](Self::replace) validates first and swaps. Clones share the cell.
#[derive(Debug, Clone)]
pub struct LiveConfig(Arc<RwLock<Arc<QueueConfig>>>);

impl Default for LiveConfig {
    /// The platform's default tiers ([`QueueConfig::default`]).
    fn default() -> Self {
        Self(Arc::new(RwLock::new(Arc::new(QueueConfig::default()))))
    }
}

impl LiveConfig {
    /// A cell holding `config` (validated: `Invalid` if it does not hold).
    pub fn new(config: QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        Ok(Self(Arc::new(RwLock::new(Arc::new(config)))))
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<QueueConfig> {
        match self.0.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Validates `config` and puts it in force; returns the one it replaced. An invalid
    /// configuration is refused and the old one stays.
    pub fn replace(&self, config: QueueConfig) -> Result<Arc<QueueConfig>, QueueError> {
        config.validate()?;
        let mut slot = match self.0.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(std::mem::replace(&mut *slot, Arc::new(config)))
    }
}

/// Cuts an error message to [`MAX_ERROR_CHARS`].
pub fn clip_error(message: &str) -> String {
    match message.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tiers_are_the_platforms() {
        let c = QueueConfig::default();
        c.validate().unwrap();
        let t: Vec<_> = c
            .tiers
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.priority,
                    t.concurrency,
                    t.submissions_per_minute,
                )
            })
            .collect();
        assert_eq!(
            t,
            [
                (tiers::INTERNAL, 100, 10, None),
                (tiers::PREMIUM, 50, 5, Some(100)),
                (tiers::FREE, 10, 2, Some(10)),
            ]
        );
    }

    #[test]
    fn contexts_map_to_their_tiers_and_externals_cannot_jump() {
        let c = QueueConfig::default();
        let free = TenantContext::external(TenantId::new("a").unwrap(), Tier::Free, "u");
        let premium = TenantContext::external(TenantId::new("b").unwrap(), Tier::Premium, "u");
        let internal = TenantContext::local_operator();
        let job = |tier: Option<&str>| NewJob {
            tier: tier.map(str::to_owned),
            ..NewJob::new(JobKind::Run, serde_json::Value::Null)
        };
        assert_eq!(c.resolve_tier(&free, &job(None)).unwrap().name, tiers::FREE);
        assert_eq!(
            c.resolve_tier(&premium, &job(None)).unwrap().name,
            tiers::PREMIUM
        );
        assert_eq!(
            c.resolve_tier(&internal, &job(None)).unwrap().name,
            tiers::INTERNAL
        );
        let e = c
            .resolve_tier(&free, &job(Some(tiers::INTERNAL)))
            .unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::Forbidden);
        assert_eq!(
            c.resolve_tier(&internal, &job(Some(tiers::FREE)))
                .unwrap()
                .name,
            tiers::FREE
        );
        let e = c.resolve_tier(&internal, &job(Some("gold"))).unwrap_err();
        assert_eq!(e.kind(), QueueErrorKind::UnknownTier);
        assert!(e.message().contains("external-free"), "{e}");
    }

    #[test]
    fn ageing_adds_a_point_per_interval_and_backoff_doubles_to_a_cap() {
        let c = QueueConfig::default();
        assert_eq!(c.effective_priority(10, 0, 9_999), 10);
        assert_eq!(c.effective_priority(10, 0, 900_000), 100);
        assert_eq!(
            c.effective_priority(10, 5, 0),
            10,
            "clock skew never lowers"
        );
        assert_eq!(c.backoff_ms(1), 1_000);
        assert_eq!(c.backoff_ms(2), 2_000);
        assert_eq!(c.backoff_ms(3), 4_000);
        assert_eq!(c.backoff_ms(40), 60_000);
    }

    #[test]
    fn invalid_configurations_and_ids_are_refused() {
        let mut c = QueueConfig::default();
        c.tiers[1].name = tiers::INTERNAL.into();
        assert_eq!(c.validate().unwrap_err().kind(), QueueErrorKind::Invalid);
        let mut c = QueueConfig::default();
        c.tiers[0].concurrency = 0;
        assert!(c.validate().is_err());
        assert!(JobId::new("job-1").is_ok());
        for bad in ["", "a b", "../x", &"x".repeat(129)] {
            assert_eq!(JobId::new(bad).unwrap_err().kind(), QueueErrorKind::Invalid);
        }
        assert!(JobId::generate().as_str().starts_with("job-"));
    }

    #[test]
    fn live_configurations_swap_only_for_valid_ones() {
        let live = LiveConfig::new(QueueConfig::default()).unwrap();
        let shared = live.clone();
        let mut next = QueueConfig::default();
        next.tiers[2].concurrency = 7;
        let old = live.replace(next).unwrap();
        assert_eq!(old.tiers[2].concurrency, 2);
        assert_eq!(
            shared.current().tiers[2].concurrency,
            7,
            "clones share the cell"
        );
        let mut bad = QueueConfig::default();
        bad.tiers.clear();
        assert_eq!(
            live.replace(bad).unwrap_err().kind(),
            QueueErrorKind::Invalid
        );
        assert_eq!(live.current().tiers[2].concurrency, 7, "the old one stays");
    }

    #[test]
    fn long_errors_are_clipped_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_CHARS + 10);
        let clipped = clip_error(&long);
        assert_eq!(clipped.chars().count(), MAX_ERROR_CHARS + 1);
        assert_eq!(clip_error("short"), "short");
    }
}
