//! Layers that keep or price what the provider answered: cache, cost, record.

use crate::fake::{answer, cx, err, request, scripted};
use futures::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tamma_bench_core::model::{AgentConfig, TenantId};
use tamma_bench_core::provider::{Completion, Provider, ProviderErrorKind};
use tamma_bench_core::store::ResponseCache;
use tamma_bench_providers::layers::{CacheLayer, CostLayer, Layer, RecordLayer};
use tamma_bench_providers::replay::ReplayProvider;
use tamma_bench_sqlite::SqliteResponseCache;
use tamma_bench_testkit::providers::ScriptedProvider;

fn sqlite_cache(dir: &tempfile::TempDir) -> Arc<dyn ResponseCache> {
    Arc::new(SqliteResponseCache::open(dir.path().join("cache.db")).expect("open cache"))
}

#[tokio::test]
async fn cache_answers_the_same_request_and_epoch_and_marks_the_hit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(scripted());
    let layer = CacheLayer::new(sqlite_cache(&dir), "openai\n").wrap(fake.clone());
    let first = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("miss");
    let second = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("hit");
    assert_eq!(fake.calls(), 1);
    assert!(!first.cache_hit && second.cache_hit);
    assert_eq!(
        Completion {
            cache_hit: false,
            ..second
        },
        first
    );
    // A new process (a new layer on the same file) hits too.
    let again = CacheLayer::new(sqlite_cache(&dir), "openai\n").wrap(fake.clone());
    assert!(
        again
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("hit")
            .cache_hit
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn cache_misses_on_another_epoch_request_tenant_or_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(scripted());
    let cache = sqlite_cache(&dir);
    let layer = CacheLayer::new(cache.clone(), "openai\n").wrap(fake.clone());
    layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("ok");
    let other_epoch = layer
        .complete(&request("q"), &cx("a", 1))
        .await
        .expect("ok");
    assert!(!other_epoch.cache_hit);
    assert_eq!(other_epoch.text, "answer to a epoch 1");
    let mut temp = request("q");
    temp.temperature = Some(0.5);
    assert!(
        !layer
            .complete(&temp, &cx("a", 0))
            .await
            .expect("ok")
            .cache_hit
    );
    let mut acme = cx("a", 0);
    acme.tenant_id = TenantId::new("acme").expect("tenant");
    assert!(
        !layer
            .complete(&request("q"), &acme)
            .await
            .expect("ok")
            .cache_hit
    );
    let local_server =
        CacheLayer::new(cache, "openai\nhttp://127.0.0.1:8080/v1").wrap(fake.clone());
    assert!(
        !local_server
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("ok")
            .cache_hit
    );
    assert_eq!(fake.calls(), 5);
}

#[tokio::test]
async fn cache_entries_expire_after_their_ttl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Arc::new(AtomicI64::new(1_000_000));
    let clock = now.clone();
    let fake = Arc::new(scripted());
    let layer = CacheLayer::new(sqlite_cache(&dir), "openai\n")
        .with_ttl(Some(Duration::from_secs(60)))
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)))
        .wrap(fake.clone());
    layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("miss");
    now.fetch_add(59_999, Ordering::SeqCst);
    assert!(
        layer
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("hit")
            .cache_hit
    );
    now.fetch_add(1, Ordering::SeqCst);
    assert!(
        !layer
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("expired")
            .cache_hit
    );
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn cache_never_stores_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Arc::new(scripted().then([err(ProviderErrorKind::Unavailable)]));
    let layer = CacheLayer::new(sqlite_cache(&dir), "openai\n").wrap(fake.clone());
    assert!(layer.complete(&request("q"), &cx("a", 0)).await.is_err());
    let ok = layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("called again");
    assert!(!ok.cache_hit);
    assert!(
        layer
            .complete(&request("q"), &cx("a", 0))
            .await
            .expect("hit")
            .cache_hit
    );
    assert_eq!(fake.calls(), 2);
}

fn million_each() -> ScriptedProvider {
    scripted().with_usage(1_000_000, 1_000_000)
}

async fn cost_of(
    agent: &AgentConfig,
    fake: tamma_bench_testkit::providers::ScriptedProvider,
) -> Option<f64> {
    let layer = CostLayer::for_agent(agent).wrap(Arc::new(fake));
    layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("ok")
        .cost_usd
}

#[tokio::test]
async fn cost_comes_from_the_table_the_agent_or_the_provider() {
    let mut agent = AgentConfig::new("a", "openai", "gpt-4o-mini-2024-07-18");
    let table = cost_of(&agent, million_each()).await.expect("listed");
    assert!((table - (0.15 + 0.60)).abs() < 1e-9, "{table}");
    // The agent's price wins, side by side.
    agent.price_per_mtok_input = Some(1.0);
    let overridden = cost_of(&agent, million_each()).await.expect("priced");
    assert!((overridden - (1.0 + 0.60)).abs() < 1e-9, "{overridden}");
    // A cost the provider reported wins over both.
    let reported = million_each().then([Ok(Completion {
        cost_usd: Some(0.01),
        ..Default::default()
    })]);
    assert_eq!(cost_of(&agent, reported).await, Some(0.01));
    // An unknown model is not guessed.
    let unknown = AgentConfig::new("b", "openai", "my-finetune");
    assert_eq!(cost_of(&unknown, million_each()).await, None);
}

#[tokio::test]
async fn record_then_replay_gives_identical_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("recordings/agent.jsonl");
    let fake = Arc::new(scripted().with_usage(7, 3));
    let layer = RecordLayer::open(&path).expect("open").wrap(fake.clone());
    let keys: Vec<(String, u32)> = ["a", "b", "c"]
        .iter()
        .flat_map(|c| (0..4).map(move |e| (c.to_string(), e)))
        .collect();
    let live = join_all(keys.iter().map(|(c, e)| {
        let layer = &layer;
        async move { layer.complete(&request("q"), &cx(c, *e)).await }
    }))
    .await;
    // A repeated call does not duplicate its line (the file stays a valid recording).
    layer
        .complete(&request("q"), &cx("a", 0))
        .await
        .expect("ok");
    drop(layer);
    let reopened = RecordLayer::open(&path).expect("reopen").wrap(fake);
    reopened
        .complete(&request("q"), &cx("b", 1))
        .await
        .expect("ok");
    let replay = ReplayProvider::open(&path).expect("a valid recording");
    assert_eq!(replay.len(), keys.len());
    for ((case, epoch), live) in keys.iter().zip(live) {
        let live = live.expect("live");
        let replayed = replay
            .complete(&request("q"), &cx(case, *epoch))
            .await
            .expect("recorded");
        assert_eq!(replayed.text, live.text);
        assert_eq!(replayed.text, answer(&cx(case, *epoch)));
        assert_eq!(
            (replayed.usage, replayed.latency_ms),
            (live.usage, live.latency_ms)
        );
    }
}

#[tokio::test]
async fn record_refuses_to_append_to_a_file_that_is_not_a_recording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "my notes\n").expect("write");
    let e = RecordLayer::open(&path).expect_err("refused");
    assert!(e.to_string().contains("notes.txt"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "my notes\n");
}
