//! Jobs of the caller's tenant, from the queue.

use async_graphql::{Enum, ID, Object};
use tamma_bench::core::model::utc_rfc3339;
use tamma_bench::core::queue;

/// Where a job is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker.
    Running,
    /// Finished.
    Succeeded,
    /// Given up.
    Failed,
    /// Cancelled (what finished is kept).
    Cancelled,
}

impl From<queue::JobState> for JobState {
    fn from(s: queue::JobState) -> Self {
        match s {
            queue::JobState::Queued => Self::Queued,
            queue::JobState::Running => Self::Running,
            queue::JobState::Succeeded => Self::Succeeded,
            queue::JobState::Failed => Self::Failed,
            queue::JobState::Cancelled => Self::Cancelled,
        }
    }
}

impl From<JobState> for queue::JobState {
    fn from(s: JobState) -> Self {
        match s {
            JobState::Queued => Self::Queued,
            JobState::Running => Self::Running,
            JobState::Succeeded => Self::Succeeded,
            JobState::Failed => Self::Failed,
            JobState::Cancelled => Self::Cancelled,
        }
    }
}

/// What a job does.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A benchmark run.
    Run,
    /// An optimization study.
    Study,
}

impl From<queue::JobKind> for JobKind {
    fn from(k: queue::JobKind) -> Self {
        match k {
            queue::JobKind::Run => Self::Run,
            queue::JobKind::Study => Self::Study,
        }
    }
}

/// A job of the caller's tenant.
#[derive(Debug, Clone)]
pub struct Job(pub(crate) queue::Job);

/// A queued run or study of your tenant.
#[Object]
impl Job {
    /// Job id.
    async fn id(&self) -> ID {
        ID(self.0.id.as_str().to_owned())
    }

    /// Run or study.
    async fn kind(&self) -> JobKind {
        self.0.kind.into()
    }

    /// The queue tier it runs in.
    async fn tier(&self) -> &str {
        &self.0.tier
    }

    /// The run (or study) it writes.
    async fn run_id(&self) -> &str {
        &self.0.run_id
    }

    /// Where it is.
    async fn state(&self) -> JobState {
        self.0.state.into()
    }

    /// A cancellation was asked for while it ran; it stops at the next trial.
    async fn cancel_requested(&self) -> bool {
        self.0.cancel_requested
    }

    /// Submitted, UTC RFC 3339.
    async fn submitted_at(&self) -> String {
        utc_rfc3339(self.0.submitted_at_ms)
    }

    /// Last claimed by a worker, UTC RFC 3339.
    async fn started_at(&self) -> Option<String> {
        self.0.started_at_ms.map(utc_rfc3339)
    }

    /// Reached its final state, UTC RFC 3339.
    async fn finished_at(&self) -> Option<String> {
        self.0.finished_at_ms.map(utc_rfc3339)
    }
}
