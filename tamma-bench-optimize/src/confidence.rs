//! Anytime-valid confidence sequences for the mean paired difference of two
//! configurations over a finite benchmark, sampled without replacement.
//!
//! Cases are drawn in a uniformly random order (the study's seed), so the first `t`
//! cases are a simple random sample *without replacement* of the benchmark's `N` cases,
//! whatever the scores are. For two configurations A and B, the per-case difference
//! `d = a − b ∈ [−1, 1]` is mapped to `y = (d + 1)/2 ∈ [0, 1]`, and
//!
//! `M_t(μ) = Π_{i≤t} exp(λ_i (y_i − μ̃_i(μ)) − v_i ψ_E(λ_i))`, with
//! `μ̃_i(μ) = (Nμ − Σ_{j<i} y_j)/(N − i + 1)` (the mean of the cases not yet drawn),
//! `v_i = 4 (y_i − μ̂_{i−1})²` and `ψ_E(λ) = (−ln(1 − λ) − λ)/4`,
//!
//! is a non-negative supermartingale under the true μ (Waudby-Smith & Ramdas 2020,
//! "Confidence sequences for sampling without replacement", NeurIPS, §3 with the
//! predictable-plug-in empirical-Bernstein bet of Waudby-Smith & Ramdas 2024, JRSS-B,
//! eq. 13–15). By Ville's inequality the set `{μ : M_t(μ) < 2/α}` (with the mirrored
//! process for the other side) covers μ at *every* t simultaneously with probability at
//! least 1 − α. `M_t` is log-linear in μ, so the bounds are closed forms, and the bound
//! collapses onto the exact mean when t reaches N.
//!
//! Validity needs nothing but the random order: no normality, no independence between
//! configurations, any score in `[0, 1]` (epoch averages included).

/// The latest time a bet is tuned for, as a share of the benchmark (tuned on the
/// simulation harness; any value keeps the coverage).
const HORIZON_SHARE: f64 = 0.5;

/// The bet of one side and its penalty: `ξ ≥ −c`, bet `λ ≤ MAX_BET/c`, penalty
/// `ξ² (−ln(1 − λc) − λc)/c²` (Fan's inequality scaled by c).
fn side(bet: f64, c: f64, xi: f64) -> (f64, f64) {
    let c = c.max(1e-9);
    let lambda = bet.min(MAX_BET / c);
    let lc = lambda * c;
    (lambda, xi * xi * (-(1.0 - lc).ln() - lc) / (c * c))
}

/// Cap of the bet λ (Waudby-Smith & Ramdas suggest 1/2 or 3/4).
const MAX_BET: f64 = 0.75;

/// The running confidence sequence of `E[a − b]` over a population of `n_population`
/// cases, at level 1 − α (two-sided). Feed it the pairs in the sampling order.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedSequence {
    n_population: usize,
    horizon: f64,
    resolution: f64,
    /// `ln(1/α)` of the lower and of the upper side.
    log_lower: f64,
    log_upper: f64,
    /// Draws before this one inform the bets but carry no evidence.
    start: usize,
    t: usize,
    sum_y: f64,
    mean_hat: f64,
    var_sum: f64,
    lower_acc: f64,
    lower_weight: f64,
    lower_penalty: f64,
    upper_acc: f64,
    upper_weight: f64,
    upper_penalty: f64,
    best_low: f64,
    best_high: f64,
}

impl PairedSequence {
    /// A sequence over a benchmark of `n_population` cases at error level `alpha`.
    pub fn new(n_population: usize, alpha: f64) -> Self {
        Self {
            n_population: n_population.max(1),
            horizon: (n_population as f64 * HORIZON_SHARE).max(1.0),
            resolution: 0.0,
            log_lower: (2.0 / alpha.clamp(1e-300, 1.0)).ln(),
            log_upper: (2.0 / alpha.clamp(1e-300, 1.0)).ln(),
            start: 0,
            t: 0,
            sum_y: 0.0,
            mean_hat: 0.5,
            var_sum: 0.25,
            lower_acc: 0.0,
            lower_weight: 0.0,
            lower_penalty: 0.0,
            upper_acc: 0.0,
            upper_weight: 0.0,
            upper_penalty: 0.0,
            best_low: -1.0,
            best_high: 1.0,
        }
    }

    /// Tunes the bets for deciding whether the difference exceeds ±`resolution` (e.g.
    /// ε): bets grow where a decision is near. Any setting keeps the coverage.
    pub fn with_resolution(mut self, resolution: f64) -> Self {
        self.resolution = resolution.max(0.0);
        self
    }

