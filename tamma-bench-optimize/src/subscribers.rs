//! Subscribers of the event log: what the engine does when a benchmark completes.
//!
//! - [`StudyTrigger`] submits an optimization study through the job queue when a run of
//!   a benchmark with a [`TriggerRule`] completes, and logs
//!   [`EventPayload::OptimizationTriggered`];
//! - [`InsightGenerator`] reads the completed run's results and logs an
//!   [`EventPayload::InsightGenerated`] per agent: its mean, its weakest tag, and the
//!   change since the previous run of the same benchmark.
//!
//! Both are [`EventHandler`]s for a core [`Subscription`] (`subscription()` builds it,
//! with their consumer name and filter). Delivery is at least once, so both are
//! idempotent by event id: the study's run id and every event they log have ids derived
//! from the completion's ([`derived_event_id`]), a study already submitted is found in
//! the queue by its run id, and the log keeps one event per id.
//!
//! [`Subscription`]: tamma_bench_core::events::subscribe::Subscription

use crate::error::OptimizeError;
use crate::insights::{case_scores, tag_weaknesses};
use crate::source::ResultSource;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use tamma_bench_core::compare::compare_scores;
use tamma_bench_core::events::subscribe::{
    EventHandler, HandlerError, SubscribeError, Subscription, derived_event_id, subscribe,
};
use tamma_bench_core::events::{Event, EventFilter, EventLog, EventPayload, EventType, NewEvent};
use tamma_bench_core::model::{TenantContext, TenantId};
use tamma_bench_core::queue::{JobFilter, JobKind, JobQueue, NewJob};
use tamma_bench_core::stats::{CompareOptions, Verdict};

/// Only completions: the filter of both subscribers.
fn completions() -> EventFilter {
    EventFilter {
        types: vec![EventType::BenchmarkCompleted],
        tenant: None,
    }
}

/// Log failures: the error's remedy decides whether the page is retried.
fn log_failure(e: tamma_bench_core::events::StoreError) -> HandlerError {
    HandlerError::from_cause(e.remedy(), e)
}

/// Which study to start when a benchmark completes.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRule {
    /// The benchmark whose completed runs trigger the study.
    pub benchmark_id: String,
    /// The job's payload, as the host that runs study jobs reads it (a space, agents,
    /// a budget): opaque here.
    pub payload: serde_json::Value,
    /// The job's tier; `None` is the internal tier.
    pub tier: Option<String>,
}

/// Submits a study job when a benchmark with a rule completes (see the
/// [module](self) documentation).
pub struct StudyTrigger {
    queue: Arc<dyn JobQueue>,
    log: Arc<dyn EventLog>,
    rules: BTreeMap<String, TriggerRule>,
}

impl StudyTrigger {
    /// Its consumer name in the event log.
    pub const CONSUMER: &'static str = "optimize.trigger";

    /// A trigger submitting to `queue` and logging to `log`, by `rules` (one per
    /// benchmark: a later rule for the same benchmark replaces an earlier one).
    pub fn new(queue: Arc<dyn JobQueue>, log: Arc<dyn EventLog>, rules: Vec<TriggerRule>) -> Self {
        let rules = rules
            .into_iter()
            .map(|r| (r.benchmark_id.clone(), r))
            .collect();
        Self { queue, log, rules }
    }

    /// The subscription it is the handler of: consumer [`Self::CONSUMER`], completions
    /// only, across tenants.
    pub fn subscription(&self) -> Result<Subscription, SubscribeError> {
        subscribe(self.log.clone(), Self::CONSUMER, completions(), None)
    }

    /// The study id (the job's run id) a completion event triggers: `study-` and 32 hex
    /// digits derived from the event's id.
    pub fn study_id(event: &Event) -> String {
        let id = derived_event_id(&event.id, "optimize.trigger", "study");
        format!("study-{}", &id.as_str()[4..])
    }
}

