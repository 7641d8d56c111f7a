//! Collecting a report: one streaming pass over each run's trials, with per-case
//! accumulators, then the orderings, the Pareto front and the paired comparisons.

use super::{Audience, LatencyDistribution, ReportData, ResultData, TagScore, VersusBest};
use crate::core::compare::{CaseScore, compare_scores};
use crate::core::model::{AgentConfig, Outcome, Run, TenantContext, Trial};
use crate::core::stats::{CompareOptions, LatencyHistogram, Observation, estimate_mean, holm};
use crate::core::summary::{AgentAccumulator, LEVEL, SummaryOptions};
use crate::privacy::{AccessLevel, InternalContext, Repository, RepositoryError};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::task::{Context, Poll};

/// Reads the runs `run_ids` through the tenant-aware repository, as `cx`, and computes
/// everything the report shows. Each run is authorized and audited, its records projected
/// to the caller's level: an internal context gets the whole report; an external caller
/// gets its own runs and public runs without any internal field (the report is marked
/// [`Audience::External`] and shows no cost, tokens or Pareto front), and another
/// tenant's private run is reported absent ([`ErrorKind::NotFound`], as is an unknown
/// run). Each run's trials are streamed once; memory grows with the number of cases, not
/// trials. A run id given twice is shown once.
///
/// [`ErrorKind::NotFound`]: crate::privacy::ErrorKind::NotFound
pub async fn collect<S: AsRef<str>>(
    repo: &Repository,
    cx: &TenantContext,
    run_ids: &[S],
) -> Result<ReportData, RepositoryError> {
    let audience = match InternalContext::new(cx.clone()) {
        Ok(_) => Audience::Internal,
        Err(_) => Audience::External,
    };
    let mut c = Collector::default();
    for id in unique(run_ids) {
        let export = repo.projected_trials(cx, id).await?;
        // Another tenant's public run shows no outputs: count latency by outcome there.
        let outputs_visible = export.level() != AccessLevel::Public;
        let mut trials = export.stream();
        c.add_run(
            export.run(),
            |cx| trials.as_mut().poll_next(cx),
            outputs_visible,
        )
        .await?;
        drop(trials);
        c.runs.push(export.run().clone());
    }
    Ok(c.finish(audience))
}

/// Each id once, in the order given.
fn unique<S: AsRef<str>>(run_ids: &[S]) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    run_ids
        .iter()
        .map(AsRef::as_ref)
        .filter(|id| seen.insert(*id))
        .collect()
}

/// The runs read so far, and each result's per-case scores.
#[derive(Default)]
struct Collector {
    runs: Vec<Run>,
    results: Vec<ResultData>,
    cases: Vec<BTreeMap<String, CaseScore>>,
}

impl Collector {
    /// Streams `run`'s trials into one result per agent. `next` polls the trial stream
    /// (the trait object's `poll_next`, callable without importing the `Stream` trait,
    /// which this crate does not depend on).
    async fn add_run<E>(
        &mut self,
        run: &Run,
        mut next: impl FnMut(&mut Context<'_>) -> Poll<Option<Result<Trial, E>>>,
        outputs_visible: bool,
    ) -> Result<(), E> {
        let mut agents: Vec<AgentCollector> = run
            .agents
            .iter()
            .map(|_| AgentCollector {
                outputs_visible,
                ..Default::default()
            })
            .collect();
        let index: HashMap<&str, usize> = run
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.as_str(), i))
            .collect();
        while let Some(t) = std::future::poll_fn(&mut next).await {
            let t = t?;
            if let Some(&i) = index.get(t.key.agent.as_str()) {
                agents[i].add(&t);
            }
        }
        for (config, acc) in run.agents.iter().zip(agents) {
            let (result, case_scores) = acc.finish(&run.id, config);
            self.results.push(result);
            self.cases.push(case_scores);
        }
        Ok(())
    }

    /// The orderings, the Pareto front (internal audiences only: it is about cost) and
    /// the comparisons.
    fn finish(self, audience: Audience) -> ReportData {
        let Self {
            runs,
            results,
            cases,
        } = self;
        // Scored results first, by mean, then by the low end of the interval, then cheaper
        // first; stable. Means equal but for rounding (sums in another order) are ties.
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-12;
        let mut order: Vec<usize> = (0..results.len()).collect();
        order.sort_by(|&i, &j| {
            let (a, b) = (&results[i].summary, &results[j].summary);
            let by = |x: f64, y: f64| {
                if close(x, y) {
                    std::cmp::Ordering::Equal
                } else {
                    y.total_cmp(&x)
                }
            };
            (b.score.n > 0)
                .cmp(&(a.score.n > 0))
                .then(by(a.score.mean, b.score.mean))
                .then(by(a.score.ci_low, b.score.ci_low))
                .then(a.cost_usd.total_cmp(&b.cost_usd))
        });
        let results: Vec<ResultData> = reorder(results, &order);
        let cases: Vec<BTreeMap<String, CaseScore>> = reorder(cases, &order);

        let scored: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].summary.score.n > 0)
            .collect();
        let points: Vec<(f64, f64)> = scored
            .iter()
            .map(|&i| (results[i].summary.score.mean, results[i].summary.cost_usd))
            .collect();
        let pareto = match audience {
            Audience::Internal => crate::optimize::pareto_front(&points)
                .into_iter()
                .map(|k| scored[k])
                .collect(),
            Audience::External => Vec::new(),
        };

        let options = CompareOptions::default();
        let mut comparisons: Vec<VersusBest> = scored
            .iter()
            .skip(1)
            .map(|&other| VersusBest {
                other,
                comparison: compare_scores(
                    results[0].reference(),
                    &cases[0],
                    results[other].reference(),
                    &cases[other],
                    &options,
                ),
                p_holm: 1.0,
            })
            .collect();
        let p: Vec<f64> = comparisons
            .iter()
            .map(|c| c.comparison.overall.test.p_value)
            .collect();
        for (c, adjusted) in comparisons.iter_mut().zip(holm(&p)) {
            c.p_holm = adjusted;
        }
        ReportData {
            audience,
            runs,
            results,
            pareto,
            comparisons,
        }
    }
}

