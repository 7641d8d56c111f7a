//! Corrections for several comparisons: Holm (family-wise error) and Benjamini–Hochberg
//! (false discovery rate). Both return adjusted p-values in the input order, as
//! `statsmodels.stats.multitest.multipletests` does.

/// Holm's step-down adjusted p-values.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Benjamini–Hochberg step-up adjusted p-values.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut adjusted = vec![0.0; m];
    let mut running = 1.0f64;
    for (pos, &i) in order.iter().enumerate() {
        let rank = m - pos; // 1-based rank in ascending order
        running = running.min(p[i] * m as f64 / rank as f64).min(1.0);
        adjusted[i] = running;
    }
    adjusted
}
