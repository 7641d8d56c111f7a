//! The worker loop: claims jobs up to its slots, keeps their leases alive, hands each to
//! the host's [`JobRunner`], reports how it ended, and drains on shutdown.
//!
//! A job is stopped (at the next trial boundary: the runner passes the stop token to the
//! executor as its cancellation) when its tenant cancels it, when its lease is lost (a
//! heartbeat says another worker took it, or no heartbeat has succeeded for a whole
//! lease), or when the worker drains. A drained job is released: queued again at once,
//! its attempt given back, and the next worker resumes it at trial level.

use super::{Job, JobOutcome, JobQueue, Lease, LeaseStatus, QueueError};
use crate::error::Remedy;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Why a job was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its tenant cancelled it.
    Cancelled,
    /// Its lease is lost: another worker may be running it.
    LeaseLost,
    /// The worker is shutting down.
    Draining,
}

/// The signal a runner watches: cancelled when the job must stop at the next trial
/// boundary.
#[derive(Debug, Clone)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<AtomicU8>,
}

impl Stop {
    fn new() -> Self {
        Self {
            token: CancellationToken::new(),
            reason: Arc::new(AtomicU8::new(0)),
        }
    }

    /// The token to pass to the executor (`RunOptions::cancel`).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Why the job was stopped, once it was.
    pub fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::Acquire) {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::LeaseLost),
            3 => Some(StopReason::Draining),
            _ => None,
        }
    }

    fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => 1,
            StopReason::LeaseLost => 2,
            StopReason::Draining => 3,
        };
        // The first reason wins: a lost lease is never reported as a cancellation.
        let _ = self
            .reason
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
        self.token.cancel();
    }
}

/// How a runner's attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The job's work is complete.
    Finished,
    /// The work stopped early because [`Stop`] fired; what finished is stored.
    Stopped,
}

/// Why a runner's attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    /// What went wrong.
    pub message: String,
    /// Whether another attempt may succeed.
    pub remedy: Remedy,
}

impl JobFailure {
    /// A failure from any error with a remedy.
    pub fn new(message: impl Into<String>, remedy: Remedy) -> Self {
        Self {
            message: message.into(),
            remedy,
        }
    }
}

/// Runs the jobs a worker claims: the host's half (it builds providers and writes
/// through its repository).
#[async_trait]
pub trait JobRunner: Send + Sync {
    /// Runs `job` (resuming what an earlier attempt stored), stopping at the next trial
    /// boundary once `stop` fires.
    async fn run(&self, job: &Job, stop: Stop) -> Result<RunEnd, JobFailure>;
}

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its id, unique in the deployment (shown in job histories).
    pub id: String,
    /// Tiers it claims from (`None`: all).
    pub tiers: Option<Vec<String>>,
    /// Jobs it runs at once.
    pub slots: usize,
    /// Longest idle wait between claims when nothing wakes it.
    pub idle_poll: Duration,
    /// On shutdown, how long running jobs may go on before they are stopped and
    /// released (zero: stop them at the next trial boundary at once).
    pub drain_grace: Duration,
}

impl WorkerOptions {
    /// A worker with id `id`, all tiers, 4 slots, a 5 s idle poll and no drain grace.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            tiers: None,
            slots: 4,
            idle_poll: Duration::from_secs(5),
            drain_grace: Duration::ZERO,
        }
    }

    /// A worker id from the host name, the process id and a random suffix.
    pub fn default_id() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".into());
        let suffix: u16 = rand::random();
        format!("{host}-{}-{suffix:04x}", std::process::id())
    }
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs claimed.
    pub claimed: u64,
    /// Jobs finished.
    pub succeeded: u64,
    /// Attempts that failed (queued again or given up).
    pub failed: u64,
    /// Jobs stopped after a cancellation.
    pub cancelled: u64,
    /// Jobs released on shutdown.
    pub released: u64,
    /// Jobs whose lease was lost (not reported: another worker has them).
    pub lost: u64,
}

