//! Retry: exponential backoff with full jitter, never less than the provider's advertised
//! wait, up to a number of attempts and an overall deadline. The one place of the
//! workspace that retries a provider call.
//!
//! The loop is written here rather than with `backon`: backon's jitter adds a draw from
//! `[0, delay)` to the delay (so waits fall in `[delay, 2·delay)`), not the full jitter
//! `[0, cap]` that spreads a burst of rate-limited clients; its total-delay limit counts
//! sleeps but not the calls between them; and each attempt here needs what a generic
//! driver does not give: its attempt number in the call context, a check that a streaming
//! attempt handed out no text before it failed, and waits clamped to [`MAX_WAIT`].

use super::{Call, Layer};
use crate::model::RetryLayerConfig;
use crate::provider::{CallContext, Capabilities, Completion, ProviderError, ProviderErrorKind};
use async_trait::async_trait;
use rand::Rng;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest single wait before a retry: longer advertised waits (a `Retry-After` of
/// years) and longer configured delays are clamped to it. One hour.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// When and how long to wait before retrying a retryable provider error.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1 = never retry).
    pub max_attempts: u32,
    /// Base delay of the exponential backoff.
    pub base_delay: Duration,
    /// Cap on one delay (a longer retry-after from the provider is still honoured, up to
    /// [`MAX_WAIT`]).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 500 ms base, 60 s cap.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed:
    /// a full-jitter draw from `[0, min(max_delay, base_delay · 2^(attempt-1))]`, and
    /// never less than the provider's `retry_after`; at most [`MAX_WAIT`] whatever the
    /// inputs (no input makes it panic).
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_delay).min(MAX_WAIT);
        // MAX_WAIT in nanoseconds fits a u64 with room to spare.
        let cap_ns = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(rng.random_range(0..=cap_ns));
        jittered.max(retry_after.unwrap_or(Duration::ZERO).min(MAX_WAIT))
    }
}

tokio::task_local! {
    /// Attempts made by the outermost retry layer of the call being counted.
    static ATTEMPTS: Cell<u32>;
}

/// Runs `call` (a call of a provider stack) and returns its output with the number of
/// attempts the outermost [`RetryLayer`] inside it made: the calls that reached the
/// provider below it. 1 when no retry layer ran (a stack without one, or a cache hit
/// above it). The executor records it as the trial's `attempts`.
///
/// The count travels beside the call rather than in `Completion` or `ProviderError`:
/// it is what the executor records, not part of what a provider answers.
pub async fn counting_attempts<F: Future>(call: F) -> (F::Output, u32) {
    ATTEMPTS
        .scope(Cell::new(0), async {
            let output = call.await;
            (output, ATTEMPTS.with(Cell::get).max(1))
        })
        .await
}

fn count_attempt(attempt: u32) {
    // Outside `counting_attempts` there is nothing to count into.
    let _ = ATTEMPTS.try_with(|n| n.set(attempt));
}

/// Retries retryable errors of the inner provider under a [`RetryPolicy`].
///
/// The wait before attempt `n + 1` is [`RetryPolicy::delay`]. With a deadline, no attempt
/// starts unless it can start before the deadline, and a running attempt is cut at the
/// deadline (a `timeout` error). Attempt `n` reaches the inner provider with
/// `cx.attempt = n`. A streaming attempt that failed after handing out text is not
/// retried (the text cannot be taken back, and a retry's text would follow it).
///
/// A provider wrapped in it reports [`Capabilities::retries`], so the executor adds no
/// retry of its own: at most `max_attempts` calls reach the provider per trial.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
    deadline: Option<Duration>,
    cancel: Option<CancellationToken>,
}

impl RetryLayer {
    /// Retries under `policy`, with no overall deadline.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            deadline: None,
            cancel: None,
        }
    }

    /// The layer an agent's `[agent.layers.retry]` table describes.
    pub fn from_config(config: &RetryLayerConfig) -> Self {
        let layer = Self::new(RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            base_delay: Duration::from_millis(config.base_delay_ms),
            max_delay: Duration::from_millis(config.max_delay_ms),
        });
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

    /// Ends a wait before a retry with a `cancelled` error when `cancel` is cancelled (a
    /// call in flight still finishes): how a cancelled run leaves a trial that was
    /// waiting to retry unwritten, for the resumed run to execute.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

