//! The baselines: grid, uniform allocation and random search.

use super::{
    Decision, Guarantee, PairBounds, Step, StopReason, Strategy, extend_all, grow, initial_cases,
    leader,
};
use crate::observations::Observations;
use crate::rng::SplitMix64;

/// Every configuration on every case, in growing batches: exact on the benchmark, and
/// the cost every other strategy is measured against.
#[derive(Debug, Clone)]
pub struct Grid {
    arms: Vec<usize>,
    n_cases: usize,
}

impl Grid {
    /// A grid over `n_arms` configurations and `n_cases` cases.
    pub fn new(n_arms: usize, n_cases: usize) -> Self {
        Self {
            arms: (0..n_arms).collect(),
            n_cases,
        }
    }
}

/// Walks `arms` to the end of the benchmark, then names the best of them.
fn exhaust(arms: &[usize], n_cases: usize, obs: &Observations) -> Step {
    let n = arms
        .iter()
        .map(|&a| obs.evaluated(a))
        .min()
        .unwrap_or(n_cases);
    if n < n_cases {
        let upto = if n == 0 {
            initial_cases(n_cases)
        } else {
            grow(n, n_cases)
        };
        return Step::Evaluate(extend_all(obs, arms, upto));
    }
    Step::Done(Decision {
        best: leader(obs, arms),
        reason: StopReason::Finished,
    })
}

impl Strategy for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        exhaust(&self.arms, self.n_cases, obs)
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.arms)
    }
}

/// Every configuration on each next batch of cases (no adaptivity in *what* is
/// evaluated), stopping as soon as the leader is certified ε-best.
#[derive(Debug, Clone)]
pub struct Uniform {
    arms: Vec<usize>,
    n_cases: usize,
    bounds: PairBounds,
}

impl Uniform {
    /// Uniform allocation over `n_arms` configurations.
    pub fn new(n_arms: usize, n_cases: usize, guarantee: Guarantee) -> Self {
        Self {
            arms: (0..n_arms).collect(),
            n_cases,
            bounds: PairBounds::new(n_arms, n_cases, guarantee.delta, guarantee.epsilon),
        }
    }
}

impl Strategy for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        let n = self
            .arms
            .iter()
            .map(|&a| obs.evaluated(a))
            .min()
            .unwrap_or(0);
        if n > 0 {
            let best = leader(obs, &self.arms);
            if self.bounds.certify(obs, best, self.arms.iter().copied()) {
                return Step::Done(Decision {
                    best,
                    reason: StopReason::Certified,
                });
            }
        }
        exhaust(&self.arms, self.n_cases, obs)
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.arms)
    }
}

/// Random search: a random quarter of the configurations (at least two), each on every
/// case. Cheap, but blind to the configurations it did not draw.
#[derive(Debug, Clone)]
pub struct RandomSearch {
    arms: Vec<usize>,
    n_cases: usize,
}

impl RandomSearch {
    /// Draws the configurations from `seed`.
    pub fn new(n_arms: usize, n_cases: usize, seed: u64) -> Self {
        let m = n_arms.div_ceil(4).max(2).min(n_arms);
        let mut arms = SplitMix64::new(seed ^ 0x5EA4_C400).permutation(n_arms);
        arms.truncate(m);
        arms.sort_unstable();
        Self { arms, n_cases }
    }
}

impl Strategy for RandomSearch {
    fn name(&self) -> &'static str {
        "random"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        exhaust(&self.arms, self.n_cases, obs)
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.arms)
    }
}
