//! Behaviour of the provider layers, each over a scriptable fake provider.
//!
//! Time-dependent tests run on tokio's paused clock: waits are virtual and exact, and
//! nothing asserts wall-clock speed.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

#[path = "layers/calls.rs"]
mod calls;
#[path = "layers/config.rs"]
mod config;
#[path = "layers/fake.rs"]
mod fake;
#[path = "layers/secrets.rs"]
mod secrets;
#[path = "layers/storage.rs"]
mod storage;
#[path = "layers/streaming.rs"]
mod streaming;

use fake::{cx, err, rate_limited, request, scripted};
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::model::{
    AdaptiveConcurrencyConfig, AgentConfig, ConcurrencyChangeReason, RateLimitConfig,
};
use tamma_bench_core::provider::{Provider, ProviderErrorKind};
use tamma_bench_providers::layers::{
    AdaptiveConcurrencyLayer, ConcurrencyLayer, Layer, LimiterRegistry, RateLimitLayer, RetryLayer,
    RetryPolicy, TimeoutLayer,
};
use tamma_bench_testkit::providers::ScriptedProvider;
use tokio::time::Instant;

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_waits_at_least_the_advertised_retry_after() {
    let fake = Arc::new(scripted().then([rate_limited(Some(Duration::from_secs(5)))]));
    let layer = RetryLayer::new(policy(3)).wrap(fake.clone());
    let started = Instant::now();
    let c = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("retried to success");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(fake.calls(), 2);
    assert_eq!(c.text, "answer to a epoch 0");
}

