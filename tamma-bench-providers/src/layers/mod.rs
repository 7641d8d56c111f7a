//! Layers: one cross-cutting behaviour each, around any `Arc<dyn Provider>`.
//!
//! Every layer implements core's [`Layer`] (one method, `call`, given the request and
//! the provider it wraps) and becomes a [`Provider`] through core's
//! [`Layered`](tamma_bench_core::provider::layer::Layered) (`layer.wrap(inner)`), which
//! forwards `name`, `capabilities`, `complete` and `complete_streaming` through that one
//! method: no layer can forget streaming, and each reports its inner provider's
//! capabilities. So layers compose in any order and a host can build its own stack.
//! The retry and timeout layers live in core (the executor applies them itself) and are
//! re-exported here. [`wrap`] builds the stack an agent asks for in its `[agent.layers]`
//! table, in this order, outermost first:
//!
//! ```text
//! tracing -> cost -> record -> cache -> retry -> adaptive concurrency -> rate limit -> timeout -> provider
//! ```
//!
//! - **tracing** is outermost so that its span covers everything the call went through
//!   (cache lookup, retries and their waits, limiter waits) and records the final outcome.
//! - **cost** sits outside the cache, so a cached completion is priced with today's table
//!   and the agent's current overrides rather than frozen at the price of the day it was
//!   stored; a provider-reported cost still wins.
//! - **record** sits outside the cache, so the recording holds every completion the run
//!   saw, cache hits included: replaying it reproduces the run. (Recording inside the cache
//!   would leave holes wherever the cache answered.)
//! - **cache** sits outside retry and the limiters: a hit spends no attempt, rate-limit
//!   token or concurrency slot, and only the final success is stored, never an error.
//! - **retry** sits outside the limiters, so every attempt queues for the rate limit and a
//!   concurrency slot again (retries spend budget at the provider too), and no slot is held
//!   while a retry waits out its backoff.
//! - **adaptive concurrency** sits inside retry so it sees every 429, not just the last,
//!   and outside the rate limiter so that a call leaves the limiter straight for the
//!   provider: limiter spacing is what reaches the wire, instead of calls that took a token
//!   and then queued for a slot arriving in a burst.
//! - **timeout** is innermost: it bounds the provider's answer, not the time spent waiting
//!   for a token or a slot (a limiter wait is not a hanging provider).
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::model::{AgentConfig, CacheConfig, Message, Role, TenantId};
//! use tamma_bench_core::provider::*;
//! use tamma_bench_core::store::{MemoryResponseCache, ResponseCache};
//! use tamma_bench_providers::layers::{LayerContext, LimiterRegistry, wrap};
//!
//! struct Echo;
//! #[async_trait::async_trait]
//! impl Provider for Echo {
//!     fn name(&self) -> &str { "openai" }
//!     async fn complete(&self, r: &CompletionRequest, _: &CallContext) -> Result<Completion, ProviderError> {
//!         let usage = Usage { input_tokens: 1_000, output_tokens: 1_000 };
//!         Ok(Completion { text: r.messages[0].content.clone(), usage, ..Default::default() })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut agent = AgentConfig::new("gpt", "openai", "gpt-4o-mini");
//! agent.layers.cache = Some(CacheConfig { ttl_seconds: Some(3600) });
//! let cache: Arc<dyn ResponseCache> = Arc::new(MemoryResponseCache::new());
//! let limiters = LimiterRegistry::from_agents([&agent]);
//! let cx = LayerContext { base_dir: std::path::Path::new("."), cache: Some(cache), limiters: &limiters };
//! let stack = wrap(Arc::new(Echo), &agent, &cx).unwrap();
//!
//! let request = CompletionRequest {
//!     model: agent.model.clone(), messages: vec![Message::new(Role::User, "hi")],
//!     temperature: None, top_p: None, max_tokens: None, seed: None, stop: vec![], tools: vec![],
//!     response_format: Default::default(),
//! };
//! let call = CallContext { run_id: "r".into(), tenant_id: TenantId::local(), agent: "gpt".into(),
//!                          case_id: "c".into(), epoch: 0, attempt: 1 };
//! let first = stack.provider.complete(&request, &call).await.unwrap();
//! let again = stack.provider.complete(&request, &call).await.unwrap();
//! assert!(!first.cache_hit && again.cache_hit);
//! // gpt-4o-mini at list price: 1k input tokens at $0.15/M + 1k output at $0.60/M.
//! assert!((again.cost_usd.unwrap() - 0.00075).abs() < 1e-12);
//! # });
//! ```
//!
//! ## One retry path
//!
//! Retries happen in one [`RetryLayer`] per stack, never in two places. An agent with
//! `[agent.layers.retry]` retries at the position above, and its stack reports
//! [`Capabilities::retries`](tamma_bench_core::provider::Capabilities::retries); the
//! executor then calls it as it is. An agent without one gets the executor's retry
//! (`RunOptions::retry`, by default 5 attempts, 500 ms base, 60 s cap, honouring
//! retry-after) around its whole stack. Either way a trial makes at most `max_attempts`
//! calls to the provider (5 by default), within the run's trial timeout.
//!
//! A static concurrency cap is the agent's `concurrency` field, which the executor
//! enforces; [`ConcurrencyLayer`] is the same cap for hosts composing providers directly.
//!
//! ## Secrets
//!
//! No layer holds or sees an API key: keys live only inside the HTTP providers. Cache keys
//! hash the request, tenant and epoch; cached JSON and recordings hold completions; spans
//! carry ids, the model, token counts and the error *kind* (never a message or a prompt).

