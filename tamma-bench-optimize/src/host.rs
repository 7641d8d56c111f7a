//! The whole pipeline a host runs: a search space's configurations through the executor,
//! under the space's budget and guarantee, to a recommendation report with insights.

use crate::error::OptimizeError;
use crate::executor::ExecutorEvaluator;
use crate::insights::{TagWeakness, tag_weaknesses, weakness_events};
use crate::log::StudyLog;
use crate::predict::held_out_error;
use crate::recommend::{Report, recommend};
use crate::source::{CaseResult, ResultSource};
use crate::space::{Candidate, SearchSpace};
use crate::study::{Study, StudyOptions};
use crate::{OptimizationEvent, StrategyKind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{Benchmark, TenantContext};
use tokio::sync::broadcast;

/// Everything a space study needs besides the executor.
pub struct SpaceStudy {
    /// Study id: names the runs (`ID-rROUND-gGROUP`) and the log.
    pub id: String,
    /// The space.
    pub space: SearchSpace,
    /// Its configurations with their providers, in the order of `space.candidates()`.
    pub agents: Vec<AgentRuntime>,
    /// The benchmark.
    pub benchmark: Benchmark,
    /// Overrides the space's budget.
    pub budget_usd: Option<f64>,
    /// The study log (resumes when it exists).
    pub log: Option<PathBuf>,
    /// The incumbent configuration's name, if the host has one in production.
    pub incumbent: Option<String>,
    /// Template of the executor's runs.
    pub run_options: RunOptions,
}

/// What a space study produced.
#[derive(Debug, Clone, Serialize)]
pub struct StudyReport {
    /// Study id.
    pub study: String,
    /// Strategy used.
    pub strategy: StrategyKind,
    /// Recommendation, Pareto front, cheapest within ε.
    #[serde(flatten)]
    pub report: Report,
    /// Evaluations (configuration × case) made.
    pub evaluations: usize,
    /// Evaluations the grid would make.
    pub grid_evaluations: usize,
    /// Rounds (one stored run per round and case range).
    pub rounds: usize,
    /// USD spent.
    pub spent_usd: f64,
    /// Tags where the recommended configuration is significantly weaker.
    pub weaknesses: Vec<TagWeakness>,
    /// Held-out error of the additive score model (mean absolute, 0–1 scale).
    pub prediction_error: Option<f64>,
}

/// Runs a space study through `executor`, reading results through `source` as `cx`
/// (internal). Events go to `events` when given.
pub async fn run_space_study(
    executor: Arc<Executor>,
    source: Arc<dyn ResultSource>,
    cx: TenantContext,
    study: SpaceStudy,
    events: Option<broadcast::Sender<OptimizationEvent>>,
) -> Result<StudyReport, OptimizeError> {
    let candidates: Vec<Candidate> = study.space.candidates()?;
    if candidates.len() != study.agents.len() {
        return Err(OptimizeError::Invalid(format!(
            "{} agents for {} configurations",
            study.agents.len(),
            candidates.len()
        )));
    }
    let names: Vec<String> = candidates.iter().map(|c| c.config.name.clone()).collect();
    let strategy = study.space.strategy.unwrap_or(StrategyKind::Lucb);
    let guarantee = study.space.guarantee;
    let options = StudyOptions {
        id: study.id.clone(),
        strategy,
        guarantee,
        seed: study.space.seed,
        budget_usd: study.budget_usd.or(study.space.constraints.budget_usd),
    };
    let n_cases = study.benchmark.cases.len();
    let levels: Vec<Vec<usize>> = candidates.iter().map(|c| c.levels.clone()).collect();
    let runner = Study::new(options, names.clone(), n_cases)?.with_levels(levels.clone());
    let forward = events.map(|tx| {
        let mut rx = runner.subscribe();
        tokio::spawn(async move {
            while let Ok(e) = rx.recv().await {
                let _ = tx.send(e);
            }
        });
        runner.events().clone()
    });
    let evaluator = ExecutorEvaluator::new(
        executor,
        source,
        cx,
        study.benchmark.clone(),
        study.agents,
        study.id.clone(),
        study.run_options,
    )?;
    let log = study.log.as_ref().map(StudyLog::open).transpose()?;
    let outcome = runner.run(&evaluator, log).await?;
    let obs = &outcome.observations;
    let incumbent = study
        .incumbent
        .as_ref()
        .and_then(|n| names.iter().position(|x| x == n));
    let report = recommend(
        obs,
        &names,
        outcome.decision,
        incumbent,
        guarantee,
        &study.space.constraints,
    );
    // Per-case results of the recommended configuration, with the benchmark's tags.
    let best = outcome.decision.best;
    let results: BTreeMap<String, CaseResult> = obs
        .scores(best)
        .iter()
        .enumerate()
        .map(|(p, s)| {
            let case = &study.benchmark.cases[obs.case_at(p)];
            let r = CaseResult {
                score: (!s.is_nan()).then_some(*s),
                cost_usd: 0.0,
                latency_ms: 0.0,
                tags: case.tags.clone(),
                cluster: case.cluster.clone(),
            };
            (case.id.clone(), r)
        })
        .collect();
    let weaknesses = tag_weaknesses(&results, guarantee.delta, guarantee.epsilon);
    if let Some(tx) = &forward {
        for e in weakness_events(&names[best], &weaknesses) {
            let _ = tx.send(e);
        }
    }
    Ok(StudyReport {
        study: study.id,
        strategy,
        report,
        evaluations: obs.total_evaluations(),
        grid_evaluations: names.len() * n_cases,
        rounds: outcome.rounds,
        spent_usd: outcome.spent_usd,
        weaknesses,
        prediction_error: held_out_error(&obs.matrix(), &levels),
    })
}
