//! The behaviour suite every [`AgentConfigStore`] must pass.
//!
//! Use [`crate::agent_config_conformance_tests!`] in a test file with an expression that
//! makes `(guard, factory)` for a fresh, empty registry: `factory` is an
//! [`AgentConfigStoreFactory`] (a struct, or a closure wrapped by [`factory`]) whose
//! every [`open`](AgentConfigStoreFactory::open) opens a new handle on that same
//! registry, as another process would; the guard keeps whatever it needs alive (a
//! temporary directory, a database to drop). It expands to one `#[test]` per behaviour
//! below.

#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::{AgentConfig, TenantId, now_ms};
use tamma_bench_core::store::agent_configs::config_digest;
use tamma_bench_core::store::{
    AgentConfigId, AgentConfigStore, StoreError, StoreErrorKind, StoredAgentConfig,
};

/// Opens handles on one registry under test.
#[async_trait]
pub trait AgentConfigStoreFactory: Send + Sync {
    /// A new handle on the registry (each call: another handle, as another process of
    /// the deployment would open).
    async fn open(&self) -> Arc<dyn AgentConfigStore>;
}

#[async_trait]
impl<F, Fut> AgentConfigStoreFactory for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn AgentConfigStore>> + Send,
{
    async fn open(&self) -> Arc<dyn AgentConfigStore> {
        self().await
    }
}

