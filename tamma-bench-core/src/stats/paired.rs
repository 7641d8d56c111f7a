//! Paired comparison of two agents over their shared cases.
//!
//! The difference is taken case by case (A − B), which removes the variance both share
//! (Miller 2024, §4). The test is McNemar's exact test when both are pass/fail, a paired
//! t-test otherwise (or a paired bootstrap on request); with clusters the standard error
//! of the mean difference is cluster-robust. The verdict has two gates, as in criterion:
//! *better*/*worse* only when the test is significant **and** the whole interval lies
//! outside the practical-equivalence band; *equivalent* when the interval lies inside it.

use super::bootstrap::paired_bootstrap;
use super::{Method, t_quantile};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, StudentsT};
use std::collections::HashMap;

/// One shared case: A's and B's scores, and its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair<'a> {
    /// A's score in `[0, 1]`.
    pub a: f64,
    /// B's score in `[0, 1]`.
    pub b: f64,
    /// The case's cluster.
    pub cluster: Option<&'a str>,
}

/// Options of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Significance level of the test and 1 − level of the interval.
    pub alpha: f64,
    /// Half-width of the practical-equivalence band, on the 0–1 scale (0.01 = 1 point).
    pub equivalence_band: f64,
    /// Use a paired bootstrap (this many resamples) instead of the t interval and test.
    pub bootstrap: Option<u32>,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            equivalence_band: 0.01,
            bootstrap: None,
            seed: 0,
        }
    }
}

/// The outcome of the two gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A beats B: significant, and the interval lies above the band.
    Better,
    /// A loses to B: significant, and the interval lies below the band.
    Worse,
    /// The interval lies inside the band: no difference that matters.
    Equivalent,
    /// Neither: more cases are needed.
    Inconclusive,
}

/// A hypothesis test's name, statistic and p-value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestResult {
    /// `mcnemar_exact`, `paired_t`, `paired_t_clustered` or `paired_bootstrap`.
    pub name: String,
    /// The test statistic (discordant count, t, or the bootstrap mean).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// The paired comparison of A and B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PairedComparison {
    /// Shared cases.
    pub n_pairs: u64,
    /// Clusters among them, when the cases have clusters.
    pub n_clusters: Option<u64>,
    /// A's mean over the shared cases.
    pub mean_a: f64,
    /// B's mean over the shared cases.
    pub mean_b: f64,
    /// Mean of A − B.
    pub mean_diff: f64,
    /// Standard error of the mean difference.
    pub se: f64,
    /// Lower bound of the interval of the mean difference.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// Pearson correlation of A's and B's scores (`None` when one is constant).
    pub correlation: Option<f64>,
    /// How the interval was computed.
    pub method: Method,
    /// The test.
    pub test: TestResult,
    /// The two-gate verdict.
    pub verdict: Verdict,
    /// The equivalence band used.
    pub equivalence_band: f64,
}

