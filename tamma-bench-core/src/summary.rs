//! Summaries of runs, computed from the stored trials in one streaming pass.
//!
//! **Scoring rule.** Each case's score is the mean of the headline scores of its scored
//! epochs. Trials that ended in an infrastructure failure or a scorer error are excluded
//! (they are not the model's answers) and counted separately; a case with no scored epoch
//! is left out of `n`. The headline estimate is over cases (see [`crate::stats`]).
//! With several epochs, the max, majority, pass@1, pass@k and pass^k reductions are
//! reported beside it.

use crate::model::{
    AgentSummary, BenchmarkRef, LatencySummary, Outcome, ReducedScore, Run, RunSummary,
    TokenTotals, Trial,
};
use crate::stats::{
    Estimate, LatencyHistogram, Observation, Reducer, cluster_bootstrap, estimate_mean, pass_at_k,
    pass_hat_k,
};
use crate::store::{ResultStore, StoreError};
use futures::StreamExt;
use std::collections::HashMap;

/// Confidence level of every headline interval.
pub const LEVEL: f64 = 0.95;

/// The headline scores of one case's scored epochs, kept as the four numbers every
/// [`Reducer`] needs, so that memory grows with cases and not with epochs.
struct CaseAcc {
    /// Scored epochs.
    n: u64,
    /// Sum of their scores, added in arrival order from −0.0 (as `Iterator::sum` does).
    sum: f64,
    /// Best score.
    max: f64,
    /// Scores ≥ 0.5 (a pass for the pass/fail reducers).
    passes: u64,
    cluster: Option<String>,
}

impl CaseAcc {
    fn new(cluster: Option<String>) -> Self {
        Self {
            n: 0,
            sum: -0.0,
            max: f64::NAN,
            passes: 0,
            cluster,
        }
    }

    fn add(&mut self, score: f64) {
        self.n += 1;
        self.sum += score;
        // `f64::max` ignores the NaN start, like `reduce(f64::max)` over the scores.
        self.max = self.max.max(score);
        self.passes += u64::from(score >= 0.5);
    }

    /// What [`Reducer::reduce`] gives for the scores added (tested against it below).
    fn reduce(&self, reducer: Reducer) -> Option<f64> {
        let (n, passes) = (self.n, self.passes);
        if n == 0 {
            return None;
        }
        match reducer {
            Reducer::Mean => Some(self.sum / n as f64),
            Reducer::Max => Some(self.max),
            Reducer::Majority => Some(f64::from(u8::from(2 * passes > n))),
            Reducer::PassAtK(k) => {
                (u64::from(k) <= n && k > 0).then(|| pass_at_k(n, passes, u64::from(k)))
            }
            Reducer::PassHatK(k) => {
                (u64::from(k) <= n && k > 0).then(|| pass_hat_k(n, passes, u64::from(k)))
            }
        }
    }
}

/// How summaries are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SummaryOptions {
    /// Replace the headline interval by a cluster bootstrap: (resamples, seed).
    pub cluster_bootstrap: Option<(u32, u64)>,
}

/// Running totals of one agent's trials.
#[derive(Default)]
pub struct AgentAccumulator {
    cases: HashMap<String, CaseAcc>,
    n_trials: u64,
    n_scored: u64,
    n_infra: u64,
    n_scorer_errors: u64,
    n_cache_hits: u64,
    n_uncertain: u64,
    tokens: TokenTotals,
    cost: f64,
    latency: LatencyHistogram,
    max_epoch: u32,
}

impl AgentAccumulator {
    /// Adds one trial.
    pub fn add(&mut self, t: &Trial) {
        self.n_trials += 1;
        self.tokens.input += t.usage.input_tokens;
        self.tokens.output += t.usage.output_tokens;
        self.cost += t.cost_usd;
        self.n_cache_hits += u64::from(t.cache_hit);
        self.max_epoch = self.max_epoch.max(t.key.epoch + 1);
        if t.output.is_some() {
            self.latency.record(t.latency_ms);
        }
        match &t.outcome {
            Outcome::Scored { scores } => {
                self.n_scored += 1;
                self.n_uncertain += u64::from(scores.first().is_some_and(|s| s.uncertain));
                let score = t.outcome.headline().unwrap_or(0.0);
                // Look up before inserting: the case id is copied once per case, not per trial.
                match self.cases.get_mut(&t.key.case_id) {
                    Some(acc) => acc.add(score),
                    None => {
                        let mut acc = CaseAcc::new(t.cluster.clone());
                        acc.add(score);
                        self.cases.insert(t.key.case_id.clone(), acc);
                    }
                }
            }
            Outcome::InfraFailure { .. } => self.n_infra += 1,
            Outcome::ScorerError { .. } => self.n_scorer_errors += 1,
        }
    }

