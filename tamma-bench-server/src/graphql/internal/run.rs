//! Internal run views: the whole run record, agent configurations and cost analysis.

use super::trial::{InternalTrial, internal_trial_page};
use crate::graphql::caller::internal;
use crate::graphql::error;
use crate::graphql::paging::{self, Page};
use crate::graphql::public::{AgentResult, RunStatus, TrialCursor, Visibility};
use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use tamma_bench::core::model::{self, utc_rfc3339};
use tamma_bench::privacy;

/// A run's whole record, for internal callers.
#[derive(Debug, Clone)]
pub struct InternalRun(pub(crate) model::Run);

/// A run with its internal fields: owner, fingerprint, agent configurations, cost.
#[Object]
impl InternalRun {
    /// Run id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The tenant that owns it.
    async fn tenant_id(&self) -> &str {
        self.0.tenant_id.as_str()
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

    /// Hash of the benchmark and agent configurations (a resumed run must match it).
    async fn fingerprint(&self) -> &str {
        &self.0.fingerprint
    }

    /// The agents' configurations.
    async fn agent_configs(&self) -> Vec<AgentConfig> {
        self.0.agents.iter().cloned().map(AgentConfig).collect()
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
    async fn created_at(&self) -> String {
        utc_rfc3339(self.0.created_at_ms)
    }

    /// Last status change, UTC RFC 3339.
    async fn updated_at(&self) -> String {
        utc_rfc3339(self.0.updated_at_ms)
    }

    /// Each agent's result with its configuration, cost analysis, internal metrics and
    /// optimization data.
    #[graphql(complexity = "crate::graphql::RESULTS_COST + child_complexity")]
    async fn internal_results(&self, ctx: &Context<'_>) -> Result<Vec<InternalResult>> {
        let (caller, icx) = internal(ctx)?;
        let results = caller
            .repository
            .internal_results(icx, &self.0.id)
            .await
            .map_err(error::repository)?;
        Ok(results.into_iter().map(InternalResult).collect())
    }

    /// The run's trials with every field, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn internal_trials(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<TrialCursor>, InternalTrial>> {
        let (caller, icx) = internal(ctx)?;
        internal_trial_page(caller, icx, &self.0.id, Page::new(first, after)?).await
    }
}

/// An agent's configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig(pub(crate) model::AgentConfig);

/// An agent's whole configuration (never a key: `apiKeyEnv` names the variable).
#[Object]
impl AgentConfig {
    /// Agent name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Provider kind.
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// Model.
    async fn model(&self) -> &str {
        &self.0.model
    }

    /// The provider's base URL, when not the vendor's.
    async fn base_url(&self) -> Option<&str> {
        self.0.base_url.as_deref()
    }

    /// The environment variable holding the API key.
    async fn api_key_env(&self) -> Option<&str> {
        self.0.api_key_env.as_deref()
    }

    /// Sampling temperature.
    async fn temperature(&self) -> Option<f64> {
        self.0.temperature
    }

    /// Nucleus sampling.
    async fn top_p(&self) -> Option<f64> {
        self.0.top_p
    }

    /// Output token limit.
    async fn max_tokens(&self) -> Option<u32> {
        self.0.max_tokens
    }

    /// Sampling seed.
    async fn seed(&self) -> Option<i64> {
        self.0.seed
    }

    /// Stop sequences.
    async fn stop(&self) -> &[String] {
        &self.0.stop
    }

    /// System prompt of the agent.
    async fn system(&self) -> Option<&str> {
        self.0.system.as_deref()
    }

    /// Prompt template of the agent.
    async fn prompt(&self) -> Option<&str> {
        self.0.prompt.as_deref()
    }

    /// Price per million input tokens, USD.
    async fn price_per_mtok_input(&self) -> Option<f64> {
        self.0.price_per_mtok_input
    }

    /// Price per million output tokens, USD.
    async fn price_per_mtok_output(&self) -> Option<f64> {
        self.0.price_per_mtok_output
    }

    /// Recording file of a replay provider.
    async fn recording(&self) -> Option<String> {
        self.0.recording.as_ref().map(|p| p.display().to_string())
    }

    /// Calls in flight at once.
    async fn concurrency(&self) -> Option<usize> {
        self.0.concurrency
    }

    /// The agent's layers (`[agent.layers]`), as JSON.
    async fn layers(&self) -> Json<model::LayerConfig> {
        Json(self.0.layers.clone())
    }
}

/// One agent's result with its internal fields.
#[derive(Debug, Clone)]
pub struct InternalResult(pub(crate) privacy::InternalResult);

/// One agent's result: the public part and what only the platform sees.
#[Object]
impl InternalResult {
    /// The public part.
    async fn result(&self) -> AgentResult {
        AgentResult(self.0.public.clone())
    }

    /// The agent's configuration.
    async fn agent_config(&self) -> AgentConfig {
        AgentConfig(self.0.agent_config.clone())
    }

    /// Cost analysis.
    async fn cost(&self) -> CostAnalysis {
        let c = &self.0.cost;
        CostAnalysis {
            cost_usd: c.cost_usd,
            tokens: Tokens {
                input: c.tokens.input,
                output: c.tokens.output,
            },
            cost_per_case_usd: c.cost_per_case_usd,
        }
    }

    /// Internal metrics.
    async fn internal_metrics(&self) -> InternalMetrics {
        InternalMetrics {
            n_cache_hits: self.0.internal_metrics.n_cache_hits,
        }
    }

    /// What the optimization engine reads.
    async fn optimization(&self) -> OptimizationData {
        let o = &self.0.optimization;
        OptimizationData {
            fingerprint: o.fingerprint.clone(),
            epochs: o.epochs,
            score_per_usd: o.score_per_usd,
        }
    }
}

/// Cost analysis of a result.
#[derive(SimpleObject, Debug, Clone)]
pub struct CostAnalysis {
    /// Total cost, USD.
    pub cost_usd: f64,
    /// Tokens used.
    pub tokens: Tokens,
    /// Cost per case with a scored epoch, USD.
    pub cost_per_case_usd: Option<f64>,
}

/// Token counts.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct Tokens {
    /// Input (prompt) tokens.
    pub input: u64,
    /// Output (generated) tokens.
    pub output: u64,
}

/// Internal metrics of a result.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct InternalMetrics {
    /// Trials answered from a response cache.
    pub n_cache_hits: u64,
}

/// What the optimization engine reads of a result.
#[derive(SimpleObject, Debug, Clone)]
pub struct OptimizationData {
    /// Fingerprint of benchmark and agent configuration.
    pub fingerprint: String,
    /// Epochs of the run.
    pub epochs: u32,
    /// Score points per USD, when the result cost anything.
    pub score_per_usd: Option<f64>,
}