    /// Sets each side's own one-sided error level: the lower bound fails with probability
    /// at most `alpha_lower` and the upper with at most `alpha_upper` (by default each is
    /// `alpha / 2`).
    pub fn with_levels(mut self, alpha_lower: f64, alpha_upper: f64) -> Self {
        self.log_lower = (1.0 / alpha_lower.clamp(1e-300, 1.0)).ln();
        self.log_upper = (1.0 / alpha_upper.clamp(1e-300, 1.0)).ln();
        self
    }

    /// Starts the evidence after the first `start` draws: those still tune the bets and
    /// centre the later draws (the sampling is without replacement), but the bounds rest
    /// on the later draws only. Coverage then holds conditionally on the first `start`
    /// draws, so a level chosen from them (e.g. from screening) keeps its meaning.
    pub fn with_start(mut self, start: usize) -> Self {
        self.start = start;
        self
    }

    /// Pairs seen.
    pub fn len(&self) -> usize {
        self.t
    }

    /// Whether no pair was seen.
    pub fn is_empty(&self) -> bool {
        self.t == 0
    }

    /// Mean of `a − b` over the pairs seen (0 when none).
    pub fn mean(&self) -> f64 {
        if self.t == 0 {
            0.0
        } else {
            2.0 * self.sum_y / self.t as f64 - 1.0
        }
    }

    /// Adds the next pair (`a`, `b` in `[0, 1]`), in sampling order.
    pub fn push(&mut self, a: f64, b: f64) {
        if self.t >= self.n_population {
            return;
        }
        let y = ((a - b).clamp(-1.0, 1.0) + 1.0) / 2.0;
        let i = self.t + 1; // 1-based index of this draw
        let t_prev = self.t as f64;
        // Predictable bet from the draws before this one.
        let sigma2 = self.var_sum / (t_prev + 1.0);
        let ti = i as f64;
        // Tune the bet for the time this pair is expected to be decided (predictable: it
        // uses only earlier draws), at most the fixed horizon.
        let gap_y = ((2.0 * self.mean_hat - 1.0).abs() + self.resolution) / 2.0;
        let bet_for = |log_term: f64| {
            let needed = if gap_y > 0.0 {
                8.0 * sigma2 * log_term / (gap_y * gap_y)
            } else {
                self.horizon
            };
            let horizon = ti.max(needed.min(self.horizon));
            (2.0 * log_term / (sigma2 * horizon)).sqrt()
        };
        if i > self.start {
            let remaining = (self.n_population - i + 1) as f64;
            // Lower side: ξ = y − μ̂ ≥ −μ̂, so bets up to MAX_BET/μ̂ are valid (Fan et al.
            // 2015's inequality applied to ξ/μ̂); the upper side mirrors with 1 − μ̂.
            let xi = y - self.mean_hat;
            let (lam_lo, pen_lo) = side(bet_for(self.log_lower), self.mean_hat, xi);
            let (lam_hi, pen_hi) = side(bet_for(self.log_upper), 1.0 - self.mean_hat, -xi);
            self.lower_acc += lam_lo * (y + self.sum_y / remaining);
            self.lower_weight += lam_lo * self.n_population as f64 / remaining;
            self.lower_penalty += pen_lo;
            self.upper_acc += lam_hi * ((1.0 - y) + (t_prev - self.sum_y) / remaining);
            self.upper_weight += lam_hi * self.n_population as f64 / remaining;
            self.upper_penalty += pen_hi;
        }
        // Update the plug-in mean and variance with this draw.
        self.t = i;
        self.sum_y += y;
        self.mean_hat = (0.5 + self.sum_y) / (ti + 1.0);
        self.var_sum += (y - self.mean_hat).powi(2);
        let (lo, hi) = self.raw_bounds();
        self.best_low = self.best_low.max(lo);
        self.best_high = self.best_high.min(hi);
    }

    fn raw_bounds(&self) -> (f64, f64) {
        if self.t == 0 || self.lower_weight <= 0.0 || self.upper_weight <= 0.0 {
            return (-1.0, 1.0);
        }
        if self.t >= self.n_population {
            let m = self.mean();
            return (m, m);
        }
        let low_y = (self.lower_acc - self.log_lower - self.lower_penalty) / self.lower_weight;
        let high_y =
            1.0 - (self.upper_acc - self.log_upper - self.upper_penalty) / self.upper_weight;
        (
            (2.0 * low_y - 1.0).clamp(-1.0, 1.0),
            (2.0 * high_y - 1.0).clamp(-1.0, 1.0),
        )
    }

    /// The interval of the mean difference over the whole benchmark, valid at every
    /// time simultaneously (the running intersection of the sequence).
    pub fn bounds(&self) -> (f64, f64) {
        if self.best_low > self.best_high {
            // Only possible outside the 1 − α event; report the crossing point.
            let m = (self.best_low + self.best_high) / 2.0;
            return (m, m);
        }
        (self.best_low, self.best_high)
    }
}