mod adaptive;
mod cache;
mod concurrency;
mod cost;
mod pricing;
mod rate_limit;
mod record;
mod trace;

pub use adaptive::{AdaptiveConcurrencyHandle, AdaptiveConcurrencyLayer};
pub use cache::{CacheLayer, WallClock, cache_key};
pub use concurrency::ConcurrencyLayer;
pub use cost::CostLayer;
pub use pricing::{LIST_PRICES, ModelPrice, PriceTable};
pub use rate_limit::{KeyLimits, LimiterKey, LimiterRegistry, RateLimitLayer, estimate_tokens};
pub use record::RecordLayer;
pub use tamma_bench_core::provider::layer::{Layer, RetryLayer, RetryPolicy, TimeoutLayer};
pub use trace::TracingLayer;

use crate::BuildError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::Provider;
use tamma_bench_core::store::ResponseCache;

/// What [`wrap`] needs besides the provider and the agent.
#[derive(Clone)]
pub struct LayerContext<'a> {
    /// Folder of the agents file: relative `record` paths resolve against it.
    pub base_dir: &'a Path,
    /// The response cache, required when an agent asks for `[agent.layers.cache]`
    /// (the CLI opens `tamma-bench-cache.db` beside the results database).
    pub cache: Option<Arc<dyn ResponseCache>>,
    /// Rate limiters shared by every agent of a run on the same provider, base URL and key.
    pub limiters: &'a LimiterRegistry,
}

/// A provider with its layers, and the handles a host may read during or after a run.
pub struct Stack {
    /// The outermost layer: give this to the executor.
    pub provider: Arc<dyn Provider>,
    /// The adaptive concurrency limit, when the agent has one: its history belongs with
    /// the run.
    pub adaptive_concurrency: Option<AdaptiveConcurrencyHandle>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("provider", &self.provider.name())
            .field("adaptive_concurrency", &self.adaptive_concurrency)
            .finish()
    }
}

fn invalid(agent: &AgentConfig, field: &'static str, message: impl Into<String>) -> BuildError {
    BuildError::Invalid {
        agent: agent.name.clone(),
        field,
        message: message.into(),
    }
}

/// Wraps `provider` in the layers `agent.layers` asks for, in the order of the module
/// docs, plus cost accounting (always: it only fills a missing `cost_usd`, from the
/// agent's prices or the [`LIST_PRICES`] table). Call it after
/// [`build_provider`](crate::build_provider).
///
/// The tenant is not an argument: the cache takes it from each call's context, so one
/// wrapped provider serving several tenants still never answers one from another's entries.
pub fn wrap(
    provider: Arc<dyn Provider>,
    agent: &AgentConfig,
    cx: &LayerContext<'_>,
) -> Result<Stack, BuildError> {
    let layers = &agent.layers;
    layers
        .validate()
        .map_err(|(field, message)| invalid(agent, field, message))?;
    let mut p = provider;
    if let Some(ms) = layers.timeout_ms {
        p = Arc::new(TimeoutLayer::new(Duration::from_millis(ms)).wrap(p));
    }
    if let Some(limits) = cx.limiters.for_agent(agent) {
        p = Arc::new(RateLimitLayer::new(limits).wrap(p));
    }
    let mut adaptive_concurrency = None;
    if let Some(config) = layers.adaptive_concurrency {
        let layer = AdaptiveConcurrencyLayer::new(config);
        adaptive_concurrency = Some(layer.handle());
        p = Arc::new(layer.wrap(p));
    }
    if let Some(retry) = &layers.retry {
        p = Arc::new(RetryLayer::from_config(retry).wrap(p));
    }
    if let Some(config) = layers.cache {
        let cache = cx.cache.clone().ok_or_else(|| {
            invalid(
                agent,
                "layers.cache",
                "this host provides no response cache",
            )
        })?;
        let namespace = format!(
            "{}\n{}",
            agent.provider,
            agent.base_url.as_deref().unwrap_or("")
        );
        let layer =
            CacheLayer::new(cache, namespace).with_ttl(config.ttl_seconds.map(Duration::from_secs));
        p = Arc::new(layer.wrap(p));
    }
    if let Some(path) = &layers.record {
        let layer = RecordLayer::open(&cx.base_dir.join(path))
            .map_err(|e| invalid(agent, "layers.record", e.to_string()))?;
        p = Arc::new(layer.wrap(p));
    }
    p = Arc::new(CostLayer::for_agent(agent).wrap(p));
    if layers.trace {
        p = Arc::new(TracingLayer.wrap(p));
    }
    Ok(Stack {
        provider: p,
        adaptive_concurrency,
    })
}
