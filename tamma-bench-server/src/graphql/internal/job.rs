//! Jobs with their operational fields, and the queue's load.

use crate::graphql::caller::internal;
use crate::graphql::error;
use crate::graphql::public::{Job, JobState};
use async_graphql::{Context, Object, Result, SimpleObject};
use tamma_bench::core::model::utc_rfc3339;
use tamma_bench::core::queue;

/// A job with what only the platform sees.
#[derive(Debug, Clone)]
pub struct InternalJob(pub(crate) queue::Job);

/// A job of the internal caller's tenant: the public part, attempts, worker, errors,
/// history.
#[Object]
impl InternalJob {
    /// The public part.
    async fn job(&self) -> Job {
        Job(self.0.clone())
    }

    /// The principal that submitted it.
    async fn principal(&self) -> &str {
        &self.0.context.principal
    }

    /// Its tier's priority when submitted.
    async fn priority(&self) -> i32 {
        self.0.priority
    }

    /// Claims so far.
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// Attempts allowed.
    async fn max_attempts(&self) -> u32 {
        self.0.max_attempts
    }

    /// The worker holding (or that last held) it.
    async fn worker(&self) -> Option<&str> {
        self.0.worker.as_deref()
    }

    /// The last failure's message.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// Not claimable before (a retry's back-off), UTC RFC 3339.
    async fn available_at(&self) -> String {
        utc_rfc3339(self.0.available_at_ms)
    }

    /// The running lease ends (unless renewed), UTC RFC 3339.
    async fn lease_until(&self) -> Option<String> {
        self.0.lease_until_ms.map(utc_rfc3339)
    }

    /// What happened to it, in order.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<JobEvent>> {
        let (caller, icx) = internal(ctx)?;
        let events = caller
            .queue
            .history(icx.context(), &self.0.id)
            .await
            .map_err(error::queue)?;
        Ok(events
            .into_iter()
            .map(|e| JobEvent {
                seq: e.seq,
                at: utc_rfc3339(e.at_ms),
                kind: e.kind.as_str().to_owned(),
                state: e.state.into(),
                worker: e.worker,
                message: e.message,
            })
            .collect())
    }
}

/// One entry of a job's history.
#[derive(SimpleObject, Debug, Clone)]
pub struct JobEvent {
    /// 1, 2, ... in the job's order.
    pub seq: u64,
    /// When, UTC RFC 3339.
    pub at: String,
    /// What happened: `submitted`, `claimed`, `lease_expired`, `released`, `retried`,
    /// `cancel_requested`, `succeeded`, `failed`, `cancelled`.
    pub kind: String,
    /// The state the job was left in.
    pub state: JobState,
    /// The worker involved.
    pub worker: Option<String>,
    /// Details (an error's message, who cancelled).
    pub message: Option<String>,
}

/// A queue tier's load.
#[derive(SimpleObject, Debug, Clone)]
pub struct TierLoad {
    /// The tier.
    pub tier: String,
    /// Jobs waiting.
    pub queued: u64,
    /// Jobs running under a live lease.
    pub running: u64,
    /// How long the oldest queued job has waited, ms.
    pub oldest_wait_ms: i64,
}
