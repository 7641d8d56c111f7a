//! The plain Pareto front on point estimates (the confident front over paired data is in
//! [`crate::recommend`]).

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
