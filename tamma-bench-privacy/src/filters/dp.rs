//! Differential privacy for cross-tenant aggregates: the discrete Laplace mechanism with
//! an exact sampler and a privacy-budget ledger per release.
//!
//! The sampler is Algorithm 2 of Canonne, Kamath and Steinke, "The Discrete Gaussian for
//! Differential Privacy" (2020): only uniform integers and exact rational Bernoulli
//! trials, no floating point, so the noise has none of the floating-point artefacts
//! (Mironov 2012) through which the exact value can be recovered.
//!
//! The unit of privacy is one run: removing a run changes its cell's run count, its row
//! total and its column total by 1 (L1 sensitivity 3), its cell's tenant count by at most
//! 1, and the three score sums by at most one score (3 × 1000 thousandths).

use super::AggregateTable;
use crate::PrivacyFilter;
use crate::error::{ErrorKind, RepositoryError};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::sync::Mutex;
use tamma_bench_core::model::TenantContext;

/// A privacy parameter ε in millionths (exact accounting, no rounding drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epsilon(pub u64);

impl Epsilon {
    /// ε = 1, the default budget of one release.
    pub const ONE: Epsilon = Epsilon(1_000_000);
}

/// The privacy budget of one release: charges are refused once it is spent.
#[derive(Debug)]
pub struct BudgetLedger {
    total: Epsilon,
    spent: Mutex<u64>,
}

impl BudgetLedger {
    /// A ledger of `total` (the default is [`Epsilon::ONE`]).
    pub fn new(total: Epsilon) -> Self {
        Self {
            total,
            spent: Mutex::new(0),
        }
    }

    /// Spends `eps`, or refuses (spending nothing) when it would exceed the total.
    pub fn charge(&self, eps: Epsilon) -> Result<(), RepositoryError> {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        match spent.checked_add(eps.0) {
            Some(next) if next <= self.total.0 => {
                *spent = next;
                Ok(())
            }
            _ => Err(RepositoryError::new(
                ErrorKind::BudgetExhausted,
                format!(
                    "privacy budget of this release spent ({} of {} millionths of epsilon); start a new release",
                    *spent, self.total.0
                ),
            )),
        }
    }

    /// What is left.
    pub fn remaining(&self) -> Epsilon {
        let spent = *self.spent.lock().unwrap_or_else(|p| p.into_inner());
        Epsilon(self.total.0.saturating_sub(spent))
    }
}

impl Default for BudgetLedger {
    fn default() -> Self {
        Self::new(Epsilon::ONE)
    }
}

/// Bernoulli(n / d), exactly. Requires `0 <= n <= d`, `d > 0`.
fn bernoulli(rng: &mut impl RngCore, n: u128, d: u128) -> bool {
    rng.random_range(0..d) < n
}

/// Bernoulli(exp(−n / d)), exactly (CKS 2020, Algorithm 1).
fn bernoulli_exp(rng: &mut impl RngCore, n: u128, d: u128) -> bool {
    if n <= d {
        let mut k: u128 = 1;
        while bernoulli(rng, n, d * k) {
            k += 1;
        }
        return k % 2 == 1;
    }
    for _ in 0..n / d {
        if !bernoulli_exp(rng, 1, 1) {
            return false;
        }
    }
    bernoulli_exp(rng, n % d, d)
}

/// One draw of the discrete Laplace distribution with scale `t / s`:
/// P(x) ∝ exp(−|x|·s/t) (CKS 2020, Algorithm 2). Requires `s, t > 0`.
pub fn discrete_laplace(rng: &mut impl RngCore, s: u64, t: u64) -> i64 {
    let (s, t) = (u128::from(s.max(1)), u128::from(t.max(1)));
    loop {
        let u = rng.random_range(0..t);
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp(rng, 1, 1) {
            v += 1;
        }
        let y = (u + t * v) / s;
        let negative = rng.next_u32() & 1 == 1;
        if negative && y == 0 {
            continue;
        }
        let y = i64::try_from(y).unwrap_or(i64::MAX);
        return if negative { -y } else { y };
    }
}

