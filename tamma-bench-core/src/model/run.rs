//! Runs: one execution of a benchmark by a set of agents, owned by a tenant.

use super::{AgentConfig, TenantId, Visibility};
use crate::stats::Estimate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Trials are being executed.
    Running,
    /// Every planned trial is stored.
    Completed,
    /// Stopped by cancellation (Ctrl-C): can be resumed.
    Interrupted,
    /// Stopped because the remaining budget could not cover the next trial: can be resumed
    /// with a larger budget.
    BudgetExhausted,
    /// Stopped by an error of the store or the set-up.
    Failed,
}

impl RunStatus {
    /// The name used in files and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Interrupted => "interrupted",
            Self::BudgetExhausted => "budget_exhausted",
            Self::Failed => "failed",
        }
    }

    /// Parses [`RunStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "completed" => Self::Completed,
            "interrupted" => Self::Interrupted,
            "budget_exhausted" => Self::BudgetExhausted,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A run: which benchmark, which agents, whose, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Run {
    /// Unique id.
    pub id: String,
    /// Owner.
    pub tenant_id: TenantId,
    /// Benchmark id.
    pub benchmark_id: String,
    /// Benchmark version.
    pub benchmark_version: String,
    /// Visibility of the benchmark (public results may be shown to other tenants).
    pub visibility: Visibility,
    /// Hash of benchmark and agent configurations; resuming requires the same.
    pub fingerprint: String,
    /// The agent configurations (never holding a key).
    pub agents: Vec<AgentConfig>,
    /// Planned epochs.
    pub epochs: u32,
    /// Number of cases.
    pub n_cases: u64,
    /// Status.
    pub status: RunStatus,
    /// Created, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// Last status change, ms since the Unix epoch.
    pub updated_at_ms: i64,
}

/// An estimate of token use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenTotals {
    /// Input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
}

/// Latency percentiles over the trials that reached the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencySummary {
    /// Median, ms.
    pub p50: f64,
    /// 95th percentile, ms.
    pub p95: f64,
}

/// The result of one agent in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentSummary {
    /// Agent name.
    pub name: String,
    /// Provider kind.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Cases with at least one scored epoch (the `n` of the headline score).
    pub n_cases: u64,
    /// Trials stored.
    pub n_trials: u64,
    /// Trials scored.
    pub n_scored: u64,
    /// Trials that failed for infrastructure reasons (excluded from the score).
    pub n_infra_failures: u64,
    /// Trials whose scorer failed (excluded from the score).
    pub n_scorer_errors: u64,
    /// The headline score over cases (epochs reduced by their mean), with its uncertainty.
    pub score: Estimate,
    /// With several epochs: the other reductions (max, majority, pass@1, pass@k, pass^k).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reducers: Vec<ReducedScore>,
    /// Tokens used.
    pub tokens: TokenTotals,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Latency percentiles.
    pub latency_ms: LatencySummary,
    /// Trials answered from a response cache.
    pub n_cache_hits: u64,
    /// Scored trials whose headline score is marked uncertain (judges disagreed).
    #[serde(default)]
    pub n_uncertain: u64,
}

/// The score under one epoch reducer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReducedScore {
    /// `max`, `majority`, `pass@1`, `pass@k`, `pass^k`.
    pub reducer: String,
    /// The estimate over cases.
    pub score: Estimate,
}

/// The summary of a run, computed from its stored trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Benchmark id and version.
    pub benchmark: BenchmarkRef,
    /// Status of the run.
    pub status: RunStatus,
    /// One entry per agent, in the agents file's order.
    pub agents: Vec<AgentSummary>,
}

/// A benchmark's id and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BenchmarkRef {
    /// Id.
    pub id: String,
    /// Version.
    pub version: String,
}
