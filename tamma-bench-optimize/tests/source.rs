//! The engine's read side: through the tenant-aware repository, internal contexts only,
//! and the same per-case results as the stored trials.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Outcome, Target, TenantContext, TenantId, Tier,
    Visibility,
};
use tamma_bench_core::provider::{Completion, Provider, Usage};
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::{MemoryStore, ResultStore};
use tamma_bench_optimize::source::{RepositorySource, ResultSource};
use tamma_bench_privacy::{InternalContext, Repository};
use tamma_bench_testkit::providers::ScriptedProvider;

/// Right on every third call, with a usage that grows with the call number.
fn erratic() -> ScriptedProvider {
    let calls = AtomicU32::new(0);
    ScriptedProvider::completing(move |_, _| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        Ok(Completion {
            text: if n.is_multiple_of(3) { "yes" } else { "no" }.into(),
            usage: Usage {
                input_tokens: 10 + u64::from(n),
                output_tokens: 1,
            },
            ..Default::default()
        })
    })
    .named("erratic")
}

fn benchmark() -> Benchmark {
    let cases = (0..30)
        .map(|i| Case {
            id: format!("c{i:02}"),
            input: CaseInput::Text(format!("case {i}")),
            target: Target::One("yes".into()),
            tags: vec![format!("t{}", i % 3)],
            cluster: Some(format!("k{}", i % 4)),
            metadata: Default::default(),
        })
        .collect();
    Benchmark {
        id: "b".into(),
        name: "B".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases,
        scorers: vec![ScorerSpec::default_exact()],
        epochs: 3,
    }
}

/// Two agents on the benchmark, three epochs each, as `cx`.
async fn stored_run(store: Arc<MemoryStore>, cx: &TenantContext, run_id: &str) {
    let agents = ["a", "b"]
        .map(|name| {
            let mut config = AgentConfig::new(name, "inproc", "m");
            config.price_per_mtok_input = Some(1.0);
            config.price_per_mtok_output = Some(2.0);
            AgentRuntime::new(config, Arc::new(erratic()) as Arc<dyn Provider>)
        })
        .to_vec();
    let options = RunOptions {
        run_id: Some(run_id.into()),
        ..RunOptions::default()
    };
    Executor::new(store)
        .run(cx, &benchmark(), agents, options)
        .await
        .expect("run");
}

/// The reference: per-case means read straight from the stored trials.
async fn from_store(
    store: &MemoryStore,
    cx: &TenantContext,
    run_id: &str,
    agent: &str,
) -> BTreeMap<String, (Option<f64>, f64, f64, Vec<String>, Option<String>)> {
    let mut by_case: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut trials = store.trials(&cx.tenant_id, run_id);
    while let Some(t) = trials.next().await {
        let t = t.expect("trial");
        if t.key.agent == agent {
            by_case.entry(t.key.case_id.clone()).or_default().push(t);
        }
    }
    by_case
        .into_iter()
        .map(|(id, ts)| {
            let scored: Vec<f64> = ts
                .iter()
                .filter(|t| matches!(t.outcome, Outcome::Scored { .. }))
                .filter_map(|t| t.outcome.headline())
                .collect();
            let score =
                (!scored.is_empty()).then(|| scored.iter().sum::<f64>() / scored.len() as f64);
            let cost = ts.iter().map(|t| t.cost_usd).sum();
            let latency = ts.iter().map(|t| t.latency_ms).sum::<f64>() / ts.len() as f64;
            (
                id,
                (
                    score,
                    cost,
                    latency,
                    ts[0].tags.clone(),
                    ts[0].cluster.clone(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_repository_source_returns_the_stored_case_results_to_an_internal_context() {
    let store = Arc::new(MemoryStore::new());
    let cx = TenantContext::internal(TenantId::new("tamma").expect("id"), "optimizer");
    stored_run(store.clone(), &cx, "r1").await;
    let repo = Repository::new(store.clone()).expect("repository");
    let source = RepositorySource::for_context(repo, cx.clone()).expect("internal");
    for agent in ["a", "b"] {
        let got = source.case_results("r1", agent).await.expect("read");
        let want = from_store(&store, &cx, "r1", agent).await;
        assert_eq!(got.len(), 30);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        for (id, r) in &got {
            let (score, cost, latency, tags, cluster) = &want[id];
            assert_eq!(&r.score, score, "{agent}/{id}");
            assert!((r.cost_usd - cost).abs() < 1e-12, "{agent}/{id}");
            assert!(
                *cost > 0.0,
                "costs are internal fields and reach the engine"
            );
            assert!((r.latency_ms - latency).abs() < 1e-9, "{agent}/{id}");
            assert_eq!((&r.tags, &r.cluster), (tags, cluster));
        }
    }
    let runs = source.runs().await.expect("runs");
    let stored = store.list_runs(&cx.tenant_id).await.expect("runs");
    assert_eq!(
        runs, stored,
        "whole run records, agent configurations included"
    );
}

#[test]
fn an_external_context_cannot_build_a_source() {
    let repo = Repository::new(Arc::new(MemoryStore::new())).expect("repository");
    for tier in [Tier::Free, Tier::Premium] {
        let cx = TenantContext::external(TenantId::new("acme").expect("id"), tier, "u");
        assert!(InternalContext::new(cx.clone()).is_err());
        assert!(RepositorySource::for_context(repo.clone(), cx).is_err());
    }
}

#[tokio::test]
async fn another_tenants_runs_are_not_read() {
    let store = Arc::new(MemoryStore::new());
    let other = TenantContext::internal(TenantId::new("other").expect("id"), "x");
    stored_run(store.clone(), &other, "theirs").await;
    let cx = TenantContext::internal(TenantId::new("tamma").expect("id"), "optimizer");
    let repo = Repository::new(store).expect("repository");
    let source = RepositorySource::for_context(repo, cx).expect("internal");
    assert!(source.case_results("theirs", "a").await.is_err());
    assert!(source.runs().await.expect("runs").is_empty());
}

#[test]
fn the_engine_names_no_store() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![dir];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(
                    !text.contains("ResultStore") && !text.contains("core::store"),
                    "{} reads a store directly",
                    path.display()
                );
            }
        }
    }
    assert!(files > 10);
}
