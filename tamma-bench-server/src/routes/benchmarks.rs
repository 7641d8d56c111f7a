//! Benchmarks, as the runs the caller may read show them (public runs and its own), and
//! new runs submitted with an inline definition.

use crate::auth::Caller;
use crate::config::SubmissionPolicy;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Body;
use crate::routes::jobs::JobView;
use crate::state::AppState;
use crate::submit::{self, RunRequest};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use std::collections::BTreeMap;
use tamma_bench::core::queue::NewJob;
use tamma_bench::jobs::JobError;
use tamma_bench::privacy::{PublicResult, RunView};
use utoipa::ToSchema;

/// One benchmark: the runs of it the caller may read, summed up.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BenchmarkSummary {
    /// Benchmark id.
    id: String,
    /// The version of its latest run.
    version: String,
    /// Runs the caller may read.
    run_count: usize,
    /// The latest of them.
    #[schema(value_type = crate::schema::RunViewSchema)]
    latest_run: RunView,
}

/// The benchmarks the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BenchmarkList {
    /// By id.
    benchmarks: Vec<BenchmarkSummary>,
}

/// The caller's readable runs grouped by benchmark, newest run first in each.
pub(crate) fn group(runs: Vec<RunView>) -> BTreeMap<String, Vec<RunView>> {
    let mut by_id: BTreeMap<String, Vec<RunView>> = BTreeMap::new();
    for run in runs {
        by_id.entry(run.benchmark_id.clone()).or_default().push(run);
    }
    by_id
}

/// The benchmarks of the runs the caller may read: public runs and its own.
#[utoipa::path(get, path = "/api/v1/benchmarks", tag = "benchmarks",
    responses((status = 200, description = "The benchmarks", body = BenchmarkList)),
    security(("bearer" = [])))]
pub(crate) async fn list_benchmarks(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<BenchmarkList>, ApiError> {
    let runs = state.repository().runs(&caller.context).await?;
    let benchmarks = group(runs)
        .into_iter()
        .filter_map(|(id, runs)| {
            let run_count = runs.len();
            // The repository lists newest first.
            let latest = runs.into_iter().next()?;
            Some(BenchmarkSummary {
                id,
                version: latest.benchmark_version.clone(),
                run_count,
                latest_run: latest,
            })
        })
        .collect();
    Ok(Json(BenchmarkList { benchmarks }))
}

/// A benchmark and the runs of it the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BenchmarkDetail {
    /// Benchmark id.
    id: String,
    /// Its runs, newest first.
    #[schema(value_type = Vec<crate::schema::RunViewSchema>)]
    runs: Vec<RunView>,
}

async fn visible_runs(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Vec<RunView>, ApiError> {
    let runs: Vec<RunView> = state
        .repository()
        .runs(&caller.context)
        .await?
        .into_iter()
        .filter(|r| r.benchmark_id == id)
        .collect();
    if runs.is_empty() {
        return Err(ApiError::not_found("such benchmark"));
    }
    Ok(runs)
}

/// One benchmark: the runs of it the caller may read.
#[utoipa::path(get, path = "/api/v1/benchmarks/{id}", tag = "benchmarks",
    params(("id" = String, Path, description = "The benchmark's id")),
    responses(
        (status = 200, description = "The benchmark and its runs", body = BenchmarkDetail),
        (status = 404, description = "No run of it visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_benchmark(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<BenchmarkDetail>, ApiError> {
    let runs = visible_runs(&state, &caller, &id).await?;
    Ok(Json(BenchmarkDetail { id, runs }))
}

/// One run's results.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunResults {
    /// Run id.
    run_id: String,
    /// One per agent.
    #[schema(value_type = Vec<crate::schema::PublicResultSchema>)]
    results: Vec<PublicResult>,
}

/// A benchmark's results.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BenchmarkResults {
    /// Benchmark id.
    id: String,
    /// Per run the caller may read, newest first.
    runs: Vec<RunResults>,
}

/// The per-run results of a benchmark, as the caller may read them (public fields of
/// public runs; its own runs).
#[utoipa::path(get, path = "/api/v1/benchmarks/{id}/results", tag = "benchmarks",
    params(("id" = String, Path, description = "The benchmark's id")),
    responses(
        (status = 200, description = "The results", body = BenchmarkResults),
        (status = 404, description = "No run of it visible to the caller", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn benchmark_results(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<BenchmarkResults>, ApiError> {
    let mut runs = Vec::new();
    for run in visible_runs(&state, &caller, &id).await? {
        let results = state.repository().results(&caller.context, &run.id).await?;
        runs.push(RunResults {
            run_id: run.id,
            results,
        });
    }
    Ok(Json(BenchmarkResults { id, runs }))
}

/// A job submitted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Submitted {
    /// The queued job (its `links.self` to follow it).
    job: JobView,
}

impl Submitted {
    pub(crate) fn new(job: JobView) -> Self {
        Self { job }
    }
}

/// Creates a run: the benchmark and agents inline, checked, loaded and queued in the
/// caller's tenant and tier. Answers 202 with the job (`Location` names it).
#[utoipa::path(post, path = "/api/v1/benchmarks", tag = "benchmarks",
    request_body = RunRequest,
    responses(
        (status = 202, description = "The run's job, queued", body = Submitted,
         headers(("Location" = String, description = "The job"))),
        (status = 400, description = "Malformed body or definition (names the file, line and field)", body = ErrorBody),
        (status = 422, description = "An invalid definition, or one naming what this service does not accept (names the file, line and field)", body = ErrorBody),
        (status = 429, description = "The tier's submissions per minute are spent: `Retry-After`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(request): Body<RunRequest>,
) -> Result<Response, ApiError> {
    queue_submission(&state, &caller, move |policy| {
        let job = submit::run_job(&request, policy)?;
        encoded(job.to_new_job(), "a job payload")
    })
    .await
}

/// Loads a submission with `load` off the async threads (the loaders read files), queues
/// it in the caller's context and tier, and answers 202 with the job (`Location` names it).
pub(crate) async fn queue_submission(
    state: &AppState,
    caller: &Caller,
    load: impl FnOnce(&SubmissionPolicy) -> Result<NewJob, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let policy = state.config().submissions.clone();
    let new_job = tokio::task::spawn_blocking(move || load(&policy))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a submission's loading task failed");
            ApiError::internal()
        })??;
    let queued = state.queue().submit(&caller.context, new_job).await?;
    let view = JobView::new(&queued, caller.door);
    let location = view.self_link().to_owned();
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(Submitted::new(view)),
    )
        .into_response())
}

/// A payload's encoding, its failure logged as `what` (a fault of the service).
pub(crate) fn encoded(job: Result<NewJob, JobError>, what: &str) -> Result<NewJob, ApiError> {
    job.map_err(|e| {
        tracing::error!(error = %e, "{what} did not encode");
        ApiError::internal()
    })
}
