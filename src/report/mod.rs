//! The HTML report: one self-contained file (inline CSS and SVG, a few lines of inline
//! script, no network) that shows several runs side by side.
//!
//! It holds a leaderboard with interval bars, a per-tag breakdown, the paired comparison
//! of the best result against every other, a score-versus-cost chart with its Pareto
//! front, and latency distributions. [`collect`] reads the runs through the tenant-aware
//! [`Repository`], as the caller's [`TenantContext`] (authorized, audited, projected to
//! the caller's level), in one streaming pass per run; [`render`] turns the collected
//! [`ReportData`] into the page. A report for an external tenant
//! ([`Audience::External`]) holds no internal field: no cost, tokens or Pareto front.
//! Every string that comes from user files (agent, model, tag and run names) is escaped.
//! `docs/report.md` describes how each part is computed.
//!
//! The report needs none of the CLI's dependencies: it is part of the library with
//! default features off.
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench::core::model::TenantContext;
//! use tamma_bench::core::store::MemoryStore;
//! use tamma_bench::privacy::Repository;
//!
//! # futures::executor::block_on(async {
//! let repo = Repository::new(Arc::new(MemoryStore::new()))?;
//! let run_ids: [&str; 0] = []; // the runs to show
//! let data = tamma_bench::report::collect(&repo, &TenantContext::local_operator(), &run_ids)
//!     .await?;
//! let html = tamma_bench::report::render(&data);
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), tamma_bench::privacy::RepositoryError>(())
//! # }).unwrap();
//! ```
//!
//! [`Repository`]: crate::privacy::Repository
//! [`TenantContext`]: crate::core::model::TenantContext

mod charts;
mod collect;
mod comparison;
mod page;
mod svg;

pub use collect::collect;
pub use page::render;

use crate::core::compare::Comparison;
use crate::core::model::{AgentSummary, Run};
use crate::core::stats::Estimate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who a report is for, which decides whether it shows internal fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The platform (an internal context): cost, tokens and the score-cost Pareto front
    /// are shown.
    #[default]
    Internal,
    /// An external tenant: public (and its own sensitive) fields only; the cost columns,
    /// the score-versus-cost section and the Pareto front are left out.
    External,
}

/// Everything the report shows, collected through the repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Who the report is for.
    #[serde(default)]
    pub audience: Audience,
    /// The runs, in the order asked for (each once).
    pub runs: Vec<Run>,
    /// One entry per (run, agent): results with scored cases first, by score mean
    /// descending (ties: higher interval low end first, then lower cost, then the order
    /// asked for).
    pub results: Vec<ResultData>,
    /// Indices into `results` of the results on the Pareto front of (score up, cost
    /// down), among the results with at least one scored case.
    pub pareto: Vec<usize>,
    /// The best result (`results[0]`) compared with every other result that has scored
    /// cases, over their shared cases.
    pub comparisons: Vec<VersusBest>,
}

/// One agent's result in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultData {
    /// The run.
    pub run_id: String,
    /// The summary, computed by the same rule as `tamma-bench show`.
    pub summary: AgentSummary,
    /// The score per tag, from the per-case epoch-mean scores of the cases with the tag
    /// (sorted by tag).
    pub by_tag: Vec<TagScore>,
    /// Latency of the trials that produced an output.
    pub latency: LatencyDistribution,
}

impl ResultData {
    /// `RUN/AGENT`, as comparisons name results.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.run_id, self.summary.name)
    }
}

/// A result's score over the cases with one tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagScore {
    /// The tag.
    pub tag: String,
    /// The estimate over the tag's cases.
    pub score: Estimate,
}

/// Quantiles of the latency of the trials with an output, in milliseconds (within 0.5%,
/// from a constant-memory histogram; all zero when `n` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyDistribution {
    /// Trials with an output.
    pub n: u64,
    /// Smallest.
    pub min: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub p50: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

/// The paired comparison of the best result (A) with another (B).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersusBest {
    /// Index into [`ReportData::results`] of B.
    pub other: usize,
    /// The comparison of A with B, overall and per tag.
    pub comparison: Comparison,
    /// The overall p-value adjusted by Holm's method across all the comparisons with
    /// the best result (a family of `comparisons.len()` tests).
    pub p_holm: f64,
}

/// A string escaped for HTML and SVG text and attribute values (`&`, `<`, `>`, `"`, `'`).
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn escaping_replaces_every_markup_character() {
        let s = Escaped(r#"<a href="x">'&'</a> é"#).to_string();
        assert_eq!(s, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; é");
    }
}
