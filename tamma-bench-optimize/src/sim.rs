//! The simulation harness: benchmark-like score matrices with known ground truth, on
//! which every strategy runs directly (no executor), so accuracy and cost can be
//! measured over hundreds of instances.
//!
//! An instance has K ∈ [8, 64] configurations in 2–6 model families and N ∈ [300, 1000]
//! cases in 10–40 clusters. A case's difficulty is a cluster effect plus a case effect
//! (logit scale); a configuration's success probability on a case is the case's
//! easiness plus the configuration's effect plus a configuration × cluster interaction.
//! The best configuration leads the runner-up by a gap drawn from 0.5–10 points; its
//! family's other members trail by up to 8 points more, other families by 3–30 points
//! more. Outcomes are drawn through a Gaussian copula with a per-case factor shared by
//! all configurations and a per-family factor, so errors are correlated as real models'
//! are. 80% of instances are pass/fail, 20% continuous scores.
//!
//! Each configuration's one dimension level is its family (the "model" dimension of a
//! real space), which is what the `predicted` strategy predicts from.
//!
//! Ground truth is the realized matrix: a configuration's true score is its mean over all
//! N cases (what the grid measures), and a run succeeds when its pick is within ε of the
//! best of those means.

use crate::observations::{Measurement, Observations};
use crate::rng::SplitMix64;
use crate::strategy::{Guarantee, Step, StopReason, StrategyKind};

/// One simulated benchmark × configuration space.
#[derive(Debug, Clone)]
pub struct SimInstance {
    /// Scores, configuration × case, in `[0, 1]`.
    pub scores: Vec<Vec<f64>>,
    /// Each configuration's mean over all cases (the ground truth).
    pub truth: Vec<f64>,
    /// The designed gap between the best and the runner-up, in points.
    pub gap_points: f64,
    /// Case clusters.
    pub n_clusters: usize,
    /// Each configuration's dimension levels: `[family]`.
    pub levels: Vec<Vec<usize>>,
}

impl SimInstance {
    /// Draws instance number `index` of the family seeded by `seed`.
    pub fn generate(seed: u64, index: u64) -> Self {
        let mut rng = SplitMix64::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let k = 8 + rng.below(57);
        let n = 300 + rng.below(701);
        let n_clusters = 10 + rng.below(31);
        let n_families = 2 + rng.below(5);
        let binary = rng.next_f64() < 0.8;
        let gap = rng.uniform(0.5, 10.0) / 100.0;
        let level = rng.uniform(-0.5, 1.5);
        let cluster_effect: Vec<f64> = (0..n_clusters).map(|_| rng.normal()).collect();
        let cluster_of: Vec<usize> = (0..n).map(|_| rng.below(n_clusters)).collect();
        let easiness: Vec<f64> = cluster_of
            .iter()
            .map(|&g| logistic(level + cluster_effect[g] + 1.2 * rng.normal()))
            .collect();
        // Configuration 0 of family 0 is the designed best; 1 (same family) the runner-up.
        let family: Vec<usize> = (0..k)
            .map(|i| if i < 2 { 0 } else { rng.below(n_families) })
            .collect();
        let family_offset: Vec<f64> = (0..n_families)
            .map(|f| if f == 0 { 0.0 } else { rng.uniform(0.03, 0.30) })
            .collect();
        let effect: Vec<f64> = (0..k)
            .map(|i| match i {
                0 => 0.0,
                1 => -gap,
                _ => -gap - family_offset[family[i]] - rng.uniform(0.0, 0.08),
            })
            .collect();
        let interaction: Vec<Vec<f64>> = (0..k)
            .map(|_| (0..n_clusters).map(|_| 0.03 * rng.normal()).collect())
            .collect();
        let (rho_case, rho_family) = (rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.5));
        let rest = (1.0 - rho_case * rho_case - rho_family * rho_family)
            .max(0.05)
            .sqrt();
        let mut scores = vec![vec![0.0; n]; k];
        for j in 0..n {
            let shared = rng.normal();
            let fam: Vec<f64> = (0..n_families).map(|_| rng.normal()).collect();
            for i in 0..k {
                let p = (easiness[j] + effect[i] + interaction[i][cluster_of[j]]).clamp(0.02, 0.98);
                let z = rho_case * shared + rho_family * fam[family[i]] + rest * rng.normal();
                scores[i][j] = if binary {
                    f64::from(u8::from(normal_cdf(z) < p))
                } else {
                    (p + 0.2 * z).clamp(0.0, 1.0)
                };
            }
        }
        // Shuffle configuration indices so position carries no information.
        let perm = rng.permutation(k);
        let scores: Vec<Vec<f64>> = perm.iter().map(|&i| scores[i].clone()).collect();
        let levels = perm.iter().map(|&i| vec![family[i]]).collect();
        let truth = scores
            .iter()
            .map(|row| row.iter().sum::<f64>() / n as f64)
            .collect();
        Self {
            scores,
            truth,
            gap_points: gap * 100.0,
            n_clusters,
            levels,
        }
    }

    /// Number of configurations.
    pub fn n_arms(&self) -> usize {
        self.scores.len()
    }

    /// Number of cases.
    pub fn n_cases(&self) -> usize {
        self.scores.first().map_or(0, Vec::len)
    }

    /// The best true score.
    pub fn best_truth(&self) -> f64 {
        self.truth.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26, error < 1.5e-7: ample for a
/// simulator).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// What one strategy did on one instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOutcome {
    /// Its pick is within ε of the best true score.
    pub found: bool,
    /// Evaluations made, as a share of the grid's (K × N).
    pub share: f64,
    /// Why it stopped.
    pub reason: StopReason,
    /// Mean absolute error, against the truth, of the score model's first predictions for
    /// the configurations it had not measured (strategies that predict).
    pub prediction_error: Option<f64>,
}

