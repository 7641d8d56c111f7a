//! Sequential testing: an always-valid p-value for a running paired comparison, so that a
//! decision may be taken after every case without inflating the error rate.
//!
//! The mixture sequential probability ratio test (mSPRT, Robbins 1970; Johari et al.
//! 2017, "Peeking at A/B tests") with a normal mixing distribution N(0, τ²) over the mean
//! difference: `Λ_n = sqrt(σ²/(σ² + nτ²)) · exp(n²τ² d̄² / (2σ²(σ² + nτ²)))`, and
//! `p_n = min(p_{n−1}, 1/Λ_n)`. The variance σ² of a case's difference is the running
//! sample variance, used only after `min_n` cases and floored, so early runs of equal
//! differences cannot produce spurious certainty.

/// A running mSPRT over paired differences (A − B).
#[derive(Debug, Clone, PartialEq)]
pub struct Msprt {
    tau2: f64,
    min_n: u64,
    n: u64,
    mean: f64,
    m2: f64,
    p: f64,
}

/// Floor of the plug-in variance of a case's difference.
const MIN_VARIANCE: f64 = 1e-3;

impl Msprt {
    /// A test tuned for differences of about `tau` (on the 0–1 scale, e.g. 0.05), that
    /// starts deciding after `min_n` cases.
    pub fn new(tau: f64, min_n: u64) -> Self {
        Self {
            tau2: tau * tau,
            min_n: min_n.max(2),
            n: 0,
            mean: 0.0,
            m2: 0.0,
            p: 1.0,
        }
    }

    /// Adds one case's difference and returns the always-valid p-value so far.
    pub fn push(&mut self, diff: f64) -> f64 {
        self.n += 1;
        let delta = diff - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (diff - self.mean);
        if self.n >= self.min_n {
            let n = self.n as f64;
            let var = (self.m2 / (n - 1.0)).max(MIN_VARIANCE);
            let denom = var + n * self.tau2;
            let log_lambda = 0.5 * (var / denom).ln()
                + n * n * self.tau2 * self.mean * self.mean / (2.0 * var * denom);
            self.p = self.p.min((-log_lambda).exp().min(1.0));
        }
        self.p
    }

    /// The always-valid p-value after the cases seen.
    pub fn p_value(&self) -> f64 {
        self.p
    }

    /// Cases seen.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Mean difference so far.
    pub fn mean(&self) -> f64 {
        self.mean
    }
}
