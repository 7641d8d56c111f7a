//! Paired confidence sequences between configurations, kept incrementally.

use crate::confidence::PairedSequence;
use crate::observations::Observations;
use std::collections::HashMap;

/// The confidence sequences of `μ_i − μ_j` for the pairs a strategy looks at, each side
/// at level δ/(K − 1) (or spent by a prior, [`PairBounds::set_prior`]).
///
/// Why that suffices: let i* be the true best. Every conclusion a strategy draws
/// (certifying b: `μ_b − μ_j > −ε` for all j; eliminating j: `μ_j − μ_leader < 0`) can
/// only be wrong about i* if some *upper* bound of `μ_{i*} − μ_j` fails. Those are K − 1
/// one-sided sequences, each failing with probability ≤ δ/(K − 1) at any time, so with
/// probability ≥ 1 − δ (union bound) i* is never eliminated and any certified candidate
/// is within ε of it.
#[derive(Debug, Clone)]
pub struct PairBounds {
    n_cases: usize,
    alpha: f64,
    epsilon: f64,
    /// Per configuration b, the level of every lower bound of `μ_b − μ_j` (δ·π_b), and the
    /// position the evidence starts at; `None`: δ/(K − 1) everywhere, from the first case.
    prior: Option<(Vec<f64>, usize)>,
    pairs: HashMap<(usize, usize), (PairedSequence, usize)>,
}

impl PairBounds {
    /// Bounds for `n_arms` configurations on `n_cases` cases with overall error `delta`
    /// and tolerance `epsilon`.
    pub fn new(n_arms: usize, n_cases: usize, delta: f64, epsilon: f64) -> Self {
        Self {
            n_cases,
            // Two-sided level 2δ/(K − 1) = one-sided δ/(K − 1) per side.
            alpha: (2.0 * delta / (n_arms.saturating_sub(1).max(1)) as f64).min(1.0),
            epsilon,
            prior: None,
            pairs: HashMap::new(),
        }
    }

    /// Spends δ by a prior over which configuration will be certified: every lower bound
    /// of `μ_b − μ_j` runs at level δ·π_b (π normalised to sum 1), on the cases from
    /// position `start` on. `prior` must be a function of the first `start` cases only
    /// (every configuration's scores there, nothing beyond), e.g. a screening.
    ///
    /// Why that suffices: a certificate for b against the true best i* is wrong only if the
    /// lower bound of `μ_b − μ_{i*}` fails, which has probability ≤ δ·π_b given the first
    /// `start` cases (the cases after them are still a random sample without replacement
    /// of the rest); summed over b ≠ i*, the error is at most δ. A configuration the prior
    /// favours is certified with tighter bounds, one it does not with wider ones.
    pub fn set_prior(&mut self, prior: &[f64], start: usize, delta: f64) {
        let total: f64 = prior.iter().filter(|p| p.is_finite() && **p > 0.0).sum();
        let levels = prior
            .iter()
            .map(|&p| {
                if total > 0.0 && p.is_finite() && p > 0.0 {
                    delta * p / total
                } else {
                    f64::MIN_POSITIVE
                }
            })
            .collect();
        self.prior = Some((levels, start));
        self.pairs.clear();
    }

    /// The tolerance ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The interval of `μ_i − μ_j` over the benchmark, from their shared cases.
    pub fn diff(&mut self, obs: &Observations, i: usize, j: usize) -> (f64, f64) {
        if i == j {
            return (0.0, 0.0);
        }
        let (a, b) = (i.min(j), i.max(j));
        let (sa, sb) = (obs.scores(a), obs.scores(b));
        let (seq, consumed) = self.pairs.entry((a, b)).or_insert_with(|| {
            let seq = PairedSequence::new(self.n_cases, self.alpha).with_resolution(self.epsilon);
            let seq = match &self.prior {
                // The lower side of μ_a − μ_b certifies a (level δ·π_a), the upper side b.
                // The evidence starts after the scored pairs of the first `start` positions.
                Some((levels, start)) => {
                    let screened = (0..(*start).min(sa.len()).min(sb.len()))
                        .filter(|&p| !sa[p].is_nan() && !sb[p].is_nan())
                        .count();
                    seq.with_levels(levels[a], levels[b]).with_start(screened)
                }
                None => seq,
            };
            (seq, 0)
        });
        let shared = obs.evaluated(a).min(obs.evaluated(b));
        for p in *consumed..shared {
            if !sa[p].is_nan() && !sb[p].is_nan() {
                seq.push(sa[p], sb[p]);
            }
        }
        *consumed = shared.max(*consumed);
        let (lo, hi) = seq.bounds();
        if i == a { (lo, hi) } else { (-hi, -lo) }
    }

    /// Whether `candidate` is certified ε-best against `rivals`: for each rival j, the
    /// lower bound of `μ_candidate − μ_j` exceeds −ε.
    pub fn certify(
        &mut self,
        obs: &Observations,
        candidate: usize,
        rivals: impl IntoIterator<Item = usize>,
    ) -> bool {
        let eps = self.epsilon;
        rivals
            .into_iter()
            .filter(|&j| j != candidate)
            .all(|j| self.diff(obs, candidate, j).0 > -eps)
    }

    /// The rival whose upper bound of `μ_j − μ_candidate` is highest, with that bound.
    pub fn challenger(
        &mut self,
        obs: &Observations,
        candidate: usize,
        rivals: impl IntoIterator<Item = usize>,
    ) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for j in rivals.into_iter().filter(|&j| j != candidate) {
            let ub = self.diff(obs, j, candidate).1;
            if best.is_none_or(|(_, b)| ub > b + 1e-12) {
                best = Some((j, ub));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::PairBounds;
    use crate::observations::{Measurement, Observations};

    #[test]
    fn a_favoured_configuration_gets_the_tighter_bound_for_its_own_certificate() {
        let mut obs = Observations::new(2, 400, 1);
        for position in 0..200 {
            for arm in 0..2 {
                let score = f64::from(u8::from((position + arm) % 2 == 0));
                obs.record(&Measurement {
                    arm,
                    position,
                    score: Some(score),
                    cost_usd: 0.0,
                    latency_ms: 0.0,
                });
            }
        }
        let mut favouring_0 = PairBounds::new(2, 400, 0.05, 0.02);
        favouring_0.set_prior(&[0.98, 0.02], 16, 0.05);
        let (lo_0, _) = favouring_0.diff(&obs, 0, 1);
        let (lo_1, _) = favouring_0.diff(&obs, 1, 0);
        // The differences alternate ±1 around a mean of 0, so only the levels differ.
        assert!(lo_0 > lo_1 + 1e-3, "{lo_0} vs {lo_1}");
        assert!(lo_0 < 0.0 && lo_1 < 0.0);
    }
}