    /// The estimate over cases of their epochs reduced by `reducer` (a case with too
    /// few epochs for it is left out).
    fn reduced(&self, reducer: Reducer, options: &SummaryOptions) -> Estimate {
        let obs: Vec<Observation<'_>> = self
            .cases
            .values()
            .filter_map(|c| {
                Some(Observation {
                    value: c.reduce(reducer)?,
                    cluster: c.cluster.as_deref(),
                })
            })
            .collect();
        let k = self.max_epoch.max(1);
        match options.cluster_bootstrap {
            Some((resamples, seed)) => cluster_bootstrap(&obs, k, LEVEL, resamples, seed),
            None => estimate_mean(&obs, k, LEVEL),
        }
    }

    /// The summary of the trials added.
    pub fn finish(
        &self,
        name: &str,
        provider: &str,
        model: &str,
        options: &SummaryOptions,
    ) -> AgentSummary {
        let k = self.max_epoch.max(1);
        // With several epochs, the other reducers are reported beside the mean.
        let reducers = if k > 1 {
            [
                Reducer::Max,
                Reducer::Majority,
                Reducer::PassAtK(1),
                Reducer::PassAtK(k),
                Reducer::PassHatK(k),
            ]
            .into_iter()
            .map(|r| ReducedScore {
                reducer: r.name(),
                score: self.reduced(r, options),
            })
            .collect()
        } else {
            Vec::new()
        };
        AgentSummary {
            name: name.to_owned(),
            provider: provider.to_owned(),
            model: model.to_owned(),
            n_cases: self.cases.len() as u64,
            n_trials: self.n_trials,
            n_scored: self.n_scored,
            n_infra_failures: self.n_infra,
            n_scorer_errors: self.n_scorer_errors,
            score: self.reduced(Reducer::Mean, options),
            reducers,
            tokens: self.tokens,
            cost_usd: self.cost,
            latency_ms: LatencySummary {
                p50: self.latency.quantile(0.5),
                p95: self.latency.quantile(0.95),
            },
            n_cache_hits: self.n_cache_hits,
            n_uncertain: self.n_uncertain,
        }
    }
}

/// Summarizes `run` from its trials in `store` (read as the run's own tenant).
pub async fn summarize(store: &dyn ResultStore, run: &Run) -> Result<RunSummary, StoreError> {
    summarize_with(store, run, &SummaryOptions::default()).await
}

/// [`summarize`] with options.
pub async fn summarize_with(
    store: &dyn ResultStore,
    run: &Run,
    options: &SummaryOptions,
) -> Result<RunSummary, StoreError> {
    let mut accs: HashMap<String, AgentAccumulator> = HashMap::new();
    let mut trials = store.trials(&run.tenant_id, &run.id);
    while let Some(t) = trials.next().await {
        let mut t = t?;
        match accs.get_mut(&t.key.agent) {
            Some(acc) => acc.add(&t),
            None => {
                let mut acc = AgentAccumulator::default();
                acc.add(&t);
                accs.insert(std::mem::take(&mut t.key.agent), acc);
            }
        }
    }
    let empty = AgentAccumulator::default();
    Ok(RunSummary {
        run_id: run.id.clone(),
        benchmark: BenchmarkRef {
            id: run.benchmark_id.clone(),
            version: run.benchmark_version.clone(),
        },
        status: run.status,
        agents: run
            .agents
            .iter()
            .map(|a| {
                accs.get(&a.name)
                    .unwrap_or(&empty)
                    .finish(&a.name, &a.provider, &a.model, options)
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::CaseAcc;
    use crate::stats::Reducer;
    use proptest::prelude::*;

    fn reducers(k: u32) -> [Reducer; 7] {
        [
            Reducer::Mean,
            Reducer::Max,
            Reducer::Majority,
            Reducer::PassAtK(1),
            Reducer::PassAtK(k),
            Reducer::PassHatK(k),
            Reducer::PassHatK(0),
        ]
    }

    proptest! {
        #[test]
        fn case_totals_reduce_exactly_like_the_scores_themselves(
            scores in prop::collection::vec(
                prop_oneof![Just(0.0), Just(-0.0), Just(1.0), Just(0.5), 0.0..=1.0f64],
                0..40,
            ),
            k in 1u32..45,
        ) {
            let mut acc = CaseAcc::new(None);
            for s in &scores {
                acc.add(*s);
            }
            for r in reducers(k) {
                let (got, want) = (acc.reduce(r), r.reduce(&scores));
                prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{:?} of {:?}", r, scores);
            }
        }
    }
}