fn gave_up(mut e: ProviderError, attempts: u32, why: &str) -> ProviderError {
    if attempts > 1 || !why.is_empty() {
        e.message = format!("{} (gave up after {attempts} attempt(s){why})", e.message);
    }
    e
}

#[async_trait]
impl Layer for RetryLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        // A deadline too far to represent is no deadline.
        let deadline = self.deadline.and_then(|d| Instant::now().checked_add(d));
        let streamed = AtomicBool::new(false);
        let caller = call.on_delta();
        let watch = |delta: &str| {
            streamed.store(true, Ordering::Relaxed);
            if let Some(on_delta) = caller {
                on_delta(delta);
            }
        };
        let call = call.watching(&watch);
        let mut retry_cx: Option<CallContext> = None;
        let mut attempt = 1;
        loop {
            let attempt_cx = retry_cx.as_ref().unwrap_or(call.cx);
            count_attempt(attempt);
            let attempt_call = call.forward_as(attempt_cx);
            let result = match deadline {
                Some(at) => tokio::time::timeout_at(at, attempt_call)
                    .await
                    .unwrap_or_else(|_| {
                        Err(ProviderError::new(
                            ProviderErrorKind::Timeout,
                            "retry deadline passed during the call",
                        ))
                    }),
                None => attempt_call.await,
            };
            let e = match result {
                Err(e) if e.is_retryable() && attempt < self.policy.max_attempts => e,
                Err(e) => return Err(gave_up(e, attempt, "")),
                ok => return ok,
            };
            if streamed.load(Ordering::Relaxed) {
                return Err(gave_up(
                    e,
                    attempt,
                    ", after part of the answer was streamed",
                ));
            }
            let wait = self.policy.delay(attempt, e.retry_after, &mut rand::rng());
            let too_late = |at: Instant| Instant::now().checked_add(wait).is_none_or(|t| t >= at);
            if deadline.is_some_and(too_late) {
                return Err(gave_up(e, attempt, ", the retry deadline comes first"));
            }
            tracing::debug!(
                agent = %call.cx.agent, case = %call.cx.case_id, epoch = call.cx.epoch,
                attempt, kind = %e.kind, ?wait, "retrying"
            );
            let cancelled = async {
                match &self.cancel {
                    Some(cancel) => cancel.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancelled => return Err(ProviderError::new(
                    ProviderErrorKind::Cancelled,
                    format!("cancelled while waiting to retry: {e}"),
                )),
            }
            attempt += 1;
            retry_cx.get_or_insert_with(|| call.cx.clone()).attempt = attempt;
        }
    }

    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        Capabilities {
            retries: true,
            ..inner
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn delay_is_capped_jittered_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..10 {
            let d = p.delay(attempt, None, &mut rng);
            let cap = Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            assert!(d <= cap, "attempt {attempt}: {d:?} > {cap:?}");
        }
        let d = p.delay(1, Some(Duration::from_secs(3)), &mut rng);
        assert!(d >= Duration::from_secs(3));
    }

    #[test]
    fn an_advertised_wait_of_centuries_is_clamped_to_the_maximum() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let huge = Some(Duration::from_secs(u64::MAX));
        assert_eq!(RetryPolicy::default().delay(1, huge, &mut rng), MAX_WAIT);
        assert_eq!(
            RetryPolicy::default().delay(1, Some(Duration::MAX), &mut rng),
            MAX_WAIT
        );
    }

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::MAX),
            Just(Duration::ZERO),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            any::<u64>().prop_map(Duration::from_millis),
        ]
    }

    proptest! {
        #[test]
        fn delay_never_panics_and_stays_within_its_bounds(
            attempt in any::<u32>(),
            base in duration(),
            max in duration(),
            retry_after in proptest::option::of(duration()),
            seed in any::<u64>(),
        ) {
            let p = RetryPolicy { max_attempts: 5, base_delay: base, max_delay: max };
            let d = p.delay(attempt, retry_after, &mut rand::rngs::StdRng::seed_from_u64(seed));
            prop_assert!(d <= MAX_WAIT);
            prop_assert!(d <= max.min(MAX_WAIT).max(retry_after.unwrap_or_default().min(MAX_WAIT)));
            if let Some(r) = retry_after {
                prop_assert!(d >= r.min(MAX_WAIT));
            }
        }
    }
}
