//! Racing (F-race / irace style: Birattari et al. 2002; López-Ibáñez et al. 2016):
//! every surviving configuration is evaluated on the next batch of cases (cases are the
//! blocks), then each survivor is compared with the leader by a one-sided paired t-test,
//! the p-values are Holm-corrected, and those significantly worse are eliminated.
//!
//! The repeated tests are the classical racing procedure, not anytime-valid; the stop is
//! the same ε-best certificate as the other strategies (over the survivors), or a single
//! survivor. The simulation reports how often this heuristic elimination errs.

use super::{
    Decision, Guarantee, PairBounds, Step, StopReason, Strategy, extend_all, grow, initial_cases,
    leader,
};
use crate::observations::Observations;
use tamma_bench_core::stats::{holm, t_p_value};

/// Cases before the first elimination test (irace's `firstTest` in spirit).
const FIRST_TEST: usize = 32;

/// Racing over all configurations.
#[derive(Debug, Clone)]
pub struct Racing {
    alive: Vec<usize>,
    n_cases: usize,
    alpha: f64,
    bounds: PairBounds,
}

impl Racing {
    /// Racing over `n_arms` configurations; tests at level δ.
    pub fn new(n_arms: usize, n_cases: usize, guarantee: Guarantee) -> Self {
        Self {
            alive: (0..n_arms).collect(),
            n_cases,
            alpha: guarantee.delta,
            bounds: PairBounds::new(n_arms, n_cases, guarantee.delta, guarantee.epsilon),
        }
    }

    /// Eliminates the survivors significantly worse than the leader.
    fn eliminate(&mut self, obs: &Observations, best: usize) {
        let others: Vec<usize> = self.alive.iter().copied().filter(|&a| a != best).collect();
        let p: Vec<f64> = others
            .iter()
            .map(|&j| one_sided_p(obs.pairs(best, j)))
            .collect();
        let adjusted = holm(&p);
        let worse: Vec<usize> = others
            .iter()
            .zip(&adjusted)
            .filter(|(_, p)| **p < self.alpha)
            .map(|(j, _)| *j)
            .collect();
        self.alive.retain(|a| !worse.contains(a));
    }
}

/// One-sided p-value of the paired t-test of H0: mean(a − b) ≤ 0.
fn one_sided_p(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let d: Vec<f64> = pairs.map(|(a, b)| a - b).collect();
    let n = d.len() as f64;
    if d.len() < 2 {
        return 1.0;
    }
    let mean = d.iter().sum::<f64>() / n;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    if var <= 0.0 {
        return if mean > 0.0 { 0.0 } else { 1.0 };
    }
    let t = mean / (var / n).sqrt();
    let two_sided = t_p_value(t, n - 1.0);
    if t > 0.0 {
        two_sided / 2.0
    } else {
        1.0 - two_sided / 2.0
    }
}

impl Strategy for Racing {
    fn name(&self) -> &'static str {
        "racing"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        let n = self
            .alive
            .iter()
            .map(|&a| obs.evaluated(a))
            .min()
            .unwrap_or(0);
        if n == 0 {
            return Step::Evaluate(extend_all(obs, &self.alive, initial_cases(self.n_cases)));
        }
        let best = leader(obs, &self.alive);
        if n >= FIRST_TEST.min(self.n_cases) {
            self.eliminate(obs, best);
        }
        if self.alive.len() == 1 {
            return Step::Done(Decision {
                best,
                reason: StopReason::Finished,
            });
        }
        if self.bounds.certify(obs, best, self.alive.iter().copied()) {
            return Step::Done(Decision {
                best,
                reason: StopReason::Certified,
            });
        }
        if n >= self.n_cases {
            return Step::Done(Decision {
                best,
                reason: StopReason::Finished,
            });
        }
        Step::Evaluate(extend_all(obs, &self.alive, grow(n, self.n_cases)))
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.alive)
    }
}