/// `items` in `order` (a permutation of their indices).
fn reorder<T>(items: Vec<T>, order: &[usize]) -> Vec<T> {
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.iter().filter_map(|&i| slots[i].take()).collect()
}

/// One case's scored epochs.
struct CaseAcc {
    sum: f64,
    n: u32,
    cluster: Option<String>,
    tags: Vec<String>,
}

/// Everything gathered from one agent's trials in one run.
#[derive(Default)]
struct AgentCollector {
    /// Whether outputs are shown: when not, latency is counted by outcome.
    outputs_visible: bool,
    summary: AgentAccumulator,
    cases: BTreeMap<String, CaseAcc>,
    latency: LatencyHistogram,
    max_epoch: u32,
}

impl AgentCollector {
    fn add(&mut self, t: &Trial) {
        self.summary.add(t);
        self.max_epoch = self.max_epoch.max(t.key.epoch + 1);
        // Latency of the trials with an output; where outputs are hidden, of those whose
        // outcome implies one (everything but an infrastructure failure).
        let answered = if self.outputs_visible {
            t.output.is_some()
        } else {
            !matches!(t.outcome, Outcome::InfraFailure { .. })
        };
        if answered {
            self.latency.record(t.latency_ms);
        }
        // The scoring rule of `summary.rs`: only scored trials count.
        if let Outcome::Scored { .. } = t.outcome {
            let acc = self
                .cases
                .entry(t.key.case_id.clone())
                .or_insert_with(|| CaseAcc {
                    sum: 0.0,
                    n: 0,
                    cluster: t.cluster.clone(),
                    tags: t.tags.clone(),
                });
            acc.sum += t.outcome.headline().unwrap_or(0.0);
            acc.n += 1;
        }
    }

    /// The result, and the per-case epoch-mean scores for the comparisons.
    fn finish(
        self,
        run_id: &str,
        config: &AgentConfig,
    ) -> (ResultData, BTreeMap<String, CaseScore>) {
        let summary = self.summary.finish(
            &config.name,
            &config.provider,
            &config.model,
            &SummaryOptions::default(),
        );
        let cases: BTreeMap<String, CaseScore> = self
            .cases
            .into_iter()
            .map(|(id, c)| {
                let score = c.sum / f64::from(c.n);
                (
                    id,
                    CaseScore {
                        score,
                        cluster: c.cluster,
                        tags: c.tags,
                    },
                )
            })
            .collect();
        let k = self.max_epoch.max(1);
        let tags: BTreeSet<&str> = cases
            .values()
            .flat_map(|c| c.tags.iter().map(String::as_str))
            .collect();
        let by_tag = tags
            .into_iter()
            .map(|tag| {
                let obs: Vec<Observation<'_>> = cases
                    .values()
                    .filter(|c| c.tags.iter().any(|g| g == tag))
                    .map(|c| Observation {
                        value: c.score,
                        cluster: c.cluster.as_deref(),
                    })
                    .collect();
                TagScore {
                    tag: tag.to_owned(),
                    score: estimate_mean(&obs, k, LEVEL),
                }
            })
            .collect();
        let h = &self.latency;
        let latency = if h.is_empty() {
            LatencyDistribution::default()
        } else {
            LatencyDistribution {
                n: h.len(),
                min: h.quantile(0.0),
                p05: h.quantile(0.05),
                p25: h.quantile(0.25),
                p50: h.quantile(0.5),
                p75: h.quantile(0.75),
                p95: h.quantile(0.95),
                max: h.quantile(1.0),
            }
        };
        let result = ResultData {
            run_id: run_id.to_owned(),
            summary,
            by_tag,
            latency,
        };
        (result, cases)
    }
}