/// Adds discrete Laplace noise to every published count and sum of an aggregate table,
/// charging the release's ledger ε per table (a third each to run counts, tenant counts
/// and score sums). Refuses (returns `None` as a filter, an error from [`DpNoise::apply`])
/// when the ledger cannot pay.
pub struct DpNoise {
    ledger: std::sync::Arc<BudgetLedger>,
    epsilon: Epsilon,
    rng: Mutex<StdRng>,
}

impl std::fmt::Debug for DpNoise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpNoise")
            .field("epsilon", &self.epsilon)
            .finish()
    }
}

impl DpNoise {
    /// Noise of `epsilon` per table, paid from `ledger`, seeded from the OS.
    pub fn new(ledger: std::sync::Arc<BudgetLedger>, epsilon: Epsilon) -> Self {
        Self::with_rng(ledger, epsilon, StdRng::from_os_rng())
    }

    /// With a given generator (tests only: a seeded generator makes the noise known).
    pub fn with_rng(ledger: std::sync::Arc<BudgetLedger>, epsilon: Epsilon, rng: StdRng) -> Self {
        Self {
            ledger,
            epsilon,
            rng: Mutex::new(rng),
        }
    }

    /// Noises `table` in place after charging the ledger.
    pub fn apply(&self, table: &mut AggregateTable) -> Result<(), RepositoryError> {
        if self.epsilon.0 < 3 {
            return Err(RepositoryError::new(
                ErrorKind::Invalid,
                "epsilon per table is too small",
            ));
        }
        self.ledger.charge(self.epsilon)?;
        let share = self.epsilon.0 / 3;
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        // scale = sensitivity / ε_share = (Δ · 10⁶) / share
        let mut noise = |delta: u64| discrete_laplace(&mut *rng, share, delta * 1_000_000);
        for c in table.cells.iter_mut().filter(|c| !c.suppressed) {
            c.n_runs = (c.n_runs + noise(3)).max(0);
            c.n_tenants = (c.n_tenants + noise(1)).max(0);
            c.score_sum_milli = (c.score_sum_milli + noise(3_000)).max(0);
        }
        for t in table
            .row_totals
            .iter_mut()
            .chain(&mut table.column_totals)
            .filter(|t| !t.suppressed)
        {
            t.n_runs = (t.n_runs + noise(3)).max(0);
            t.score_sum_milli = (t.score_sum_milli + noise(3_000)).max(0);
        }
        table.epsilon_spent += self.epsilon.0;
        Ok(())
    }
}

impl PrivacyFilter<AggregateTable> for DpNoise {
    fn filter(&self, _cx: &TenantContext, mut table: AggregateTable) -> Option<AggregateTable> {
        self.apply(&mut table).ok()?;
        Some(table)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn discrete_laplace_has_the_right_mean_and_variance() {
        // Scale 2: variance 2e^{-1/2}/(1-e^{-1/2})^2 ≈ 7.83.
        let mut rng = StdRng::seed_from_u64(7);
        let n = 20_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| discrete_laplace(&mut rng, 1, 2) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let q: f64 = (-0.5f64).exp();
        let want = 2.0 * q / (1.0 - q).powi(2);
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((var - want).abs() / want < 0.06, "variance {var} vs {want}");
    }

    #[test]
    fn the_ledger_refuses_once_spent_and_defaults_to_epsilon_one() {
        let ledger = BudgetLedger::default();
        ledger.charge(Epsilon(600_000)).unwrap();
        let e = ledger.charge(Epsilon(500_000)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BudgetExhausted);
        assert_eq!(ledger.remaining(), Epsilon(400_000));
        ledger.charge(Epsilon(400_000)).unwrap();
        assert_eq!(ledger.remaining(), Epsilon(0));
    }
}
