//! HumanEval (`examples/humaneval`) through the whole pipeline: the manifest and agents
//! as committed, the `replay` provider, the executor and the sandboxed `code` scorer.
//! HumanEval's own canonical solutions must pass all 164 problems and empty completions
//! none, with no scorer error and no infrastructure failure.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use futures::TryStreamExt;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::load::{load_agents, load_benchmark};
use tamma_bench_core::model::{Outcome, TenantContext, Trial};
use tamma_bench_core::store::{MemoryStore, ResultStore};

/// Passed, failed and the other outcomes of one agent, with a few failures to show.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
    not_scored: usize,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, t: &Trial) {
        match &t.outcome {
            Outcome::Scored { scores } if scores.first().is_some_and(|s| s.value == 1.0) => {
                self.passed += 1;
            }
            Outcome::Scored { scores } => {
                self.failed += 1;
                self.note(t, scores.first().and_then(|s| s.explanation.clone()));
            }
            other => {
                self.not_scored += 1;
                self.note(t, Some(format!("{other:?}")));
            }
        }
    }

    fn note(&mut self, t: &Trial, why: Option<String>) {
        if self.examples.len() < 3 {
            self.examples
                .push(format!("{}: {}", t.key.case_id, why.unwrap_or_default()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canonical_solutions_pass_all_164_problems_and_empty_completions_none() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/humaneval");
    let benchmark = load_benchmark(dir.join("benchmark.toml")).expect("the benchmark loads");
    assert_eq!(benchmark.cases.len(), 164);
    let agents = load_agents(dir.join("agents.toml")).expect("the agents load");
    let runtimes = agents
        .agents
        .iter()
        .map(|a| {
            let provider = tamma_bench_providers::build_provider(a, &agents.base_dir)
                .expect("the replay provider builds");
            AgentRuntime::new(a.clone(), provider)
        })
        .collect();

    let store = Arc::new(MemoryStore::new());
    let cx = TenantContext::local_operator();
    let options = RunOptions {
        concurrency: 4,
        ..Default::default()
    };
    let report = Executor::new(store.clone())
        .run(&cx, &benchmark, runtimes, options)
        .await
        .expect("the run completes");
    let trials: Vec<Trial> = store
        .trials(&cx.tenant_id, &report.run.id)
        .try_collect()
        .await
        .expect("the trials read back");

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for t in &trials {
        tallies.entry(t.key.agent.clone()).or_default().add(t);
    }
    let tally = |agent: &str| {
        let t = tallies.get(agent);
        t.map(|t| (t.passed, t.failed, t.not_scored))
            .unwrap_or_default()
    };
    assert_eq!(
        tally("canonical"),
        (164, 0, 0),
        "canonical: {:?}",
        tallies.get("canonical")
    );
    assert_eq!(
        tally("empty"),
        (0, 164, 0),
        "empty: {:?}",
        tallies.get("empty")
    );
}