/// Pearson correlation, `None` when either side is constant or there are < 2 pairs.
pub fn correlation(pairs: &[Pair<'_>]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return None;
    }
    let (ma, mb) = (
        pairs.iter().map(|p| p.a).sum::<f64>() / n,
        pairs.iter().map(|p| p.b).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for p in pairs {
        sab += (p.a - ma) * (p.b - mb);
        saa += (p.a - ma).powi(2);
        sbb += (p.b - mb).powi(2);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// McNemar's exact test: two-sided p from the discordant pairs, `b` = A passes and B
/// fails, `c` = the reverse (as `statsmodels`' `mcnemar(exact=True)`).
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    match Binomial::new(0.5, n) {
        Ok(bin) => (2.0 * bin.cdf(b.min(c))).min(1.0),
        Err(_) => 1.0,
    }
}

/// Two-sided p-value of a t statistic on `df` degrees of freedom.
pub fn t_p_value(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return 1.0;
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => (2.0 * dist.sf(t.abs())).min(1.0),
        Err(_) => 1.0,
    }
}

/// The two-gate verdict: *better*/*worse* only when `p < alpha` **and** the interval
/// `[ci_low, ci_high]` lies wholly outside `±band`; *equivalent* when it lies inside.
pub fn verdict(p: f64, ci_low: f64, ci_high: f64, alpha: f64, band: f64) -> Verdict {
    let significant = p < alpha;
    if significant && ci_low > band {
        Verdict::Better
    } else if significant && ci_high < -band {
        Verdict::Worse
    } else if ci_low >= -band && ci_high <= band {
        Verdict::Equivalent
    } else {
        Verdict::Inconclusive
    }
}

/// Compares A and B over `pairs`.
pub fn compare_paired(pairs: &[Pair<'_>], options: &CompareOptions) -> PairedComparison {
    let n = pairs.len();
    let n_f = n as f64;
    let diffs: Vec<f64> = pairs.iter().map(|p| p.a - p.b).collect();
    let mean = |xs: &mut dyn Iterator<Item = f64>| if n == 0 { 0.0 } else { xs.sum::<f64>() / n_f };
    let mean_a = mean(&mut pairs.iter().map(|p| p.a));
    let mean_b = mean(&mut pairs.iter().map(|p| p.b));
    let mean_diff = mean(&mut diffs.iter().copied());
    let binary = pairs
        .iter()
        .all(|p| matches!(p.a, 0.0 | 1.0) && matches!(p.b, 0.0 | 1.0));
    let half = 1.0 - options.alpha / 2.0;

    // The interval of the mean difference: cluster-robust, t, or bootstrap.
    let mut clusters: HashMap<&str, f64> = HashMap::new();
    let mut singles = 0usize;
    for (p, d) in pairs.iter().zip(&diffs) {
        match p.cluster {
            Some(c) => *clusters.entry(c).or_default() += d - mean_diff,
            None => singles += 1,
        }
    }
    let g = clusters.len() + singles;
    let clustered = !clusters.is_empty() && g < n && g >= 2;
    let (se, df, method) = if clustered {
        let ss: f64 = clusters.values().map(|s| s * s).sum::<f64>()
            + pairs
                .iter()
                .zip(&diffs)
                .filter(|(p, _)| p.cluster.is_none())
                .map(|(_, d)| (d - mean_diff).powi(2))
                .sum::<f64>();
        let g_f = g as f64;
        (
            (g_f / (g_f - 1.0) * ss).sqrt() / n_f,
            g_f - 1.0,
            Method::Clustered,
        )
    } else if n >= 2 {
        let var = diffs.iter().map(|d| (d - mean_diff).powi(2)).sum::<f64>() / (n_f - 1.0);
        ((var / n_f).sqrt(), n_f - 1.0, Method::T)
    } else {
        (f64::INFINITY, 0.0, Method::Insufficient)
    };
    let (mut ci_low, mut ci_high) = if method == Method::Insufficient {
        (-1.0, 1.0)
    } else if se == 0.0 {
        // Every difference is the same: a t interval would have zero width and claim
        // certainty from a handful of cases. Bound the share of cases that could differ
        // by the exact (Clopper–Pearson) upper limit for 0 events in n, 1 − (α/2)^(1/n).
        let half_width = 1.0 - (options.alpha / 2.0).powf(1.0 / n_f);
        (mean_diff - half_width, mean_diff + half_width)
    } else {
        let t = t_quantile(half, df);
        (mean_diff - t * se, mean_diff + t * se)
    };
    let se = if se.is_finite() { se } else { 1.0 };

    let test = if let Some(resamples) = options.bootstrap.filter(|_| n >= 2) {
        let boot = paired_bootstrap(&diffs, resamples, options.seed, options.alpha);
        ci_low = boot.ci_low;
        ci_high = boot.ci_high;
        TestResult {
            name: "paired_bootstrap".into(),
            statistic: mean_diff,
            p_value: boot.p_value,
        }
    } else if binary && !clustered {
        let b = pairs.iter().filter(|p| p.a == 1.0 && p.b == 0.0).count() as u64;
        let c = pairs.iter().filter(|p| p.a == 0.0 && p.b == 1.0).count() as u64;
        TestResult {
            name: "mcnemar_exact".into(),
            statistic: b.min(c) as f64,
            p_value: mcnemar_exact(b, c),
        }
    } else {
        let t = if se > 0.0 {
            mean_diff / se
        } else if mean_diff == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        let name = if clustered {
            "paired_t_clustered"
        } else {
            "paired_t"
        };
        TestResult {
            name: name.into(),
            statistic: t,
            p_value: if df > 0.0 { t_p_value(t, df) } else { 1.0 },
        }
    };
    // A difference of scores in [0, 1] lies in [−1, 1].
    let (ci_low, ci_high) = (ci_low.max(-1.0), ci_high.min(1.0));
    let band = options.equivalence_band;
    let verdict = verdict(test.p_value, ci_low, ci_high, options.alpha, band);
    PairedComparison {
        n_pairs: n as u64,
        n_clusters: (!clusters.is_empty()).then_some(g as u64),
        mean_a,
        mean_b,
        mean_diff,
        se,
        ci_low,
        ci_high,
        correlation: correlation(pairs),
        method,
        test,
        verdict,
        equivalence_band: band,
    }
}
