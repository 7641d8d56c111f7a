//! Successive halving (Karnin et al., ICML 2013; Jamieson & Talwalkar, AISTATS 2016;
//! the inner loop of Hyperband, Li et al., JMLR 2018) that promotes by *lower confidence
//! bound* rather than by mean.
//!
//! Rung r evaluates the survivors on the first `n0 · 2^r` cases; the survivors are
//! ranked by the lower bound of their paired difference to the rung's leader and the top
//! half goes on. A configuration whose interval still overlaps the leader's is kept even
//! if that exceeds half, so a lucky mean alone does not promote. Stops at one survivor,
//! on the ε-best certificate, or at the end of the benchmark.

use super::{
    Decision, Guarantee, PairBounds, Step, StopReason, Strategy, extend_all, initial_cases, leader,
};
use crate::observations::Observations;

/// Successive halving over all configurations.
#[derive(Debug, Clone)]
pub struct Halving {
    alive: Vec<usize>,
    n_cases: usize,
    rung: usize,
    bounds: PairBounds,
}

impl Halving {
    /// Successive halving over `n_arms` configurations on `n_cases` cases.
    pub fn new(n_arms: usize, n_cases: usize, guarantee: Guarantee) -> Self {
        Self {
            alive: (0..n_arms).collect(),
            n_cases,
            rung: 0,
            bounds: PairBounds::new(n_arms, n_cases, guarantee.delta, guarantee.epsilon),
        }
    }

    fn rung_size(&self) -> usize {
        (2 * initial_cases(self.n_cases))
            .saturating_mul(1 << self.rung.min(30))
            .min(self.n_cases)
    }
}

impl Strategy for Halving {
    fn name(&self) -> &'static str {
        "halving"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        let size = self.rung_size();
        let pending = extend_all(obs, &self.alive, size);
        if !pending.is_empty() {
            return Step::Evaluate(pending);
        }
        let best = leader(obs, &self.alive);
        if self.bounds.certify(obs, best, self.alive.iter().copied()) {
            return Step::Done(Decision {
                best,
                reason: StopReason::Certified,
            });
        }
        if self.alive.len() == 1 || size >= self.n_cases {
            return Step::Done(Decision {
                best,
                reason: StopReason::Finished,
            });
        }
        // Rank by lower bound of μ_j − μ_best; keep the top half, plus any whose
        // interval still contains 0 (not separated from the leader).
        let mut ranked: Vec<(usize, f64, f64)> = self
            .alive
            .iter()
            .map(|&j| {
                let (lo, hi) = self.bounds.diff(obs, j, best);
                (j, lo, hi)
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let keep = self.alive.len().div_ceil(2);
        self.alive = ranked
            .iter()
            .enumerate()
            .filter(|(rank, (_, _, hi))| *rank < keep || *hi >= 0.0)
            .map(|(_, (j, _, _))| *j)
            .collect();
        self.alive.sort_unstable();
        self.rung += 1;
        self.ask(obs)
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.alive)
    }
}
