//! The typed views the repository returns: what leaves storage.
//!
//! External callers get [`RunView`], [`PublicResult`] and [`PublicTrial`]: none of these
//! types has a field for agent configuration, cost, internal metrics or optimization
//! data, so no value of them can carry one. [`InternalResult`] and whole stored records
//! come only from methods that take an [`InternalContext`], which only an internal
//! context with the `read_internal` grant can become.

use crate::error::{ErrorKind, RepositoryError};
use serde::Serialize;
use tamma_bench_core::model::{
    AgentConfig, AgentSummary, LatencySummary, Outcome, Permission, ReducedScore, Run, RunStatus,
    TenantContext, TenantKind, Tier, TokenTotals, Trial, Visibility, utc_rfc3339,
};
use tamma_bench_core::stats::Estimate;

/// Proof that the caller is internal: the only key to internal views.
#[derive(Debug, Clone)]
pub struct InternalContext(TenantContext);

impl InternalContext {
    /// `cx` as an internal context, if it is one: internal kind and tier, granted
    /// `read_internal`.
    pub fn new(cx: TenantContext) -> Result<Self, RepositoryError> {
        if cx.kind == TenantKind::Internal
            && cx.tier == Tier::Internal
            && cx.has(Permission::ReadInternal)
        {
            Ok(Self(cx))
        } else {
            Err(RepositoryError::new(
                ErrorKind::Denied,
                "not permitted: internal fields need an internal context",
            ))
        }
    }

    /// The context.
    pub fn context(&self) -> &TenantContext {
        &self.0
    }
}

/// An agent as anyone who may see its run sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRef {
    /// Agent name.
    pub name: String,
    /// Provider kind.
    pub provider: String,
    /// Model.
    pub model: String,
}

/// A run's public fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    /// Run id.
    pub id: String,
    /// Benchmark id.
    pub benchmark_id: String,
    /// Benchmark version.
    pub benchmark_version: String,
    /// Visibility of the benchmark.
    pub visibility: Visibility,
    /// Whether the caller's tenant owns the run.
    pub own: bool,
    /// The agents.
    pub agents: Vec<AgentRef>,
    /// Planned epochs.
    pub epochs: u32,
    /// Number of cases.
    pub n_cases: u64,
    /// Status.
    pub status: RunStatus,
    /// Created, UTC RFC 3339.
    pub created_at: String,
    /// Last status change, UTC RFC 3339.
    pub updated_at: String,
}

impl RunView {
    pub(crate) fn new(run: &Run, own: bool) -> Self {
        Self {
            id: run.id.clone(),
            benchmark_id: run.benchmark_id.clone(),
            benchmark_version: run.benchmark_version.clone(),
            visibility: run.visibility,
            own,
            agents: run
                .agents
                .iter()
                .map(|a| AgentRef {
                    name: a.name.clone(),
                    provider: a.provider.clone(),
                    model: a.model.clone(),
                })
                .collect(),
            epochs: run.epochs,
            n_cases: run.n_cases,
            status: run.status,
            created_at: utc_rfc3339(run.created_at_ms),
            updated_at: utc_rfc3339(run.updated_at_ms),
        }
    }
}

/// The public metrics of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicMetrics {
    /// Cases with a scored epoch.
    pub n_cases: u64,
    /// Trials stored.
    pub n_trials: u64,
    /// Trials scored.
    pub n_scored: u64,
    /// Infrastructure failures (excluded from the score).
    pub n_infra_failures: u64,
    /// Scorer errors (excluded from the score).
    pub n_scorer_errors: u64,
    /// Scored trials marked uncertain.
    pub n_uncertain: u64,
    /// Other epoch reductions, with several epochs.
    pub reducers: Vec<ReducedScore>,
    /// Latency percentiles, ms.
    pub latency_ms: LatencySummary,
}

/// One agent's result in one run, as an external caller may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicResult {
    /// `RUN_ID/AGENT`.
    pub id: String,
    /// Run id.
    pub run_id: String,
    /// Benchmark id.
    pub benchmark_id: String,
    /// Benchmark version.
    pub benchmark_version: String,
    /// Agent name.
    pub agent: String,
    /// Provider kind.
    pub provider: String,
    /// Model.
    pub model: String,
    /// The headline score with its interval.
    pub score: Estimate,
    /// Public metrics.
    pub metrics: PublicMetrics,
    /// When the run last changed, UTC RFC 3339.
    pub timestamp: String,
}

