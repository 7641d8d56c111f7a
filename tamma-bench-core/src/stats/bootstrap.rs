//! Seeded bootstraps: the cluster bootstrap of a mean and the paired bootstrap of a mean
//! difference (percentile intervals).

use super::{Estimate, Method, Observation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    // Linear interpolation between closest ranks (numpy's default).
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A mean's interval by resampling whole clusters (cases without a cluster are their own)
/// `resamples` times. Deterministic for a given seed.
pub fn cluster_bootstrap(
    obs: &[Observation<'_>],
    k: u32,
    level: f64,
    resamples: u32,
    seed: u64,
) -> Estimate {
    let mut groups: HashMap<Option<&str>, Vec<f64>> = HashMap::new();
    let mut singles: Vec<Vec<f64>> = Vec::new();
    for o in obs {
        match o.cluster {
            Some(c) => groups.entry(Some(c)).or_default().push(o.value),
            None => singles.push(vec![o.value]),
        }
    }
    let mut keys: Vec<_> = groups.keys().copied().collect();
    keys.sort();
    let mut clusters: Vec<(f64, usize)> = keys
        .iter()
        .map(|k| (groups[k].iter().sum(), groups[k].len()))
        .collect();
    clusters.extend(singles.iter().map(|s| (s[0], 1)));
    let n = obs.len() as u64;
    let mean = obs.iter().map(|o| o.value).sum::<f64>() / n.max(1) as f64;
    let g = clusters.len();
    if g < 2 || resamples == 0 {
        return Estimate {
            mean,
            se: 0.0,
            ci_low: 0.0,
            ci_high: 1.0,
            n,
            n_clusters: Some(g as u64),
            k,
            level,
            method: Method::Insufficient,
        };
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let (mut sum, mut count) = (0.0, 0usize);
            for _ in 0..g {
                let (s, c) = clusters[rng.random_range(0..g)];
                sum += s;
                count += c;
            }
            sum / count as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let m = means.iter().sum::<f64>() / means.len() as f64;
    let se = (means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (means.len() - 1) as f64).sqrt();
    let alpha = 1.0 - level;
    Estimate {
        mean,
        se,
        ci_low: percentile(&means, alpha / 2.0),
        ci_high: percentile(&means, 1.0 - alpha / 2.0),
        n,
        n_clusters: Some(g as u64),
        k,
        level,
        method: Method::ClusterBootstrap,
    }
}

/// The result of a paired bootstrap.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapResult {
    /// Lower percentile bound.
    pub ci_low: f64,
    /// Upper percentile bound.
    pub ci_high: f64,
    /// Two-sided p-value: twice the smaller share of resampled means on either side of 0.
    pub p_value: f64,
}

/// Resamples the case differences `resamples` times; deterministic for a given seed.
pub fn paired_bootstrap(diffs: &[f64], resamples: u32, seed: u64, alpha: f64) -> BootstrapResult {
    let n = diffs.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let below = means.iter().filter(|m| **m <= 0.0).count() as f64;
    let above = means.iter().filter(|m| **m >= 0.0).count() as f64;
    let r = means.len() as f64;
    BootstrapResult {
        ci_low: percentile(&means, alpha / 2.0),
        ci_high: percentile(&means, 1.0 - alpha / 2.0),
        p_value: (2.0 * below.min(above) / r).min(1.0),
    }
}
