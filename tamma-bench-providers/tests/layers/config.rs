//! The agents-file `[agent.layers]` table, `wrap`, and composition in any order.

use crate::fake::{cx, err, request, scripted};
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::load::load_agents;
use tamma_bench_core::model::{AdaptiveConcurrencyConfig, AgentConfig, RateLimitConfig};
use tamma_bench_core::provider::{Provider, ProviderErrorKind};
use tamma_bench_core::store::MemoryResponseCache;
use tamma_bench_providers::BuildError;
use tamma_bench_providers::layers::{
    AdaptiveConcurrencyLayer, CacheLayer, ConcurrencyLayer, CostLayer, Layer, LayerContext,
    LimiterRegistry, RateLimitLayer, RecordLayer, RetryLayer, RetryPolicy, TimeoutLayer,
    TracingLayer, wrap,
};

pub const AGENTS: &str = r#"
[[agent]]
name = "gpt"
provider = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"

[agent.layers]
timeout_ms = 60000
record = "recordings/gpt.jsonl"
trace = true
retry = { max_attempts = 4, base_delay_ms = 250, deadline_ms = 120000 }
rate_limit = { requests_per_minute = 500, tokens_per_minute = 200000 }
adaptive_concurrency = { min = 2, max = 32, initial = 8 }
cache = { ttl_seconds = 86400 }

[[agent]]
name = "plain"
provider = "replay"
model = "m"
recording = "r.jsonl"
"#;

pub fn agents_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agents.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn agents_file_layers_table_parses() {
    let (_dir, path) = agents_file(AGENTS);
    let loaded = load_agents(&path).expect("loads");
    let layers = &loaded.agents[0].layers;
    let retry = layers.retry.as_ref().expect("retry");
    assert_eq!(
        (retry.max_attempts, retry.base_delay_ms, retry.max_delay_ms),
        (4, 250, 60_000)
    );
    assert_eq!(retry.deadline_ms, Some(120_000));
    assert_eq!(
        layers.rate_limit,
        Some(RateLimitConfig {
            requests_per_minute: Some(500),
            tokens_per_minute: Some(200_000)
        })
    );
    assert_eq!(
        layers.adaptive_concurrency,
        Some(AdaptiveConcurrencyConfig {
            min: 2,
            max: 32,
            initial: Some(8)
        })
    );
    assert_eq!(layers.cache.and_then(|c| c.ttl_seconds), Some(86_400));
    assert_eq!(
        layers.record.as_deref(),
        Some(std::path::Path::new("recordings/gpt.jsonl"))
    );
    assert!(layers.trace && layers.validate().is_ok());
    assert!(loaded.agents[1].layers.is_default());
    // An agent without layers serializes as before (run fingerprints do not change).
    let json = serde_json::to_string(&loaded.agents[1]).expect("json");
    assert!(!json.contains("layers"), "{json}");
}

#[test]
fn agents_file_refuses_unknown_layer_keys() {
    for bad in [
        "retries = { max_attempts = 2 }",
        "retry = { max_attempt = 2 }",
        "cache = { ttl = 5 }",
    ] {
        let text = format!(
            "[[agent]]\nname = \"a\"\nprovider = \"openai\"\nmodel = \"m\"\n\n[agent.layers]\n{bad}\n"
        );
        let (_dir, path) = agents_file(&text);
        let e = load_agents(&path).expect_err(bad);
        assert!(e.to_string().contains("unknown field"), "{bad}: {e}");
    }
}

