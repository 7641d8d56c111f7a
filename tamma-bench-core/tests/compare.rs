//! Comparing stored results: paired over shared cases, per tag with corrections.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::compare::{ResultRef, compare_results};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Target, TenantContext, Visibility,
};
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::stats::{CompareOptions, Verdict};
use tamma_bench_core::store::{MemoryStore, StoreErrorKind};
use tamma_bench_testkit::providers::ScriptedProvider;

/// Answers correctly on cases whose number modulo 100 is below `skill`.
fn skilled(skill: u32) -> Arc<ScriptedProvider> {
    Arc::new(
        ScriptedProvider::from_fn(move |_, cx| {
            let i: u32 = cx.case_id[1..].parse().unwrap();
            Ok(if i % 100 < skill { "yes" } else { "no" }.into())
        })
        .named("skilled"),
    )
}

fn benchmark(n: u32) -> Benchmark {
    Benchmark {
        id: "b".into(),
        name: "B".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases: (0..n)
            .map(|i| Case {
                id: format!("c{i}"),
                input: CaseInput::Text("?".into()),
                target: Target::One("yes".into()),
                tags: vec![if i % 2 == 0 {
                    "even".into()
                } else {
                    "odd".into()
                }],
                cluster: None,
                metadata: Default::default(),
            })
            .collect(),
        scorers: vec![ScorerSpec::default_exact()],
        epochs: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_better_agent_is_found_better_overall_and_per_tag() {
    let store = Arc::new(MemoryStore::new());
    let cx = TenantContext::local_operator();
    let agents = vec![
        AgentRuntime::new(AgentConfig::new("strong", "s", "m"), skilled(80)),
        AgentRuntime::new(AgentConfig::new("weak", "s", "m"), skilled(60)),
        AgentRuntime::new(AgentConfig::new("twin", "s", "m"), skilled(80)),
    ];
    let opts = RunOptions {
        run_id: Some("r".into()),
        ..Default::default()
    };
    Executor::new(store.clone())
        .run(&cx, &benchmark(1000), agents, opts)
        .await
        .unwrap();

    let c = compare_results(
        store.as_ref(),
        &cx.tenant_id,
        &ResultRef::parse("r/strong"),
        &ResultRef::parse("r/weak"),
        &CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(c.overall.n_pairs, 1000);
    assert!((c.overall.mean_diff - 0.2).abs() < 1e-12);
    assert_eq!(c.overall.test.name, "mcnemar_exact");
    assert_eq!(c.overall.verdict, Verdict::Better);
    assert_eq!(
        c.by_tag.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(),
        vec!["even", "odd"]
    );
    assert!(
        c.by_tag
            .iter()
            .all(|t| t.p_holm >= t.comparison.test.p_value
                && t.comparison.verdict == Verdict::Better)
    );

    let reverse = compare_results(
        store.as_ref(),
        &cx.tenant_id,
        &ResultRef::parse("r/weak"),
        &ResultRef::parse("r/strong"),
        &CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(reverse.overall.verdict, Verdict::Worse);

    let twins = compare_results(
        store.as_ref(),
        &cx.tenant_id,
        &ResultRef::parse("r/strong"),
        &ResultRef::parse("r/twin"),
        &CompareOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        twins.overall.verdict,
        Verdict::Equivalent,
        "identical answers on 1,000 cases: the interval lies inside the band"
    );

    let json = serde_json::to_value(&c).unwrap();
    for field in [
        "n_pairs",
        "mean_diff",
        "se",
        "ci_low",
        "ci_high",
        "correlation",
        "verdict",
    ] {
        assert!(
            json.get(field).is_some(),
            "{field} at the top level of the JSON"
        );
    }
    assert!(json["test"]["p_value"].is_number() && json["test"]["name"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_or_unknown_side_is_refused() {
    let store = Arc::new(MemoryStore::new());
    let cx = TenantContext::local_operator();
    let agents = vec![
        AgentRuntime::new(AgentConfig::new("a", "s", "m"), skilled(80)),
        AgentRuntime::new(AgentConfig::new("b", "s", "m"), skilled(60)),
    ];
    Executor::new(store.clone())
        .run(
            &cx,
            &benchmark(10),
            agents,
            RunOptions {
                run_id: Some("r".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = compare_results(
        store.as_ref(),
        &cx.tenant_id,
        &ResultRef::parse("r"),
        &ResultRef::parse("r/b"),
        &CompareOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(e.message().contains("r/AGENT"), "{e}");
    let e = compare_results(
        store.as_ref(),
        &cx.tenant_id,
        &ResultRef::parse("r/zzz"),
        &ResultRef::parse("r/b"),
        &CompareOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
    let other = tamma_bench_core::model::TenantId::new("other").unwrap();
    let e = compare_results(
        store.as_ref(),
        &other,
        &ResultRef::parse("r/a"),
        &ResultRef::parse("r/b"),
        &CompareOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.kind(),
        StoreErrorKind::NotFound,
        "another tenant cannot compare my runs"
    );
}

#[test]
fn a_handful_of_identical_pairs_is_not_called_equivalent() {
    use tamma_bench_core::stats::{Pair, compare_paired};
    let pairs = [
        Pair {
            a: 1.0,
            b: 1.0,
            cluster: None,
        },
        Pair {
            a: 0.0,
            b: 0.0,
            cluster: None,
        },
    ];
    let c = compare_paired(&pairs, &CompareOptions::default());
    assert_eq!(c.mean_diff, 0.0);
    assert!(
        c.ci_high > 0.5,
        "two cases cannot rule out a difference: {c:?}"
    );
    assert_eq!(c.verdict, Verdict::Inconclusive);
    assert!(
        c.ci_low >= -1.0 && c.ci_high <= 1.0,
        "a difference of scores stays in [-1, 1]"
    );
}
