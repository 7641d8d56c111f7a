//! Cross-tenant aggregate tables: the records the aggregate filters work on.
//!
//! A table has one row per label (e.g. model) and one column per label (e.g.
//! benchmark); a cell counts the runs, the distinct tenants and the score sum of the
//! public results that fall in it, with row and column totals. Scores are fixed-point
//! (thousandths) so that the noise of [`super::DpNoise`] stays in exact integers.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tamma_bench_core::model::TenantId;

/// Thousandths of a score point: the fixed-point unit of score sums.
pub const SCORE_UNIT: i64 = 1000;

/// One cell of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregateCell {
    /// Row index.
    pub row: usize,
    /// Column index.
    pub column: usize,
    /// Runs in the cell (0 when suppressed).
    pub n_runs: i64,
    /// Distinct tenants in the cell (0 when suppressed).
    pub n_tenants: i64,
    /// Sum of the runs' scores, in thousandths (0 when suppressed).
    pub score_sum_milli: i64,
    /// The contributing tenants (pseudonyms once pseudonymised; empty when suppressed).
    pub contributors: Vec<String>,
    /// Withheld: too few runs or tenants, or to protect another withheld cell.
    pub suppressed: bool,
}

impl AggregateCell {
    /// The mean score, when the cell is published and not empty.
    pub fn mean(&self) -> Option<f64> {
        (!self.suppressed && self.n_runs > 0)
            .then(|| self.score_sum_milli as f64 / SCORE_UNIT as f64 / self.n_runs as f64)
    }
}

/// A row or column total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Total {
    /// Runs (0 when suppressed).
    pub n_runs: i64,
    /// Score sum in thousandths (0 when suppressed).
    pub score_sum_milli: i64,
    /// Withheld because it would reveal a suppressed cell.
    pub suppressed: bool,
}

/// A cross-tenant aggregate, as released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregateTable {
    /// Identifies the release (its pseudonym key and privacy budget are per release).
    pub release_id: String,
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub columns: Vec<String>,
    /// Non-empty cells, row-major.
    pub cells: Vec<AggregateCell>,
    /// One total per row.
    pub row_totals: Vec<Total>,
    /// One total per column.
    pub column_totals: Vec<Total>,
    /// Privacy budget spent on this table, in millionths of ε (0 before noise).
    pub epsilon_spent: u64,
}

/// One run's contribution: which cell, whose, and its score in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Row label.
    pub row: String,
    /// Column label.
    pub column: String,
    /// The owning tenant.
    pub tenant: TenantId,
    /// The run's score (clamped to `[0, 1]`; NaN counts as 0).
    pub score: f64,
}

impl AggregateTable {
    /// Tabulates `contributions` (exact values; apply the filters before release).
    pub fn build(release_id: impl Into<String>, contributions: &[Contribution]) -> Self {
        let rows: BTreeSet<&str> = contributions.iter().map(|c| c.row.as_str()).collect();
        let cols: BTreeSet<&str> = contributions.iter().map(|c| c.column.as_str()).collect();
        let rows: Vec<String> = rows.into_iter().map(str::to_owned).collect();
        let columns: Vec<String> = cols.into_iter().map(str::to_owned).collect();
        let mut acc: BTreeMap<(usize, usize), (i64, i64, BTreeSet<&TenantId>)> = BTreeMap::new();
        for c in contributions {
            let (Ok(r), Ok(k)) = (rows.binary_search(&c.row), columns.binary_search(&c.column))
            else {
                continue;
            };
            let score = if c.score.is_nan() {
                0.0
            } else {
                c.score.clamp(0.0, 1.0)
            };
            let e = acc.entry((r, k)).or_default();
            e.0 += 1;
            e.1 += (score * SCORE_UNIT as f64).round() as i64;
            e.2.insert(&c.tenant);
        }
        let mut row_totals = vec![Total::default(); rows.len()];
        let mut column_totals = vec![Total::default(); columns.len()];
        let cells = acc
            .into_iter()
            .map(|((row, column), (n, sum, tenants))| {
                for t in [&mut row_totals[row], &mut column_totals[column]] {
                    t.n_runs += n;
                    t.score_sum_milli += sum;
                }
                AggregateCell {
                    row,
                    column,
                    n_runs: n,
                    n_tenants: tenants.len() as i64,
                    score_sum_milli: sum,
                    contributors: tenants.into_iter().map(|t| t.as_str().to_owned()).collect(),
                    suppressed: false,
                }
            })
            .collect();
        Self {
            release_id: release_id.into(),
            rows,
            columns,
            cells,
            row_totals,
            column_totals,
            epsilon_spent: 0,
        }
    }
}