/// Share of the grid the budget-limited runs of [`evaluate`] may spend.
pub const BUDGET_SHARE: f64 = 0.05;

/// Runs `kind` on `instance` with the case order drawn from `seed`.
pub fn run(
    kind: StrategyKind,
    instance: &SimInstance,
    guarantee: Guarantee,
    seed: u64,
) -> SimOutcome {
    run_within(kind, instance, guarantee, seed, 1.0)
}

/// [`run`] under a budget of `max_share` of the grid's evaluations: as in a study, a
/// batch that would pass it is not run, and the strategy's incumbent is the pick.
pub fn run_within(
    kind: StrategyKind,
    instance: &SimInstance,
    guarantee: Guarantee,
    seed: u64,
    max_share: f64,
) -> SimOutcome {
    let (k, n) = (instance.n_arms(), instance.n_cases());
    let budget = (max_share * (k * n) as f64).floor() as usize;
    let mut obs = Observations::new(k, n, seed);
    let mut strategy = kind.build(k, n, guarantee, seed, &instance.levels);
    let decision = loop {
        match strategy.ask(&obs) {
            Step::Done(d) => break d,
            Step::Evaluate(batch) => {
                let before = obs.total_evaluations();
                let cost: usize = batch
                    .iter()
                    .map(|r| r.upto.min(n).saturating_sub(obs.evaluated(r.arm)))
                    .sum();
                if before + cost > budget {
                    break crate::strategy::Decision {
                        best: strategy.incumbent(&obs),
                        reason: StopReason::Budget,
                    };
                }
                for r in batch {
                    for position in obs.evaluated(r.arm)..r.upto.min(n) {
                        let score = instance.scores[r.arm][obs.case_at(position)];
                        obs.record(&Measurement {
                            arm: r.arm,
                            position,
                            score: Some(score),
                            cost_usd: 0.0,
                            latency_ms: 0.0,
                        });
                    }
                }
                if obs.total_evaluations() == before {
                    // A strategy that asks for nothing new would loop: stop it.
                    break crate::strategy::Decision {
                        best: strategy.incumbent(&obs),
                        reason: StopReason::Finished,
                    };
                }
            }
        }
    };
    let prediction_error = strategy.predictions().and_then(|p| {
        let errors: Vec<f64> = p
            .iter()
            .zip(&instance.truth)
            .filter_map(|(p, t)| p.map(|p| (p - t).abs()))
            .collect();
        (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
    });
    SimOutcome {
        found: instance.truth[decision.best] >= instance.best_truth() - guarantee.epsilon - 1e-12,
        share: obs.total_evaluations() as f64 / (k * n) as f64,
        reason: decision.reason,
        prediction_error,
    }
}

/// Aggregate of one strategy over many instances.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSummary {
    /// The strategy.
    pub strategy: StrategyKind,
    /// Instances run.
    pub instances: usize,
    /// Share of instances where the pick was ε-best.
    pub found: f64,
    /// Median share of the grid's evaluations.
    pub median_share: f64,
    /// Mean share of the grid's evaluations.
    pub mean_share: f64,
    /// 90th percentile of the share.
    pub p90_share: f64,
    /// Share of instances that stopped with the ε-best certificate.
    pub certified: f64,
    /// Share of instances where the pick was ε-best with a budget of
    /// [`BUDGET_SHARE`] of the grid.
    pub found_within_budget: f64,
    /// Mean of [`SimOutcome::prediction_error`] (strategies that predict).
    pub prediction_error: Option<f64>,
}