/// Runs the worker until `shutdown` fires, then drains: no new claims; running jobs get
/// [`WorkerOptions::drain_grace`] to finish, then stop at a trial boundary and are
/// released. Queue failures are logged and retried with a back-off: a database that
/// goes away and comes back costs time, not jobs.
pub async fn run_worker(
    queue: Arc<dyn JobQueue>,
    runner: Arc<dyn JobRunner>,
    options: WorkerOptions,
    shutdown: CancellationToken,
) -> WorkerReport {
    let slots = options.slots.max(1);
    let mut report = WorkerReport::default();
    let mut running: JoinSet<Ended> = JoinSet::new();
    let mut stops: Vec<(String, Stop)> = Vec::new();
    let mut failures = 0u32;
    tracing::info!(worker = %options.id, slots, "worker started");
    while !shutdown.is_cancelled() {
        // Claim while there are free slots and jobs to claim.
        let mut claim_error = false;
        while running.len() < slots && !shutdown.is_cancelled() {
            match queue.claim(&options.id, options.tiers.as_deref()).await {
                Ok(Some(lease)) => {
                    failures = 0;
                    report.claimed += 1;
                    tracing::info!(
                        worker = %options.id, job = %lease.job.id, tier = %lease.job.tier,
                        attempt = lease.job.attempts, "job claimed"
                    );
                    let stop = Stop::new();
                    stops.push((lease.token.clone(), stop.clone()));
                    running.spawn(attempt(queue.clone(), runner.clone(), lease, stop));
                }
                Ok(None) => break,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(worker = %options.id, error = %e, "claim failed");
                    claim_error = true;
                    break;
                }
            }
        }
        let idle = if claim_error {
            // 0.5 s, 1 s, 2 s, ... up to the idle poll.
            Duration::from_millis(250u64 << failures.min(8)).min(options.idle_poll)
        } else {
            options.idle_poll
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                settle(done, &mut report, &mut stops);
            }
            _ = queue.wait_for_work(idle), if running.len() < slots => {}
        }
        // Collect whatever else has finished meanwhile.
        while let Some(done) = running.try_join_next() {
            settle(done, &mut report, &mut stops);
        }
    }

    tracing::info!(worker = %options.id, running = running.len(), "worker draining");
    if !options.drain_grace.is_zero() && !running.is_empty() {
        let deadline = tokio::time::Instant::now() + options.drain_grace;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(Some(done)) => settle(done, &mut report, &mut stops),
                Ok(None) | Err(_) => break,
            }
        }
    }
    for (_, stop) in &stops {
        stop.stop(StopReason::Draining);
    }
    while let Some(done) = running.join_next().await {
        settle(done, &mut report, &mut stops);
    }
    tracing::info!(worker = %options.id, ?report, "worker stopped");
    report
}

/// How one attempt ended, for the report.
enum Ended {
    Succeeded(String),
    Failed(String),
    Cancelled(String),
    Released(String),
    Lost(String),
}

fn settle(
    done: Result<Ended, tokio::task::JoinError>,
    report: &mut WorkerReport,
    stops: &mut Vec<(String, Stop)>,
) {
    let token = match done {
        Ok(Ended::Succeeded(t)) => {
            report.succeeded += 1;
            t
        }
        Ok(Ended::Failed(t)) => {
            report.failed += 1;
            t
        }
        Ok(Ended::Cancelled(t)) => {
            report.cancelled += 1;
            t
        }
        Ok(Ended::Released(t)) => {
            report.released += 1;
            t
        }
        Ok(Ended::Lost(t)) => {
            report.lost += 1;
            t
        }
        Err(e) => {
            // The attempt's task panicked or was aborted; its lease expires and another
            // worker takes the job. Its stop handle can no longer be matched: drop the
            // ones whose tokens have fired.
            tracing::error!(error = %e, "job task failed");
            report.failed += 1;
            stops.retain(|(_, s)| !s.token.is_cancelled());
            return;
        }
    };
    stops.retain(|(t, _)| *t != token);
}

