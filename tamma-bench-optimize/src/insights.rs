//! Insights from stored results: per-tag weaknesses, regressions of an agent between
//! runs, and a ranking of models across benchmarks. Each becomes an
//! [`OptimizationEvent::InsightGenerated`](crate::events::OptimizationEvent).

use crate::error::OptimizeError;
use crate::events::OptimizationEvent;
use crate::source::{CaseResult, ResultSource};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use tamma_bench_core::compare::{CaseScore, compare_scores};
use tamma_bench_core::stats::{CompareOptions, Verdict, holm, t_p_value};

/// A tag on which a configuration does significantly worse than on its other cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagWeakness {
    /// The tag.
    pub tag: String,
    /// Mean on the tag's cases.
    pub mean_on_tag: f64,
    /// Mean on the other cases.
    pub mean_elsewhere: f64,
    /// Cases with the tag.
    pub n: usize,
    /// Holm-adjusted p-value (Welch's t-test, across tags).
    pub p_holm: f64,
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n.max(1.0);
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v)
}

/// Tags whose cases score significantly lower (Holm-adjusted p < α) and by more than
/// `band` than the configuration's other cases.
pub fn tag_weaknesses(
    results: &BTreeMap<String, CaseResult>,
    alpha: f64,
    band: f64,
) -> Vec<TagWeakness> {
    let mut tags: BTreeMap<&str, ()> = BTreeMap::new();
    for r in results.values() {
        for t in &r.tags {
            tags.insert(t, ());
        }
    }
    let rows: Vec<(String, f64, f64, usize, f64)> = tags
        .keys()
        .filter_map(|&tag| {
            let (on, off): (Vec<_>, Vec<_>) = results
                .values()
                .filter_map(|r| r.score.map(|s| (s, r.tags.iter().any(|t| t == tag))))
                .partition(|(_, has)| *has);
            let on: Vec<f64> = on.into_iter().map(|x| x.0).collect();
            let off: Vec<f64> = off.into_iter().map(|x| x.0).collect();
            if on.len() < 2 || off.len() < 2 {
                return None;
            }
            let ((m1, v1), (m2, v2)) = (mean_var(&on), mean_var(&off));
            let (n1, n2) = (on.len() as f64, off.len() as f64);
            let se2 = v1 / n1 + v2 / n2;
            let p = if se2 <= 0.0 {
                if m1 < m2 { 0.0 } else { 1.0 }
            } else {
                // Welch–Satterthwaite degrees of freedom.
                let df = se2 * se2
                    / ((v1 / n1).powi(2) / (n1 - 1.0) + (v2 / n2).powi(2) / (n2 - 1.0)).max(1e-300);
                t_p_value((m1 - m2) / se2.sqrt(), df)
            };
            Some((tag.to_owned(), m1, m2, on.len(), p))
        })
        .collect();
    let adjusted = holm(&rows.iter().map(|r| r.4).collect::<Vec<_>>());
    rows.into_iter()
        .zip(adjusted)
        .filter(|((_, m1, m2, _, _), p)| *p < alpha && m1 - m2 < -band)
        .map(|((tag, m1, m2, n, _), p_holm)| TagWeakness {
            tag,
            mean_on_tag: m1,
            mean_elsewhere: m2,
            n,
            p_holm,
        })
        .collect()
}

/// An agent scoring worse in a later run than in the one before, significantly and by
/// more than the equivalence band (the core comparison's verdict `worse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    /// Agent name.
    pub agent: String,
    /// Earlier run.
    pub before: String,
    /// Later run.
    pub after: String,
    /// Mean of after − before over shared cases.
    pub mean_diff: f64,
    /// Interval of the difference.
    pub ci: (f64, f64),
}

pub(crate) fn case_scores(r: &BTreeMap<String, CaseResult>) -> BTreeMap<String, CaseScore> {
    r.iter()
        .filter_map(|(id, c)| {
            c.score.map(|score| {
                let s = CaseScore {
                    score,
                    cluster: c.cluster.clone(),
                    tags: c.tags.clone(),
                };
                (id.clone(), s)
            })
        })
        .collect()
}

