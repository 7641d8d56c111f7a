//! LUCB best-arm identification (Kalyanakrishnan et al., ICML 2012) with anytime-valid
//! paired confidence sequences and an ε-best stopping rule.
//!
//! Every configuration first gets the screening cases. Their scores decide how δ is
//! spent ([`screening_prior`]): configurations that look likely to lead get tighter
//! bounds for their own certificate, unlikely ones wider, and the evidence of the
//! sequences starts after the screening, so the spending is fixed before it (see
//! [`PairBounds::set_prior`]). Then each round takes the leader b (highest
//! difficulty-adjusted mean) and the rivals whose upper bound of `μ_c − μ_b` is still
//! at least ε. If there are none, b is ε-best with probability ≥ 1 − δ and the strategy
//! stops; otherwise b and the most promising of them (mean difference plus two standard
//! errors, [`promise`]) are extended on their next cases, which is where the uncertainty
//! that blocks the decision lies.

use super::{Decision, Guarantee, PairBounds, Step, StopReason, Strategy, extend_all};
use super::{Request, initial_cases, leader};
use crate::observations::Observations;

/// Share of δ spread evenly over the configurations whatever the screening says (what a
/// configuration the screening misjudged still gets).
const PRIOR_FLOOR: f64 = 0.1;

/// Lower limit of the per-case standard deviation of a paired difference in the
/// heuristics (16 pass/fail cases can show none).
const MIN_SCREEN_SD: f64 = 0.25;

/// Standard errors added to a rival's mean difference in [`promise`] (tuned on the
/// simulation harness; any value keeps the guarantee).
const PROMISE_Z: f64 = 2.0;

/// LUCB over all configurations.
#[derive(Debug, Clone)]
pub struct Lucb {
    arms: Vec<usize>,
    n_cases: usize,
    delta: f64,
    bounds: PairBounds,
    /// Whether δ is spent by the screening yet.
    prior_set: bool,
}