#[tokio::test(start_paused = true)]
async fn retry_gives_up_when_the_next_attempt_would_start_after_the_deadline() {
    let fake =
        Arc::new(scripted().then((0..10).map(|_| rate_limited(Some(Duration::from_secs(10))))));
    let layer = RetryLayer::new(policy(10))
        .with_deadline(Duration::from_secs(25))
        .wrap(fake.clone());
    let started = Instant::now();
    let e = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect_err("deadline");
    assert_eq!(e.kind(), ProviderErrorKind::RateLimited);
    assert!(e.message().contains("deadline"), "{}", e.message());
    // Attempts at 0 s, 10 s and 20 s; a fourth at 30 s would pass the 25 s deadline.
    assert_eq!(fake.calls(), 3);
    assert!(started.elapsed() < Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn retry_cuts_a_hanging_attempt_at_the_deadline() {
    let fake = Arc::new(scripted().with_delay(Duration::from_secs(60)));
    let layer = RetryLayer::new(policy(3))
        .with_deadline(Duration::from_secs(2))
        .wrap(fake);
    let e = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect_err("deadline");
    assert_eq!(e.kind(), ProviderErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn retry_never_retries_auth_and_stops_at_max_attempts() {
    let fake = Arc::new(scripted().then([err(ProviderErrorKind::Auth)]));
    let layer = RetryLayer::new(policy(5)).wrap(fake.clone());
    let e = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect_err("auth");
    assert_eq!((e.kind(), fake.calls()), (ProviderErrorKind::Auth, 1));

    let fake = Arc::new(scripted().then((0..9).map(|_| err(ProviderErrorKind::Unavailable))));
    let layer = RetryLayer::new(policy(4)).wrap(fake.clone());
    let e = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect_err("exhausted");
    assert_eq!(
        (e.kind(), fake.calls()),
        (ProviderErrorKind::Unavailable, 4)
    );
    assert!(e.message().contains("4 attempt"), "{}", e.message());
}

fn limited_agent(name: &str, limit: Option<RateLimitConfig>) -> AgentConfig {
    let mut a = AgentConfig::new(name, "openai", "gpt-4o-mini");
    a.api_key_env = Some("OPENAI_API_KEY".into());
    a.layers.rate_limit = limit;
    a
}

fn offsets(fake: &ScriptedProvider, start: Instant) -> Vec<Duration> {
    let mut v: Vec<Duration> = fake.arrivals().into_iter().map(|t| t - start).collect();
    v.sort();
    v
}

#[tokio::test(start_paused = true)]
async fn rate_limit_lets_a_minute_of_burst_through_then_spaces_calls() {
    let fake = Arc::new(scripted());
    let agent = limited_agent(
        "a",
        Some(RateLimitConfig {
            requests_per_minute: Some(6),
            tokens_per_minute: None,
        }),
    );
    let registry = LimiterRegistry::new();
    let layer = RateLimitLayer::new(registry.for_agent(&agent).expect("limits")).wrap(fake.clone());
    let start = Instant::now();
    let calls = (0..12).map(|i| {
        let layer = &layer;
        async move {
            layer
                .complete(&request("q"), &cx(&format!("c{i}"), 0))
                .await
        }
    });
    assert!(join_all(calls).await.iter().all(Result::is_ok));
    let at = offsets(&fake, start);
    assert!(
        at[..6].iter().all(|t| *t < Duration::from_millis(5)),
        "{at:?}"
    );
    for (k, t) in at[6..].iter().enumerate() {
        // One call per 10 s after the burst.
        assert!(
            *t >= Duration::from_secs(10 * (k as u64 + 1)),
            "call {}: {t:?}",
            k + 6
        );
    }
    let in_first_minute = at.iter().filter(|t| **t < Duration::from_secs(60)).count();
    assert!(
        in_first_minute <= 6 + 5,
        "{in_first_minute} calls in the first minute"
    );
}

#[tokio::test(start_paused = true)]
async fn token_limit_charges_the_estimate_before_and_the_excess_after() {
    let fake = Arc::new(scripted().with_usage(100, 900));
    let agent = limited_agent(
        "a",
        Some(RateLimitConfig {
            requests_per_minute: None,
            tokens_per_minute: Some(1000),
        }),
    );
    let layer = RateLimitLayer::new(LimiterRegistry::new().for_agent(&agent).expect("limits"))
        .wrap(fake.clone());
    let mut req = request("q");
    req.max_tokens = Some(400);
    let start = Instant::now();
    // 400 estimated: passes at once; the 600 used beyond it are charged to the next call,
    // which needs 1000 in all: the whole minute's budget, replenished 1000 tokens/min.
    layer.complete(&req, &cx("a", 0)).await.expect("first");
    layer.complete(&req, &cx("b", 0)).await.expect("second");
    let at = offsets(&fake, start);
    assert!(at[0] < Duration::from_millis(5));
    assert!(at[1] >= Duration::from_secs(23), "{at:?}");
}

#[tokio::test(start_paused = true)]
async fn agents_on_one_provider_and_key_share_one_budget() {
    let a = limited_agent(
        "a",
        Some(RateLimitConfig {
            requests_per_minute: Some(2),
            tokens_per_minute: None,
        }),
    );
    let b = limited_agent("b", None);
    let mut other_key = limited_agent("c", None);
    other_key.api_key_env = Some("OTHER_KEY".into());
    let registry = LimiterRegistry::from_agents([&a, &b, &other_key]);
    assert!(registry.for_agent(&other_key).is_none());
    let fake = Arc::new(scripted());
    let la = RateLimitLayer::new(registry.for_agent(&a).expect("a")).wrap(fake.clone());
    let lb =
        RateLimitLayer::new(registry.for_agent(&b).expect("b shares a's key")).wrap(fake.clone());
    let start = Instant::now();
    la.complete(&request("q"), &cx("1", 0)).await.expect("ok");
    la.complete(&request("q"), &cx("2", 0)).await.expect("ok");
    lb.complete(&request("q"), &cx("3", 0)).await.expect("ok");
    assert!(offsets(&fake, start)[2] >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn concurrency_layer_never_exceeds_its_limit() {
    let fake = Arc::new(scripted().with_delay(Duration::from_millis(50)));
    let layer = ConcurrencyLayer::new(3).wrap(fake.clone());
    let calls = (0..20).map(|i| {
        let layer = &layer;
        async move { layer.complete(&request("q"), &cx(&i.to_string(), 0)).await }
    });
    assert!(join_all(calls).await.iter().all(Result::is_ok));
    assert_eq!(fake.max_in_flight(), 3);
}

#[tokio::test(start_paused = true)]
async fn adaptive_concurrency_halves_on_rate_limits_then_recovers_with_history() {
    let fake = Arc::new(
        scripted()
            .with_delay(Duration::from_millis(10))
            .then((0..8).map(|_| rate_limited(None))),
    );
    let config = AdaptiveConcurrencyConfig {
        min: 1,
        max: 8,
        initial: Some(8),
    };
    let layer = AdaptiveConcurrencyLayer::new(config).wrap(fake.clone());
    let handle = layer.layer().handle();
    // A burst of 429s from one window halves the limit once.
    let burst = (0..8).map(|i| {
        let layer = &layer;
        async move { layer.complete(&request("q"), &cx(&i.to_string(), 0)).await }
    });
    assert!(join_all(burst).await.iter().all(Result::is_err));
    assert_eq!(handle.limit(), 4);
    // 429s one after another keep halving, down to the minimum.
    for i in 0..3 {
        fake.push(rate_limited(None));
        let _ = layer
            .complete(&request("q"), &cx(&format!("s{i}"), 0))
            .await;
    }
    assert_eq!(handle.limit(), 1);
    // Successes raise it by one per round of `limit` successes, up to the maximum.
    for i in 0..40 {
        layer
            .complete(&request("q"), &cx(&format!("ok{i}"), 0))
            .await
            .expect("ok");
    }
    assert_eq!(handle.limit(), 8);
    // Under load, calls in flight stay within the limit.
    fake.push(rate_limited(None));
    let _ = layer.complete(&request("q"), &cx("x", 0)).await;
    let wave = (0..30).map(|i| {
        let layer = &layer;
        async move {
            layer
                .complete(&request("q"), &cx(&format!("w{i}"), 0))
                .await
        }
    });
    join_all(wave).await;
    assert!(fake.max_in_flight() <= 8);
    let history = handle.history();
    let reasons: Vec<_> = history.iter().map(|c| (c.reason, c.limit)).collect();
    use ConcurrencyChangeReason::*;
    assert_eq!(
        reasons[..11],
        [
            (Initial, 8),
            (RateLimited, 4),
            (RateLimited, 2),
            (RateLimited, 1),
            (Recovered, 2),
            (Recovered, 3),
            (Recovered, 4),
            (Recovered, 5),
            (Recovered, 6),
            (Recovered, 7),
            (Recovered, 8)
        ]
    );
    assert_eq!(reasons[11], (RateLimited, 4));
    assert!(history.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_eq!(handle.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn timeout_fails_a_call_that_does_not_answer_in_time() {
    let layer = TimeoutLayer::new(Duration::from_secs(1))
        .wrap(Arc::new(scripted().with_delay(Duration::from_secs(30))));
    let started = Instant::now();
    let e = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect_err("timeout");
    assert_eq!(e.kind(), ProviderErrorKind::Timeout);
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(2));
    let fast = TimeoutLayer::new(Duration::from_secs(1)).wrap(Arc::new(scripted()));
    assert!(fast.complete(&request("q"), &cx("a", 0)).await.is_ok());
}
