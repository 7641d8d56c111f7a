//! Search strategies behind one ask/tell trait.
//!
//! The driver (a [`Study`](crate::study::Study) or the simulator) *asks* a strategy what
//! to evaluate next given everything measured ([`Observations`]), evaluates it, records
//! the scores (the *tell*), and asks again, until the strategy answers
//! [`Step::Done`]. A strategy is deterministic given its seed and the observations, so a
//! resumed study replays the same decisions.
//!
//! | strategy | what it evaluates | when it stops |
//! |---|---|---|
//! | [`Grid`] | every configuration on every case | all done (the baseline) |
//! | [`Uniform`] | every configuration on the next batch of cases | ε-best certified |
//! | [`RandomSearch`] | a random quarter of the configurations on every case | all done |
//! | [`Racing`] | the survivors on the next batch; paired t-tests + Holm eliminate | one left or certified |
//! | [`Halving`] | rungs of doubling size; the top half by lower confidence bound goes on | one left or certified |
//! | [`Lucb`] | the leader and its most plausible challenger | ε-best certified |
//! | [`Predicted`] | LUCB, configurations entering in the order the score model predicts | ε-best certified |
//!
//! "Certified" is the anytime-valid rule of [`PairBounds::certify`]: every rival's
//! confidence sequence says it beats the candidate by less than ε.

mod baseline;
mod halving;
mod lucb;
mod pairs;
mod predicted;
mod racing;

pub use baseline::{Grid, RandomSearch, Uniform};
pub use halving::Halving;
pub use lucb::Lucb;
pub use pairs::PairBounds;
pub use predicted::Predicted;
pub use racing::Racing;

use crate::observations::Observations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Extend configuration `arm` to the first `upto` cases of the shared order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Configuration index.
    pub arm: usize,
    /// Prefix length wanted.
    pub upto: usize,
}

/// Why a strategy stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The ε-best configuration is identified with probability ≥ 1 − δ.
    Certified,
    /// The strategy's own rule ended it (one survivor, all planned evaluations done).
    Finished,
    /// The budget cannot cover the next batch.
    Budget,
}

/// A strategy's final answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The recommended configuration.
    pub best: usize,
    /// Why it stopped.
    pub reason: StopReason,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Evaluate these (one batch; the driver checks the budget before it).
    Evaluate(Vec<Request>),
    /// Stop with this decision.
    Done(Decision),
}

/// The statistical target: ε-best with probability ≥ 1 − δ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guarantee {
    /// Tolerance on the 0–1 score scale (0.02 = 2 points).
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// Error probability.
    #[serde(default = "default_delta")]
    pub delta: f64,
}

fn default_epsilon() -> f64 {
    0.02
}

fn default_delta() -> f64 {
    0.05
}

impl Default for Guarantee {
    fn default() -> Self {
        Self {
            epsilon: default_epsilon(),
            delta: default_delta(),
        }
    }
}

/// One search strategy (ask/tell: the tell is the driver recording into the
/// observations it passes to the next ask).
pub trait Strategy: Send {
    /// Short name (`lucb`, `racing`, ...).
    fn name(&self) -> &'static str;

    /// The next batch to evaluate, or the decision.
    fn ask(&mut self, obs: &Observations) -> Step;

    /// The configuration the strategy would recommend now (used when the budget stops
    /// the study early).
    fn incumbent(&self, obs: &Observations) -> usize;

    /// The score model's predicted benchmark mean of each configuration not yet measured
    /// when it was first fit (`None` for measured ones), for strategies that predict.
    fn predictions(&self) -> Option<&[Option<f64>]> {
        None
    }
}

/// The strategies, by name (for files and the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Every configuration on every case.
    Grid,
    /// Every configuration on each next batch, anytime ε-best stop.
    Uniform,
    /// A random quarter of the configurations on every case.
    Random,
    /// F-race-like racing with paired t-tests and Holm correction.
    Racing,
    /// Successive halving promoting by lower confidence bound.
    Halving,
    /// LUCB best-arm identification with anytime confidence sequences.
    Lucb,
    /// LUCB with configurations measured in the order the score model predicts.
    Predicted,
}

impl StrategyKind {
    /// Every strategy, baselines first.
    pub const ALL: [StrategyKind; 7] = [
        Self::Grid,
        Self::Uniform,
        Self::Random,
        Self::Racing,
        Self::Halving,
        Self::Lucb,
        Self::Predicted,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grid => "grid",
            Self::Uniform => "uniform",
            Self::Random => "random",
            Self::Racing => "racing",
            Self::Halving => "halving",
            Self::Lucb => "lucb",
            Self::Predicted => "predicted",
        }
    }

    /// Parses [`StrategyKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Builds the strategy for `n_arms` configurations on `n_cases` cases; `levels` are
    /// each configuration's dimension levels (what [`Predicted`] predicts from; empty
    /// when unknown).
    pub fn build(
        self,
        n_arms: usize,
        n_cases: usize,
        guarantee: Guarantee,
        seed: u64,
        levels: &[Vec<usize>],
    ) -> Box<dyn Strategy> {
        match self {
            Self::Grid => Box::new(Grid::new(n_arms, n_cases)),
            Self::Uniform => Box::new(Uniform::new(n_arms, n_cases, guarantee)),
            Self::Random => Box::new(RandomSearch::new(n_arms, n_cases, seed)),
            Self::Racing => Box::new(Racing::new(n_arms, n_cases, guarantee)),
            Self::Halving => Box::new(Halving::new(n_arms, n_cases, guarantee)),
            Self::Lucb => Box::new(Lucb::new(n_arms, n_cases, guarantee)),
            Self::Predicted => Box::new(Predicted::new(n_arms, n_cases, guarantee, levels, seed)),
        }
    }
}

/// Cases every configuration gets before any comparison.
pub(crate) fn initial_cases(n_cases: usize) -> usize {
    16.min(n_cases).max(1)
}

/// The next prefix length after `n`: grows by a quarter (at least 8), capped at `n_cases`.
pub(crate) fn grow(n: usize, n_cases: usize) -> usize {
    (n + (n / 4).max(8)).min(n_cases)
}

/// The index of the arm with the highest difficulty-adjusted mean among `arms`: each
/// arm's mean difference to the most-evaluated arm on their shared cases, plus that
/// arm's mean (a control variate for which cases each arm has seen). Ties go to the
/// lower index.
pub(crate) fn leader(obs: &Observations, arms: &[usize]) -> usize {
    let Some(&reference) = arms
        .iter()
        .max_by_key(|&&a| (obs.evaluated(a), usize::MAX - a))
    else {
        return 0;
    };
    let base = obs.mean(reference);
    let estimate = |a: usize| {
        let (s, n) = obs
            .pairs(a, reference)
            .fold((0.0, 0usize), |(s, n), (x, y)| (s + x - y, n + 1));
        base + if n == 0 { 0.0 } else { s / n as f64 }
    };
    let mut best = arms[0];
    let mut best_value = estimate(best);
    for &a in &arms[1..] {
        let v = estimate(a);
        if v > best_value + 1e-12 {
            best = a;
            best_value = v;
        }
    }
    best
}

/// Requests bringing every arm in `arms` to `upto` cases (those already there are
/// left out).
pub(crate) fn extend_all(obs: &Observations, arms: &[usize], upto: usize) -> Vec<Request> {
    arms.iter()
        .filter(|&&a| obs.evaluated(a) < upto)
        .map(|&arm| Request { arm, upto })
        .collect()
}
