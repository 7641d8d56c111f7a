//! Runs and their per-agent results, as the repository's public views give them.

use super::trial::{Trial, TrialCursor, trial_page};
use crate::graphql::caller::caller;
use crate::graphql::error;
use crate::graphql::paging::{self, Page};
use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use tamma_bench::core::model::{self, LatencySummary};
use tamma_bench::core::stats;
use tamma_bench::privacy::views::{AgentRef, PublicMetrics};
use tamma_bench::privacy::{PublicResult, RunView};

/// Who may see a benchmark's results.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every tenant sees the public fields of its results.
    Public,
    /// Only the owning tenant.
    Private,
}

impl From<model::Visibility> for Visibility {
    fn from(v: model::Visibility) -> Self {
        match v {
            model::Visibility::Public => Self::Public,
            model::Visibility::Private => Self::Private,
        }
    }
}

/// Where a run stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Trials are being executed.
    Running,
    /// Every planned trial is stored.
    Completed,
    /// Stopped by cancellation; can be resumed.
    Interrupted,
    /// Stopped because the budget could not cover the next trial; can be resumed.
    BudgetExhausted,
    /// Stopped by an error of the store or the set-up.
    Failed,
}

impl From<model::RunStatus> for RunStatus {
    fn from(s: model::RunStatus) -> Self {
        match s {
            model::RunStatus::Running => Self::Running,
            model::RunStatus::Completed => Self::Completed,
            model::RunStatus::Interrupted => Self::Interrupted,
            model::RunStatus::BudgetExhausted => Self::BudgetExhausted,
            model::RunStatus::Failed => Self::Failed,
        }
    }
}

/// An agent of a run, as anyone who may see the run sees it.
#[derive(SimpleObject, Debug, Clone)]
pub struct Agent {
    /// Agent name.
    pub name: String,
    /// Provider kind (`openai`, `anthropic`, `replay`, ...).
    pub provider: String,
    /// Model.
    pub model: String,
}

impl From<&AgentRef> for Agent {
    fn from(a: &AgentRef) -> Self {
        Self {
            name: a.name.clone(),
            provider: a.provider.clone(),
            model: a.model.clone(),
        }
    }
}

/// A run of a benchmark: its public fields.
#[derive(Debug, Clone)]
pub struct Run(pub(crate) RunView);

/// A run of a benchmark by a set of agents: your own runs and every tenant's public runs.
#[Object]
impl Run {
    /// Run id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// Benchmark id.
    async fn benchmark_id(&self) -> &str {
        &self.0.benchmark_id
    }

    /// Benchmark version.
    async fn benchmark_version(&self) -> &str {
        &self.0.benchmark_version
    }

    /// Who may see the run's results.
    async fn visibility(&self) -> Visibility {
        self.0.visibility.into()
    }

    /// Whether your tenant owns the run.
    async fn own(&self) -> bool {
        self.0.own
    }

    /// The agents.
    async fn agents(&self) -> Vec<Agent> {
        self.0.agents.iter().map(Agent::from).collect()
    }

    /// Planned epochs.
    async fn epochs(&self) -> u32 {
        self.0.epochs
    }

    /// Number of cases.
    async fn n_cases(&self) -> u64 {
        self.0.n_cases
    }

    /// Status.
    async fn status(&self) -> RunStatus {
        self.0.status.into()
    }

    /// Created, UTC RFC 3339.
    async fn created_at(&self) -> &str {
        &self.0.created_at
    }

    /// Last status change, UTC RFC 3339.
    async fn updated_at(&self) -> &str {
        &self.0.updated_at
    }

    /// The result of each agent: its score with a confidence interval and public
    /// metrics, summarized from the stored trials.
    #[graphql(complexity = "crate::graphql::RESULTS_COST + child_complexity")]
    async fn results(&self, ctx: &Context<'_>) -> Result<Vec<AgentResult>> {
        let caller = caller(ctx)?;
        let results = caller
            .repository
            .results(&caller.context, &self.0.id)
            .await
            .map_err(error::repository)?;
        Ok(results.into_iter().map(AgentResult).collect())
    }

    /// The run's trials, a page at a time, in the store's order (agent, case, epoch).
    /// Outputs and answers only for your own runs.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn trials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<TrialCursor>, Trial>> {
        trial_page(caller(ctx)?, &self.0.id, Page::new(first, after)?).await
    }
}

/// One agent's result in one run.
#[derive(Debug, Clone)]
pub struct AgentResult(pub(crate) PublicResult);

