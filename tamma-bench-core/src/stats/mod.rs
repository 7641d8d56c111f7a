//! Statistics with honest uncertainty: every headline number is an [`Estimate`] that
//! carries its standard error, confidence interval, sample size, clusters and method.
//!
//! Methods (chosen for the data, and named in [`Estimate::method`]):
//! - pass/fail scores (every per-case value 0 or 1), no clusters: Wilson score interval;
//! - continuous scores (or epochs averaged per case), no clusters: Student-t interval;
//! - cases grouped in clusters: cluster-robust standard error (CR1 small-sample factor
//!   G/(G−1)) with a t interval on G−1 degrees of freedom (Miller 2024, eq. 4);
//! - on request: the cluster bootstrap ([`cluster_bootstrap`]) or Clopper–Pearson
//!   ([`clopper_pearson`]).
//!
//! Comparisons ([`compare_paired`]), corrections ([`holm`], [`benjamini_hochberg`]),
//! epoch reducers ([`Reducer`], [`pass_at_k`]), planning ([`PowerPlan`]) and sequential
//! tests ([`Msprt`]) build on the same pieces. `docs/statistics.md` explains each.

mod bootstrap;
mod histogram;
mod multiple;
mod paired;
mod passk;
mod power;
mod sequential;

pub use bootstrap::{BootstrapResult, cluster_bootstrap, paired_bootstrap};
pub use histogram::LatencyHistogram;
pub use multiple::{benjamini_hochberg, holm};
pub use paired::{
    CompareOptions, Pair, PairedComparison, TestResult, Verdict, compare_paired, correlation,
    mcnemar_exact, t_p_value, verdict,
};
pub use passk::{Reducer, pass_at_k, pass_hat_k};
pub use power::PowerPlan;
pub use sequential::Msprt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use std::collections::HashMap;

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Method {
    /// Wilson score interval for a proportion.
    Wilson,
    /// Student-t interval of a mean.
    T,
    /// Cluster-robust standard error with a t interval on (clusters − 1) degrees of freedom.
    Clustered,
    /// Percentile interval from resampling whole clusters.
    ClusterBootstrap,
    /// Clopper–Pearson exact interval for a proportion.
    ClopperPearson,
    /// Too few observations for an interval: the interval is the whole score range.
    Insufficient,
}

impl Method {
    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wilson => "wilson",
            Self::T => "t",
            Self::Clustered => "clustered",
            Self::ClusterBootstrap => "cluster_bootstrap",
            Self::ClopperPearson => "clopper_pearson",
            Self::Insufficient => "insufficient",
        }
    }
}

/// A mean with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimate {
    /// Point estimate (mean over cases).
    pub mean: f64,
    /// Standard error of the mean.
    pub se: f64,
    /// Lower bound of the confidence interval.
    pub ci_low: f64,
    /// Upper bound of the confidence interval.
    pub ci_high: f64,
    /// Number of cases (observations).
    pub n: u64,
    /// Number of clusters, when cases carry clusters.
    pub n_clusters: Option<u64>,
    /// Epochs per case that were reduced into each observation.
    pub k: u32,
    /// Confidence level of the interval (0.95).
    pub level: f64,
    /// How the interval was computed.
    pub method: Method,
}

/// The quantile of the standard normal distribution.
pub fn normal_quantile(p: f64) -> f64 {
    // N(0, 1) is always a valid distribution.
    Normal::standard().inverse_cdf(p)
}

/// The quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::INFINITY,
    }
}

/// Wilson score interval for `successes` out of `n` at `level` (e.g. 0.95).
pub fn wilson(successes: u64, n: u64, level: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let half = z / denom * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// Clopper–Pearson (exact) interval for `successes` out of `n` at `level`, as
/// `statsmodels`' `proportion_confint(method="beta")`.
pub fn clopper_pearson(successes: u64, n: u64, level: f64) -> (f64, f64) {
    use statrs::distribution::Beta;
    if n == 0 {
        return (0.0, 1.0);
    }
    let alpha = 1.0 - level;
    let (x, n_f) = (successes as f64, n as f64);
    let lo = if successes == 0 {
        0.0
    } else {
        Beta::new(x, n_f - x + 1.0).map_or(0.0, |b| b.inverse_cdf(alpha / 2.0))
    };
    let hi = if successes == n {
        1.0
    } else {
        Beta::new(x + 1.0, n_f - x).map_or(1.0, |b| b.inverse_cdf(1.0 - alpha / 2.0))
    };
    (lo, hi)
}

/// One observation: a case's (epoch-reduced) score and its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation<'a> {
    /// Score in `[0, 1]`.
    pub value: f64,
    /// Cluster label, if the case has one.
    pub cluster: Option<&'a str>,
}

