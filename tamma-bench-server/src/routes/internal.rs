//! The internal API's own routes: whole results of the service's tenant, studies queued,
//! and the latest insights of the event log; all in the service's internal context.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Body, Params};
use crate::routes::benchmarks::{Submitted, encoded, queue_submission};
use crate::state::AppState;
use crate::submit::{self, StudyRequest};
use axum::extract::State;

use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tamma_bench::core::events::{EventFilter, EventPayload, EventType};
use tamma_bench::core::model::{Run, utc_rfc3339};
use tamma_bench::privacy::InternalResult;
use utoipa::{IntoParams, ToSchema};

/// One benchmark, whole: every run of the service's tenant and the latest run's results
/// with agent configuration, cost and optimization data.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InternalBenchmark {
    /// Benchmark id.
    id: String,
    /// The version of its latest run.
    version: String,
    /// Runs.
    run_count: usize,
    /// The runs as stored (agents' configurations included), newest first.
    #[schema(value_type = Vec<Object>)]
    runs: Vec<Run>,
    /// The latest run's results, one per agent: public result, agent configuration, cost
    /// analysis, internal metrics, optimization data.
    #[schema(value_type = Vec<Object>)]
    latest_results: Vec<InternalResult>,
}

/// The benchmarks of the service's tenant.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InternalBenchmarkList {
    /// By id.
    benchmarks: Vec<InternalBenchmark>,
}

/// Every benchmark of the service's tenant, whole (internal views).
#[utoipa::path(get, path = "/internal/v1/benchmarks", tag = "internal",
    responses((status = 200, description = "The benchmarks", body = InternalBenchmarkList)),
    security(("service" = [])))]
pub(crate) async fn list_benchmarks(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<InternalBenchmarkList>, ApiError> {
    let icx = caller.internal()?;
    let repo = state.repository();
    let mut by_id: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for run in repo.internal_runs(&icx).await? {
        by_id.entry(run.benchmark_id.clone()).or_default().push(run);
    }
    let mut benchmarks = Vec::with_capacity(by_id.len());
    for (id, mut runs) in by_id {
        runs.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then(a.id.cmp(&b.id)));
        let Some(latest) = runs.first() else { continue };
        let latest_results = repo.internal_results(&icx, &latest.id).await?;
        benchmarks.push(InternalBenchmark {
            id,
            version: latest.benchmark_version.clone(),
            run_count: runs.len(),
            latest_results,
            runs,
        });
    }
    Ok(Json(InternalBenchmarkList { benchmarks }))
}

/// Starts an optimization study: the benchmark inline and the search space, queued as a
/// study job in the service's context. Answers 202 with the job.
#[utoipa::path(post, path = "/internal/v1/optimizations", tag = "internal",
    request_body = StudyRequest,
    responses(
        (status = 202, description = "The study's job, queued", body = Submitted,
         headers(("Location" = String, description = "The job"))),
        (status = 400, description = "Malformed body or definition (names the file, line and field)", body = ErrorBody),
        (status = 422, description = "An invalid definition or search space (names the file, line and field)", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn start_study(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(request): Body<StudyRequest>,
) -> Result<Response, ApiError> {
    caller.internal()?;
    queue_submission(&state, &caller, move |policy| {
        let job = submit::study_job(&request, policy)?;
        encoded(job.to_new_job(), "a study payload")
    })
    .await
}

/// One insight, as the optimizer's `InsightGenerator` logged it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Insight {
    /// The event's id.
    id: String,
    /// Its position in the event log.
    position: u64,
    /// When, UTC RFC 3339.
    at: String,
    /// The run it is about.
    run_id: String,
    /// What it says (mean score, weakest tag, change since the previous run).
    text: String,
}

/// The latest insights.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InsightList {
    /// Newest first.
    insights: Vec<Insight>,
}

/// How many insights.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InsightQuery {
    /// At most this many (1-200, default 20).
    limit: Option<usize>,
}

/// Events read per step back through the log.
const WINDOW: u64 = 1024;

/// The latest insights the service's context may receive (`insight.generated` events of
/// its tenant, and deployment-wide ones), newest first, read back from the log's head.
#[utoipa::path(get, path = "/internal/v1/analytics/insights", tag = "internal",
    params(InsightQuery),
    responses(
        (status = 200, description = "The latest insights", body = InsightList),
        (status = 400, description = "A limit out of range", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn insights(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<InsightQuery>,
) -> Result<Json<InsightList>, ApiError> {
    let icx = caller.internal()?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("limit: expected 1 to 200"));
    }
    let log = state.events();
    let filter = EventFilter {
        types: vec![EventType::InsightGenerated],
        tenant: None,
    };
    let mut end = log.head().await?;
    let mut found = Vec::new();
    // Windows back from the head; each read in log order, newest kept first.
    while end > 0 && found.len() < limit {
        let start = end.saturating_sub(WINDOW);
        let page = log
            .read_as(icx.context(), start, &filter, usize::MAX)
            .await?;
        let mut window: Vec<_> = page.into_iter().filter(|e| e.position <= end).collect();
        window.reverse();
        found.extend(window);
        end = start;
    }
    found.truncate(limit);
    let insights = found
        .into_iter()
        .filter_map(|e| match e.payload {
            EventPayload::InsightGenerated { run_id, text } => Some(Insight {
                id: e.id.as_str().to_owned(),
                position: e.position,
                at: utc_rfc3339(e.at_ms),
                run_id,
                text,
            }),
            _ => None,
        })
        .collect();
    Ok(Json(InsightList { insights }))
}
