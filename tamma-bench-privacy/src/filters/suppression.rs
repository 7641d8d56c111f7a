//! Small-cell suppression with complementary suppression.

use super::AggregateTable;
use crate::PrivacyFilter;
use tamma_bench_core::model::TenantContext;

/// A published cell needs at least this many runs.
pub const MIN_RUNS: i64 = 11;
/// A published cell needs at least this many distinct tenants.
pub const MIN_TENANTS: i64 = 3;

/// Withholds every cell from fewer than [`MIN_RUNS`] runs or [`MIN_TENANTS`] tenants
/// (primary suppression), then, until nothing changes, every row and column that holds
/// exactly one withheld cell withholds its smallest published cell as well
/// (complementary suppression) or, when it has none, its total; so no total minus the
/// published cells of its line equals one withheld cell. Apply it to exact counts,
/// before [`super::DpNoise`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SmallCellSuppression;

impl SmallCellSuppression {
    /// Suppresses in place.
    pub fn apply(table: &mut AggregateTable) {
        for c in &mut table.cells {
            if c.n_runs < MIN_RUNS || c.n_tenants < MIN_TENANTS {
                c.suppressed = true;
            }
        }
        loop {
            let mut changed = false;
            for by_row in [true, false] {
                let lines = if by_row {
                    table.rows.len()
                } else {
                    table.columns.len()
                };
                for line in 0..lines {
                    let on_line = |c: &&mut super::AggregateCell| {
                        if by_row {
                            c.row == line
                        } else {
                            c.column == line
                        }
                    };
                    let total = if by_row {
                        &mut table.row_totals[line]
                    } else {
                        &mut table.column_totals[line]
                    };
                    let mut cells: Vec<&mut super::AggregateCell> =
                        table.cells.iter_mut().filter(|c| on_line(c)).collect();
                    if cells.iter().filter(|c| c.suppressed).count() != 1 || total.suppressed {
                        continue;
                    }
                    match cells
                        .iter_mut()
                        .filter(|c| !c.suppressed)
                        .min_by_key(|c| (c.n_runs, c.row, c.column))
                    {
                        Some(c) => c.suppressed = true,
                        None => total.suppressed = true,
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for c in table.cells.iter_mut().filter(|c| c.suppressed) {
            c.n_runs = 0;
            c.n_tenants = 0;
            c.score_sum_milli = 0;
            c.contributors.clear();
        }
        for t in table
            .row_totals
            .iter_mut()
            .chain(&mut table.column_totals)
            .filter(|t| t.suppressed)
        {
            t.n_runs = 0;
            t.score_sum_milli = 0;
        }
    }
}

impl PrivacyFilter<AggregateTable> for SmallCellSuppression {
    fn filter(&self, _cx: &TenantContext, mut table: AggregateTable) -> Option<AggregateTable> {
        Self::apply(&mut table);
        Some(table)
    }
}
