//! Retry: exponential backoff with full jitter, honouring the provider's retry-after, up
//! to a number of attempts and an overall deadline. Only retryable error kinds are retried.

use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::executor::RetryPolicy;
use tamma_bench_core::model::RetryLayerConfig;
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ProviderErrorKind,
};
use tokio::time::Instant;

/// Retries retryable errors of the inner provider.
///
/// The wait before attempt `n + 1` is a full-jitter draw from
/// `[0, min(max_delay, base_delay · 2^(n-1))]` and never less than the error's
/// `retry_after` (the executor's [`RetryPolicy::delay`]). With a deadline, no attempt
/// starts unless it can start before the deadline, and a running attempt is cut at the
/// deadline (a `timeout` error).
pub struct RetryLayer {
    inner: Arc<dyn Provider>,
    policy: RetryPolicy,
    deadline: Option<Duration>,
}

impl fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("inner", &self.inner.name())
            .field("policy", &self.policy)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl RetryLayer {
    /// Retries under `policy`, with no overall deadline.
    pub fn new(inner: Arc<dyn Provider>, policy: RetryPolicy) -> Self {
        Self {
            inner,
            policy,
            deadline: None,
        }
    }

    /// The layer an agent's `[agent.layers.retry]` table describes.
    pub fn from_config(inner: Arc<dyn Provider>, config: &RetryLayerConfig) -> Self {
        let policy = RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            base_delay: Duration::from_millis(config.base_delay_ms),
            max_delay: Duration::from_millis(config.max_delay_ms),
        };
        let layer = Self::new(inner, policy);
        match config.deadline_ms {
            Some(ms) => layer.with_deadline(Duration::from_millis(ms)),
            None => layer,
        }
    }

    /// Gives up once `deadline` has passed since the first attempt started.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

fn gave_up(e: ProviderError, attempts: u32, why: &str) -> ProviderError {
    if attempts > 1 || !why.is_empty() {
        let message = format!("{} (gave up after {attempts} attempt(s){why})", e.message());
        return e.with_message(message);
    }
    e
}

#[async_trait]
impl Provider for RetryLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let started = Instant::now();
        let deadline = self.deadline.map(|d| started + d);
        let mut attempt = 1;
        loop {
            let call = self.inner.complete(request, cx);
            let result = match deadline {
                Some(at) => tokio::time::timeout_at(at, call).await.unwrap_or_else(|_| {
                    Err(ProviderError::new(
                        ProviderErrorKind::Timeout,
                        "retry deadline passed during the call",
                    ))
                }),
                None => call.await,
            };
            let e = match result {
                Err(e) if e.is_retryable() && attempt < self.policy.max_attempts => e,
                Err(e) => return Err(gave_up(e, attempt, "")),
                ok => return ok,
            };
            let wait = self
                .policy
                .delay(attempt, e.retry_after(), &mut rand::rng());
            if deadline.is_some_and(|at| Instant::now() + wait >= at) {
                return Err(gave_up(e, attempt, ", the retry deadline comes first"));
            }
            tracing::debug!(
                agent = %cx.agent, case = %cx.case_id, epoch = cx.epoch,
                layer_attempt = attempt, kind = %e.kind(), ?wait, "retry layer: retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}