/// One agent's result in one run: the headline score with its uncertainty.
#[Object]
impl AgentResult {
    /// `RUN_ID/AGENT`.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// Run id.
    async fn run_id(&self) -> &str {
        &self.0.run_id
    }

    /// Benchmark id.
    async fn benchmark_id(&self) -> &str {
        &self.0.benchmark_id
    }

    /// Benchmark version.
    async fn benchmark_version(&self) -> &str {
        &self.0.benchmark_version
    }

    /// Agent name.
    async fn agent(&self) -> &str {
        &self.0.agent
    }

    /// Provider kind.
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// Model.
    async fn model(&self) -> &str {
        &self.0.model
    }

    /// The headline score (mean over cases of the epochs' mean) with its interval.
    async fn score(&self) -> Estimate {
        Estimate(self.0.score.clone())
    }

    /// Counts, other epoch reductions and latency.
    async fn metrics(&self) -> Metrics {
        Metrics(self.0.metrics.clone())
    }

    /// When the run last changed, UTC RFC 3339.
    async fn timestamp(&self) -> &str {
        &self.0.timestamp
    }
}

/// A mean with its uncertainty.
#[derive(Debug, Clone)]
pub struct Estimate(pub(crate) stats::Estimate);

/// A mean over cases with its standard error and confidence interval.
#[Object]
impl Estimate {
    /// Point estimate.
    async fn mean(&self) -> f64 {
        self.0.mean
    }

    /// Standard error of the mean.
    async fn se(&self) -> f64 {
        self.0.se
    }

    /// Lower bound of the confidence interval.
    async fn ci_low(&self) -> f64 {
        self.0.ci_low
    }

    /// Upper bound of the confidence interval.
    async fn ci_high(&self) -> f64 {
        self.0.ci_high
    }

    /// Confidence level of the interval (0.95).
    async fn level(&self) -> f64 {
        self.0.level
    }

    /// Number of cases (observations).
    async fn n(&self) -> u64 {
        self.0.n
    }

    /// Number of clusters, when cases carry clusters.
    async fn n_clusters(&self) -> Option<u64> {
        self.0.n_clusters
    }

    /// Epochs per case reduced into each observation.
    async fn k(&self) -> u32 {
        self.0.k
    }

    /// How the interval was computed: `wilson`, `t`, `clustered`, `cluster_bootstrap`,
    /// `clopper_pearson` or `insufficient` (too few cases: the whole score range).
    async fn method(&self) -> &'static str {
        self.0.method.as_str()
    }
}

/// The public metrics of a result.
#[derive(Debug, Clone)]
pub struct Metrics(pub(crate) PublicMetrics);

/// Counts, other epoch reductions and latency of a result.
#[Object]
impl Metrics {
    /// Cases with a scored epoch.
    async fn n_cases(&self) -> u64 {
        self.0.n_cases
    }

    /// Trials stored.
    async fn n_trials(&self) -> u64 {
        self.0.n_trials
    }

    /// Trials scored.
    async fn n_scored(&self) -> u64 {
        self.0.n_scored
    }

    /// Infrastructure failures (excluded from the score).
    async fn n_infra_failures(&self) -> u64 {
        self.0.n_infra_failures
    }

    /// Scorer errors (excluded from the score).
    async fn n_scorer_errors(&self) -> u64 {
        self.0.n_scorer_errors
    }

    /// Scored trials marked uncertain (judges disagreed).
    async fn n_uncertain(&self) -> u64 {
        self.0.n_uncertain
    }

    /// With several epochs: the score under the other epoch reducers.
    async fn reducers(&self) -> Vec<ReducedScore> {
        self.0
            .reducers
            .iter()
            .map(|r| ReducedScore {
                reducer: r.reducer.clone(),
                score: Estimate(r.score.clone()),
            })
            .collect()
    }

    /// Latency percentiles, ms.
    async fn latency_ms(&self) -> Latency {
        self.0.latency_ms.into()
    }
}

/// The score under one epoch reducer.
#[derive(SimpleObject, Debug, Clone)]
pub struct ReducedScore {
    /// `max`, `majority`, `pass@1`, `pass@k`, `pass^k`.
    pub reducer: String,
    /// The estimate over cases.
    pub score: Estimate,
}

/// Latency percentiles over the trials that reached the model, ms.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl From<LatencySummary> for Latency {
    fn from(l: LatencySummary) -> Self {
        Self {
            p50: l.p50,
            p95: l.p95,
        }
    }
}
