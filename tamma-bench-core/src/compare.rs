//! Comparing two stored results (a run's agent against another's) over their shared
//! cases: the overall paired comparison and one per tag, corrected for multiplicity.

use crate::model::{Outcome, TenantId};
use crate::stats::{
    CompareOptions, Pair, PairedComparison, benjamini_hochberg, compare_paired, holm, verdict,
};
use crate::store::{ResultStore, StoreError, StoreErrorKind};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One side of a comparison: `RUN_ID` (a run with one agent) or `RUN_ID/AGENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRef {
    /// Run id.
    pub run_id: String,
    /// Agent name; optional when the run has one agent.
    pub agent: Option<String>,
}

impl ResultRef {
    /// Parses `RUN_ID` or `RUN_ID/AGENT` (run ids contain no `/`).
    pub fn parse(s: &str) -> Self {
        match s.split_once('/') {
            Some((run, agent)) => Self {
                run_id: run.to_owned(),
                agent: Some(agent.to_owned()),
            },
            None => Self {
                run_id: s.to_owned(),
                agent: None,
            },
        }
    }
}

/// A case's epoch-averaged score, with its cluster and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseScore {
    /// Mean headline score over the case's scored epochs.
    pub score: f64,
    /// The case's cluster.
    pub cluster: Option<String>,
    /// The case's tags.
    pub tags: Vec<String>,
}

/// The per-case scores of one agent in one run (cases with no scored epoch are absent).
pub async fn case_scores(
    store: &dyn ResultStore,
    tenant: &TenantId,
    result: &ResultRef,
) -> Result<(String, BTreeMap<String, CaseScore>), StoreError> {
    let run = store
        .get_run(tenant, &result.run_id)
        .await?
        .ok_or_else(|| StoreError::run_not_found(&result.run_id))?;
    let agent = match &result.agent {
        Some(a) if run.agents.iter().any(|x| &x.name == a) => a.clone(),
        Some(a) => {
            return Err(StoreError::new(
                StoreErrorKind::NotFound,
                format!("run {:?} has no agent {a:?}", run.id),
            ));
        }
        None if run.agents.len() == 1 => run.agents[0].name.clone(),
        None => {
            let names: Vec<_> = run.agents.iter().map(|a| a.name.as_str()).collect();
            return Err(StoreError::new(
                StoreErrorKind::NotFound,
                format!(
                    "run {:?} has agents {}: name one as {}/AGENT",
                    run.id,
                    names.join(", "),
                    run.id
                ),
            ));
        }
    };
    let mut sums: BTreeMap<String, (f64, u32, Option<String>, Vec<String>)> = BTreeMap::new();
    let mut trials = store.trials(tenant, &run.id);
    while let Some(t) = trials.next().await {
        let t = t?;
        if t.key.agent != agent {
            continue;
        }
        if let Outcome::Scored { .. } = t.outcome {
            let e = sums
                .entry(t.key.case_id.clone())
                .or_insert_with(|| (0.0, 0, t.cluster.clone(), t.tags.clone()));
            e.0 += t.outcome.headline().unwrap_or(0.0);
            e.1 += 1;
        }
    }
    let label = format!("{}/{agent}", run.id);
    Ok((
        label,
        sums.into_iter()
            .map(|(id, (s, n, cluster, tags))| {
                (
                    id,
                    CaseScore {
                        score: s / f64::from(n),
                        cluster,
                        tags,
                    },
                )
            })
            .collect(),
    ))
}

/// The comparison restricted to one tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TagComparison {
    /// The tag.
    pub tag: String,
    /// The paired comparison over the shared cases with this tag. Its verdict is decided
    /// on the Holm-adjusted p-value: a tag is called better or worse only when it
    /// survives the correction across tags.
    pub comparison: PairedComparison,
    /// Holm-adjusted p-value across the tags.
    pub p_holm: f64,
    /// Benjamini–Hochberg-adjusted p-value across the tags.
    pub p_bh: f64,
}

/// A full comparison of A against B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Comparison {
    /// A, as `RUN/AGENT`.
    pub a: String,
    /// B, as `RUN/AGENT`.
    pub b: String,
    /// Cases only A or only B scored (left out of the pairs).
    pub n_unpaired: u64,
    /// Over all shared cases.
    #[serde(flatten)]
    pub overall: PairedComparison,
    /// Per tag, with multiplicity-adjusted p-values.
    pub by_tag: Vec<TagComparison>,
}

fn pairs<'a>(
    a: &'a BTreeMap<String, CaseScore>,
    b: &'a BTreeMap<String, CaseScore>,
    tag: Option<&str>,
) -> Vec<Pair<'a>> {
    a.iter()
        .filter_map(|(id, x)| {
            let y = b.get(id)?;
            if tag.is_some_and(|t| !x.tags.iter().any(|g| g == t)) {
                return None;
            }
            Some(Pair {
                a: x.score,
                b: y.score,
                cluster: x.cluster.as_deref(),
            })
        })
        .collect()
}

/// Compares A and B over their shared cases, overall and per tag.
pub fn compare_scores(
    a_label: String,
    a: &BTreeMap<String, CaseScore>,
    b_label: String,
    b: &BTreeMap<String, CaseScore>,
    options: &CompareOptions,
) -> Comparison {
    let overall = compare_paired(&pairs(a, b, None), options);
    let mut tag_counts: HashMap<&str, usize> = HashMap::new();
    for (id, x) in a {
        if b.contains_key(id) {
            for t in &x.tags {
                *tag_counts.entry(t).or_default() += 1;
            }
        }
    }
    let mut tags: Vec<&str> = tag_counts.keys().copied().collect();
    tags.sort_unstable();
    let per_tag: Vec<PairedComparison> = tags
        .iter()
        .map(|t| compare_paired(&pairs(a, b, Some(t)), options))
        .collect();
    let p: Vec<f64> = per_tag.iter().map(|c| c.test.p_value).collect();
    let (h, bh) = (holm(&p), benjamini_hochberg(&p));
    let shared = overall.n_pairs;
    Comparison {
        a: a_label,
        b: b_label,
        n_unpaired: (a.len() as u64 + b.len() as u64).saturating_sub(2 * shared),
        overall,
        by_tag: tags
            .into_iter()
            .zip(per_tag)
            .enumerate()
            .map(|(i, (tag, mut comparison))| {
                comparison.verdict = verdict(
                    h[i],
                    comparison.ci_low,
                    comparison.ci_high,
                    options.alpha,
                    options.equivalence_band,
                );
                TagComparison {
                    tag: tag.to_owned(),
                    comparison,
                    p_holm: h[i],
                    p_bh: bh[i],
                }
            })
            .collect(),
    }
}

/// Reads both results from `store` as `tenant` and compares them.
pub async fn compare_results(
    store: &dyn ResultStore,
    tenant: &TenantId,
    a: &ResultRef,
    b: &ResultRef,
    options: &CompareOptions,
) -> Result<Comparison, StoreError> {
    let (a_label, a_scores) = case_scores(store, tenant, a).await?;
    let (b_label, b_scores) = case_scores(store, tenant, b).await?;
    Ok(compare_scores(
        a_label, &a_scores, b_label, &b_scores, options,
    ))
}
