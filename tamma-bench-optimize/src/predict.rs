//! Score prediction: an additive model `score(config, case) ≈ μ + a_config + b_case`
//! (configuration effect + case difficulty, a two-way ANOVA without interaction, fit by
//! backfitting on the measured cells), with configuration effects explained by their
//! dimension levels `a_config ≈ Σ_d β_{d, level}` so unmeasured configurations get a
//! prediction. [`crate::strategy::Predicted`] uses it to order what to evaluate next;
//! [`held_out_error`] reports how well it predicts configurations it has not seen.

/// A fitted additive model.
#[derive(Debug, Clone, PartialEq)]
pub struct AdditiveModel {
    mu: f64,
    arm_effect: Vec<Option<f64>>,
    case_effect: Vec<f64>,
    level_effect: Vec<Vec<f64>>,
}

impl AdditiveModel {
    /// Fits the model on `matrix` (configuration × case, `None` = unmeasured) with each
    /// configuration's dimension `levels`.
    pub fn fit(matrix: &[Vec<Option<f64>>], levels: &[Vec<usize>]) -> Self {
        let k = matrix.len();
        let n = matrix.first().map_or(0, Vec::len);
        let cells: Vec<(usize, usize, f64)> = matrix
            .iter()
            .enumerate()
            .flat_map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .filter_map(move |(j, x)| x.map(|x| (i, j, x)))
            })
            .collect();
        let mu = cells.iter().map(|c| c.2).sum::<f64>() / cells.len().max(1) as f64;
        let mut a = vec![0.0; k];
        let mut b = vec![0.0; n];
        for _ in 0..20 {
            let mut sum = vec![(0.0, 0usize); n];
            for &(i, j, x) in &cells {
                sum[j].0 += x - mu - a[i];
                sum[j].1 += 1;
            }
            // A light ridge keeps effects of unmeasured cases at 0.
            b = sum.iter().map(|(s, c)| s / (*c as f64 + 0.1)).collect();
            let mut sum = vec![(0.0, 0usize); k];
            for &(i, j, x) in &cells {
                sum[i].0 += x - mu - b[j];
                sum[i].1 += 1;
            }
            a = sum
                .iter()
                .map(|(s, c)| if *c == 0 { 0.0 } else { s / *c as f64 })
                .collect();
        }
        let measured: Vec<bool> = matrix
            .iter()
            .map(|r| r.iter().any(Option::is_some))
            .collect();
        let arm_effect = (0..k).map(|i| measured[i].then_some(a[i])).collect();
        let level_effect = fit_levels(&a, &measured, levels);
        Self {
            mu,
            arm_effect,
            case_effect: b,
            level_effect,
        }
    }

    /// The predicted benchmark mean of configuration `arm` (its fitted effect when
    /// measured, else from its levels).
    pub fn predict(&self, arm: usize, levels: &[usize]) -> f64 {
        let mean_b = self.case_effect.iter().sum::<f64>() / self.case_effect.len().max(1) as f64;
        let a = self
            .arm_effect
            .get(arm)
            .copied()
            .flatten()
            .unwrap_or_else(|| self.from_levels(levels));
        (self.mu + a + mean_b).clamp(0.0, 1.0)
    }

    /// Root mean square of the measured configurations' effects around what their levels
    /// predict: how far a configuration strays from its levels (0 when none is measured).
    pub fn level_residual(&self, levels: &[Vec<usize>]) -> f64 {
        let residuals: Vec<f64> = self
            .arm_effect
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let l = levels.get(i).map_or(&[][..], Vec::as_slice);
                a.map(|a| a - self.from_levels(l))
            })
            .collect();
        if residuals.is_empty() {
            return 0.0;
        }
        (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt()
    }

    /// The configuration effect predicted from dimension levels alone.
    pub fn from_levels(&self, levels: &[usize]) -> f64 {
        levels
            .iter()
            .enumerate()
            .map(|(d, &l)| {
                self.level_effect
                    .get(d)
                    .and_then(|v| v.get(l))
                    .copied()
                    .unwrap_or(0.0)
            })
            .sum()
    }
}

