//! Tracing: one `tracing` span per call, with what identifies it and how it ended.

use async_trait::async_trait;
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{Completion, ProviderError};
use tracing::Instrument;
use tracing::field::Empty;

/// Opens a `provider_call` span (target `tamma_bench::provider`) per call with the run,
/// tenant, agent, case, epoch, attempt, provider and model; on the way out it records the
/// tokens, latency, cache hit and outcome (`ok` or the error kind) and emits one event.
/// It never records a prompt, an output, an error message or anything secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

impl TracingLayer {
    /// Traces the calls of the provider it wraps.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Layer for TracingLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        let (request, cx) = (call.request, call.cx);
        let span = tracing::info_span!(
            target: "tamma_bench::provider",
            "provider_call",
            run = %cx.run_id,
            tenant = %cx.tenant_id,
            agent = %cx.agent,
            case = %cx.case_id,
            epoch = cx.epoch,
            attempt = cx.attempt,
            provider = call.provider().name(),
            model = %request.model,
            input_tokens = Empty,
            output_tokens = Empty,
            latency_ms = Empty,
            cache_hit = Empty,
            outcome = Empty,
        );
        let started = tokio::time::Instant::now();
        let result = call.forward().instrument(span.clone()).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        span.record("latency_ms", latency_ms);
        match &result {
            Ok(c) => {
                span.record("input_tokens", c.usage.input_tokens);
                span.record("output_tokens", c.usage.output_tokens);
                span.record("cache_hit", c.cache_hit);
                span.record("outcome", "ok");
                tracing::debug!(
                    target: "tamma_bench::provider", parent: &span,
                    outcome = "ok", input_tokens = c.usage.input_tokens,
                    output_tokens = c.usage.output_tokens, latency_ms, cache_hit = c.cache_hit,
                    "provider call finished"
                );
            }
            Err(e) => {
                span.record("outcome", e.kind().as_str());
                tracing::info!(
                    target: "tamma_bench::provider", parent: &span,
                    outcome = e.kind().as_str(), latency_ms, "provider call failed"
                );
            }
        }
        result
    }
}
