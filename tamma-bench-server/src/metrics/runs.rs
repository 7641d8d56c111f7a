//! The metrics fed by the event log: a follower of the host's view of the log, from its
//! head when the service starts, counts every event by type; for each
//! `benchmark.completed` it reads the run's trials through the repository as an internal
//! context of the run's tenant (principal [`PRINCIPAL`], audited as any read) and counts
//! them by provider kind and outcome, the infrastructure failures by error kind, and the
//! latency of the trials that got an answer.
//!
//! Counted once per service instance: several instances behind one scrape job each count
//! every completed run (aggregate with `max`, or scrape one). A run that ends otherwise
//! (interrupted, failed, budget spent) logs no completion and is not counted.

use super::Metrics;
use crate::state::AppState;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench::core::events::follow::Follower;
use tamma_bench::core::events::{EventFilter, EventPayload};
use tamma_bench::core::model::{Outcome, TenantContext, TenantId};
use tamma_bench::privacy::InternalContext;
use tokio_util::sync::CancellationToken;

/// The principal the follower reads trials as.
pub const PRINCIPAL: &str = "tamma-bench-server.metrics";

/// Starts the follower on its own task; it stops when `shutdown` is cancelled.
pub(crate) fn start(state: &AppState, shutdown: &CancellationToken) {
    tokio::spawn(follow(
        state.clone(),
        state.metrics().clone(),
        shutdown.clone(),
    ));
}

/// Follows the log until `stop` is cancelled. Failures are logged and retried after a
/// back-off (1 s doubling to 30 s); a run whose trials cannot be read is skipped.
pub(crate) async fn follow(state: AppState, metrics: Arc<Metrics>, stop: CancellationToken) {
    let mut backoff = Backoff::default();
    let head = loop {
        match state.events().head().await {
            Ok(head) => break head,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the event log's head");
                if !backoff.pause(&stop).await {
                    return;
                }
            }
        }
    };
    let mut follower = Follower::new(state.events().clone(), EventFilter::all(), None, head);
    loop {
        let page = tokio::select! {
            () = stop.cancelled() => return,
            page = follower.next() => page,
        };
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the event log");
                if !backoff.pause(&stop).await {
                    return;
                }
                continue;
            }
        };
        backoff = Backoff::default();
        for event in page {
            metrics.observe_event(event.event_type().as_str());
            if let (EventPayload::BenchmarkCompleted { run_id, .. }, Some(tenant)) =
                (&event.payload, &event.tenant_id)
            {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = count_trials(&state, &metrics, tenant, run_id) => {}
                }
            }
        }
    }
}

/// Counts the trials of run `run_id` of `tenant`.
async fn count_trials(state: &AppState, metrics: &Metrics, tenant: &TenantId, run_id: &str) {
    let cx = TenantContext::internal(tenant.clone(), PRINCIPAL);
    let export = match InternalContext::new(cx) {
        Ok(icx) => state.repository().internal_trials(&icx, run_id).await,
        Err(e) => Err(e),
    };
    let export = match export {
        Ok(export) => export,
        Err(e) => {
            tracing::warn!(error = %e, run_id, "metrics: cannot read a completed run's trials");
            return;
        }
    };
    let providers: Vec<(String, String)> = export
        .run()
        .agents
        .iter()
        .map(|a| (a.name.clone(), a.provider.clone()))
        .collect();
    let provider_of = |agent: &str| {
        providers
            .iter()
            .find(|(name, _)| name == agent)
            .map_or("unknown", |(_, p)| p.as_str())
    };
    let mut trials = export.stream();
    while let Some(trial) = trials.next().await {
        let trial = match trial {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, run_id, "metrics: a completed run's trials stopped");
                return;
            }
        };
        let provider = provider_of(&trial.key.agent);
        let (error_kind, answered) = match &trial.outcome {
            Outcome::InfraFailure { error, .. } => (Some(kind_name(error)), false),
            _ => (None, true),
        };
        let latency = (answered && !trial.cache_hit && trial.latency_ms.is_finite())
            .then(|| Duration::from_secs_f64(trial.latency_ms.max(0.0) / 1e3));
        metrics.observe_trial(provider, trial.outcome.kind_name(), error_kind, latency);
    }
}

/// The error kind's snake_case name (as stored and documented).
fn kind_name(kind: &impl serde::Serialize) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "other".to_owned(),
    }
}

/// A back-off doubling from 1 s to 30 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_secs(1))
    }
}

impl Backoff {
    /// Waits the back-off (doubled for next time); `false` when `stop` came first.
    async fn pause(&mut self, stop: &CancellationToken) -> bool {
        let wait = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
        tokio::select! {
            () = stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}
