//! The bounds of the command line's numbers. Every numeric option is parsed against a
//! range that makes sense for it, so an absurd value (`--concurrency
//! 2305843009213693952`, `--budget-usd inf`, `--alpha 7`) is a usage error naming the
//! option and its range (exit status 2), never a panic or a silently useless run.
//! `--seed` alone takes any `u64`: every seed is a valid seed.

use std::fmt;

/// Most trials in flight at once (`--concurrency`): far above any provider's rate limit,
/// well below what the executor's semaphores and task sets can hold.
pub const MAX_CONCURRENCY: u64 = 65_536;

/// Most repetitions of each case (`--epochs`): pass@k and reliability use tens.
pub const MAX_EPOCHS: u64 = 10_000;

/// Largest budget in USD (`--budget-usd`).
pub const MAX_USD: f64 = 1e9;

/// Most bootstrap resamples (`compare --bootstrap`): each holds one mean in memory.
pub const MAX_RESAMPLES: u64 = 1_000_000;

/// Most cases to plan for (`plan --cases`).
pub const MAX_CASES: u64 = 1_000_000_000;

/// `--concurrency`: a whole number from 1 to [`MAX_CONCURRENCY`].
pub fn concurrency(s: &str) -> Result<usize, String> {
    whole(s, 1, MAX_CONCURRENCY)
}

/// `--epochs`: a whole number from 1 to [`MAX_EPOCHS`].
pub fn epochs(s: &str) -> Result<u32, String> {
    whole(s, 1, MAX_EPOCHS)
}

/// `--bootstrap`: a whole number of resamples from 1 to [`MAX_RESAMPLES`].
pub fn resamples(s: &str) -> Result<u32, String> {
    whole(s, 1, MAX_RESAMPLES)
}

/// `--cases`: a whole number from 1 to [`MAX_CASES`].
pub fn cases(s: &str) -> Result<u64, String> {
    whole(s, 1, MAX_CASES)
}

/// `s` as a whole number in `low..=high` (which fits `T`), or a message naming the range.
fn whole<T: TryFrom<u64>>(s: &str, low: u64, high: u64) -> Result<T, String> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("expected a whole number from {low} to {high}, got {s:?}"))
}

/// `--budget-usd`: an amount in USD in [0, [`MAX_USD`]].
pub fn usd(s: &str) -> Result<f64, String> {
    Interval::closed(0.0, MAX_USD).parse(s)
}

/// `--alpha`, `--power`: a probability strictly between 0 and 1.
pub fn open_probability(s: &str) -> Result<f64, String> {
    Interval::open(0.0, 1.0).parse(s)
}

/// `--baseline`: a pass rate in [0, 1].
pub fn pass_rate(s: &str) -> Result<f64, String> {
    Interval::closed(0.0, 1.0).parse(s)
}

/// `--correlation`: a correlation in [-1, 1].
pub fn correlation(s: &str) -> Result<f64, String> {
    Interval::closed(-1.0, 1.0).parse(s)
}

/// `--variance`: the variance of a score in [0, 1], which is at most 1/4.
pub fn score_variance(s: &str) -> Result<f64, String> {
    Interval {
        low: 0.0,
        high: 0.25,
        low_open: true,
        high_open: false,
    }
    .parse(s)
}

/// `plan --effect`: a difference of scores in points, from 0.01 (smaller ones need more
/// cases than any benchmark holds) to 100.
pub fn effect_points(s: &str) -> Result<f64, String> {
    Interval::closed(0.01, 100.0).parse(s)
}

/// `compare --band`: the half-width of a band of scores in points, in [0, 100].
pub fn band_points(s: &str) -> Result<f64, String> {
    Interval::closed(0.0, 100.0).parse(s)
}

/// An interval of finite numbers, each end open or closed.
#[derive(Debug, Clone, Copy)]
struct Interval {
    low: f64,
    high: f64,
    low_open: bool,
    high_open: bool,
}

impl Interval {
    fn closed(low: f64, high: f64) -> Self {
        Self {
            low,
            high,
            low_open: false,
            high_open: false,
        }
    }

    fn open(low: f64, high: f64) -> Self {
        Self {
            low,
            high,
            low_open: true,
            high_open: true,
        }
    }

    fn contains(self, x: f64) -> bool {
        let above = if self.low_open {
            x > self.low
        } else {
            x >= self.low
        };
        let below = if self.high_open {
            x < self.high
        } else {
            x <= self.high
        };
        above && below // false for NaN
    }

    /// `s` as a number in the interval, or a message naming the interval.
    fn parse(self, s: &str) -> Result<f64, String> {
        match s.trim().parse::<f64>() {
            Ok(x) if self.contains(x) => Ok(x),
            _ => Err(format!("expected a number in {self}, got {s:?}")),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}, {}{}",
            if self.low_open { '(' } else { '[' },
            self.low,
            self.high,
            if self.high_open { ')' } else { ']' },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_refuse_what_falls_outside_and_every_non_finite_value() {
        assert_eq!(usd("0"), Ok(0.0));
        assert_eq!(usd("1e9"), Ok(1e9));
        for bad in ["-0.5", "1e10", "inf", "-inf", "NaN", "1e400", "", "x"] {
            let err = usd(bad).expect_err(bad);
            assert!(err.contains("[0, 1000000000]"), "{err}");
        }
        assert!(open_probability("0").is_err() && open_probability("1").is_err());
        assert_eq!(open_probability("0.05"), Ok(0.05));
        assert_eq!(correlation("-1"), Ok(-1.0));
        assert!(score_variance("0").is_err());
        assert_eq!(score_variance("0.25"), Ok(0.25));
        assert!(score_variance("0.26").is_err());
        assert_eq!(
            open_probability("7").expect_err("7"),
            "expected a number in (0, 1), got \"7\""
        );
    }

    #[test]
    fn whole_numbers_refuse_zero_overflow_and_values_past_the_bound() {
        assert_eq!(concurrency("1"), Ok(1));
        assert_eq!(concurrency("65536"), Ok(65_536));
        for bad in [
            "0",
            "65537",
            "2305843009213693952",
            "18446744073709551616",
            "-1",
            "1.5",
            "",
        ] {
            let err = concurrency(bad).expect_err(bad);
            assert_eq!(
                err,
                format!("expected a whole number from 1 to 65536, got {bad:?}")
            );
        }
        assert_eq!(epochs("10000"), Ok(10_000));
        assert!(epochs("4294967296").is_err() && resamples("0").is_err());
        assert_eq!(cases("1000000000"), Ok(1_000_000_000));
    }
}
