//! Reducing the epochs of a case into one number: mean, max, majority, pass@k, pass^k.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a case's k epochs are reduced into one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reducer", content = "k", rename_all = "snake_case")]
pub enum Reducer {
    /// Mean score over epochs (the default: it keeps the most information).
    Mean,
    /// Best epoch.
    Max,
    /// 1 when more than half the epochs pass, else 0.
    Majority,
    /// Unbiased estimate of the chance that at least one of `k` samples passes (Chen et al. 2021).
    PassAtK(u32),
    /// Unbiased estimate of the chance that all of `k` samples pass.
    PassHatK(u32),
}

impl Reducer {
    /// The reducer's name: `mean`, `max`, `majority`, `pass@k`, `pass^k`.
    pub fn name(self) -> String {
        match self {
            Self::Mean => "mean".into(),
            Self::Max => "max".into(),
            Self::Majority => "majority".into(),
            Self::PassAtK(k) => format!("pass@{k}"),
            Self::PassHatK(k) => format!("pass^{k}"),
        }
    }

    /// Reduces one case's epoch scores (pass/fail reducers count a score ≥ 0.5 as a pass).
    /// `None` when the reducer needs more epochs than there are (pass@k with n < k).
    pub fn reduce(self, scores: &[f64]) -> Option<f64> {
        let n = scores.len() as u64;
        if n == 0 {
            return None;
        }
        let passes = scores.iter().filter(|s| **s >= 0.5).count() as u64;
        match self {
            Self::Mean => Some(scores.iter().sum::<f64>() / n as f64),
            Self::Max => scores.iter().copied().reduce(f64::max),
            Self::Majority => Some(f64::from(u8::from(2 * passes > n))),
            Self::PassAtK(k) => {
                (u64::from(k) <= n && k > 0).then(|| pass_at_k(n, passes, u64::from(k)))
            }
            Self::PassHatK(k) => {
                (u64::from(k) <= n && k > 0).then(|| pass_hat_k(n, passes, u64::from(k)))
            }
        }
    }
}

/// Unbiased pass@k from `n` samples of which `c` pass, in the numerically stable product
/// form of Chen et al. (2021): `1 − Π_{i=n−c+1}^{n} (1 − k/i)`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    if n.saturating_sub(c) < k {
        return 1.0;
    }
    let prod: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    1.0 - prod
}

/// Unbiased pass^k (all of k samples pass) from `n` samples of which `c` pass:
/// `C(c, k) / C(n, k) = Π_{i=0}^{k−1} (c − i) / (n − i)`.
pub fn pass_hat_k(n: u64, c: u64, k: u64) -> f64 {
    if c < k {
        return 0.0;
    }
    (0..k).map(|i| (c - i) as f64 / (n - i) as f64).product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reducers_on_a_small_case() {
        let s = [1.0, 0.0, 1.0, 1.0];
        assert_eq!(Reducer::Mean.reduce(&s), Some(0.75));
        assert_eq!(Reducer::Max.reduce(&s), Some(1.0));
        assert_eq!(Reducer::Majority.reduce(&s), Some(1.0));
        assert_eq!(
            Reducer::Majority.reduce(&[1.0, 0.0]),
            Some(0.0),
            "a tie is not a majority"
        );
        assert_eq!(Reducer::PassAtK(1).reduce(&s), Some(0.75));
        assert_eq!(Reducer::PassHatK(4).reduce(&s), Some(0.0));
        assert_eq!(Reducer::PassHatK(2).reduce(&s), Some(0.5));
        assert_eq!(Reducer::PassAtK(5).reduce(&s), None);
    }
}
