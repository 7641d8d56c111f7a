//! Paired confidence sequences between configurations, kept incrementally.

use crate::confidence::PairedSequence;
use crate::observations::Observations;
use std::collections::HashMap;

/// The confidence sequences of `μ_i − μ_j` for the pairs a strategy looks at, each side
/// at level δ/(K − 1).
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
            pairs: HashMap::new(),
        }
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
        let (seq, consumed) = self.pairs.entry((a, b)).or_insert_with(|| {
            let seq = PairedSequence::new(self.n_cases, self.alpha).with_resolution(self.epsilon);
            (seq, 0)
        });
        let shared = obs.evaluated(a).min(obs.evaluated(b));
        let (sa, sb) = (obs.scores(a), obs.scores(b));
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
