//! Planning: how many cases detect an effect, and what effect n cases detect
//! (Miller 2024, §5: `n = (z_{α/2} + z_β)² · Var(A − B) / δ²`, with
//! `Var(A − B) = σ_A² + σ_B² − 2ρ σ_A σ_B`).

use super::normal_quantile;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The inputs of a sample-size calculation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PowerPlan {
    /// Two-sided significance level.
    pub alpha: f64,
    /// Desired power (1 − β).
    pub power: f64,
    /// Variance of a case's score under A.
    pub variance_a: f64,
    /// Variance of a case's score under B.
    pub variance_b: f64,
    /// Correlation of A's and B's scores on the same case (0 for unpaired designs).
    pub correlation: f64,
}

impl PowerPlan {
    /// Pass/fail scores around `baseline` (variance p(1 − p) for both), paired with
    /// `correlation`, at α = 0.05 and 80% power.
    pub fn binary(baseline: f64, correlation: f64) -> Self {
        let v = baseline * (1.0 - baseline);
        Self {
            alpha: 0.05,
            power: 0.8,
            variance_a: v,
            variance_b: v,
            correlation,
        }
    }

    fn variance_of_difference(&self) -> f64 {
        (self.variance_a + self.variance_b
            - 2.0 * self.correlation * (self.variance_a * self.variance_b).sqrt())
        .max(0.0)
    }

    fn z_sum(&self) -> f64 {
        normal_quantile(1.0 - self.alpha / 2.0) + normal_quantile(self.power)
    }

    /// Cases needed to detect a difference of `effect` (on the 0–1 score scale).
    pub fn cases_needed(&self, effect: f64) -> u64 {
        let z = self.z_sum();
        (z * z * self.variance_of_difference() / (effect * effect)).ceil() as u64
    }

    /// The smallest difference detectable with `n` cases.
    pub fn detectable_effect(&self, n: u64) -> f64 {
        self.z_sum() * (self.variance_of_difference() / n as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::PowerPlan;

    #[test]
    fn reproduces_millers_969_questions_for_three_points() {
        // Miller (2024) §5: σ² = 1/9 for both models, correlation 0.5, α = 0.05, 80% power.
        let plan = PowerPlan {
            alpha: 0.05,
            power: 0.8,
            variance_a: 1.0 / 9.0,
            variance_b: 1.0 / 9.0,
            correlation: 0.5,
        };
        assert_eq!(plan.cases_needed(0.03), 969);
        assert!((plan.detectable_effect(969) - 0.03).abs() < 1e-4);
    }
}
