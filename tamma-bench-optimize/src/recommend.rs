//! Recommendations: the chosen configuration with its paired intervals against the
//! incumbent and the runner-up, cost and latency deltas, a verdict; the Pareto front over
//! score, cost and latency where domination needs confidence; the cheapest configuration
//! within ε of the best.

use crate::observations::Observations;
use crate::space::Constraints;
use crate::strategy::{Decision, Guarantee, StopReason};
use serde::Serialize;
use tamma_bench_core::stats::{CompareOptions, Pair, PairedComparison, Verdict, compare_paired};

/// What the engine recommends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The recommended configuration.
    pub configuration: String,
    /// Its mean score over the cases it was evaluated on.
    pub score: f64,
    /// Cases it was evaluated on.
    pub n_cases: usize,
    /// Whether the ε-best guarantee holds (stopped by the certificate).
    pub certified: bool,
    /// Why the study stopped.
    pub reason: StopReason,
    /// The runner-up's name and the paired comparison recommended − runner-up.
    pub vs_runner_up: Option<(String, PairedComparison)>,
    /// The incumbent's name and the paired comparison recommended − incumbent.
    pub vs_incumbent: Option<(String, PairedComparison)>,
    /// Mean USD per case.
    pub cost_per_case_usd: f64,
    /// Cost per case minus the incumbent's.
    pub cost_delta_usd: Option<f64>,
    /// p95 latency, ms.
    pub latency_p95_ms: f64,
    /// p95 latency minus the incumbent's.
    pub latency_delta_ms: Option<f64>,
    /// Against the incumbent when there is one, else against the runner-up.
    pub verdict: Verdict,
    /// Whether it meets the latency constraint.
    pub feasible: bool,
}

/// One configuration on the Pareto front.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoPoint {
    /// Configuration name.
    pub configuration: String,
    /// Mean score.
    pub score: f64,
    /// Mean USD per case.
    pub cost_per_case_usd: f64,
    /// p95 latency, ms.
    pub latency_p95_ms: f64,
}

/// The full recommendation report of a study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The recommendation.
    pub recommendation: Recommendation,
    /// Configurations not dominated with confidence.
    pub pareto_front: Vec<ParetoPoint>,
    /// The cheapest configuration confidently within ε of the recommended one.
    pub cheapest_within_epsilon: Option<String>,
}

fn comparison(obs: &Observations, a: usize, b: usize, g: Guarantee) -> PairedComparison {
    let pairs: Vec<Pair<'_>> = obs
        .pairs(a, b)
        .map(|(x, y)| Pair {
            a: x,
            b: y,
            cluster: None,
        })
        .collect();
    compare_paired(
        &pairs,
        &CompareOptions {
            alpha: g.delta,
            equivalence_band: g.epsilon,
            ..CompareOptions::default()
        },
    )
}

/// p95 of `xs` (0 when empty), nearest rank.
pub fn p95(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

fn cost_per_case(obs: &Observations, a: usize) -> f64 {
    obs.cost_usd(a) / obs.evaluated(a).max(1) as f64
}

/// Builds the report of a decided study over configurations `names`.
pub fn recommend(
    obs: &Observations,
    names: &[String],
    decision: Decision,
    incumbent: Option<usize>,
    guarantee: Guarantee,
    constraints: &Constraints,
) -> Report {
    let best = decision.best;
    let others: Vec<usize> = (0..obs.n_arms())
        .filter(|&a| a != best && obs.evaluated(a) > 0)
        .collect();
    let runner_up = (!others.is_empty()).then(|| crate::strategy::leader(obs, &others));
    let vs = |o: Option<usize>| {
        o.filter(|&o| o != best)
            .map(|o| (names[o].clone(), comparison(obs, best, o, guarantee)))
    };
    let vs_runner_up = vs(runner_up);
    let vs_incumbent = vs(incumbent);
    let verdict = vs_incumbent
        .as_ref()
        .or(vs_runner_up.as_ref())
        .map_or(Verdict::Inconclusive, |(_, c)| c.verdict);
    let latency = |a: usize| p95(obs.latencies(a));
    let feasible = |a: usize| {
        constraints
            .max_p95_latency_ms
            .is_none_or(|m| latency(a) <= m)
    };
    let recommendation = Recommendation {
        configuration: names[best].clone(),
        score: obs.mean(best),
        n_cases: obs.evaluated(best),
        certified: decision.reason == StopReason::Certified,
        reason: decision.reason,
        vs_runner_up,
        cost_per_case_usd: cost_per_case(obs, best),
        cost_delta_usd: incumbent.map(|i| cost_per_case(obs, best) - cost_per_case(obs, i)),
        latency_p95_ms: latency(best),
        latency_delta_ms: incumbent.map(|i| latency(best) - latency(i)),
        vs_incumbent,
        verdict,
        feasible: feasible(best),
    };
    let measured: Vec<usize> = (0..obs.n_arms())
        .filter(|&a| obs.evaluated(a) >= 2)
        .collect();
    let dominates = |j: usize, i: usize| {
        let c = comparison(obs, j, i, guarantee);
        let score_not_worse = c.ci_low > -guarantee.epsilon;
        let score_better = c.verdict == Verdict::Better;
        let (cj, ci) = (cost_per_case(obs, j), cost_per_case(obs, i));
        let (lj, li) = (latency(j), latency(i));
        score_not_worse
            && cj <= ci
            && lj <= li
            && (score_better || cj < ci * 0.99 || lj < li * 0.95)
    };
    let pareto_front = measured
        .iter()
        .filter(|&&i| feasible(i) && !measured.iter().any(|&j| j != i && dominates(j, i)))
        .map(|&i| ParetoPoint {
            configuration: names[i].clone(),
            score: obs.mean(i),
            cost_per_case_usd: cost_per_case(obs, i),
            latency_p95_ms: latency(i),
        })
        .collect();
    let cheapest_within_epsilon = measured
        .iter()
        .copied()
        .filter(|&j| {
            feasible(j)
                && (j == best || comparison(obs, j, best, guarantee).ci_low > -guarantee.epsilon)
        })
        .min_by(|&a, &b| {
            cost_per_case(obs, a)
                .total_cmp(&cost_per_case(obs, b))
                .then(a.cmp(&b))
        })
        .map(|j| names[j].clone());
    Report {
        recommendation,
        pareto_front,
        cheapest_within_epsilon,
    }
}