impl Lucb {
    /// LUCB over `n_arms` configurations on `n_cases` cases.
    pub fn new(n_arms: usize, n_cases: usize, guarantee: Guarantee) -> Self {
        Self {
            arms: (0..n_arms).collect(),
            n_cases,
            delta: guarantee.delta,
            bounds: PairBounds::new(n_arms, n_cases, guarantee.delta, guarantee.epsilon),
            prior_set: false,
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
        if !self.prior_set {
            let prior = screening_prior(obs, &self.arms, start);
            self.bounds.set_prior(&prior, start, self.delta);
            self.prior_set = true;
        }
        step(&mut self.bounds, obs, &self.arms, self.n_cases)
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        leader(obs, &self.arms)
    }
}

/// One LUCB round over `arms` (each already past the initial cases): stop when the
/// leader is certified ε-best against all of them, else extend the leader and the most
/// promising challenger among the rivals its certificate still waits for.
pub(crate) fn step(
    bounds: &mut PairBounds,
    obs: &Observations,
    arms: &[usize],
    n_cases: usize,
) -> Step {
    let best = leader(obs, arms);
    let epsilon = bounds.epsilon();
    let mut rivals = false;
    let mut open: Option<(usize, f64)> = None;
    for &j in arms.iter().filter(|&&j| j != best) {
        rivals = true;
        if bounds.diff(obs, j, best).1 < epsilon {
            continue;
        }
        let index = promise(obs, j, best);
        if open.is_none_or(|(_, b)| index > b + 1e-12) {
            open = Some((j, index));
        }
    }
    let Some((challenger, _)) = open else {
        return Step::Done(Decision {
            best,
            reason: if rivals {
                StopReason::Certified
            } else {
                StopReason::Finished
            },
        });
    };
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

/// The allocation index of rival `j` against the leader `b`: their mean difference on the
/// shared cases plus [`PROMISE_Z`] standard errors. It only orders the rivals a
/// certificate still waits for (the stop rests on the confidence sequences alone): the
/// sequences of rivals measured on the screening only carry no evidence yet, and the
/// index sends the cases to the plausible leaders first instead of sweeping everyone.
fn promise(obs: &Observations, j: usize, b: usize) -> f64 {
    let d: Vec<f64> = obs.pairs(j, b).map(|(x, y)| x - y).collect();
    let n = d.len().max(1) as f64;
    let m = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n)
        .sqrt()
        .max(MIN_SCREEN_SD);
    m + PROMISE_Z * sd / n.sqrt()
}

/// The next prefix length of a pair after `n`: an eighth more (at least 8), capped at
/// `n_cases`. Finer than the batches of the strategies that extend everyone: a pair
/// stops within an eighth of the cases its certificate needs, at the price of more
/// (smaller) rounds.
fn grow(n: usize, n_cases: usize) -> usize {
    (n + (n / 8).max(8)).min(n_cases)
}

/// The prior over which configuration will be certified, from the first `start` cases
/// only: `exp(−z²/2)`, z the screening deficit of a configuration to the screening top
/// in standard errors of their paired difference, normalised, mixed with a uniform
/// share [`PRIOR_FLOOR`].
pub(crate) fn screening_prior(obs: &Observations, arms: &[usize], start: usize) -> Vec<f64> {
    let mut prior = vec![0.0; obs.n_arms()];
    let Some(&first) = arms.first() else {
        return prior;
    };
    let screened = |a: usize| obs.scores(a).iter().take(start).copied();
    let mean = |a: usize| {
        let (s, n) = screened(a)
            .filter(|x| !x.is_nan())
            .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        if n == 0 { 0.0 } else { s / n as f64 }
    };
    let top = arms
        .iter()
        .copied()
        .fold(first, |b, a| if mean(a) > mean(b) + 1e-12 { a } else { b });
    for &a in arms {
        let d: Vec<f64> = screened(a)
            .zip(screened(top))
            .filter(|(x, y)| !x.is_nan() && !y.is_nan())
            .map(|(x, y)| x - y)
            .collect();
        let n = d.len().max(1) as f64;
        let m = d.iter().sum::<f64>() / n;
        let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(MIN_SCREEN_SD);
        let z = (-m).max(0.0) * n.sqrt() / sd;
        prior[a] = (-z * z / 2.0).exp();
    }
    let total: f64 = arms.iter().map(|&a| prior[a]).sum();
    for &a in arms {
        prior[a] = (1.0 - PRIOR_FLOOR) * prior[a] / total + PRIOR_FLOOR / arms.len() as f64;
    }
    prior
}

#[cfg(test)]
mod tests {
    use super::screening_prior;
    use crate::observations::{Measurement, Observations};

    fn screened(rows: &[[f64; 16]]) -> Observations {
        let mut obs = Observations::new(rows.len(), 100, 1);
        for (arm, row) in rows.iter().enumerate() {
            for (position, &score) in row.iter().enumerate() {
                obs.record(&Measurement {
                    arm,
                    position,
                    score: Some(score),
                    cost_usd: 0.0,
                    latency_ms: 0.0,
                });
            }
        }
        obs
    }

    #[test]
    fn the_prior_favours_the_screening_leaders_and_keeps_a_floor_for_everyone() {
        let good = [1.0; 16];
        let mut close = [1.0; 16];
        close[0] = 0.0;
        let bad = [0.0; 16];
        let obs = screened(&[bad, good, close, bad]);
        let prior = screening_prior(&obs, &[0, 1, 2, 3], 16);
        assert!((prior.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(prior[1] > prior[2] && prior[2] > 0.3, "{prior:?}");
        assert!(
            prior[0] >= 0.1 / 4.0 - 1e-12 && prior[0] < 0.05,
            "{prior:?}"
        );
    }

    #[test]
    fn the_prior_reads_only_the_screening_cases() {
        let obs = screened(&[[1.0; 16], [0.0; 16]]);
        let mut later = obs.clone();
        for position in 16..40 {
            for (arm, score) in [(0, 0.0), (1, 1.0)] {
                later.record(&Measurement {
                    arm,
                    position,
                    score: Some(score),
                    cost_usd: 0.0,
                    latency_ms: 0.0,
                });
            }
        }
        assert_eq!(
            screening_prior(&obs, &[0, 1], 16),
            screening_prior(&later, &[0, 1], 16)
        );
    }
}
