//! A fixed-size latency histogram: percentiles within 0.5% in constant memory.

/// Log-scale buckets of ratio 1.01 from 1 µs up; values below fall in the first bucket.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
}

const MIN_MS: f64 = 0.001;
const RATIO_LN: f64 = 0.009_950_330_853_168_083; // ln(1.01)
const BUCKETS: usize = 3000; // up to ~9.6e9 ms

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency in milliseconds (negative and NaN values count as 0).
    pub fn record(&mut self, ms: f64) {
        let i = if ms.is_nan() || ms <= MIN_MS {
            0
        } else {
            (((ms / MIN_MS).ln() / RATIO_LN) as usize + 1).min(BUCKETS - 1)
        };
        self.counts[i] += 1;
        self.total += 1;
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `q`-quantile (nearest rank), as the geometric middle of its bucket; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                if i == 0 {
                    return 0.0;
                }
                // Bucket i holds (MIN·1.01^(i-1), MIN·1.01^i].
                return MIN_MS * ((i as f64 - 0.5) * RATIO_LN).exp();
            }
        }
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::LatencyHistogram;

    #[test]
    fn percentiles_are_within_half_a_percent() {
        let mut h = LatencyHistogram::new();
        for i in 1..=1000 {
            h.record(f64::from(i));
        }
        for (q, want) in [(0.5, 500.0), (0.95, 950.0), (1.0, 1000.0)] {
            let got = h.quantile(q);
            assert!((got - want).abs() / want < 0.006, "q={q}: {got} vs {want}");
        }
        assert_eq!(LatencyHistogram::new().quantile(0.5), 0.0);
    }
}
