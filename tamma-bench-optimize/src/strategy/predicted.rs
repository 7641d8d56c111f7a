//! Prediction-ordered LUCB: the score model of [`crate::predict`] decides *which
//! configurations to measure first*; the measured confidence sequences alone decide
//! *when to stop*.
//!
//! 1. **Screen a design**: a few configurations covering every level of every dimension
//!    at least twice (in a seeded random order) get the first cases.
//! 2. **Predict the rest**: the additive model, fit on what is measured, predicts every
//!    unmeasured configuration from its levels; the margin is twice the spread of measured
//!    configurations around their levels' prediction plus the noise of a screening mean
//!    (at least ε).
//! 3. **Enter by prediction**: unmeasured configurations predicted to reach the leader
//!    (prediction plus margin at least the leader's) are screened before any LUCB round,
//!    best predicted first, four at a time; the others wait while LUCB runs over the
//!    measured configurations. When those are certified, every configuration still
//!    unmeasured is screened, and LUCB goes on over all of them.
//!
//! The guarantee is LUCB's and rests on measured data only: the study stops with
//! `certified` only when *every* configuration is measured and every rival's confidence
//! sequence (each at δ/(K − 1), anytime-valid, so the data-dependent order is allowed)
//! says it beats the leader by less than ε. A wrong prediction costs evaluations, never
//! correctness. Under a budget that stops the study early, the incumbent comes from the
//! configurations predicted best, which is where the order pays off.

use super::lucb::step;
use super::{Guarantee, PairBounds, Step, Strategy, extend_all, initial_cases, leader};
use crate::observations::Observations;
use crate::predict::AdditiveModel;
use crate::rng::SplitMix64;

/// Configurations screened at once on a prediction (small batches keep the order worth
/// something when the budget ends the study).
const ENTER_AT_ONCE: usize = 4;

/// Prediction-ordered LUCB over all configurations.
#[derive(Debug, Clone)]
pub struct Predicted {
    arms: Vec<usize>,
    levels: Vec<Vec<usize>>,
    n_cases: usize,
    bounds: PairBounds,
    design: Vec<usize>,
    /// Predicted benchmark mean of each configuration, from the last fit.
    predicted: Vec<f64>,
    margin: f64,
    /// Screened configurations at the last fit.
    fitted_with: usize,
    /// The first fit's predictions for the configurations outside the design.
    first: Option<Vec<Option<f64>>>,
}

impl Predicted {
    /// Prediction-ordered LUCB over `n_arms` configurations on `n_cases` cases, with each
    /// configuration's dimension `levels` (empty: nothing to predict from, so every
    /// configuration is in the design and this is LUCB).
    pub fn new(
        n_arms: usize,
        n_cases: usize,
        guarantee: Guarantee,
        levels: &[Vec<usize>],
        seed: u64,
    ) -> Self {
        let levels: Vec<Vec<usize>> = (0..n_arms)
            .map(|a| levels.get(a).cloned().unwrap_or_default())
            .collect();
        Self {
            arms: (0..n_arms).collect(),
            design: design(&levels, seed),
            levels,
            n_cases,
            bounds: PairBounds::new(n_arms, n_cases, guarantee.delta, guarantee.epsilon),
            predicted: vec![0.0; n_arms],
            margin: guarantee.epsilon,
            fitted_with: 0,
            first: None,
        }
    }

    /// The configurations screened first.
    pub fn design(&self) -> &[usize] {
        &self.design
    }

    fn refit(&mut self, obs: &Observations, screened: usize) {
        let model = AdditiveModel::fit(&obs.matrix(), &self.levels);
        self.predicted = self
            .arms
            .iter()
            .map(|&a| model.predict(a, &self.levels[a]))
            .collect();
        let start = initial_cases(self.n_cases);
        // The spread of measured configurations around their levels, plus the noise of
        // a screening mean, both on the score scale.
        let noise = 0.5 / (start as f64).sqrt();
        self.margin = (2.0 * model.level_residual(&self.levels) + noise).max(self.bounds.epsilon());
        if self.first.is_none() {
            self.first = Some(
                self.arms
                    .iter()
                    .map(|&a| (obs.evaluated(a) < start).then_some(self.predicted[a]))
                    .collect(),
            );
        }
        self.fitted_with = screened;
    }
}

/// Configurations covering every (dimension, level) at least twice, greedily in a random
/// order drawn from `seed`; every configuration when there are no levels.
fn design(levels: &[Vec<usize>], seed: u64) -> Vec<usize> {
    let n = levels.len();
    if levels.iter().all(Vec::is_empty) {
        return (0..n).collect();
    }
    let mut count: std::collections::HashMap<(usize, usize), usize> = Default::default();
    let mut chosen = Vec::new();
    for a in SplitMix64::new(seed ^ 0xDE51_6400).permutation(n) {
        let needed = levels[a]
            .iter()
            .enumerate()
            .any(|(d, &l)| count.get(&(d, l)).copied().unwrap_or(0) < 2);
        if needed || chosen.len() < 2 {
            for (d, &l) in levels[a].iter().enumerate() {
                *count.entry((d, l)).or_default() += 1;
            }
            chosen.push(a);
        }
    }
    chosen.sort_unstable();
    chosen
}

impl Strategy for Predicted {
    fn name(&self) -> &'static str {
        "predicted"
    }

    fn ask(&mut self, obs: &Observations) -> Step {
        let start = initial_cases(self.n_cases);
        let first = extend_all(obs, &self.design, start);
        if !first.is_empty() {
            return Step::Evaluate(first);
        }
        let (screened, waiting): (Vec<usize>, Vec<usize>) =
            self.arms.iter().partition(|&&a| obs.evaluated(a) >= start);
        if waiting.is_empty() {
            return step(&mut self.bounds, obs, &self.arms, self.n_cases);
        }
        if screened.len() != self.fitted_with {
            self.refit(obs, screened.len());
        }
        let best = leader(obs, &screened);
        let challenger = self.bounds.challenger(obs, best, screened.iter().copied());
        let enter: Vec<usize> = match challenger {
            // Nothing to compare yet, or the measured ones are settled: the certificate
            // needs everyone.
            None => waiting,
            Some((_, ub)) if ub < self.bounds.epsilon() => waiting,
            Some(_) => {
                let mut enter: Vec<usize> = waiting
                    .into_iter()
                    .filter(|&u| self.predicted[u] + self.margin >= self.predicted[best])
                    .collect();
                enter.sort_by(|&a, &b| {
                    self.predicted[b]
                        .total_cmp(&self.predicted[a])
                        .then(a.cmp(&b))
                });
                enter.truncate(ENTER_AT_ONCE);
                enter
            }
        };
        if enter.is_empty() {
            step(&mut self.bounds, obs, &screened, self.n_cases)
        } else {
            Step::Evaluate(extend_all(obs, &enter, start))
        }
    }

    fn incumbent(&self, obs: &Observations) -> usize {
        let start = initial_cases(self.n_cases);
        let screened: Vec<usize> = self
            .arms
            .iter()
            .copied()
            .filter(|&a| obs.evaluated(a) >= start)
            .collect();
        if screened.is_empty() {
            return leader(obs, &self.arms);
        }
        leader(obs, &screened)
    }

    fn predictions(&self) -> Option<&[Option<f64>]> {
        self.first.as_deref()
    }
}
