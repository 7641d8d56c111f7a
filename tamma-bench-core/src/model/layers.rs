//! Provider layers as an agent asks for them (`[agent.layers]` in the agents file), and
//! the history an adaptive concurrency limit leaves behind.
//!
//! Core only describes the layers; `tamma-bench-providers` builds them
//! (`tamma_bench_providers::layers::wrap`).
//!
//! ```toml
//! [[agent]]
//! name = "gpt"
//! provider = "openai"
//! model = "gpt-4o-mini"
//! api_key_env = "OPENAI_API_KEY"
//!
//! [agent.layers]
//! timeout_ms = 60000
//! record = "recordings/gpt.jsonl"
//! trace = true
//! retry = { max_attempts = 4, base_delay_ms = 500, max_delay_ms = 30000, deadline_ms = 120000 }
//! rate_limit = { requests_per_minute = 500, tokens_per_minute = 200000 }
//! adaptive_concurrency = { min = 1, max = 32, initial = 8 }
//! cache = { ttl_seconds = 86400 }
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The layers wrapped around an agent's provider. Every field is optional; an empty
/// table (or none) adds only cost accounting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Retries of retryable errors: the agent's one retry (the executor then adds none of
    /// its own; without it the agent gets the executor's default retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryLayerConfig>,
    /// Requests and tokens per minute, shared by every agent on the same provider,
    /// base URL and key variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
    /// Limit of one call to the provider, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// A concurrency limit that halves on rate-limit errors and grows back on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_concurrency: Option<AdaptiveConcurrencyConfig>,
    /// A response cache keyed by the normalized request, the tenant and the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// Appends every completion to this file in the `replay` provider's format
    /// (relative to the agents file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<PathBuf>,
    /// Emits a `tracing` span per call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trace: bool,
}

/// Retry with exponential backoff and full jitter (`[agent.layers.retry]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryLayerConfig {
    /// Attempts in all, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First backoff cap, ms; it doubles per attempt.
    #[serde(default = "default_base_delay_ms")]
    pub base_delay_ms: u64,
    /// Largest backoff, ms (a longer retry-after from the provider is still honoured).
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Give up when the next attempt could not start before this much time has passed
    /// since the first one, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

fn default_max_attempts() -> u32 {
    5
}
fn default_base_delay_ms() -> u64 {
    500
}
fn default_max_delay_ms() -> u64 {
    60_000
}

impl Default for RetryLayerConfig {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            base_delay_ms: default_base_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            deadline_ms: None,
        }
    }
}

/// Client-side rate limits (`[agent.layers.rate_limit]`); at least one is required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Tokens (prompt and output) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u32>,
}

/// Additive-increase, multiplicative-decrease concurrency (`[agent.layers.adaptive_concurrency]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveConcurrencyConfig {
    /// Lowest limit.
    #[serde(default = "default_min")]
    pub min: usize,
    /// Highest limit.
    #[serde(default = "default_max")]
    pub max: usize,
    /// Starting limit; `max` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<usize>,
}

fn default_min() -> usize {
    1
}
fn default_max() -> usize {
    32
}

impl Default for AdaptiveConcurrencyConfig {
    fn default() -> Self {
        Self {
            min: default_min(),
            max: default_max(),
            initial: None,
        }
    }
}

impl AdaptiveConcurrencyConfig {
    /// The starting limit.
    pub fn initial_limit(&self) -> usize {
        self.initial.unwrap_or(self.max)
    }
}

/// Response cache (`[agent.layers.cache]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an entry stays valid, s; forever when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
}

impl LayerConfig {
    /// Whether no layer is asked for (the table can be left out of a serialized agent).
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// Checks the values; the error names the field (`layers.retry.max_attempts`, ...).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(r) = &self.retry {
            if r.max_attempts == 0 {
                return Err(("layers.retry.max_attempts", "expected at least 1".into()));
            }
            if r.base_delay_ms > r.max_delay_ms {
                return Err((
                    "layers.retry.base_delay_ms",
                    format!("expected at most max_delay_ms ({})", r.max_delay_ms),
                ));
            }
            if r.deadline_ms == Some(0) {
                return Err(("layers.retry.deadline_ms", "expected at least 1".into()));
            }
        }
        if let Some(r) = &self.rate_limit {
            match (r.requests_per_minute, r.tokens_per_minute) {
                (None, None) => {
                    return Err((
                        "layers.rate_limit",
                        "expected requests_per_minute or tokens_per_minute".into(),
                    ));
                }
                (Some(0), _) => {
                    return Err((
                        "layers.rate_limit.requests_per_minute",
                        "expected at least 1".into(),
                    ));
                }
                (_, Some(0)) => {
                    return Err((
                        "layers.rate_limit.tokens_per_minute",
                        "expected at least 1".into(),
                    ));
                }
                _ => {}
            }
        }
        if self.timeout_ms == Some(0) {
            return Err(("layers.timeout_ms", "expected at least 1".into()));
        }
        if let Some(a) = &self.adaptive_concurrency {
            if a.min == 0 {
                return Err((
                    "layers.adaptive_concurrency.min",
                    "expected at least 1".into(),
                ));
            }
            if a.max < a.min {
                return Err((
                    "layers.adaptive_concurrency.max",
                    format!("expected at least min ({})", a.min),
                ));
            }
            if !(a.min..=a.max).contains(&a.initial_limit()) {
                return Err((
                    "layers.adaptive_concurrency.initial",
                    format!("expected a value in [{}, {}]", a.min, a.max),
                ));
            }
        }
        if self.cache.and_then(|c| c.ttl_seconds) == Some(0) {
            return Err(("layers.cache.ttl_seconds", "expected at least 1".into()));
        }
        if self
            .record
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(("layers.record", "expected a file path".into()));
        }
        Ok(())
    }
}

/// Why an adaptive concurrency limit changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyChangeReason {
    /// The limit the layer started with.
    Initial,
    /// The provider answered "rate limited": the limit was cut.
    RateLimited,
    /// Enough calls in a row succeeded: the limit grew by one.
    Recovered,
}

/// One change of an adaptive concurrency limit, to store with the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConcurrencyChange {
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
    /// The limit from then on.
    pub limit: usize,
    /// Why.
    pub reason: ConcurrencyChangeReason,
}
