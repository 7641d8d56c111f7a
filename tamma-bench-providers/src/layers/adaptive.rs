//! Adaptive concurrency: additive increase, multiplicative decrease (AIMD) of a limit on
//! calls in flight, driven by the provider's rate-limit errors.

use async_trait::async_trait;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use tamma_bench_core::model::{
    AdaptiveConcurrencyConfig, ConcurrencyChange, ConcurrencyChangeReason, now_ms,
};
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{Completion, ProviderError, ProviderErrorKind};
use tokio::sync::Notify;

/// Changes kept in the history; older ones are dropped first (memory stays bounded
/// however long the run).
pub const MAX_HISTORY: usize = 10_000;

struct State {
    limit: usize,
    in_flight: usize,
    successes: usize,
    /// Bumped at every decrease: calls admitted before it do not cut the limit again, so
    /// a burst of 429s from one window halves the limit once, not once per call.
    generation: u64,
    history: VecDeque<ConcurrencyChange>,
}

struct Shared {
    config: AdaptiveConcurrencyConfig,
    state: Mutex<State>,
    released: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Updates are a few integer writes: a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn push(state: &mut State, reason: ConcurrencyChangeReason) {
    if state.history.len() == MAX_HISTORY {
        state.history.pop_front();
    }
    state.history.push_back(ConcurrencyChange {
        at_ms: now_ms(),
        limit: state.limit,
        reason,
    });
}

/// A cloneable view of an adaptive limit: its current value and its history.
#[derive(Clone)]
pub struct AdaptiveConcurrencyHandle(Arc<Shared>);

impl AdaptiveConcurrencyHandle {
    /// The current limit.
    pub fn limit(&self) -> usize {
        self.0.lock().limit
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.0.lock().in_flight
    }

    /// Every change so far (the starting limit first), oldest first.
    pub fn history(&self) -> Vec<ConcurrencyChange> {
        self.0.lock().history.iter().copied().collect()
    }
}

impl fmt::Debug for AdaptiveConcurrencyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.lock();
        f.debug_struct("AdaptiveConcurrency")
            .field("config", &self.0.config)
            .field("limit", &s.limit)
            .field("in_flight", &s.in_flight)
            .field("changes", &s.history.len())
            .finish()
    }
}

/// Limits calls in flight to a value between `min` and `max` that halves when the
/// provider answers "rate limited" and grows by one after `limit` successes in a row
/// (about one round of calls at the current limit). Other errors leave it alone.
pub struct AdaptiveConcurrencyLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for AdaptiveConcurrencyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AdaptiveConcurrencyLayer")
            .field(&self.handle())
            .finish()
    }
}

/// A slot in flight; releasing it (on drop, also when the call is cancelled) wakes waiters.
struct Slot {
    shared: Arc<Shared>,
    generation: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.lock().in_flight -= 1;
        self.shared.released.notify_waiters();
    }
}

impl AdaptiveConcurrencyLayer {
    /// A layer starting at `config.initial` (or `max`), kept within `[min, max]`.
    pub fn new(config: AdaptiveConcurrencyConfig) -> Self {
        let min = config.min.max(1);
        let max = config.max.max(min);
        let config = AdaptiveConcurrencyConfig {
            min,
            max,
            initial: Some(config.initial_limit().clamp(min, max)),
        };
        let mut state = State {
            limit: config.initial_limit(),
            in_flight: 0,
            successes: 0,
            generation: 0,
            history: VecDeque::new(),
        };
        push(&mut state, ConcurrencyChangeReason::Initial);
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
                released: Notify::new(),
            }),
        }
    }

    /// A handle to read the limit and its history, during and after the run.
    pub fn handle(&self) -> AdaptiveConcurrencyHandle {
        AdaptiveConcurrencyHandle(self.shared.clone())
    }

    async fn acquire(&self) -> Slot {
        loop {
            let released = self.shared.released.notified();
            tokio::pin!(released);
            // Registered before the check, so a release between the check and the wait
            // is not missed.
            released.as_mut().enable();
            {
                let mut s = self.shared.lock();
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    return Slot {
                        shared: self.shared.clone(),
                        generation: s.generation,
                    };
                }
            }
            released.await;
        }
    }

    fn observe(&self, slot: &Slot, result: &Result<Completion, ProviderError>) {
        let config = self.shared.config;
        let mut s = self.shared.lock();
        match result {
            Err(e) if e.kind() == ProviderErrorKind::RateLimited => {
                s.successes = 0;
                if slot.generation == s.generation {
                    s.generation += 1;
                    let lowered = (s.limit / 2).max(config.min);
                    if lowered != s.limit {
                        s.limit = lowered;
                        push(&mut s, ConcurrencyChangeReason::RateLimited);
                        tracing::info!(
                            limit = lowered,
                            "adaptive concurrency: rate limited, limit lowered"
                        );
                    }
                }
            }
            Ok(_) => {
                s.successes += 1;
                if s.successes >= s.limit && s.limit < config.max {
                    s.successes = 0;
                    s.limit += 1;
                    push(&mut s, ConcurrencyChangeReason::Recovered);
                    drop(s);
                    self.shared.released.notify_waiters();
                }
            }
            Err(_) => {}
        }
    }
}

#[async_trait]
impl Layer for AdaptiveConcurrencyLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        let slot = self.acquire().await;
        let result = call.forward().await;
        self.observe(&slot, &result);
        result
    }
}
