//! Streaming through every layer: the deltas reach the caller, concatenate to the text,
//! and each layer still does its work on a streamed call.

use crate::fake::{Fake, cx, err, request};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tamma_bench_core::model::{AdaptiveConcurrencyConfig, RateLimitConfig};
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, OnDelta, Provider, ProviderError, ProviderErrorKind,
};
use tamma_bench_core::store::MemoryResponseCache;
use tamma_bench_providers::layers::{
    AdaptiveConcurrencyLayer, CacheLayer, ConcurrencyLayer, CostLayer, KeyLimits, Layer,
    RateLimitLayer, RecordLayer, RetryLayer, RetryPolicy, TimeoutLayer, TracingLayer,
};

/// Streams one call of `p`: its deltas and its result.
async fn stream(p: &dyn Provider, case: &str) -> (Vec<String>, Result<Completion, ProviderError>) {
    let deltas = Mutex::new(Vec::new());
    let on_delta = |d: &str| deltas.lock().expect("lock").push(d.to_owned());
    let result = p
        .complete_streaming(&request("q"), &cx(case, 0), &on_delta)
        .await;
    (deltas.into_inner().expect("lock"), result)
}

fn fast_retry(max_attempts: u32) -> RetryLayer {
    RetryLayer::new(RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    })
}

/// Every layer of the workspace, wrapped around `inner`.
fn every_layer(
    inner: Arc<dyn Provider>,
    dir: &std::path::Path,
) -> Vec<(&'static str, Arc<dyn Provider>)> {
    let limits = Arc::new(KeyLimits::new(RateLimitConfig {
        requests_per_minute: Some(600),
        tokens_per_minute: Some(1_000_000),
    }));
    let cache = Arc::new(MemoryResponseCache::new());
    let record = RecordLayer::open(&dir.join("record.jsonl")).expect("record");
    let p = inner;
    vec![
        (
            "retry",
            Arc::new(fast_retry(3).wrap(p.clone())) as Arc<dyn Provider>,
        ),
        (
            "rate limit",
            Arc::new(RateLimitLayer::new(limits).wrap(p.clone())),
        ),
        (
            "concurrency",
            Arc::new(ConcurrencyLayer::new(2).wrap(p.clone())),
        ),
        (
            "adaptive concurrency",
            Arc::new(
                AdaptiveConcurrencyLayer::new(AdaptiveConcurrencyConfig::default()).wrap(p.clone()),
            ),
        ),
        (
            "timeout",
            Arc::new(TimeoutLayer::new(Duration::from_secs(5)).wrap(p.clone())),
        ),
        (
            "cache",
            Arc::new(CacheLayer::new(cache, "fake").wrap(p.clone())),
        ),
        (
            "cost",
            Arc::new(CostLayer::with_prices(Some(1.0), None).wrap(p.clone())),
        ),
        ("tracing", Arc::new(TracingLayer.wrap(p.clone()))),
        ("record", Arc::new(record.wrap(p))),
    ]
}

#[tokio::test]
async fn every_layer_streams_the_inner_providers_deltas_and_reports_its_capabilities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(Fake::new());
    for (name, layered) in every_layer(fake.clone(), dir.path()) {
        assert!(
            layered.capabilities().streaming,
            "{name} forwards the capabilities"
        );
        assert_eq!(layered.name(), "fake", "{name} keeps the name");
        let (deltas, result) = stream(layered.as_ref(), name).await;
        let c = result.expect(name);
        let words: Vec<&str> = c.text.split_inclusive(' ').collect();
        assert_eq!(
            deltas, words,
            "{name}: the inner provider's deltas, not one delta"
        );
        assert_eq!(deltas.concat(), c.text, "{name}");
        assert!(deltas.len() > 1, "{name} streamed word by word");
    }
    assert_eq!(fake.calls(), 9, "one call per layer");
}

#[tokio::test]
async fn the_cache_stores_a_streamed_completion_and_streams_a_hit_as_one_delta() {
    let fake = Arc::new(Fake::new());
    let cache = CacheLayer::new(Arc::new(MemoryResponseCache::new()), "fake").wrap(fake.clone());
    let (first, miss) = stream(&cache, "a").await;
    let miss = miss.expect("miss");
    let (again, hit) = stream(&cache, "a").await;
    let hit = hit.expect("hit");
    assert!(!miss.cache_hit && hit.cache_hit);
    assert_eq!(fake.calls(), 1, "the hit made no call");
    assert!(first.len() > 1);
    assert_eq!(
        again,
        [miss.text.as_str()],
        "a hit streams its text at once"
    );
    assert_eq!(hit.text, miss.text);
}

#[tokio::test]
async fn the_record_layer_records_a_streamed_completion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.jsonl");
    let record = RecordLayer::open(&path)
        .expect("open")
        .wrap(Arc::new(Fake::new()));
    let (deltas, c) = stream(&record, "a").await;
    let c = c.expect("streamed");
    assert_eq!(deltas.concat(), c.text);
    let written = std::fs::read_to_string(&path).expect("recording");
    assert!(written.contains(&c.text), "{written}");
}

#[tokio::test]
async fn the_retry_layer_retries_a_stream_that_failed_before_any_text() {
    let fake = Arc::new(Fake::new().then([err(ProviderErrorKind::Unavailable)]));
    let retry = fast_retry(3).wrap(fake.clone());
    let (deltas, c) = stream(&retry, "a").await;
    let c = c.expect("retried");
    assert_eq!(fake.calls(), 2);
    assert_eq!(
        deltas.concat(),
        c.text,
        "only the successful attempt's text"
    );
}

/// Streams part of an answer, then fails (a connection dropped mid-answer).
struct Stutter(std::sync::atomic::AtomicUsize);

#[async_trait]
impl Provider for Stutter {
    fn name(&self) -> &str {
        "stutter"
    }

    async fn complete(
        &self,
        _: &CompletionRequest,
        _: &CallContext,
    ) -> Result<Completion, ProviderError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(ProviderError::new(ProviderErrorKind::Transport, "reset"))
    }

    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        on_delta("half an ans");
        self.complete(request, cx).await
    }
}

#[tokio::test]
async fn the_retry_layer_does_not_retry_a_stream_that_already_handed_out_text() {
    let stutter = Arc::new(Stutter(Default::default()));
    let retry = fast_retry(3).wrap(stutter.clone());
    let (deltas, e) = stream(&retry, "a").await;
    let e = e.expect_err("not retried");
    assert_eq!(deltas, ["half an ans"]);
    assert_eq!(stutter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(e.message().contains("streamed"), "{}", e.message());
    // Without streaming the same failure is retried.
    let e = retry
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect_err("fails");
    assert_eq!(stutter.0.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert_eq!(e.kind(), ProviderErrorKind::Transport);
}

#[tokio::test]
async fn the_cost_layer_prices_a_streamed_completion() {
    let fake = Arc::new(Fake::new().with_usage(1_000_000, 0));
    let cost = CostLayer::with_prices(Some(2.0), None).wrap(fake);
    let (_, c) = stream(&cost, "a").await;
    assert_eq!(c.expect("priced").cost_usd, Some(2.0));
}