/// Regressions of `agent` between consecutive runs of the same benchmark.
pub async fn regressions(
    source: &dyn ResultSource,
    agent: &str,
    options: &CompareOptions,
) -> Result<Vec<Regression>, OptimizeError> {
    let mut runs = source.runs().await?;
    runs.retain(|r| r.agents.iter().any(|a| a.name == agent));
    runs.sort_by_key(|r| (r.benchmark_id.clone(), r.created_at_ms));
    let mut out = Vec::new();
    for w in runs.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.benchmark_id != b.benchmark_id {
            continue;
        }
        let before = case_scores(&source.case_results(&a.id, agent).await?);
        let after = case_scores(&source.case_results(&b.id, agent).await?);
        let c = compare_scores(b.id.clone(), &after, a.id.clone(), &before, options);
        if c.overall.verdict == Verdict::Worse {
            out.push(Regression {
                agent: agent.to_owned(),
                before: a.id.clone(),
                after: b.id.clone(),
                mean_diff: c.overall.mean_diff,
                ci: (c.overall.ci_low, c.overall.ci_high),
            });
        }
    }
    Ok(out)
}

/// A model's place across benchmarks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRank {
    /// Model name.
    pub model: String,
    /// Mean rank over the benchmarks it ran (1 = best).
    pub mean_rank: f64,
    /// Benchmarks it ran.
    pub benchmarks: usize,
    /// Mean score over those benchmarks.
    pub mean_score: f64,
}

/// Ranks models by their mean rank across benchmarks (each model's best agent, latest
/// run per benchmark).
pub async fn rank_models(source: &dyn ResultSource) -> Result<Vec<ModelRank>, OptimizeError> {
    let runs = source.runs().await?;
    // benchmark -> model -> best mean score
    let mut table: BTreeMap<String, HashMap<String, f64>> = BTreeMap::new();
    for run in &runs {
        for agent in &run.agents {
            let results = source.case_results(&run.id, &agent.name).await?;
            let scores: Vec<f64> = results.values().filter_map(|r| r.score).collect();
            if scores.is_empty() {
                continue;
            }
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let e = table
                .entry(run.benchmark_id.clone())
                .or_default()
                .entry(agent.model.clone())
                .or_insert(f64::NEG_INFINITY);
            *e = e.max(mean);
        }
    }
    let mut acc: BTreeMap<String, (f64, usize, f64)> = BTreeMap::new();
    for models in table.values() {
        let mut v: Vec<(&String, f64)> = models.iter().map(|(m, s)| (m, *s)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        for (rank, (m, s)) in v.into_iter().enumerate() {
            let e = acc.entry(m.clone()).or_default();
            e.0 += (rank + 1) as f64;
            e.1 += 1;
            e.2 += s;
        }
    }
    let mut out: Vec<ModelRank> = acc
        .into_iter()
        .map(|(model, (r, n, s))| ModelRank {
            model,
            mean_rank: r / n as f64,
            benchmarks: n,
            mean_score: s / n as f64,
        })
        .collect();
    out.sort_by(|a, b| {
        a.mean_rank
            .total_cmp(&b.mean_rank)
            .then(a.model.cmp(&b.model))
    });
    Ok(out)
}

/// The events of weaknesses of `configuration`.
pub fn weakness_events(configuration: &str, w: &[TagWeakness]) -> Vec<OptimizationEvent> {
    w.iter()
        .map(|w| OptimizationEvent::InsightGenerated {
            subject: configuration.to_owned(),
            kind: "weakness".into(),
            message: format!(
                "tag {:?}: {:.1}% vs {:.1}% elsewhere over {} cases (Holm p = {:.3})",
                w.tag,
                100.0 * w.mean_on_tag,
                100.0 * w.mean_elsewhere,
                w.n,
                w.p_holm
            ),
        })
        .collect()
}
