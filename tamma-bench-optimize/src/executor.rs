//! Evaluations through the real executor: one run per study round and case range, stored
//! like any run (`STUDY-rROUND-gGROUP`), read back through a [`ResultSource`]. Every round
//! is stored private whatever the benchmark's visibility: optimization data is internal.

use crate::error::OptimizeError;
use crate::observations::Measurement;
use crate::source::ResultSource;
use crate::study::{Evaluation, Evaluator};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{Benchmark, RunStatus, TenantContext, Visibility};

/// Runs study batches with an [`Executor`] as an internal tenant.
pub struct ExecutorEvaluator {
    executor: Arc<Executor>,
    source: Arc<dyn ResultSource>,
    cx: TenantContext,
    benchmark: Benchmark,
    agents: Vec<AgentRuntime>,
    study: String,
    options: RunOptions,
}

impl ExecutorEvaluator {
    /// Evaluates `agents` (indexed like the study's configurations) on `benchmark`.
    /// `options` is the template of every run (concurrency, timeouts, retries); its
    /// `run_id` and `budget_usd` are set per run.
    pub fn new(
        executor: Arc<Executor>,
        source: Arc<dyn ResultSource>,
        cx: TenantContext,
        benchmark: Benchmark,
        agents: Vec<AgentRuntime>,
        study: impl Into<String>,
        options: RunOptions,
    ) -> Result<Self, OptimizeError> {
        if !cx.is_internal() {
            return Err(OptimizeError::Invalid(
                "studies run with an internal context".into(),
            ));
        }
        let study = study.into();
        tamma_bench_core::executor::validate_run_id(&study)
            .map_err(|e| OptimizeError::Invalid(format!("study id: {e}")))?;
        Ok(Self {
            executor,
            source,
            cx,
            benchmark,
            agents,
            study,
            options,
        })
    }

    /// Worst-case tokens of a case's prompt: its text length / 3 (a generous estimate
    /// of tokens per character), plus the templates.
    fn input_tokens(&self, case: usize) -> u64 {
        let c = &self.benchmark.cases[case];
        let chars = c.input.as_text().len()
            + self.benchmark.prompt.len()
            + self.benchmark.system.as_deref().map_or(0, str::len);
        (chars / 3 + 16) as u64
    }
}

#[async_trait]
impl Evaluator for ExecutorEvaluator {
    fn worst_case_usd(&self, batch: &[Evaluation]) -> f64 {
        let epochs = self.options.epochs.unwrap_or(self.benchmark.epochs);
        batch
            .iter()
            .map(|e| {
                let cfg = &self.agents[e.arm].config;
                e.cases
                    .iter()
                    .map(|&c| {
                        cfg.max_cost_usd(self.input_tokens(c), self.options.default_max_tokens)
                            .unwrap_or(0.0)
                    })
                    .sum::<f64>()
                    * f64::from(epochs)
            })
            .sum()
    }

    async fn evaluate(
        &self,
        round: usize,
        batch: &[Evaluation],
        remaining_usd: Option<f64>,
    ) -> Result<Vec<Measurement>, OptimizeError> {
        // Group by case range: every group is one run over the same cases.
        let mut groups: BTreeMap<(usize, Vec<usize>), Vec<usize>> = BTreeMap::new();
        for (i, e) in batch.iter().enumerate() {
            groups.entry((e.from, e.cases.clone())).or_default().push(i);
        }
        let mut out: Vec<Vec<Measurement>> = vec![Vec::new(); batch.len()];
        let mut remaining = remaining_usd;
        for (g, ((from, cases), members)) in groups.into_iter().enumerate() {
            let mut bench = self.benchmark.clone();
            // A round is optimization data, internal whatever the benchmark's
            // visibility: stored private, no other tenant ever reads it.
            bench.visibility = Visibility::Private;
            bench.cases = cases
                .iter()
                .map(|&c| self.benchmark.cases[c].clone())
                .collect();
            let agents: Vec<AgentRuntime> = members
                .iter()
                .map(|&i| self.agents[batch[i].arm].clone())
                .collect();
            let run_id = format!("{}-r{round:04}-g{g:02}", self.study);
            let options = RunOptions {
                run_id: Some(run_id.clone()),
                budget_usd: remaining,
                ..self.options.clone()
            };
            let report = self
                .executor
                .run(&self.cx, &bench, agents, options)
                .await
                .map_err(|e| OptimizeError::Evaluation(e.to_string()))?;
            // A cancelled round ends the study here: deciding the next round on partial
            // measurements would plan rounds that a resumed study (same id, same seed,
            // this round completed) plans differently, under the same run ids.
            if report.run.status == RunStatus::Interrupted {
                return Err(OptimizeError::Evaluation(format!(
                    "round run {run_id} was interrupted; run the study again to resume it"
                )));
            }
            if let Some(r) = remaining.as_mut() {
                *r -= report.spent_usd;
            }
            for &i in &members {
                let arm = batch[i].arm;
                let name = &self.agents[arm].config.name;
                let results = self.source.case_results(&run_id, name).await?;
                out[i] = cases
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| {
                        let r = results.get(&self.benchmark.cases[c].id);
                        Measurement {
                            arm,
                            position: from + k,
                            score: r.and_then(|r| r.score),
                            cost_usd: r.map_or(0.0, |r| r.cost_usd),
                            latency_ms: r.map_or(0.0, |r| r.latency_ms),
                        }
                    })
                    .collect();
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

/// Whether `run_id` names a study's round (`STUDY-rROUND-gGROUP`, four and two digits):
/// the runs a study writes itself.
pub(crate) fn is_round_run_id(run_id: &str) -> bool {
    let b = run_id.as_bytes();
    let n = b.len();
    n > 10
        && &b[n - 10..n - 8] == b"-r"
        && b[n - 8..n - 4].iter().all(u8::is_ascii_digit)
        && &b[n - 4..n - 2] == b"-g"
        && b[n - 2..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod round_id_tests {
    use super::is_round_run_id;

    #[test]
    fn round_ids_are_recognized_and_others_are_not() {
        assert!(is_round_run_id("study-ab12-r0016-g00"));
        assert!(is_round_run_id("x-r9999-g99"));
        for other in [
            "run-1",
            "r0016-g00",
            "study-r016-g00",
            "study-r0016-g0",
            "study-r001x-g00",
            "job-abc",
        ] {
            assert!(!is_round_run_id(other), "{other}");
        }
    }
}
