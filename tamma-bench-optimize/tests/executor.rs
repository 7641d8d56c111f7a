//! Studies through the real executor: every round is a stored run, results are read back
//! with an internal context, the budget holds.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{
    Benchmark, Case, CaseInput, Target, TenantContext, TenantId, Tier, Visibility,
};
use tamma_bench_core::provider::Provider;
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::stats::CompareOptions;
use tamma_bench_core::store::{MemoryStore, ResultStore};
use tamma_bench_optimize::host::{SpaceStudy, run_space_study};
use tamma_bench_optimize::insights::{rank_models, regressions};
use tamma_bench_optimize::source::RepositorySource;
use tamma_bench_optimize::{OptimizationEvent, SearchSpace};
use tamma_bench_privacy::{InternalContext, Repository};
use tamma_bench_testkit::providers::ScriptedProvider;

/// Answers correctly on cases whose number is below `skill` (out of 100).
fn skilled(skill: u32) -> Arc<dyn Provider> {
    let p = ScriptedProvider::from_fn(move |r, _| {
        let text = serde_json::to_string(&r.messages).unwrap_or_default();
        let n: u32 = text
            .split("case ")
            .nth(1)
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(if n < skill { "yes" } else { "no" }.into())
    });
    Arc::new(p.named("skilled").with_usage(10, 1))
}

/// The engine's read side: the repository over `store`, as internal context `cx`.
fn source(store: Arc<MemoryStore>, cx: &TenantContext) -> RepositorySource {
    let repo = Repository::new(store).expect("repository");
    RepositorySource::new(repo, InternalContext::new(cx.clone()).expect("internal"))
}

fn benchmark() -> Benchmark {
    let cases = (0..100)
        .map(|i| Case {
            id: format!("c{i:03}"),
            input: CaseInput::Text(format!("case {i:03}")),
            target: Target::One("yes".into()),
            tags: vec![if i >= 80 {
                "hard".into()
            } else {
                "easy".into()
            }],
            cluster: None,
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
        epochs: 1,
    }
}

fn space() -> SearchSpace {
    SearchSpace::parse(
        r#"
name = "s"
[base]
provider = "inproc"
model = "m"
price_per_mtok_input = 1.0
price_per_mtok_output = 1.0
max_tokens = 4
[[dimension]]
field = "model"
values = ["m20", "m50", "m90"]
[guarantee]
epsilon = 0.05
"#,
    )
    .expect("space")
}

fn agents(space: &SearchSpace) -> Vec<AgentRuntime> {
    let skills = [20, 50, 90];
    space
        .candidates()
        .expect("candidates")
        .into_iter()
        .zip(skills)
        .map(|(c, s)| AgentRuntime::new(c.config, skilled(s)))
        .collect()
}

#[tokio::test]
async fn a_study_runs_through_the_executor_and_stores_its_rounds() {
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(Executor::new(store.clone()));
    let cx = TenantContext::internal(TenantId::new("tamma").expect("id"), "optimizer");
    let source = Arc::new(source(store.clone(), &cx));
    let space = space();
    let (tx, mut rx) = tokio::sync::broadcast::channel(64);
    let study = SpaceStudy {
        id: "st".into(),
        agents: agents(&space),
        space,
        benchmark: benchmark(),
        budget_usd: Some(1.0),
        log: None,
        incumbent: Some("s-model=m50".into()),
        run_options: RunOptions::default(),
    };
    let report = run_space_study(executor, source, cx.clone(), study, Some(tx))
        .await
        .expect("study");
    let r = &report.report.recommendation;
    assert_eq!(r.configuration, "s-model=m90");
    assert!(r.certified);
    assert!(report.evaluations < report.grid_evaluations);
    let runs = store.list_runs(&cx.tenant_id).await.expect("runs");
    assert!(
        runs.len() >= report.rounds,
        "one stored run per round and case range"
    );
    assert!(runs.iter().all(|run| run.id.starts_with("st-r")));
    let (_, incumbent) = r.vs_incumbent.as_ref().expect("incumbent");
    assert!(incumbent.mean_diff > 0.2);
    let mut names = vec![];
    while names.len() < 2 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("events arrive")
            .expect("channel open");
        names.push(match e {
            OptimizationEvent::OptimizationTriggered { .. } => "triggered",
            OptimizationEvent::OptimizationCompleted { .. } => "completed",
            _ => "other",
        });
    }
    assert_eq!(names, ["triggered", "completed"]);
}

