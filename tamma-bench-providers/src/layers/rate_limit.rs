//! Rate limits: requests and tokens per minute per provider and key, with `governor`
//! (GCRA), shared through a registry by every agent on the same key.
//!
//! Tokens are estimated before the call (prompt characters / 4, plus `max_tokens`). When
//! the answer used more than the estimate, the excess is charged to the next call of the
//! same key; an over-estimate cannot be refunded (GCRA has no credit), so the limit errs
//! on the side of calling too slowly. Without `max_tokens` only the prompt is estimated
//! and the output is charged afterwards in full.
//!
//! A wait for the limiter counts against the executor's attempt timeout
//! (`RunOptions::attempt_timeout`): a limit far below what a run's concurrency asks for
//! turns waits into timeouts, so size the executor's concurrency to the limit.

use async_trait::async_trait;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tamma_bench_core::model::{AgentConfig, RateLimitConfig};
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{Completion, CompletionRequest, ProviderError};

/// Governor's clock on tokio's time, so limiter waits follow a paused test clock.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// What a rate limit belongs to: the provider kind, its base URL and the *name* of the
/// variable holding the key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimiterKey {
    /// Provider kind (`openai`, ...).
    pub provider: String,
    /// Base URL, when the agent sets one.
    pub base_url: Option<String>,
    /// Name of the key's environment variable.
    pub api_key_env: Option<String>,
}

impl LimiterKey {
    /// The key of `agent`.
    pub fn of(agent: &AgentConfig) -> Self {
        Self {
            provider: agent.provider.clone(),
            base_url: agent
                .base_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            api_key_env: agent.api_key_env.clone(),
        }
    }
}

/// The limiters of one key.
pub struct KeyLimits {
    config: RateLimitConfig,
    clock: TokioClock,
    requests: Option<Limiter>,
    tokens: Option<(Limiter, u32)>,
    /// Tokens used beyond the estimates, charged to the next call.
    token_debt: AtomicU64,
}

impl fmt::Debug for KeyLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLimits")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KeyLimits {
    /// Limiters for `config` (a zero or absent limit is no limit).
    pub fn new(config: RateLimitConfig) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        let per_minute = |n: Option<u32>| {
            n.and_then(NonZeroU32::new).map(|n| {
                (
                    Limiter::direct_with_clock(Quota::per_minute(n), clock),
                    n.get(),
                )
            })
        };
        Self {
            config,
            clock,
            requests: per_minute(config.requests_per_minute).map(|(l, _)| l),
            tokens: per_minute(config.tokens_per_minute),
            token_debt: AtomicU64::new(0),
        }
    }

    /// The limits.
    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    async fn take(&self, limiter: &Limiter, cells: u32, burst: u32) {
        // More cells than a minute's budget can never conform: take the whole budget.
        let Some(n) = NonZeroU32::new(cells.clamp(1, burst.max(1))) else {
            return;
        };
        loop {
            match limiter.check_n(n) {
                Ok(Ok(())) | Err(_) => return,
                Ok(Err(not_until)) => {
                    // At least 1 ms, so rounding can never make this spin.
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }

    /// Waits until a request of `estimated_tokens` fits both limits, and takes it.
    pub async fn acquire(&self, estimated_tokens: u64) {
        if let Some(requests) = &self.requests {
            self.take(requests, 1, u32::MAX).await;
        }
        if let Some((tokens, burst)) = &self.tokens {
            let debt = self.token_debt.swap(0, Ordering::Relaxed);
            let cells = estimated_tokens.saturating_add(debt);
            self.take(tokens, u32::try_from(cells).unwrap_or(u32::MAX), *burst)
                .await;
        }
    }

    /// Charges the tokens a call used beyond its estimate to the next call.
    pub fn settle(&self, estimated_tokens: u64, used_tokens: u64) {
        if self.tokens.is_some() && used_tokens > estimated_tokens {
            self.token_debt
                .fetch_add(used_tokens - estimated_tokens, Ordering::Relaxed);
        }
    }
}

/// The tokens a request is assumed to use before it is sent: characters of the messages
/// and tool definitions / 4, plus `max_tokens`.
pub fn estimate_tokens(request: &CompletionRequest) -> u64 {
    let chars: usize = request
        .messages
        .iter()
        .map(|m| m.content.chars().count())
        .sum::<usize>()
        + request
            .tools
            .iter()
            .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len())
            .sum::<usize>();
    chars as u64 / 4 + u64::from(request.max_tokens.unwrap_or(0))
}

/// The rate limits of a run, one set per [`LimiterKey`], so that agents on one key share
/// one budget.
#[derive(Debug, Default)]
pub struct LimiterRegistry {
    limits: Mutex<HashMap<LimiterKey, Arc<KeyLimits>>>,
}

impl LimiterRegistry {
    /// An empty registry: limits are made by the first agent of each key that has one.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with the limits of every key used by `agents`. When several agents on one
    /// key set limits, the strictest value of each dimension wins, and every agent on the
    /// key (with a `rate_limit` table or not) is limited.
    pub fn from_agents<'a>(agents: impl IntoIterator<Item = &'a AgentConfig>) -> Self {
        let mut merged: HashMap<LimiterKey, RateLimitConfig> = HashMap::new();
        for a in agents {
            let Some(c) = a.layers.rate_limit else {
                continue;
            };
            let m = merged.entry(LimiterKey::of(a)).or_default();
            let min = |x: Option<u32>, y: Option<u32>| match (x, y) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            m.requests_per_minute = min(m.requests_per_minute, c.requests_per_minute);
            m.tokens_per_minute = min(m.tokens_per_minute, c.tokens_per_minute);
        }
        let limits = merged
            .into_iter()
            .map(|(k, c)| (k, Arc::new(KeyLimits::new(c))))
            .collect();
        Self {
            limits: Mutex::new(limits),
        }
    }

    /// The limits of `key`, made from `config` when the key has none yet.
    pub fn get_or_insert(&self, key: LimiterKey, config: RateLimitConfig) -> Arc<KeyLimits> {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        limits
            .entry(key)
            .or_insert_with(|| Arc::new(KeyLimits::new(config)))
            .clone()
    }

    /// The limits that apply to `agent`: those of its key, else its own (registered for
    /// the agents after it), else none.
    pub fn for_agent(&self, agent: &AgentConfig) -> Option<Arc<KeyLimits>> {
        let key = LimiterKey::of(agent);
        match agent.layers.rate_limit {
            Some(config) => Some(self.get_or_insert(key, config)),
            None => self
                .limits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .cloned(),
        }
    }
}

/// Waits for the shared limits of a key before each call to the inner provider, and
/// settles the call's token estimate with the tokens it used.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limits: Arc<KeyLimits>,
}

impl RateLimitLayer {
    /// A layer on `limits` (from a [`LimiterRegistry`] to share them).
    pub fn new(limits: Arc<KeyLimits>) -> Self {
        Self { limits }
    }
}

#[async_trait]
impl Layer for RateLimitLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        let estimate = estimate_tokens(call.request);
        self.limits.acquire(estimate).await;
        let result = call.forward().await;
        if let Ok(c) = &result {
            self.limits
                .settle(estimate, c.usage.input_tokens + c.usage.output_tokens);
        }
        result
    }
}
