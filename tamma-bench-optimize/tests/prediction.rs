//! The score model steering a strategy: `predicted` keeps LUCB's guarantee, and its order
//! pays off when the budget cannot screen every configuration.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use tamma_bench_optimize::predict::held_out_error;
use tamma_bench_optimize::rng::SplitMix64;
use tamma_bench_optimize::sim::{SimInstance, evaluate, run_within};
use tamma_bench_optimize::strategy::{Predicted, StopReason};
use tamma_bench_optimize::{Guarantee, StrategyKind};

#[test]
fn the_predicted_strategy_keeps_the_guarantee_on_the_simulation() {
    let rows = evaluate(&[StrategyKind::Predicted], 50, 2026, Guarantee::default());
    let p = &rows[0];
    assert!(p.found >= 0.95, "found {}", p.found);
    assert_eq!(p.certified, 1.0, "every stop is certified on measured data");
    assert!(p.median_share <= 0.30, "median share {}", p.median_share);
    assert!(p.prediction_error.is_some(), "it predicted something");
}

/// A 4 (model) × 16 (prompt) space with additive effects on 400 cases of varied
/// difficulty: the best configuration is model 0 with prompt 11, index 11.
fn factorial() -> SimInstance {
    let mut rng = SplitMix64::new(5);
    let model = [0.0, -0.12, -0.24, -0.36];
    let prompt: Vec<f64> = (0..16)
        .map(|p| {
            if p == 11 {
                0.0
            } else {
                -0.04 - 0.01 * f64::from(p % 8)
            }
        })
        .collect();
    let difficulty: Vec<f64> = (0..400).map(|_| rng.uniform(-0.2, 0.2)).collect();
    let mut scores = Vec::new();
    let mut levels = Vec::new();
    for (m, em) in model.iter().enumerate() {
        for (p, ep) in prompt.iter().enumerate() {
            let row = difficulty
                .iter()
                .map(|d| (0.7 + em + ep + d + 0.05 * rng.normal()).clamp(0.0, 1.0))
                .collect();
            scores.push(row);
            levels.push(vec![m, p]);
        }
    }
    // Configuration 0 is a poor one: model 3 (a strategy that measured nothing picks it).
    scores.swap(0, 63);
    levels.swap(0, 63);
    let truth: Vec<f64> = scores
        .iter()
        .map(|r: &Vec<f64>| r.iter().sum::<f64>() / r.len() as f64)
        .collect();
    SimInstance {
        scores,
        truth,
        gap_points: 4.0,
        n_clusters: 1,
        levels,
    }
}

#[test]
fn under_a_budget_too_small_to_screen_everyone_the_predicted_order_finds_the_best() {
    let instance = factorial();
    let g = Guarantee::default();
    // Screening all 64 configurations on 16 cases is 4% of the grid; the budget is 3%.
    let predicted = run_within(StrategyKind::Predicted, &instance, g, 1, 0.03);
    let lucb = run_within(StrategyKind::Lucb, &instance, g, 1, 0.03);
    assert_eq!(predicted.reason, StopReason::Budget);
    assert!(predicted.found, "the predicted order reached the best");
    assert!(!lucb.found, "LUCB spends its budget screening everyone");
    let error = predicted.prediction_error.expect("predictions");
    assert!(error < 0.03, "additive effects are predicted well: {error}");
}

#[test]
fn with_the_whole_budget_the_predicted_strategy_certifies_on_measured_data() {
    let instance = factorial();
    let outcome = run_within(
        StrategyKind::Predicted,
        &instance,
        Guarantee::default(),
        1,
        1.0,
    );
    assert_eq!(outcome.reason, StopReason::Certified);
    assert!(outcome.found);
}

#[test]
fn the_design_covers_every_level_twice_with_fewer_configurations() {
    let instance = factorial();
    let p = Predicted::new(64, 400, Guarantee::default(), &instance.levels, 3);
    let design = p.design();
    assert!(design.len() < 64);
    for d in 0..2 {
        let n_levels = if d == 0 { 4 } else { 16 };
        for l in 0..n_levels {
            let n = design
                .iter()
                .filter(|&&a| instance.levels[a][d] == l)
                .count();
            assert!(n >= 2, "dimension {d} level {l}: {n}");
        }
    }
    // Without levels there is nothing to predict from: everyone is screened first.
    let blind = Predicted::new(8, 400, Guarantee::default(), &[], 3);
    assert_eq!(blind.design(), (0..8).collect::<Vec<_>>());
}

#[test]
fn the_held_out_error_is_reported_small_on_additive_data_and_large_on_noise() {
    let instance = factorial();
    let matrix: Vec<Vec<Option<f64>>> = instance
        .scores
        .iter()
        .map(|r| r.iter().take(50).map(|&x| Some(x)).collect())
        .collect();
    let additive = held_out_error(&matrix, &instance.levels).expect("error");
    assert!(additive < 0.02, "{additive}");
    // The same levels on configurations whose scores ignore them.
    let mut rng = SplitMix64::new(9);
    let noise: Vec<Vec<Option<f64>>> = (0..64)
        .map(|_| {
            let level = rng.uniform(0.1, 0.9);
            (0..50).map(|_| Some(level)).collect()
        })
        .collect();
    let unrelated = held_out_error(&noise, &instance.levels).expect("error");
    assert!(unrelated > 4.0 * additive, "{unrelated} vs {additive}");
}
