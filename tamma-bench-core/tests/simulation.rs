//! Seeded simulations: the intervals cover what they claim, corrections and sequential
//! tests keep their error rates.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statrs::distribution::{Binomial, Discrete};
use tamma_bench_core::stats::{
    CompareOptions, Msprt, Observation, Pair, compare_paired, estimate_mean, holm, wilson,
};

/// Exact coverage of the 95% Wilson interval at (n, p): the binomial mass of the x whose
/// interval contains p.
fn exact_wilson_coverage(n: u64, p: f64) -> f64 {
    let bin = Binomial::new(p, n).expect("valid binomial");
    (0..=n)
        .filter(|&x| {
            let (lo, hi) = wilson(x, n, 0.95);
            lo <= p && p <= hi
        })
        .map(|x| bin.pmf(x))
        .sum()
}

#[test]
fn wilson_coverage_matches_its_exact_value_over_10000_replications() {
    let mut rng = StdRng::seed_from_u64(1);
    for n in [20u64, 50, 200, 1000] {
        for p in [0.05, 0.5, 0.95] {
            let reps = 10_000;
            // Draw X ~ Binomial(n, p) by inverting its CDF (exact, and fast in debug builds).
            let bin = Binomial::new(p, n).unwrap();
            let cdf: Vec<f64> = (0..=n)
                .scan(0.0, |acc, x| {
                    *acc += bin.pmf(x);
                    Some(*acc)
                })
                .collect();
            let covered = (0..reps)
                .filter(|_| {
                    let u: f64 = rng.random();
                    let x = cdf.partition_point(|c| *c < u).min(n as usize) as u64;
                    let (lo, hi) = wilson(x, n, 0.95);
                    lo <= p && p <= hi
                })
                .count() as f64
                / reps as f64;
            let exact = exact_wilson_coverage(n, p);
            // 4 Monte Carlo standard errors.
            let tol = 4.0 * (exact * (1.0 - exact) / reps as f64).sqrt();
            assert!(
                (covered - exact).abs() <= tol,
                "n={n} p={p}: simulated {covered}, exact {exact}"
            );
            // The binomial's discreteness makes coverage oscillate around 95% cell by cell
            // (e.g. 92.45% exactly at n=20, p=0.05, 96.72% at n=200, p=0.05); it stays within 91-97.5% here.
            assert!((0.91..=0.975).contains(&covered), "n={n} p={p}: {covered}");
        }
    }
}

#[test]
fn wilson_coverage_averaged_over_p_is_within_94_and_96_percent() {
    for n in [20u64, 50, 200, 1000] {
        let grid: Vec<f64> = (0..=90).map(|i| 0.05 + 0.01 * f64::from(i)).collect();
        let mean = grid
            .iter()
            .map(|p| exact_wilson_coverage(n, *p))
            .sum::<f64>()
            / grid.len() as f64;
        assert!((0.94..=0.96).contains(&mean), "n={n}: mean coverage {mean}");
    }
}

/// Binary outcomes in clusters with intra-cluster correlation 0.3: each cluster's rate is
/// Beta(a, a) with 1/(2a + 1) = 0.3, so the true mean is 0.5.
fn clustered_sample(rng: &mut StdRng, clusters: usize, per: usize) -> Vec<(f64, String)> {
    let a = (1.0 / 0.3 - 1.0) / 2.0;
    let beta = statrs::distribution::Beta::new(a, a).expect("valid beta");
    (0..clusters)
        .flat_map(|c| {
            let rate: f64 = statrs::distribution::ContinuousCDF::inverse_cdf(&beta, rng.random());
            (0..per)
                .map(|_| {
                    (
                        f64::from(u8::from(rng.random::<f64>() < rate)),
                        format!("c{c}"),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn clustered_intervals_keep_coverage_where_naive_ones_do_not() {
    let mut rng = StdRng::seed_from_u64(2);
    let reps = 2000;
    let (mut clustered_cover, mut naive_cover) = (0, 0);
    for _ in 0..reps {
        let sample = clustered_sample(&mut rng, 40, 10);
        let with: Vec<_> = sample
            .iter()
            .map(|(v, c)| Observation {
                value: *v,
                cluster: Some(c),
            })
            .collect();
        let without: Vec<_> = sample
            .iter()
            .map(|(v, _)| Observation {
                value: *v,
                cluster: None,
            })
            .collect();
        let e = estimate_mean(&with, 1, 0.95);
        clustered_cover += usize::from(e.ci_low <= 0.5 && 0.5 <= e.ci_high);
        let e = estimate_mean(&without, 1, 0.95);
        naive_cover += usize::from(e.ci_low <= 0.5 && 0.5 <= e.ci_high);
    }
    let (clustered, naive) = (
        clustered_cover as f64 / reps as f64,
        naive_cover as f64 / reps as f64,
    );
    assert!(
        (0.93..=0.97).contains(&clustered),
        "clustered coverage {clustered}"
    );
    assert!(
        naive < 0.85,
        "naive coverage {naive} should fall well short of 95%"
    );
}

#[test]
fn a_a_comparisons_under_holm_reject_at_most_five_percent() {
    let mut rng = StdRng::seed_from_u64(3);
    let reps = 2000;
    let mut rejected = 0;
    for _ in 0..reps {
        // Five comparisons (e.g. five tags) of two identical agents, 100 shared cases each.
        let p: Vec<f64> = (0..5)
            .map(|_| {
                let pairs: Vec<_> = (0..100)
                    .map(|_| {
                        let difficulty: f64 = rng.random();
                        Pair {
                            a: (difficulty + rng.random::<f64>() * 0.5).min(1.0),
                            b: (difficulty + rng.random::<f64>() * 0.5).min(1.0),
                            cluster: None,
                        }
                    })
                    .collect();
                compare_paired(&pairs, &CompareOptions::default())
                    .test
                    .p_value
            })
            .collect();
        rejected += usize::from(holm(&p).iter().any(|p| *p < 0.05));
    }
    let rate = rejected as f64 / reps as f64;
    assert!(rate <= 0.06, "family-wise rejection rate {rate}");
}

fn msprt_rejects(rng: &mut StdRng, p_a: f64, p_b: f64, cases: usize) -> bool {
    let mut test = Msprt::new(0.05, 20);
    (0..cases).any(|_| {
        let a = f64::from(u8::from(rng.random::<f64>() < p_a));
        let b = f64::from(u8::from(rng.random::<f64>() < p_b));
        test.push(a - b) < 0.05
    })
}

#[test]
fn msprt_with_a_peek_after_every_case_keeps_type_one_error_below_five_percent() {
    let mut rng = StdRng::seed_from_u64(4);
    let reps = 2000;
    let false_alarms = (0..reps)
        .filter(|_| msprt_rejects(&mut rng, 0.6, 0.6, 1000))
        .count();
    let rate = false_alarms as f64 / reps as f64;
    assert!(
        rate <= 0.05,
        "type-I error {rate} with peeking after every case"
    );
    // And it has power: a 15-point difference is found in most runs.
    let found = (0..200)
        .filter(|_| msprt_rejects(&mut rng, 0.7, 0.55, 1000))
        .count();
    assert!(
        found >= 180,
        "found the real difference in {found}/200 runs"
    );
}