#[tokio::test]
async fn the_budget_stops_the_study_before_it_is_exceeded() {
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(Executor::new(store.clone()));
    let cx = TenantContext::local_operator();
    let source = Arc::new(source(store, &cx));
    let space = space();
    // A call costs at most (input ≈ 16 tokens + 4 output) at $1/Mtok: ~2e-5; 30 calls' worth.
    let budget = 30.0 * 2.2e-5;
    let study = SpaceStudy {
        id: "tight".into(),
        agents: agents(&space),
        space,
        benchmark: benchmark(),
        budget_usd: Some(budget),
        log: None,
        incumbent: None,
        run_options: RunOptions::default(),
    };
    let report = run_space_study(executor, source, cx, study, None)
        .await
        .expect("study");
    assert!(
        report.spent_usd <= budget,
        "{} > {budget}",
        report.spent_usd
    );
    assert!(!report.report.recommendation.certified);
}

#[test]
fn external_contexts_cannot_read_for_the_engine() {
    let cx = TenantContext::external(TenantId::new("acme").expect("id"), Tier::Free, "u");
    let repo = Repository::new(Arc::new(MemoryStore::new())).expect("repository");
    assert!(RepositorySource::for_context(repo, cx).is_err());
}

#[tokio::test]
async fn a_worse_later_run_of_the_same_agent_is_a_regression_and_models_are_ranked() {
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(store.clone());
    let cx = TenantContext::local_operator();
    let mut agent = tamma_bench_core::model::AgentConfig::new("bot", "inproc", "m-a");
    for (i, skill) in [90, 40].into_iter().enumerate() {
        let options = RunOptions {
            run_id: Some(format!("run{i}")),
            ..RunOptions::default()
        };
        agent.temperature = Some(i as f64); // a new configuration version, same name
        let rt = AgentRuntime::new(agent.clone(), skilled(skill));
        executor
            .run(&cx, &benchmark(), vec![rt], options)
            .await
            .expect("run");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let other = AgentRuntime::new(
        tamma_bench_core::model::AgentConfig::new("other", "inproc", "m-b"),
        skilled(60),
    );
    let options = RunOptions {
        run_id: Some("run-other".into()),
        ..RunOptions::default()
    };
    executor
        .run(&cx, &benchmark(), vec![other], options)
        .await
        .expect("run");
    let source = source(store, &cx);
    let found = regressions(&source, "bot", &CompareOptions::default())
        .await
        .expect("read");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].before.as_str(), found[0].after.as_str()),
        ("run0", "run1")
    );
    assert!(found[0].mean_diff < -0.4);
    let ranks = rank_models(&source).await.expect("ranks");
    assert_eq!(ranks[0].model, "m-a");
    assert_eq!(ranks[1].model, "m-b");
}

#[tokio::test]
async fn a_cancelled_study_stops_at_its_first_interrupted_round() {
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(Executor::new(store.clone()));
    let cx = TenantContext::internal(TenantId::new("tamma").expect("id"), "optimizer");
    let source = Arc::new(source(store.clone(), &cx));
    let space = space();
    let run_options = RunOptions::default();
    run_options.cancel.cancel();
    let study = SpaceStudy {
        id: "st".into(),
        agents: agents(&space),
        space,
        benchmark: benchmark(),
        budget_usd: Some(1.0),
        log: None,
        incumbent: None,
        run_options,
    };
    let e = run_space_study(executor, source, cx.clone(), study, None)
        .await
        .expect_err("a cancelled study does not complete");
    assert!(e.to_string().contains("interrupted"), "{e}");
    // No round is planned on the interrupted round's partial measurements.
    let runs = store.list_runs(&cx.tenant_id).await.expect("runs");
    assert!(
        runs.len() <= 1,
        "{:?}",
        runs.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
}