/// The estimate of the mean of `obs` at `level`, choosing the method for the data.
/// `k` is the number of epochs reduced into each observation (reported, not used).
pub fn estimate_mean(obs: &[Observation<'_>], k: u32, level: f64) -> Estimate {
    let n = obs.len() as u64;
    let base = Estimate {
        mean: 0.0,
        se: 0.0,
        ci_low: 0.0,
        ci_high: 1.0,
        n,
        n_clusters: None,
        k,
        level,
        method: Method::Insufficient,
    };
    if n == 0 {
        return base;
    }
    let n_f = n as f64;
    let mean = obs.iter().map(|o| o.value).sum::<f64>() / n_f;
    let binary = obs.iter().all(|o| o.value == 0.0 || o.value == 1.0);
    let has_clusters = obs.iter().any(|o| o.cluster.is_some());
    let alpha_half = (1.0 - level) / 2.0;

    if has_clusters {
        // Cases without a cluster form singleton clusters.
        let mut sums: HashMap<Option<&str>, f64> = HashMap::new();
        let mut singletons = 0u64;
        for o in obs {
            match o.cluster {
                Some(c) => *sums.entry(Some(c)).or_default() += o.value - mean,
                None => singletons += 1,
            }
        }
        let g = sums.len() as u64 + singletons;
        if g < n {
            let mut ss: f64 = sums.values().map(|s| s * s).sum();
            ss += obs
                .iter()
                .filter(|o| o.cluster.is_none())
                .map(|o| (o.value - mean).powi(2))
                .sum::<f64>();
            if g < 2 {
                return Estimate {
                    mean,
                    n_clusters: Some(g),
                    ..base
                };
            }
            let g_f = g as f64;
            let se = (g_f / (g_f - 1.0) * ss).sqrt() / n_f;
            let t = t_quantile(1.0 - alpha_half, g_f - 1.0);
            return Estimate {
                mean,
                se,
                ci_low: (mean - t * se).max(0.0),
                ci_high: (mean + t * se).min(1.0),
                n_clusters: Some(g),
                method: Method::Clustered,
                ..base
            };
        }
    }
    if binary {
        let successes = obs.iter().filter(|o| o.value == 1.0).count() as u64;
        let (lo, hi) = wilson(successes, n, level);
        let se = (mean * (1.0 - mean) / n_f).sqrt();
        return Estimate {
            mean,
            se,
            ci_low: lo,
            ci_high: hi,
            method: Method::Wilson,
            ..base
        };
    }
    if n < 2 {
        return Estimate { mean, ..base };
    }
    let var = obs.iter().map(|o| (o.value - mean).powi(2)).sum::<f64>() / (n_f - 1.0);
    let se = (var / n_f).sqrt();
    let t = t_quantile(1.0 - alpha_half, n_f - 1.0);
    Estimate {
        mean,
        se,
        ci_low: (mean - t * se).max(0.0),
        ci_high: (mean + t * se).min(1.0),
        method: Method::T,
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(values: &[f64]) -> Vec<Observation<'static>> {
        values
            .iter()
            .map(|v| Observation {
                value: *v,
                cluster: None,
            })
            .collect()
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(7, 20, method="wilson")
        let (lo, hi) = wilson(7, 20, 0.95);
        assert!((lo - 0.181_191_824_101_082_03).abs() < 1e-12, "{lo}");
        assert!((hi - 0.567_145_723_314_763_8).abs() < 1e-12, "{hi}");
    }

    #[test]
    fn t_interval_matches_scipy() {
        // scipy.stats.t.interval(0.95, 4, loc=mean, scale=sem) for [0.1, 0.4, 0.5, 0.7, 0.8]
        let e = estimate_mean(&obs(&[0.1, 0.4, 0.5, 0.7, 0.8]), 1, 0.95);
        assert_eq!(e.method, Method::T);
        assert!((e.mean - 0.5).abs() < 1e-12);
        assert!((e.se - 0.122_474_487_139_158_91).abs() < 1e-12, "{}", e.se);
        assert!(
            (e.ci_low - 0.159_956_309_670_872_15).abs() < 1e-9,
            "{}",
            e.ci_low
        );
        assert!(
            (e.ci_high - 0.840_043_690_329_127_8).abs() < 1e-9,
            "{}",
            e.ci_high
        );
    }

    #[test]
    fn binary_scores_use_wilson_and_clusters_use_clustered_se() {
        let e = estimate_mean(&obs(&[1.0, 0.0, 1.0, 1.0]), 1, 0.95);
        assert_eq!(e.method, Method::Wilson);
        let clustered: Vec<_> = [
            (1.0, "a"),
            (1.0, "a"),
            (0.0, "b"),
            (0.0, "b"),
            (1.0, "c"),
            (0.0, "c"),
        ]
        .iter()
        .map(|(v, c)| Observation {
            value: *v,
            cluster: Some(*c),
        })
        .collect();
        let e = estimate_mean(&clustered, 1, 0.95);
        assert_eq!(e.method, Method::Clustered);
        assert_eq!(e.n_clusters, Some(3));
        // Cluster residual sums: +1, -1, 0 → ss = 2; se = sqrt(3/2 · 2) / 6.
        assert!((e.se - (3.0f64).sqrt() / 6.0).abs() < 1e-12);
    }
}