/// Runs every strategy in `kinds` on `instances` instances of family `seed`.
pub fn evaluate(
    kinds: &[StrategyKind],
    instances: usize,
    seed: u64,
    guarantee: Guarantee,
) -> Vec<SimSummary> {
    let generated: Vec<SimInstance> = (0..instances as u64)
        .map(|i| SimInstance::generate(seed, i))
        .collect();
    kinds
        .iter()
        .map(|&kind| {
            let seed_of = |i: usize| seed.wrapping_add(i as u64);
            let outcomes: Vec<SimOutcome> = generated
                .iter()
                .enumerate()
                .map(|(i, inst)| run(kind, inst, guarantee, seed_of(i)))
                .collect();
            let within: Vec<SimOutcome> = generated
                .iter()
                .enumerate()
                .map(|(i, inst)| run_within(kind, inst, guarantee, seed_of(i), BUDGET_SHARE))
                .collect();
            summarize(kind, &outcomes, &within)
        })
        .collect()
}

fn summarize(strategy: StrategyKind, outcomes: &[SimOutcome], within: &[SimOutcome]) -> SimSummary {
    let m = outcomes.len().max(1) as f64;
    let mut shares: Vec<f64> = outcomes.iter().map(|o| o.share).collect();
    shares.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        if shares.is_empty() {
            return 0.0;
        }
        let pos = q * (shares.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        shares[lo] + (shares[hi] - shares[lo]) * (pos - lo as f64)
    };
    SimSummary {
        strategy,
        instances: outcomes.len(),
        found: outcomes.iter().filter(|o| o.found).count() as f64 / m,
        median_share: quantile(0.5),
        mean_share: shares.iter().sum::<f64>() / m,
        p90_share: quantile(0.9),
        certified: outcomes
            .iter()
            .filter(|o| o.reason == StopReason::Certified)
            .count() as f64
            / m,
        found_within_budget: within.iter().filter(|o| o.found).count() as f64
            / within.len().max(1) as f64,
        prediction_error: {
            let e: Vec<f64> = outcomes.iter().filter_map(|o| o.prediction_error).collect();
            (!e.is_empty()).then(|| e.iter().sum::<f64>() / e.len() as f64)
        },
    }
}

/// An [`Evaluator`](crate::study::Evaluator) answering from a [`SimInstance`], at a fixed
/// price per evaluation (for studies and A/B tests without an executor).
#[derive(Debug, Clone)]
pub struct SimEvaluator {
    /// The instance.
    pub instance: SimInstance,
    /// USD per (configuration, case) evaluation.
    pub price_usd: f64,
    /// Batches evaluated (not replayed).
    pub calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SimEvaluator {
    /// Answers from `instance` at `price_usd` per evaluation.
    pub fn new(instance: SimInstance, price_usd: f64) -> Self {
        Self {
            instance,
            price_usd,
            calls: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl crate::study::Evaluator for SimEvaluator {
    fn worst_case_usd(&self, batch: &[crate::study::Evaluation]) -> f64 {
        batch
            .iter()
            .map(|e| e.cases.len() as f64 * self.price_usd)
            .sum()
    }

    async fn evaluate(
        &self,
        _round: usize,
        batch: &[crate::study::Evaluation],
        _remaining_usd: Option<f64>,
    ) -> Result<Vec<Measurement>, crate::error::OptimizeError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(batch
            .iter()
            .flat_map(|e| {
                e.cases.iter().enumerate().map(move |(k, &c)| Measurement {
                    arm: e.arm,
                    position: e.from + k,
                    score: Some(self.instance.scores[e.arm][c]),
                    cost_usd: self.price_usd,
                    latency_ms: 100.0 + 10.0 * e.arm as f64,
                })
            })
            .collect())
    }
}
