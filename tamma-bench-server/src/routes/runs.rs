//! A run: its public summary at the public door, its whole record and summary at the
//! internal door; its trials, paged.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Params;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tamma_bench::core::model::{Run, RunSummary, TrialKey};
use tamma_bench::privacy::{PublicResult, PublicTrial, RunView};
use utoipa::{IntoParams, ToSchema};

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

/// A page of a run's trials.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrialPage {
    /// Trials in key order (agent, case id, epoch).
    #[schema(value_type = Vec<crate::schema::PublicTrialSchema>)]
    trials: Vec<PublicTrial>,
    /// The cursor of the next page (`after`), absent on the last page.
    next: Option<String>,
}

/// Which page of trials.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrialQuery {
    /// The `next` cursor of the previous page (absent: the first page).
    after: Option<String>,
    /// Trials per page (1-1000, default 100).
    limit: Option<usize>,
}

/// The largest page.
const MAX_PAGE: usize = 1000;

/// A run's trials, a page at a time, projected to what the caller may see (public fields
/// of public runs; its own runs' answers and outputs, secrets redacted). The cursor is
/// the last trial's key, so pages stay stable while a run grows, and each page is read
/// from the store's key index: a late page of a 100,000-trial run costs what the first
/// does.
#[utoipa::path(get, path = "/api/v1/runs/{id}/trials", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), TrialQuery),
    responses(
        (status = 200, description = "A page of trials", body = TrialPage),
        (status = 400, description = "An invalid cursor or limit", body = ErrorBody),
        (status = 404, description = "No such run visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn run_trials(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Params(query): Params<TrialQuery>,
) -> Result<Json<TrialPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: expected 1 to {MAX_PAGE}"
        )));
    }
    let after = query.after.as_deref().map(decode_cursor).transpose()?;
    let export = state.repository().trials(&caller.context, &id).await?;
    let mut stream = export.stream_after(after).take(limit + 1);
    let mut trials = Vec::with_capacity(limit.min(256));
    let mut more = false;
    while let Some(t) = stream.next().await {
        if trials.len() == limit {
            more = true;
            break;
        }
        trials.push(t?);
    }
    let next = match trials.last() {
        Some(t) if more => Some(encode_cursor(&TrialKey::new(
            t.agent.clone(),
            t.case_id.clone(),
            t.epoch,
        ))),
        _ => None,
    };
    Ok(Json(TrialPage { trials, next }))
}

/// A trial key as an opaque cursor: URL-safe base64 of `[agent, case_id, epoch]`.
fn encode_cursor(key: &TrialKey) -> String {
    let json = serde_json::json!([key.agent, key.case_id, key.epoch]).to_string();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(cursor: &str) -> Result<TrialKey, ApiError> {
    let bad = || ApiError::bad_request("after: not a cursor this service gave");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let (agent, case_id, epoch): (String, String, u32) =
        serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(TrialKey::new(agent, case_id, epoch))
}
