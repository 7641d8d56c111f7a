//! A/B tests of two configurations with the mixture sequential probability ratio test
//! (core [`Msprt`]; Johari et al. 2017): the p-value is valid at every case, so the test
//! stops as soon as it is decided.

use crate::error::OptimizeError;
use crate::observations::Observations;
use crate::study::{Evaluation, Evaluator};
use serde::Serialize;
use tamma_bench_core::stats::Msprt;

/// The result of an A/B test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbVerdict {
    /// A is better (always-valid p < α, mean difference > 0).
    A,
    /// B is better.
    B,
    /// Every case was used without a decision.
    Undecided,
}

/// What an A/B test found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbResult {
    /// The verdict.
    pub verdict: AbVerdict,
    /// Cases used.
    pub n_cases: u64,
    /// Mean of A − B.
    pub mean_diff: f64,
    /// Always-valid p-value at the stop.
    pub p_value: f64,
}

/// Runs the A/B test of configurations 0 (A) and 1 (B) of `evaluator` on `n_cases` cases
/// in random order (from `seed`), `batch` cases at a time, at level `alpha`.
pub async fn ab_test(
    evaluator: &dyn Evaluator,
    n_cases: usize,
    seed: u64,
    batch: usize,
    alpha: f64,
) -> Result<AbResult, OptimizeError> {
    let mut obs = Observations::new(2, n_cases, seed);
    // τ = 0.05: tuned for differences of about 5 points; min 10 cases.
    let mut test = Msprt::new(0.05, 10);
    let mut round = 0;
    while obs.evaluated(0) < n_cases {
        let from = obs.evaluated(0);
        let to = (from + batch.max(1)).min(n_cases);
        let cases: Vec<usize> = (from..to).map(|p| obs.case_at(p)).collect();
        let plan = [0, 1].map(|arm| Evaluation {
            arm,
            from,
            cases: cases.clone(),
        });
        let measured = evaluator.evaluate(round, &plan, None).await?;
        round += 1;
        for m in &measured {
            obs.record(m);
        }
        let (a, b) = (obs.scores(0), obs.scores(1));
        for p in from..obs.evaluated(0).min(obs.evaluated(1)) {
            if a[p].is_nan() || b[p].is_nan() {
                continue;
            }
            let p_value = test.push(a[p] - b[p]);
            if p_value < alpha {
                return Ok(AbResult {
                    verdict: if test.mean() > 0.0 {
                        AbVerdict::A
                    } else {
                        AbVerdict::B
                    },
                    n_cases: test.n(),
                    mean_diff: test.mean(),
                    p_value,
                });
            }
        }
        if obs.evaluated(0) == from {
            break;
        }
    }
    Ok(AbResult {
        verdict: AbVerdict::Undecided,
        n_cases: test.n(),
        mean_diff: test.mean(),
        p_value: test.p_value(),
    })
}
