//! The optimization engine of tamma-bench.
//!
//! Tamma embeds this crate to find the best agent configuration at the lowest cost:
//! search spaces over agent fields, racing and best-arm identification strategies with
//! statistical guarantees, Pareto fronts over score, cost and latency, and
//! recommendations with paired intervals. It reads results only through the tenant-aware
//! repository with an internal context.
//!
//! Today it holds the building block every strategy shares: [`pareto_front`], the
//! configurations not dominated on (score up, cost down).

/// Indices of the points not dominated on (score higher is better, cost lower is
/// better). A point is dominated when another is at least as good on both and strictly
/// better on one.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            let (si, ci) = points[i];
            !points
                .iter()
                .any(|&(s, c)| s >= si && c <= ci && (s > si || c < ci))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pareto_front;

    #[test]
    fn keeps_only_undominated_points() {
        let pts = [(0.8, 1.0), (0.7, 0.5), (0.6, 0.9), (0.8, 2.0)];
        assert_eq!(pareto_front(&pts), vec![0, 1]);
    }
}