/// Backfits `a_i ≈ Σ_d β_{d, level_i(d)}` over the measured configurations.
fn fit_levels(a: &[f64], measured: &[bool], levels: &[Vec<usize>]) -> Vec<Vec<f64>> {
    let dims = levels.iter().map(Vec::len).max().unwrap_or(0);
    let mut beta: Vec<Vec<f64>> = (0..dims)
        .map(|d| {
            vec![
                0.0;
                levels
                    .iter()
                    .filter_map(|l| l.get(d))
                    .max()
                    .map_or(0, |m| m + 1)
            ]
        })
        .collect();
    for _ in 0..20 {
        for d in 0..dims {
            let mut sum = vec![(0.0, 0usize); beta[d].len()];
            for (i, l) in levels.iter().enumerate() {
                if !measured.get(i).copied().unwrap_or(false) || l.len() <= d {
                    continue;
                }
                let others: f64 = (0..l.len())
                    .filter(|&e| e != d)
                    .map(|e| beta[e][l[e]])
                    .sum();
                sum[l[d]].0 += a[i] - others;
                sum[l[d]].1 += 1;
            }
            beta[d] = sum.iter().map(|(s, c)| s / (*c as f64 + 0.01)).collect();
        }
    }
    beta
}

/// Configurations left out in turn by [`held_out_error`], at most (each costs a refit).
pub const MAX_HELD_OUT: usize = 64;

/// Mean absolute error of predicting each measured configuration's mean score over the
/// cases measured for it, with that configuration left out of the fit (over at most
/// [`MAX_HELD_OUT`] measured configurations, evenly spaced).
pub fn held_out_error(matrix: &[Vec<Option<f64>>], levels: &[Vec<usize>]) -> Option<f64> {
    let measured: Vec<usize> = (0..matrix.len())
        .filter(|&i| matrix[i].iter().any(Option::is_some))
        .collect();
    let stride = measured.len().div_ceil(MAX_HELD_OUT).max(1);
    let mut errors = Vec::new();
    for &i in measured.iter().step_by(stride) {
        let observed: Vec<(usize, f64)> = matrix[i]
            .iter()
            .enumerate()
            .filter_map(|(j, x)| x.map(|x| (j, x)))
            .collect();
        if observed.is_empty() {
            continue;
        }
        let mut without = matrix.to_vec();
        without[i] = vec![None; without[i].len()];
        let model = AdditiveModel::fit(&without, levels);
        let a = model.from_levels(levels.get(i).map_or(&[][..], Vec::as_slice));
        let predicted = observed
            .iter()
            .map(|&(j, _)| (model.mu + a + model.case_effect[j]).clamp(0.0, 1.0))
            .sum::<f64>()
            / observed.len() as f64;
        let actual = observed.iter().map(|o| o.1).sum::<f64>() / observed.len() as f64;
        errors.push((predicted - actual).abs());
    }
    (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::{AdditiveModel, held_out_error};

    /// Two dimensions with additive effects plus case difficulty, a few cells missing.
    fn factorial() -> (Vec<Vec<Option<f64>>>, Vec<Vec<usize>>) {
        let (dim_a, dim_b) = ([0.0, 0.1, 0.2], [0.0, -0.05]);
        let difficulty: Vec<f64> = (0..40).map(|j| 0.3 + 0.01 * f64::from(j)).collect();
        let mut matrix = vec![];
        let mut levels = vec![];
        for (i, a) in dim_a.iter().enumerate() {
            for (k, b) in dim_b.iter().enumerate() {
                let row = difficulty
                    .iter()
                    .enumerate()
                    .map(|(j, d)| ((i + k + j) % 5 != 0).then_some(d + a + b))
                    .collect();
                matrix.push(row);
                levels.push(vec![i, k]);
            }
        }
        (matrix, levels)
    }

    #[test]
    fn predicts_unmeasured_configurations_from_their_levels() {
        let (mut matrix, levels) = factorial();
        let truth = 0.3 + 0.01 * 19.5 + 0.2 - 0.05;
        matrix[5] = vec![None; 40];
        let model = AdditiveModel::fit(&matrix, &levels);
        let predicted = model.predict(5, &levels[5]);
        assert!((predicted - truth).abs() < 0.03, "{predicted} vs {truth}");
    }

    #[test]
    fn held_out_error_is_small_on_additive_data() {
        let (matrix, levels) = factorial();
        let e = held_out_error(&matrix, &levels).expect("error");
        assert!(e < 0.03, "{e}");
    }
}