/// `open` as an [`AgentConfigStoreFactory`] (fixes the closure's type).
pub fn factory<F, Fut>(open: F) -> F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn AgentConfigStore>> + Send,
{
    open
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn id(name: &str) -> AgentConfigId {
    AgentConfigId::new(name).unwrap()
}

/// A configuration of `model` (name `agent`, provider `openai`).
pub fn config(model: &str) -> AgentConfig {
    AgentConfig::new("agent", "openai", model)
}

/// A configuration with every field set, layers included, and text that needs escaping.
pub fn full_config() -> AgentConfig {
    serde_json::from_value(serde_json::json!({
        "name": "summarizer",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": "https://llm.internal/v1",
        "api_key_env": "OPENAI_API_KEY",
        "temperature": 0.1,
        "top_p": 0.95,
        "max_tokens": 1024,
        "seed": -7,
        "stop": ["\n\n", "END"],
        "system": "You are terse. «Quotes» and 'apostrophes'; emoji 🙂; back\\slash.",
        "prompt": "Summarize: {{input}}",
        "price_per_mtok_input": 0.15,
        "price_per_mtok_output": 0.6,
        "recording": "recordings/summarizer.jsonl",
        "concurrency": 4,
        "layers": {
            "retry": { "max_attempts": 3, "base_delay_ms": 250, "max_delay_ms": 5000 },
            "timeout_ms": 30000,
            "trace": true
        }
    }))
    .unwrap()
}

async fn put(
    store: &dyn AgentConfigStore,
    t: &TenantId,
    name: &str,
    config: &AgentConfig,
    expected: Option<u64>,
) -> StoredAgentConfig {
    match store.put(t, &id(name), config, expected, "ana").await {
        Ok(stored) => stored,
        Err(e) => panic!("put {name} on {expected:?} failed: {:?}: {e}", e.kind()),
    }
}

fn assert_conflict(e: &StoreError, names: &str) {
    assert_eq!(e.kind(), StoreErrorKind::Conflict, "{e}");
    assert_eq!(e.remedy(), Remedy::FixInput);
    assert!(e.message().contains(names), "{names:?} in {e}");
}

/// A create makes version 1 with every field as written, its author, its time and the
/// digest of its content; `get` and `get_version` read back what `put` returned.
pub async fn create_makes_version_one_with_every_field(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let t = tenant("tamma");
    let before = now_ms();
    let config = full_config();
    let v1 = put(store.as_ref(), &t, "summarizer", &config, None).await;
    assert_eq!(v1.id, id("summarizer"));
    assert_eq!(v1.version, 1);
    assert_eq!(v1.config, config);
    assert_eq!(v1.author, "ana");
    assert_eq!(v1.digest, config_digest(&config));
    assert!(v1.created_at_ms >= before && v1.created_at_ms <= now_ms() + 1);
    let got = store.get(&t, &id("summarizer")).await.unwrap();
    assert_eq!(got.as_ref(), Some(&v1));
    let other = stores.open().await;
    assert_eq!(
        other.get_version(&t, &id("summarizer"), 1).await.unwrap(),
        Some(v1),
        "another handle reads it"
    );
}

/// An update based on the latest version makes the next one; the older stays readable
/// unchanged.
pub async fn update_with_the_latest_version_makes_the_next(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let t = tenant("tamma");
    let v1 = put(store.as_ref(), &t, "s", &config("gpt-4o"), None).await;
    let v2 = store
        .put(&t, &id("s"), &config("gpt-4.1"), Some(1), "bo")
        .await
        .unwrap();
    assert_eq!((v2.version, v2.author.as_str()), (2, "bo"));
    assert_eq!(v2.config.model, "gpt-4.1");
    assert_ne!(v2.digest, v1.digest);
    assert_eq!(store.get(&t, &id("s")).await.unwrap(), Some(v2.clone()));
    assert_eq!(store.get_version(&t, &id("s"), 1).await.unwrap(), Some(v1));
    // Writing the same content again is a new version with the same digest.
    let v3 = put(store.as_ref(), &t, "s", &config("gpt-4.1"), Some(2)).await;
    assert_eq!((v3.version, v3.digest), (3, v2.digest));
}

/// A write based on a version that is no longer the latest (or that never was) is
/// refused with a conflict naming the current version, and writes nothing.
pub async fn a_stale_version_is_refused_and_writes_nothing(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let t = tenant("tamma");
    put(store.as_ref(), &t, "s", &config("a"), None).await;
    let v2 = put(store.as_ref(), &t, "s", &config("b"), Some(1)).await;
    for stale in [Some(1), Some(0), Some(3), Some(u64::MAX)] {
        let e = store
            .put(&t, &id("s"), &config("lost"), stale, "bo")
            .await
            .unwrap_err();
        assert_conflict(&e, "version 2");
    }
    assert_eq!(store.get(&t, &id("s")).await.unwrap(), Some(v2));
    assert_eq!(store.history(&t, &id("s")).await.unwrap().len(), 2);
}

/// Creating an id that exists is refused (naming its version), and so is updating an
/// id that does not exist.
pub async fn creating_twice_or_updating_nothing_is_refused(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let t = tenant("tamma");
    let v1 = put(store.as_ref(), &t, "s", &config("a"), None).await;
    let e = store
        .put(&t, &id("s"), &config("b"), None, "bo")
        .await
        .unwrap_err();
    assert_conflict(&e, "version 1");
    assert_eq!(store.history(&t, &id("s")).await.unwrap(), vec![v1]);
    let e = store
        .put(&t, &id("missing"), &config("b"), Some(1), "bo")
        .await
        .unwrap_err();
    assert_conflict(&e, "none");
    assert_eq!(store.get(&t, &id("missing")).await.unwrap(), None);
}

/// History gives every version oldest first; `get_version` each of them and nothing
/// outside `1..=latest`; an unknown id has no history and no version.
pub async fn history_and_versions_read_back_every_write(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let t = tenant("tamma");
    let mut written = Vec::new();
    for n in 0..5u64 {
        let expected = if n == 0 { None } else { Some(n) };
        written.push(put(store.as_ref(), &t, "s", &config(&format!("m{n}")), expected).await);
    }
    let history = store.history(&t, &id("s")).await.unwrap();
    assert_eq!(history, written);
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    for v in &written {
        assert_eq!(
            store.get_version(&t, &id("s"), v.version).await.unwrap(),
            Some(v.clone())
        );
    }
    for absent in [0, 6, u64::MAX] {
        assert_eq!(store.get_version(&t, &id("s"), absent).await.unwrap(), None);
    }
    assert_eq!(store.get(&t, &id("s")).await.unwrap(), written.pop());
    assert!(store.history(&t, &id("other")).await.unwrap().is_empty());
    assert_eq!(store.get(&t, &id("other")).await.unwrap(), None);
    assert_eq!(store.get_version(&t, &id("other"), 1).await.unwrap(), None);
}

/// `list` gives the latest version of each configuration of the tenant, sorted by id in
/// byte order.
pub async fn list_gives_the_latest_of_each_sorted_by_id(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let t = tenant("tamma");
    assert!(store.list(&t).await.unwrap().is_empty());
    for (name, versions) in [("b", 1), ("a", 3), ("C", 2), ("a.2", 1), ("10", 1)] {
        for v in 0..versions {
            let expected = if v == 0 { None } else { Some(v) };
            put(
                store.as_ref(),
                &t,
                name,
                &config(&format!("{name}-{v}")),
                expected,
            )
            .await;
        }
    }
    let list = store.list(&t).await.unwrap();
    let seen: Vec<(&str, u64, &str)> = list
        .iter()
        .map(|s| (s.id.as_str(), s.version, s.config.model.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("10", 1, "10-0"),
            ("C", 2, "C-1"),
            ("a", 3, "a-2"),
            ("a.2", 1, "a.2-0"),
            ("b", 1, "b-0"),
        ]
    );
}

/// Another tenant sees none of a tenant's configurations, cannot update them (its
/// conflict says nothing of them), and its own configuration of the same id is its own.
pub async fn tenants_are_isolated(stores: &dyn AgentConfigStoreFactory) {
    let store = stores.open().await;
    let (tamma, acme) = (tenant("tamma"), tenant("acme"));
    put(store.as_ref(), &tamma, "s", &config("a"), None).await;
    let theirs = put(store.as_ref(), &tamma, "s", &config("b"), Some(1)).await;
    assert_eq!(store.get(&acme, &id("s")).await.unwrap(), None);
    assert_eq!(store.get_version(&acme, &id("s"), 1).await.unwrap(), None);
    assert!(store.history(&acme, &id("s")).await.unwrap().is_empty());
    assert!(store.list(&acme).await.unwrap().is_empty());
    for expected in [Some(2), Some(1)] {
        let e = store
            .put(&acme, &id("s"), &config("evil"), expected, "mallory")
            .await
            .unwrap_err();
        assert_conflict(&e, "none");
        assert!(!e.message().contains("version 2"), "{e}");
    }
    let own = put(store.as_ref(), &acme, "s", &config("own"), None).await;
    assert_eq!(own.version, 1);
    assert_eq!(store.get(&tamma, &id("s")).await.unwrap(), Some(theirs));
    assert_eq!(store.list(&acme).await.unwrap(), vec![own]);
    assert_eq!(store.list(&tamma).await.unwrap().len(), 1);
}

/// Ids break no store: the longest and every allowed character round-trip through
/// writes, reads and the listing; what the rule refuses never becomes an id.
pub async fn every_valid_id_round_trips_and_invalid_ones_are_refused(
    stores: &dyn AgentConfigStoreFactory,
) {
    let store = stores.open().await;
    let t = tenant("tamma");
    let longest = "Z".repeat(128);
    let names = [longest.as_str(), "a.b_c:d-E9", "-", ".", "::", "0"];
    for name in names {
        let stored = put(store.as_ref(), &t, name, &config(name), None).await;
        assert_eq!(stored.id.as_str(), name);
        let got = store.get(&t, &id(name)).await.unwrap().unwrap();
        assert_eq!(got.config.model, name);
    }
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    let listed: Vec<String> = store
        .list(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(listed, sorted);
    let too_long = "Z".repeat(129);
    for bad in ["", "a b", "a/b", "x'; --", "é", too_long.as_str()] {
        let e = AgentConfigId::new(bad).unwrap_err();
        assert_eq!(e.remedy(), Remedy::FixInput);
        let json = serde_json::to_string(bad).unwrap();
        assert!(
            serde_json::from_str::<AgentConfigId>(&json).is_err(),
            "{bad:?}"
        );
    }
}

/// Writers on three handles, all based on the same version, at once: exactly one wins
/// each round, the others get a conflict, and the history has one version per round.
pub async fn concurrent_writers_from_the_same_version_exactly_one_wins(
    stores: &dyn AgentConfigStoreFactory,
) {
    const WRITERS: usize = 9;
    const ROUNDS: u64 = 20;
    let handles = [
        stores.open().await,
        stores.open().await,
        stores.open().await,
    ];
    let t = tenant("tamma");
    let mut expected = None;
    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = handles[w % handles.len()].clone();
                let (t, barrier) = (t.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let c = config(&format!("round {round} writer {w}"));
                    store
                        .put(&t, &id("raced"), &c, expected, &format!("w{w}"))
                        .await
                })
            })
            .collect();
        let mut won = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(stored) => won.push(stored),
                Err(e) => assert_conflict(&e, "version"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one writer wins");
        assert_eq!(won[0].version, round + 1);
        let latest = handles[1].get(&t, &id("raced")).await.unwrap();
        assert_eq!(latest.as_ref(), Some(&won[0]));
        expected = Some(round + 1);
    }
    let history = handles[0].history(&t, &id("raced")).await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        (1..=ROUNDS).collect::<Vec<_>>()
    );
}

/// Expands to one `#[test]` per behaviour of the agent configuration suite. `$make` is
/// evaluated per test and yields `(guard, factory)`, `factory` an
/// [`AgentConfigStoreFactory`] over a fresh registry (the guard is kept to the test's
/// end).
#[macro_export]
macro_rules! agent_config_conformance_tests {
    ($make:expr) => {
        $crate::agent_config_conformance_tests!(@tests $make;
            create_makes_version_one_with_every_field,
            update_with_the_latest_version_makes_the_next,
            a_stale_version_is_refused_and_writes_nothing,
            creating_twice_or_updating_nothing_is_refused,
            history_and_versions_read_back_every_write,
            list_gives_the_latest_of_each_sorted_by_id,
            tenants_are_isolated,
            every_valid_id_round_trips_and_invalid_ones_are_refused,
            concurrent_writers_from_the_same_version_exactly_one_wins,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                // `$make` is evaluated inside the runtime: it may `.await`, and its guard
                // drops there too.
                $crate::block_on(async {
                    let (_guard, factory) = $make;
                    $crate::conformance::agent_configs::$name(&factory).await;
                });
            }
        )*
    };
}