#[cfg(test)]
mod tests {
    use super::PairedSequence;
    use crate::rng::SplitMix64;

    #[test]
    fn covers_the_benchmark_mean_at_every_time_in_at_least_1_minus_alpha() {
        // A fixed population of correlated pass/fail pairs; random orders are the only
        // randomness, as in a study.
        let mut rng = SplitMix64::new(1);
        let n = 300;
        let pop: Vec<(f64, f64)> = (0..n)
            .map(|_| {
                let hard = rng.next_f64() < 0.4;
                let a = f64::from(u8::from(!hard && rng.next_f64() < 0.9));
                let b = f64::from(u8::from(!hard && rng.next_f64() < 0.8));
                (a, b)
            })
            .collect();
        let truth = pop.iter().map(|(a, b)| a - b).sum::<f64>() / n as f64;
        let (reps, alpha) = (400, 0.1);
        let mut misses = 0;
        for r in 0..reps {
            let order = SplitMix64::new(100 + r).permutation(n);
            let mut cs = PairedSequence::new(n, alpha);
            let mut missed = false;
            for &i in &order {
                cs.push(pop[i].0, pop[i].1);
                let (lo, hi) = cs.bounds();
                missed |= truth < lo - 1e-12 || truth > hi + 1e-12;
            }
            misses += usize::from(missed);
        }
        assert!(misses as f64 / reps as f64 <= alpha, "{misses} misses");
    }

    #[test]
    fn each_side_covers_at_its_own_level_with_evidence_after_a_screening() {
        let mut rng = SplitMix64::new(3);
        let n = 300;
        let pop: Vec<(f64, f64)> = (0..n)
            .map(|_| {
                let hard = rng.next_f64() < 0.3;
                let a = f64::from(u8::from(!hard && rng.next_f64() < 0.85));
                let b = f64::from(u8::from(!hard && rng.next_f64() < 0.8));
                (a, b)
            })
            .collect();
        let truth = pop.iter().map(|(a, b)| a - b).sum::<f64>() / n as f64;
        let (reps, lower_level, upper_level) = (400, 0.02, 0.15);
        let (mut low_misses, mut high_misses) = (0, 0);
        for r in 0..reps {
            let order = SplitMix64::new(500 + r).permutation(n);
            let mut cs = PairedSequence::new(n, 1.0)
                .with_levels(lower_level, upper_level)
                .with_start(16);
            let (mut low, mut high) = (false, false);
            for &i in &order {
                cs.push(pop[i].0, pop[i].1);
                let (lo, hi) = cs.bounds();
                low |= truth < lo - 1e-12;
                high |= truth > hi + 1e-12;
            }
            low_misses += usize::from(low);
            high_misses += usize::from(high);
        }
        assert!(
            low_misses as f64 / reps as f64 <= lower_level,
            "{low_misses} lower misses"
        );
        assert!(
            high_misses as f64 / reps as f64 <= upper_level,
            "{high_misses} upper misses"
        );
    }

    #[test]
    fn a_looser_level_gives_a_tighter_side_and_a_screening_carries_no_evidence() {
        let pairs: Vec<(f64, f64)> = (0..120)
            .map(|i| {
                (
                    f64::from(u8::from(i % 3 != 0)),
                    f64::from(u8::from(i % 4 != 0)),
                )
            })
            .collect();
        let run = |cs: PairedSequence, upto: usize| {
            let mut cs = cs;
            for &(a, b) in &pairs[..upto] {
                cs.push(a, b);
            }
            cs.bounds()
        };
        let strict = run(PairedSequence::new(400, 1.0).with_levels(1e-4, 1e-4), 120);
        let loose_low = run(PairedSequence::new(400, 1.0).with_levels(0.1, 1e-4), 120);
        assert!(loose_low.0 > strict.0 + 1e-3, "{loose_low:?} vs {strict:?}");
        assert!((loose_low.1 - strict.1).abs() < 1e-12);
        let screened = run(PairedSequence::new(400, 0.05).with_start(16), 16);
        assert_eq!(screened, (-1.0, 1.0));
    }

    #[test]
    fn shrinks_with_more_cases_and_is_exact_at_the_end() {
        let n = 200;
        let mut cs = PairedSequence::new(n, 0.05);
        let mut widths = vec![];
        for i in 0..n {
            let a = f64::from(u8::from(i % 3 != 0));
            let b = f64::from(u8::from(i % 4 != 0));
            cs.push(a, b);
            let (lo, hi) = cs.bounds();
            widths.push(hi - lo);
        }
        assert!(widths[50] < widths[10] && widths[150] < widths[50]);
        let (lo, hi) = cs.bounds();
        assert!((hi - lo).abs() < 1e-12);
        assert!((lo - cs.mean()).abs() < 1e-12);
    }
}