#[async_trait]
impl EventHandler for StudyTrigger {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let EventPayload::BenchmarkCompleted {
            run_id,
            benchmark_id,
            ..
        } = &event.payload
        else {
            return Ok(());
        };
        let (Some(rule), Some(tenant)) = (self.rules.get(benchmark_id), &event.tenant_id) else {
            return Ok(());
        };
        // A study's own rounds complete runs of the same benchmark: they trigger nothing,
        // or every study would start the next.
        if crate::executor::is_round_run_id(run_id) {
            return Ok(());
        }
        // The study runs for the run's tenant, as the platform (optimization is internal).
        let cx = TenantContext::internal(tenant.clone(), Self::CONSUMER);
        let study_id = Self::study_id(event);
        let queue_failure =
            |e: tamma_bench_core::queue::QueueError| HandlerError::from_cause(e.remedy(), e);
        // A redelivered completion finds its study in the queue and submits nothing.
        let jobs = self
            .queue
            .list(&cx, &JobFilter::default())
            .await
            .map_err(queue_failure)?;
        if !jobs.iter().any(|j| j.run_id == study_id) {
            let job = NewJob {
                tier: rule.tier.clone(),
                run_id: Some(study_id.clone()),
                ..NewJob::new(JobKind::Study, rule.payload.clone())
            };
            self.queue.submit(&cx, job).await.map_err(queue_failure)?;
        }
        let triggered = NewEvent {
            id: derived_event_id(&event.id, "optimize.trigger", "event"),
            ..NewEvent::new(
                Some(tenant.clone()),
                EventPayload::OptimizationTriggered {
                    study_id,
                    benchmark_id: benchmark_id.clone(),
                    reason: format!("run {run_id} completed (event {})", event.id),
                },
            )
        };
        self.log
            .append(vec![triggered])
            .await
            .map_err(log_failure)?;
        Ok(())
    }
}

/// Reads a tenant's results as an internal caller: how the [`InsightGenerator`] reaches
/// the results of the run an event names (a [`RepositorySource`] per tenant, in a host).
///
/// [`RepositorySource`]: crate::source::RepositorySource
pub trait SourceForTenant: Send + Sync {
    /// The results of `tenant`.
    fn source(&self, tenant: &TenantId) -> Result<Arc<dyn ResultSource>, OptimizeError>;
}

impl<F> SourceForTenant for F
where
    F: Fn(&TenantId) -> Result<Arc<dyn ResultSource>, OptimizeError> + Send + Sync,
{
    fn source(&self, tenant: &TenantId) -> Result<Arc<dyn ResultSource>, OptimizeError> {
        self(tenant)
    }
}

/// Logs an insight per agent of each completed run (see the [module](self)
/// documentation).
pub struct InsightGenerator {
    sources: Arc<dyn SourceForTenant>,
    log: Arc<dyn EventLog>,
    options: CompareOptions,
}

impl InsightGenerator {
    /// Its consumer name in the event log.
    pub const CONSUMER: &'static str = "optimize.insights";

    /// A generator reading through `sources` and logging to `log`; changes since the
    /// previous run are judged with the default comparison options (α = 0.05, a band
    /// of one point).
    pub fn new(sources: Arc<dyn SourceForTenant>, log: Arc<dyn EventLog>) -> Self {
        Self {
            sources,
            log,
            options: CompareOptions::default(),
        }
    }

    /// Judges changes with `options`.
    pub fn with_compare_options(mut self, options: CompareOptions) -> Self {
        self.options = options;
        self
    }

    /// The subscription it is the handler of: consumer [`Self::CONSUMER`], completions
    /// only, across tenants.
    pub fn subscription(&self) -> Result<Subscription, SubscribeError> {
        subscribe(self.log.clone(), Self::CONSUMER, completions(), None)
    }

