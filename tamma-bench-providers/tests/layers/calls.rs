//! One retry path: the calls a trial makes through the executor, with and without an
//! agent's `[agent.layers.retry]` (never the product of two retry loops).

use crate::fake::{Fake, err};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Outcome, RetryLayerConfig, Target, TenantContext,
    Trial, Visibility,
};
use tamma_bench_core::provider::ProviderErrorKind;
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::{MemoryStore, ResultStore};
use tamma_bench_providers::layers::{LayerContext, LimiterRegistry, RetryPolicy, wrap};

fn one_case() -> Benchmark {
    Benchmark {
        id: "b".into(),
        name: "B".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases: vec![Case {
            id: "c".into(),
            input: CaseInput::Text("q".into()),
            target: Target::One("x".into()),
            tags: vec![],
            cluster: None,
            metadata: Default::default(),
        }],
        scorers: vec![ScorerSpec::default_exact()],
        epochs: 1,
    }
}

/// Runs one trial of `agent` (wrapped as the CLI wraps it) over a provider that is always
/// unavailable; returns the calls that reached the provider and the stored trial.
async fn failing_trial(agent: AgentConfig, run_retry: RetryPolicy) -> (usize, Trial) {
    let fake = Arc::new(Fake::new().then((0..100).map(|_| err(ProviderErrorKind::Unavailable))));
    let limiters = LimiterRegistry::new();
    let cx = LayerContext {
        base_dir: std::path::Path::new("."),
        cache: None,
        limiters: &limiters,
    };
    let stack = wrap(fake.clone(), &agent, &cx).expect("wraps");
    let store = Arc::new(MemoryStore::new());
    let tenant = TenantContext::local_operator();
    let options = RunOptions {
        run_id: Some("r".into()),
        retry: run_retry,
        ..RunOptions::default()
    };
    Executor::new(store.clone())
        .run(
            &tenant,
            &one_case(),
            vec![AgentRuntime::new(agent, stack.provider)],
            options,
        )
        .await
        .expect("runs");
    let trials: Vec<Trial> = store
        .trials(&tenant.tenant_id, "r")
        .map(|t| t.expect("trial"))
        .collect()
        .await;
    assert_eq!(trials.len(), 1);
    (fake.calls(), trials.into_iter().next().expect("one trial"))
}

fn fast(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    }
}

#[tokio::test]
async fn an_agent_without_a_retry_layer_gets_the_runs_retry_once() {
    let (calls, trial) = failing_trial(AgentConfig::new("a", "openai", "m"), fast(5)).await;
    assert_eq!(calls, 5, "the run's 5 attempts");
    assert_eq!(trial.attempts, 5, "the record counts them");
    assert!(matches!(
        trial.outcome,
        Outcome::InfraFailure {
            error: ProviderErrorKind::Unavailable,
            ..
        }
    ));
}

#[tokio::test]
async fn an_agents_retry_layer_replaces_the_runs_retry_rather_than_multiplying_it() {
    let mut agent = AgentConfig::new("a", "openai", "m");
    agent.layers.retry = Some(RetryLayerConfig {
        max_attempts: 3,
        base_delay_ms: 1,
        max_delay_ms: 2,
        deadline_ms: None,
    });
    let (calls, trial) = failing_trial(agent.clone(), fast(5)).await;
    assert_eq!(calls, 3, "the layer's 3 attempts, not 5 × 3");
    assert_eq!(trial.attempts, 3);
    // One attempt in the layer means no retry at all, whatever the run's policy.
    agent.layers.retry = Some(RetryLayerConfig {
        max_attempts: 1,
        ..RetryLayerConfig::default()
    });
    let (calls, trial) = failing_trial(agent, fast(5)).await;
    assert_eq!((calls, trial.attempts), (1, 1));
}

#[tokio::test]
async fn a_run_without_retries_calls_once() {
    let (calls, trial) = failing_trial(AgentConfig::new("a", "openai", "m"), fast(1)).await;
    assert_eq!((calls, trial.attempts), (1, 1));
}