impl PublicResult {
    pub(crate) fn new(run: &Run, s: &AgentSummary) -> Self {
        Self {
            id: format!("{}/{}", run.id, s.name),
            run_id: run.id.clone(),
            benchmark_id: run.benchmark_id.clone(),
            benchmark_version: run.benchmark_version.clone(),
            agent: s.name.clone(),
            provider: s.provider.clone(),
            model: s.model.clone(),
            score: s.score.clone(),
            metrics: PublicMetrics {
                n_cases: s.n_cases,
                n_trials: s.n_trials,
                n_scored: s.n_scored,
                n_infra_failures: s.n_infra_failures,
                n_scorer_errors: s.n_scorer_errors,
                n_uncertain: s.n_uncertain,
                reducers: s.reducers.clone(),
                latency_ms: s.latency_ms,
            },
            timestamp: utc_rfc3339(run.updated_at_ms),
        }
    }
}

/// Cost analysis of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostAnalysis {
    /// Total cost, USD.
    pub cost_usd: f64,
    /// Tokens used.
    pub tokens: TokenTotals,
    /// Cost per case with a scored epoch, USD.
    pub cost_per_case_usd: Option<f64>,
}

/// Internal metrics of a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternalMetrics {
    /// Trials answered from a response cache.
    pub n_cache_hits: u64,
}

/// What the optimization engine needs beyond the public result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizationData {
    /// Fingerprint of benchmark and agent configuration.
    pub fingerprint: String,
    /// Epochs of the run.
    pub epochs: u32,
    /// Score points per USD, when the result cost anything.
    pub score_per_usd: Option<f64>,
}

/// A result with its internal fields: only for internal contexts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternalResult {
    /// The public part.
    pub public: PublicResult,
    /// The agent configuration.
    pub agent_config: AgentConfig,
    /// Cost analysis.
    pub cost: CostAnalysis,
    /// Internal metrics.
    pub internal_metrics: InternalMetrics,
    /// Optimization data.
    pub optimization: OptimizationData,
}

impl InternalResult {
    pub(crate) fn new(run: &Run, s: &AgentSummary) -> Self {
        let agent_config = run
            .agents
            .iter()
            .find(|a| a.name == s.name)
            .cloned()
            .unwrap_or_else(|| AgentConfig::new(&s.name, &s.provider, &s.model));
        Self {
            public: PublicResult::new(run, s),
            agent_config,
            cost: CostAnalysis {
                cost_usd: s.cost_usd,
                tokens: s.tokens,
                cost_per_case_usd: (s.n_cases > 0).then(|| s.cost_usd / s.n_cases as f64),
            },
            internal_metrics: InternalMetrics {
                n_cache_hits: s.n_cache_hits,
            },
            optimization: OptimizationData {
                fingerprint: run.fingerprint.clone(),
                epochs: run.epochs,
                score_per_usd: (s.cost_usd > 0.0).then(|| s.score.mean / s.cost_usd),
            },
        }
    }
}

/// One trial for export to an external caller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicTrial {
    /// Run id.
    pub run_id: String,
    /// Agent name.
    pub agent: String,
    /// Case id.
    pub case_id: String,
    /// Epoch.
    pub epoch: u32,
    /// The case's cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The case's tags.
    pub tags: Vec<String>,
    /// `scored`, `infra_failure` or `scorer_error`.
    pub outcome: &'static str,
    /// Headline score, when scored.
    pub score: Option<f64>,
    /// The infrastructure failure kind, or `scorer:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The headline scorer's extracted answer: own runs only (sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// The model's output, secrets redacted: own runs only (sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Latency, ms.
    pub latency_ms: f64,
    /// When it finished, ms since the Unix epoch.
    pub finished_at_ms: i64,
}

impl PublicTrial {
    /// From a trial already projected to the caller's level.
    pub(crate) fn new(mut t: Trial) -> Self {
        let (score, error_kind, answer) = match &mut t.outcome {
            Outcome::Scored { scores } => (
                scores.first().map(|s| s.value),
                None,
                scores.first_mut().and_then(|s| s.answer.take()),
            ),
            Outcome::InfraFailure { error, .. } => (None, Some(error.as_str().to_owned()), None),
            Outcome::ScorerError { scorer, .. } => (None, Some(format!("scorer:{scorer}")), None),
        };
        Self {
            outcome: t.outcome.kind_name(),
            run_id: t.run_id,
            agent: t.key.agent,
            case_id: t.key.case_id,
            epoch: t.key.epoch,
            cluster: t.cluster,
            tags: t.tags,
            score,
            error_kind,
            answer,
            output: t.output,
            latency_ms: t.latency_ms,
            finished_at_ms: t.finished_at_ms,
        }
    }
}