    /// The insight of `agent` in run `run_id`, against run `previous` when there is one.
    async fn agent_insight(
        &self,
        source: &dyn ResultSource,
        run_id: &str,
        previous: Option<&str>,
        agent: &str,
    ) -> Result<Option<String>, OptimizeError> {
        let results = source.case_results(run_id, agent).await?;
        let scores = case_scores(&results);
        if scores.is_empty() {
            return Ok(None);
        }
        let mean = scores.values().map(|c| c.score).sum::<f64>() / scores.len() as f64;
        let mut text = format!(
            "agent {agent}: mean {:.1}% over {} scored cases",
            100.0 * mean,
            scores.len()
        );
        // The weakest tag by mean (two cases at least), and whether it is significant.
        let mut by_tag: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
        for c in scores.values() {
            for t in &c.tags {
                let e = by_tag.entry(t).or_default();
                e.0 += c.score;
                e.1 += 1;
            }
        }
        let weakest = by_tag
            .iter()
            .filter(|(_, (_, n))| *n >= 2)
            .map(|(t, (s, n))| (*t, s / *n as f64, *n))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
        if let Some((tag, tag_mean, n)) = weakest {
            let significant =
                tag_weaknesses(&results, self.options.alpha, self.options.equivalence_band)
                    .into_iter()
                    .find(|w| w.tag == tag);
            text.push_str(&format!(
                "; weakest tag {tag:?}: {:.1}% over {n} cases",
                100.0 * tag_mean
            ));
            if let Some(w) = significant {
                text.push_str(&format!(
                    " (significantly below the rest, {:.1}%: Holm p = {:.3})",
                    100.0 * w.mean_elsewhere,
                    w.p_holm
                ));
            }
        }
        if let Some(previous) = previous {
            let before = case_scores(&source.case_results(previous, agent).await?);
            if !before.is_empty() {
                let c = compare_scores(
                    run_id.to_owned(),
                    &scores,
                    previous.to_owned(),
                    &before,
                    &self.options,
                );
                let o = &c.overall;
                let verdict = match o.verdict {
                    Verdict::Better => "better",
                    Verdict::Worse => "a significant drop",
                    Verdict::Equivalent => "equivalent",
                    Verdict::Inconclusive => "inconclusive",
                };
                text.push_str(&format!(
                    "; since run {previous}: {:+.1} points over the shared cases ({:.0}% interval {:+.1} to {:+.1}), {verdict}",
                    100.0 * o.mean_diff,
                    100.0 * (1.0 - self.options.alpha),
                    100.0 * o.ci_low,
                    100.0 * o.ci_high,
                ));
            }
        }
        Ok(Some(text))
    }
}

#[async_trait]
impl EventHandler for InsightGenerator {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let EventPayload::BenchmarkCompleted {
            run_id,
            benchmark_id,
            ..
        } = &event.payload
        else {
            return Ok(());
        };
        let Some(tenant) = &event.tenant_id else {
            return Ok(());
        };
        let read = |e: OptimizeError| HandlerError::from_cause(e.remedy(), e);
        let source = self.sources.source(tenant).map_err(read)?;
        let runs = source.runs().await.map_err(read)?;
        let Some(run) = runs.iter().find(|r| r.id == *run_id) else {
            // Not readable as the tenant's (deleted since): nothing to say.
            return Ok(());
        };
        // The newest earlier run of the same benchmark.
        let previous = runs
            .iter()
            .filter(|r| {
                r.benchmark_id == *benchmark_id
                    && r.id != run.id
                    && (r.created_at_ms, &r.id) < (run.created_at_ms, &run.id)
            })
            .max_by_key(|r| (r.created_at_ms, r.id.clone()))
            .map(|r| r.id.clone());
        let mut insights = Vec::new();
        for agent in &run.agents {
            let text = self
                .agent_insight(source.as_ref(), run_id, previous.as_deref(), &agent.name)
                .await
                .map_err(read)?;
            if let Some(text) = text {
                insights.push(NewEvent {
                    id: derived_event_id(&event.id, "optimize.insights", &agent.name),
                    ..NewEvent::new(
                        Some(tenant.clone()),
                        EventPayload::InsightGenerated {
                            run_id: run_id.clone(),
                            text,
                        },
                    )
                });
            }
        }
        if !insights.is_empty() {
            self.log.append(insights).await.map_err(log_failure)?;
        }
        Ok(())
    }
}
