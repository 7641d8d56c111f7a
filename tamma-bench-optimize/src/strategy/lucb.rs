//! LUCB best-arm identification (Kalyanakrishnan et al., ICML 2012) with anytime-valid
//! paired confidence sequences and an ε-best stopping rule.
//!
//! After every configuration has the first few cases, each round takes the leader b
//! (highest difficulty-adjusted mean) and the challenger c (the configuration whose
//! upper bound of `μ_c − μ_b` is highest). If that bound is below ε, b is ε-best with
//! probability ≥ 1 − δ and the strategy stops; otherwise b and c are extended on their
//! next cases, which is where the uncertainty that blocks the decision lies.

use super::{Decision, Guarantee, PairBounds, Step, StopReason, Strategy, extend_all, grow};
use super::{Request, initial_cases, leader};
use crate::observations::Observations;

/// LUCB over all configurations.
#[derive(Debug, Clone)]
pub struct Lucb {
    arms: Vec<usize>,
    n_cases: usize,
    bounds: PairBounds,
}

impl Lucb {
    /// LUCB over `n_arms` configurations on `n_cases` cases.
    pub fn new(n_arms: usize, n_cases: usize, guarantee: Guarantee) -> Self {
        Self {
            arms: (0..n_arms).collect(),
            n_cases,
            bounds: PairBounds::new(n_arms, n_cases, guarantee.delta, guarantee.epsilon),
        }
    }
}

impl Strategy for Lucb {
    fn name(&self) -> &'static str {
        "lucb"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        let start = initial_cases(self.n_cases);
        let first = extend_all(obs, &self.arms, start);
        if !first.is_empty() {
            return Step::Evaluate(first);
        }
        step(&mut self.bounds, obs, &self.arms, self.n_cases)
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.arms)
    }
}

/// One LUCB round over `arms` (each already past the initial cases): stop when the
/// leader is certified ε-best against all of them, else extend the leader and its most
/// plausible challenger.
pub(crate) fn step(
    bounds: &mut PairBounds,
    obs: &Observations,
    arms: &[usize],
    n_cases: usize,
) -> Step {
    let best = leader(obs, arms);
    let Some((challenger, ub)) = bounds.challenger(obs, best, arms.iter().copied()) else {
        return Step::Done(Decision {
            best,
            reason: StopReason::Finished,
        });
    };
    if ub < bounds.epsilon() {
        return Step::Done(Decision {
            best,
            reason: StopReason::Certified,
        });
    }
    let (nb, nc) = (obs.evaluated(best), obs.evaluated(challenger));
    if nb >= n_cases && nc >= n_cases {
        // Both exhausted: their comparison is exact; the bound above is then the
        // true difference, so b is the better of the two (only reachable with ε = 0).
        return Step::Done(Decision {
            best,
            reason: StopReason::Finished,
        });
    }
    // The challenger catches up with the leader first (those cases pair at no cost
    // for the leader); past it, both advance.
    let upto = if nc < nb {
        grow(nc, n_cases).min(nb)
    } else {
        grow(nc, n_cases)
    };
    let mut batch = vec![Request {
        arm: challenger,
        upto,
    }];
    if nb < upto {
        batch.push(Request { arm: best, upto });
    }
    Step::Evaluate(batch)
}