#[test]
fn wrap_refuses_invalid_values_naming_the_field() {
    let registry = LimiterRegistry::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let cx = LayerContext {
        base_dir: dir.path(),
        cache: None,
        limiters: &registry,
    };
    let mut agent = AgentConfig::new("a", "openai", "m");
    agent.layers.adaptive_concurrency = Some(AdaptiveConcurrencyConfig {
        min: 4,
        max: 2,
        initial: None,
    });
    let e = wrap(Arc::new(scripted()), &agent, &cx).expect_err("min > max");
    assert!(
        matches!(
            e,
            BuildError::Invalid {
                field: "layers.adaptive_concurrency.max",
                ..
            }
        ),
        "{e}"
    );
    agent.layers.adaptive_concurrency = None;
    agent.layers.cache = Some(Default::default());
    let e = wrap(Arc::new(scripted()), &agent, &cx).expect_err("no cache given");
    assert!(
        matches!(
            e,
            BuildError::Invalid {
                field: "layers.cache",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_stack_says_it_retries_only_when_the_agent_asks_for_a_retry_layer() {
    let limiters = LimiterRegistry::new();
    let cx = LayerContext {
        base_dir: std::path::Path::new("."),
        cache: None,
        limiters: &limiters,
    };
    let plain = AgentConfig::new("b", "openai", "m");
    let stack = wrap(Arc::new(scripted()), &plain, &cx).expect("wraps");
    assert!(!stack.provider.capabilities().retries);
    let mut retrying = plain.clone();
    retrying.layers.retry = Some(Default::default());
    let stack = wrap(Arc::new(scripted()), &retrying, &cx).expect("wraps");
    assert!(stack.provider.capabilities().retries);
}

type Build = fn(Arc<dyn Provider>) -> Arc<dyn Provider>;

const LAYERS: [Build; 7] = [
    |p| {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        Arc::new(RetryLayer::new(policy).wrap(p))
    },
    |p| {
        let limits = LimiterRegistry::new().get_or_insert(
            tamma_bench_providers::layers::LimiterKey {
                provider: "fake".into(),
                base_url: None,
                api_key_env: None,
            },
            RateLimitConfig {
                requests_per_minute: Some(1000),
                tokens_per_minute: Some(1_000_000),
            },
        );
        Arc::new(RateLimitLayer::new(limits).wrap(p))
    },
    |p| Arc::new(ConcurrencyLayer::new(2).wrap(p)),
    |p| Arc::new(AdaptiveConcurrencyLayer::new(AdaptiveConcurrencyConfig::default()).wrap(p)),
    |p| Arc::new(TimeoutLayer::new(Duration::from_secs(5)).wrap(p)),
    |p| Arc::new(CacheLayer::new(Arc::new(MemoryResponseCache::new()), "fake").wrap(p)),
    |p| {
        let priced = CostLayer::with_prices(Some(1.0), Some(2.0)).wrap(p);
        Arc::new(TracingLayer.wrap(Arc::new(priced)))
    },
];

/// Every permutation of `0..n` (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn go(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            go(k - 1, a, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            a.swap(j, k - 1);
        }
    }
    let mut out = Vec::new();
    go(n, &mut (0..n).collect(), &mut out);
    out
}

#[tokio::test(start_paused = true)]
async fn layers_compose_in_any_order() {
    let orders = permutations(LAYERS.len());
    assert_eq!(orders.len(), 5040);
    let dir = tempfile::tempdir().expect("tempdir");
    for (n, order) in orders.iter().enumerate() {
        // A transient failure, then success: every order retries it, stores only the
        // success, and answers the repeat from the cache.
        let fake = Arc::new(scripted().then([err(ProviderErrorKind::Unavailable)]));
        let mut p: Arc<dyn Provider> = fake.clone();
        for (pos, &i) in order.iter().enumerate() {
            p = LAYERS[i](p);
            // The record layer, in every position for a few of the orders.
            if n % 720 == 0 && pos == n / 720 {
                let path = dir.path().join(format!("{n}.jsonl"));
                p = Arc::new(RecordLayer::open(&path).expect("record").wrap(p));
            }
        }
        let first = p
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("retried");
        let again = p
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("cached");
        assert_eq!(
            (first.text.as_str(), again.text.as_str()),
            ("answer to a epoch 0", "answer to a epoch 0"),
            "order {order:?}"
        );
        assert!(!first.cache_hit && again.cache_hit, "order {order:?}");
        assert_eq!(fake.calls(), 2, "order {order:?}");
        assert!(first.cost_usd.is_some() && p.name() == "fake");
    }
}
