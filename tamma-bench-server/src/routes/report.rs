//! The library's statistics as JSON, so that a client (the dashboard) shows them instead
//! of re-deriving them: the report data of one or more runs (`tamma_bench::report::collect`:
//! leaderboard with intervals, scores per tag, the paired comparisons of the best result
//! with every other and their verdicts, the score/cost Pareto front for internal callers,
//! latency quantiles) and the paired comparison of any two results
//! (`Repository::compare`). Both read through the tenant-aware repository as the caller:
//! authorized, audited and projected to the caller's level.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Params;
use crate::state::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use tamma_bench::core::compare::{Comparison, ResultRef};
use tamma_bench::core::stats::CompareOptions;
use tamma_bench::report::ReportData;
use utoipa::IntoParams;

/// The most runs one report may hold (each run's trials are streamed once).
const MAX_RUNS: usize = 20;

/// Which runs to report on.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    /// Run ids, separated by commas (1 to 20); a run given twice is shown once.
    runs: String,
}

/// The run ids of `query`, or 400 naming the parameter.
fn run_ids(query: &ReportQuery) -> Result<Vec<&str>, ApiError> {
    let ids: Vec<&str> = query.runs.split(',').map(str::trim).collect();
    if ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::bad_request(
            "runs: expected run ids separated by commas",
        ));
    }
    if ids.len() > MAX_RUNS {
        return Err(ApiError::bad_request(format!(
            "runs: at most {MAX_RUNS} runs per report"
        )));
    }
    Ok(ids)
}

async fn report(
    state: &AppState,
    caller: &Caller,
    query: &ReportQuery,
) -> Result<Json<ReportData>, ApiError> {
    let ids = run_ids(query)?;
    let data = tamma_bench::report::collect(state.repository(), &caller.context, &ids).await?;
    Ok(Json(data))
}

/// The report data of runs the caller may read, as the HTML report computes it
/// (`docs/report.md`): `results` ordered by score with each agent's summary (score with
/// its interval), `by_tag`, `latency`, `comparisons` (the best result against each other,
/// with the verdict and Holm-adjusted p-value) and `pareto` (indices into `results`;
/// empty for customers: cost is internal, as are `cost_usd` and `tokens`, which are 0).
/// A run of another tenant that is not public is 404, as an unknown one.
#[utoipa::path(get, path = "/api/v1/report", tag = "results", params(ReportQuery),
    responses(
        (status = 200, description = "The report data (`tamma_bench::report::ReportData`)", body = serde_json::Value),
        (status = 400, description = "No run id, or more than 20", body = ErrorBody),
        (status = 404, description = "A run not visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn public_report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<ReportQuery>,
) -> Result<Json<ReportData>, ApiError> {
    report(&state, &caller, &query).await
}

/// The report data of runs of the service's tenant, with every internal field: cost,
/// tokens and the score/cost Pareto front.
#[utoipa::path(get, path = "/internal/v1/report", tag = "internal", params(ReportQuery),
    responses(
        (status = 200, description = "The report data (`tamma_bench::report::ReportData`)", body = serde_json::Value),
        (status = 400, description = "No run id, or more than 20", body = ErrorBody),
        (status = 404, description = "A run not visible to the service", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn internal_report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<ReportQuery>,
) -> Result<Json<ReportData>, ApiError> {
    caller.internal()?;
    report(&state, &caller, &query).await
}

/// Which two results to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CompareQuery {
    /// A: `RUN_ID/AGENT` (or `RUN_ID` of a run with one agent).
    a: String,
    /// B: `RUN_ID/AGENT` (or `RUN_ID` of a run with one agent).
    b: String,
}

async fn compare(
    state: &AppState,
    caller: &Caller,
    query: &CompareQuery,
) -> Result<Json<Comparison>, ApiError> {
    for (name, value) in [("a", &query.a), ("b", &query.b)] {
        if value.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "{name}: expected RUN_ID/AGENT"
            )));
        }
    }
    let (a, b) = (ResultRef::parse(&query.a), ResultRef::parse(&query.b));
    let comparison = state
        .repository()
        .compare(&caller.context, &a, &b, &CompareOptions::default())
        .await?;
    Ok(Json(comparison))
}

/// The paired comparison of two results the caller may compare (its own runs or public
/// ones), as `tamma-bench compare A B` computes it with its defaults: A − B over the
/// shared cases with its 95% interval, the test (McNemar's exact test or a paired t-test,
/// cluster-robust with clusters), the verdict against the ±1-point equivalence band, and
/// the same per tag with Holm and Benjamini–Hochberg adjusted p-values.
#[utoipa::path(get, path = "/api/v1/compare", tag = "results", params(CompareQuery),
    responses(
        (status = 200, description = "The comparison (`tamma_bench::core::compare::Comparison`)", body = serde_json::Value),
        (status = 400, description = "A missing side, or an agent not in its run", body = ErrorBody),
        (status = 404, description = "A run not visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn public_compare(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<CompareQuery>,
) -> Result<Json<Comparison>, ApiError> {
    compare(&state, &caller, &query).await
}

/// The paired comparison of two results of the service's tenant.
#[utoipa::path(get, path = "/internal/v1/compare", tag = "internal", params(CompareQuery),
    responses(
        (status = 200, description = "The comparison (`tamma_bench::core::compare::Comparison`)", body = serde_json::Value),
        (status = 400, description = "A missing side, or an agent not in its run", body = ErrorBody),
        (status = 404, description = "A run not visible to the service", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn internal_compare(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<CompareQuery>,
) -> Result<Json<Comparison>, ApiError> {
    caller.internal()?;
    compare(&state, &caller, &query).await
}

/// `t` with the report and comparison routes of `door`.
pub(crate) fn add(t: super::RouteTable, door: crate::auth::Door) -> super::RouteTable {
    match door {
        crate::auth::Door::Public => t
            .get("/report", public_report)
            .get("/compare", public_compare),
        crate::auth::Door::Internal => t
            .get("/report", internal_report)
            .get("/compare", internal_compare),
    }
}
