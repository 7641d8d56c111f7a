//! What a study has measured: per configuration, its scores on the benchmark's cases in
//! one shared random order.
//!
//! Every configuration walks the *same* permutation of the cases (drawn from the study's
//! seed), so any two configurations share a prefix of cases: their comparison is paired
//! (cases are blocks), and the prefix is a simple random sample without replacement of
//! the benchmark, which is what the confidence sequences of [`crate::confidence`] need.

use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Scores of each configuration along the shared case order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    order: Vec<usize>,
    scores: Vec<Vec<f64>>,
    cost_usd: Vec<f64>,
    latency_ms: Vec<Vec<f64>>,
}

/// One measured cell: a configuration's score on the case at a position of the order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Configuration index.
    pub arm: usize,
    /// Position in the shared case order.
    pub position: usize,
    /// Score in `[0, 1]`; `None` when no epoch was scored (infrastructure failure).
    pub score: Option<f64>,
    /// Cost in USD of the evaluation.
    pub cost_usd: f64,
    /// Latency in ms (mean over epochs).
    pub latency_ms: f64,
}

impl Observations {
    /// Nothing measured yet for `n_arms` configurations on `n_cases` cases; the case
    /// order is a permutation drawn from `seed`.
    pub fn new(n_arms: usize, n_cases: usize, seed: u64) -> Self {
        Self {
            order: SplitMix64::new(seed ^ 0x0CA5_E0D0).permutation(n_cases),
            scores: vec![Vec::new(); n_arms],
            cost_usd: vec![0.0; n_arms],
            latency_ms: vec![Vec::new(); n_arms],
        }
    }

    /// Number of configurations.
    pub fn n_arms(&self) -> usize {
        self.scores.len()
    }

    /// Number of cases in the benchmark.
    pub fn n_cases(&self) -> usize {
        self.order.len()
    }

    /// The case index at `position` of the shared order.
    pub fn case_at(&self, position: usize) -> usize {
        self.order[position]
    }

    /// Positions measured for `arm` (its prefix length).
    pub fn evaluated(&self, arm: usize) -> usize {
        self.scores[arm].len()
    }

    /// `arm`'s scores along the order (`NaN` where nothing was scored).
    pub fn scores(&self, arm: usize) -> &[f64] {
        &self.scores[arm]
    }

    /// Evaluations made over all configurations.
    pub fn total_evaluations(&self) -> usize {
        self.scores.iter().map(Vec::len).sum()
    }

    /// USD spent on `arm`.
    pub fn cost_usd(&self, arm: usize) -> f64 {
        self.cost_usd[arm]
    }

    /// Latencies measured for `arm`, ms.
    pub fn latencies(&self, arm: usize) -> &[f64] {
        &self.latency_ms[arm]
    }

    /// Mean score of `arm` over its scored positions (0 when none).
    pub fn mean(&self, arm: usize) -> f64 {
        let (s, n) = self.scores[arm]
            .iter()
            .filter(|x| !x.is_nan())
            .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        if n == 0 { 0.0 } else { s / n as f64 }
    }

    /// Records a measurement. Positions must come in order for each arm; a measurement
    /// for a position already held is ignored (a resumed study replays its log).
    pub fn record(&mut self, m: &Measurement) -> bool {
        let Some(scores) = self.scores.get_mut(m.arm) else {
            return false;
        };
        if m.position != scores.len() || m.position >= self.order.len() {
            return false;
        }
        scores.push(m.score.map_or(f64::NAN, |s| s.clamp(0.0, 1.0)));
        self.cost_usd[m.arm] += m.cost_usd;
        self.latency_ms[m.arm].push(m.latency_ms);
        true
    }

    /// The paired (a, b) scores of two arms over their shared prefix, skipping
    /// positions where either is missing.
    pub fn pairs(&self, a: usize, b: usize) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.scores[a]
            .iter()
            .zip(&self.scores[b])
            .filter(|(x, y)| !x.is_nan() && !y.is_nan())
            .map(|(x, y)| (*x, *y))
    }

    /// The whole score matrix as known so far (arm × case, `None` when unmeasured).
    pub fn matrix(&self) -> Vec<Vec<Option<f64>>> {
        self.scores
            .iter()
            .map(|row| {
                let mut full = vec![None; self.order.len()];
                for (pos, x) in row.iter().enumerate() {
                    if !x.is_nan() {
                        full[self.order[pos]] = Some(*x);
                    }
                }
                full
            })
            .collect()
    }
}