/// One attempt: a heartbeat beside the runner, then the outcome reported.
async fn attempt(
    queue: Arc<dyn JobQueue>,
    runner: Arc<dyn JobRunner>,
    lease: Lease,
    stop: Stop,
) -> Ended {
    let token = lease.token.clone();
    let heartbeat = tokio::spawn(keep_alive(queue.clone(), lease.clone(), stop.clone()));
    let result = runner.run(&lease.job, stop.clone()).await;
    heartbeat.abort();
    let outcome = match (&result, stop.reason()) {
        (_, Some(StopReason::LeaseLost)) => {
            tracing::warn!(job = %lease.job.id, "lease lost: the job is left to its new holder");
            return Ended::Lost(token);
        }
        (Ok(RunEnd::Finished), _) => JobOutcome::Succeeded,
        (Ok(RunEnd::Stopped), Some(StopReason::Cancelled)) => JobOutcome::Cancelled,
        (Ok(RunEnd::Stopped), _) => JobOutcome::Released,
        (Err(f), Some(StopReason::Draining)) if f.remedy == Remedy::Retry => JobOutcome::Released,
        (Err(f), _) => JobOutcome::Failed {
            error: f.message.clone(),
            remedy: f.remedy,
        },
    };
    let ended = match &outcome {
        JobOutcome::Succeeded => Ended::Succeeded(token.clone()),
        JobOutcome::Failed { .. } => Ended::Failed(token.clone()),
        JobOutcome::Cancelled => Ended::Cancelled(token.clone()),
        JobOutcome::Released => Ended::Released(token.clone()),
    };
    // Report, retrying a failing database until the lease would have expired anyway.
    let deadline = Instant::now() + queue.config().lease();
    let mut wait = Duration::from_millis(200);
    loop {
        match queue.finish(&lease, outcome.clone()).await {
            Ok(job) => {
                tracing::info!(job = %job.id, state = %job.state, "job attempt reported");
                return ended;
            }
            Err(e) if e.kind() == super::QueueErrorKind::LeaseLost => {
                tracing::warn!(job = %lease.job.id, "lease lost before the outcome was reported");
                return Ended::Lost(token);
            }
            Err(e) if Instant::now() + wait < deadline && e.remedy() == Remedy::Retry => {
                tracing::warn!(job = %lease.job.id, error = %e, "reporting the outcome failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(job = %lease.job.id, error = %e, "the outcome could not be reported; the lease will expire");
                return Ended::Lost(token);
            }
        }
    }
}

/// Renews the lease every third of its length; stops the job when the tenant cancels
/// it, when the lease is lost, or when no renewal succeeded for a whole lease.
async fn keep_alive(queue: Arc<dyn JobQueue>, lease: Lease, stop: Stop) {
    let length = queue.config().lease();
    let every = (length / 3).max(Duration::from_millis(10));
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        match queue.heartbeat(&lease).await {
            Ok(LeaseStatus::Held { cancel_requested }) => {
                renewed = Instant::now();
                if cancel_requested && stop.reason().is_none() {
                    tracing::info!(job = %lease.job.id, "cancellation requested: stopping at the next trial boundary");
                    stop.stop(StopReason::Cancelled);
                }
            }
            Ok(LeaseStatus::Lost) => {
                stop.stop(StopReason::LeaseLost);
                return;
            }
            Err(e) => {
                tracing::warn!(job = %lease.job.id, error = %e, "heartbeat failed");
                if renewed.elapsed() >= length {
                    stop.stop(StopReason::LeaseLost);
                    return;
                }
            }
        }
    }
}

/// Whether `e` means the queue's database is unreachable for now (retry later).
pub fn is_transient(e: &QueueError) -> bool {
    e.remedy() == Remedy::Retry
}
