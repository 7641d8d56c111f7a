//! Plain-text tables with aligned columns, and the summary table of a run.

use std::fmt::Write as _;
use tamma_bench::core::model::{AgentSummary, RunSummary};

/// Which side of its column a cell sticks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A table of text cells, rendered with each column as wide as its widest cell.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column titles and alignments.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            header: columns.iter().map(|(t, _)| (*t).to_owned()).collect(),
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra cells are dropped).
    pub fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as lines of text, columns separated by two spaces, no trailing blanks.
    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| width(&r[c]))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = widths[c] - width(cell);
                match self.align[c] {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

/// One row per agent: score with its 95% interval and method, failures, tokens, cost and
/// latency. A scorer-errors column appears only when some agent has scorer errors.
pub fn summary_table(summary: &RunSummary) -> Table {
    use Align::{Left, Right};
    let scorer_errors = summary.agents.iter().any(|a| a.n_scorer_errors > 0);
    let mut columns = vec![
        ("agent", Left),
        ("provider/model", Left),
        ("cases", Right),
        ("score", Right),
        ("95% CI", Left),
        ("method", Left),
        ("infra fail", Right),
    ];
    if scorer_errors {
        columns.push(("scorer err", Right));
    }
    columns.extend([
        ("tokens in/out", Right),
        ("cost USD", Right),
        ("p50 ms", Right),
        ("p95 ms", Right),
    ]);
    let mut table = Table::new(&columns);
    for a in &summary.agents {
        table.row(agent_row(a, scorer_errors));
    }
    table
}

fn agent_row(a: &AgentSummary, scorer_errors: bool) -> Vec<String> {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let (score, ci, method) = if a.n_cases == 0 {
        ("-".to_owned(), "-".to_owned(), "-".to_owned())
    } else {
        (
            pct(a.score.mean),
            format!("[{}, {}]", pct(a.score.ci_low), pct(a.score.ci_high)),
            a.score.method.as_str().to_owned(),
        )
    };
    let mut row = vec![
        a.name.clone(),
        format!("{}/{}", a.provider, a.model),
        a.n_cases.to_string(),
        score,
        ci,
        method,
        a.n_infra_failures.to_string(),
    ];
    if scorer_errors {
        row.push(a.n_scorer_errors.to_string());
    }
    row.extend([
        format!("{}/{}", a.tokens.input, a.tokens.output),
        format!("{:.6}", a.cost_usd),
        format!("{:.0}", a.latency_ms.p50),
        format!("{:.0}", a.latency_ms.p95),
    ]);
    row
}

#[cfg(test)]
mod tests {
    use super::{Align, Table};

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_numbers_align_right() {
        let mut t = Table::new(&[("name", Align::Left), ("n", Align::Right)]);
        t.row(vec!["alpha".into(), "5".into()]);
        t.row(vec!["b".into(), "120".into()]);
        assert_eq!(t.render(), "name     n\nalpha    5\nb      120\n");
    }
}
