//! A run: its public summary at the public door, its whole record and summary at the
//! internal door; its trials, paged.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Serialize;
use tamma_bench::core::model::{Run, RunSummary};
use tamma_bench::privacy::{PublicResult, RunView};
use utoipa::ToSchema;

/// A run as the caller may see it: its public fields and each agent's public result.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunDetail {
    /// The run.
    #[schema(value_type = crate::schema::RunViewSchema)]
    run: RunView,
    /// One result per agent.
    #[schema(value_type = Vec<crate::schema::PublicResultSchema>)]
    results: Vec<PublicResult>,
}

/// One run: its public fields and each agent's public result. Another tenant's private
/// run is 404, as a run that does not exist.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run and its results", body = RunDetail),
        (status = 404, description = "No such run visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn public_run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let repo = state.repository();
    let run = repo.run(&caller.context, &id).await?;
    let results = repo.results(&caller.context, &id).await?;
    Ok(Json(RunDetail { run, results }))
}

/// A run's whole record and summary, for the platform's services.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InternalRunDetail {
    /// The stored run: agents' configurations, fingerprint, owner.
    #[schema(value_type = Object)]
    run: Run,
    /// The summary: per agent the score with its uncertainty, cost, tokens, latency.
    #[schema(value_type = Object)]
    summary: RunSummary,
}

/// One run of the service's tenant, whole (internal views: agent configuration, cost).
#[utoipa::path(get, path = "/internal/v1/runs/{id}", tag = "internal",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run and its summary", body = InternalRunDetail),
        (status = 404, description = "No such run visible to the service", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn internal_run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<InternalRunDetail>, ApiError> {
    let icx = caller.internal()?;
    let (run, summary) = state.repository().internal_summary(&icx, &id).await?;
    Ok(Json(InternalRunDetail { run, summary }))
}
