//! The OpenAPI schemas of the library's views that the API returns as they are
//! (`RunView`, `PublicResult`, `PublicTrial` of `tamma-bench-privacy`). The library's types
//! carry no OpenAPI derive (no library crate depends on utoipa), so each is described
//! here under the same name; `tests/openapi.rs` serializes real values and checks that
//! their fields are the schema's properties, so the two cannot drift apart unnoticed.
//! Statistical sub-objects (an estimate with its interval, latency percentiles, reducer
//! scores) are documented as objects with a pointer to their description.

#![allow(dead_code)] // described, never built: the handlers return the library's values

use utoipa::ToSchema;

/// A run's public fields, as anyone who may read the run sees them.
#[derive(ToSchema)]
#[schema(as = RunView)]
pub(crate) struct RunViewSchema {
    /// Run id.
    id: String,
    /// Benchmark id.
    benchmark_id: String,
    /// Benchmark version.
    benchmark_version: String,
    /// `public` or `private`.
    #[schema(example = "public")]
    visibility: String,
    /// Whether the caller's tenant owns the run.
    own: bool,
    /// The agents: name, provider, model.
    agents: Vec<AgentRefSchema>,
    /// Planned epochs.
    epochs: u32,
    /// Number of cases.
    n_cases: u64,
    /// `running`, `completed`, `interrupted`, `budget_exhausted` or `failed`.
    #[schema(example = "completed")]
    status: String,
    /// Created, UTC RFC 3339.
    created_at: String,
    /// Last status change, UTC RFC 3339.
    updated_at: String,
}

/// An agent as anyone who may see its run sees it.
#[derive(ToSchema)]
#[schema(as = AgentRef)]
pub(crate) struct AgentRefSchema {
    /// Agent name.
    name: String,
    /// Provider kind.
    provider: String,
    /// Model.
    model: String,
}

/// One agent's result in one run, as an external caller may see it.
#[derive(ToSchema)]
#[schema(as = PublicResult)]
pub(crate) struct PublicResultSchema {
    /// `RUN_ID/AGENT`.
    id: String,
    /// Run id.
    run_id: String,
    /// Benchmark id.
    benchmark_id: String,
    /// Benchmark version.
    benchmark_version: String,
    /// Agent name.
    agent: String,
    /// Provider kind.
    provider: String,
    /// Model.
    model: String,
    /// The headline score with its uncertainty: `mean`, `se`, `ci_low`, `ci_high`, `n`,
    /// `n_clusters`, `epochs`, `method` (docs/statistics.md).
    #[schema(value_type = Object)]
    score: (),
    /// Counts (`n_cases`, `n_trials`, `n_scored`, `n_infra_failures`, `n_scorer_errors`,
    /// `n_uncertain`), other epoch reductions (`reducers`) and latency percentiles
    /// (`latency_ms`).
    #[schema(value_type = Object)]
    metrics: (),
    /// When the run last changed, UTC RFC 3339.
    timestamp: String,
}

/// One trial, projected to what the caller may see.
#[derive(ToSchema)]
#[schema(as = PublicTrial)]
pub(crate) struct PublicTrialSchema {
    /// Run id.
    run_id: String,
    /// Agent name.
    agent: String,
    /// Case id.
    case_id: String,
    /// Epoch.
    epoch: u32,
    /// The case's cluster.
    cluster: Option<String>,
    /// The case's tags.
    tags: Vec<String>,
    /// `scored`, `infra_failure` or `scorer_error`.
    outcome: String,
    /// Headline score, when scored.
    score: Option<f64>,
    /// The infrastructure failure kind, or `scorer:NAME`.
    error_kind: Option<String>,
    /// The extracted answer: own runs only.
    answer: Option<String>,
    /// The model's output, secrets redacted: own runs only.
    output: Option<String>,
    /// Latency, ms.
    latency_ms: f64,
    /// When it finished, ms since the Unix epoch.
    finished_at_ms: i64,
}
