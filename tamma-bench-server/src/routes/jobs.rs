//! The caller's jobs: listed, read with their history, cancelled. Every call goes through
//! the queue in the caller's context, which sees its own tenant's jobs only.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Params;
use crate::routes::prefix;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use tamma_bench::core::queue::{Job, JobEvent, JobFilter, JobId, JobKind, JobState};
use utoipa::{IntoParams, ToSchema};

/// A job as its submitter sees it (its payload stays in the queue).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobView {
    /// Its id.
    id: String,
    /// `run` or `study`.
    kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    state: String,
    /// The tier it runs in.
    tier: String,
    /// The run (or study) it writes.
    run_id: String,
    /// Claims so far.
    attempts: u32,
    /// Attempts allowed.
    max_attempts: u32,
    /// A cancellation was asked for while it ran.
    cancel_requested: bool,
    /// The last failure's message.
    last_error: Option<String>,
    /// Submitted, ms since the Unix epoch.
    submitted_at_ms: i64,
    /// Claimed last, ms since the Unix epoch.
    started_at_ms: Option<i64>,
    /// Finished, ms since the Unix epoch.
    finished_at_ms: Option<i64>,
    /// Where to read it, cancel it, and read its run.
    links: JobLinks,
}

/// Links of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobLinks {
    /// The job.
    #[serde(rename = "self")]
    this: String,
    /// `POST` to cancel it.
    cancel: String,
    /// The run it writes (a study's rounds are internal).
    run: Option<String>,
}

impl JobView {
    /// The job's own link.
    pub(crate) fn self_link(&self) -> &str {
        &self.links.this
    }

    pub(crate) fn new(job: &Job, door: crate::auth::Door) -> Self {
        let base = prefix(door);
        Self {
            id: job.id.to_string(),
            kind: job.kind.as_str().to_owned(),
            state: job.state.as_str().to_owned(),
            tier: job.tier.clone(),
            run_id: job.run_id.clone(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            cancel_requested: job.cancel_requested,
            last_error: job.last_error.clone(),
            submitted_at_ms: job.submitted_at_ms,
            started_at_ms: job.started_at_ms,
            finished_at_ms: job.finished_at_ms,
            links: JobLinks {
                this: format!("{base}/jobs/{}", job.id),
                cancel: format!("{base}/jobs/{}/cancel", job.id),
                run: (job.kind == JobKind::Run).then(|| format!("{base}/runs/{}", job.run_id)),
            },
        }
    }
}

/// A job and what happened to it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobDetail {
    /// The job.
    job: JobView,
    /// Its history, in order.
    history: Vec<JobEventView>,
}

/// One entry of a job's history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobEventView {
    /// 1, 2, ... in the job's order.
    seq: u64,
    /// Ms since the Unix epoch.
    at_ms: i64,
    /// `submitted`, `claimed`, `lease_expired`, `released`, `retried`,
    /// `cancel_requested`, `succeeded`, `failed` or `cancelled`.
    kind: String,
    /// The state the job was left in.
    state: String,
    /// Details (an error's message, who cancelled).
    message: Option<String>,
}

impl From<&JobEvent> for JobEventView {
    fn from(e: &JobEvent) -> Self {
        Self {
            seq: e.seq,
            at_ms: e.at_ms,
            kind: e.kind.as_str().to_owned(),
            state: e.state.as_str().to_owned(),
            message: e.message.clone(),
        }
    }
}

/// The caller's jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobList {
    /// Newest first.
    jobs: Vec<JobView>,
}

/// Which jobs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobQuery {
    /// Only jobs in this state (`queued`, `running`, `succeeded`, `failed`, `cancelled`).
    state: Option<String>,
    /// At most this many (1-1000, default 100).
    limit: Option<usize>,
}

/// The caller's tenant's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobQuery),
    responses(
        (status = 200, description = "The jobs", body = JobList),
        (status = 400, description = "An unknown state or a limit out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<JobQuery>,
) -> Result<Json<JobList>, ApiError> {
    let mut filter = JobFilter::default();
    if let Some(s) = &query.state {
        let parsed = JobState::parse(s)
            .ok_or_else(|| ApiError::bad_request(format!("state: unknown job state {s:?}")))?;
        filter.states.push(parsed);
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit: expected 1 to 1000"));
    }
    filter.limit = Some(limit);
    let jobs = state.queue().list(&caller.context, &filter).await?;
    Ok(Json(JobList {
        jobs: jobs.iter().map(|j| JobView::new(j, caller.door)).collect(),
    }))
}

fn job_id(id: &str) -> Result<JobId, ApiError> {
    JobId::new(id).map_err(|_| ApiError::not_found("such job"))
}

/// One job of the caller's tenant, with its history.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobDetail),
        (status = 404, description = "No such job of the caller's tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, ApiError> {
    let id = job_id(&id)?;
    let job = state
        .queue()
        .get(&caller.context, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("such job"))?;
    let history = state.queue().history(&caller.context, &id).await?;
    Ok(Json(JobDetail {
        job: JobView::new(&job, caller.door),
        history: history.iter().map(JobEventView::from).collect(),
    }))
}

/// Cancels a job: a queued one ends at once, a running one at its next trial boundary.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job as left", body = JobView),
        (status = 404, description = "No such job of the caller's tenant", body = ErrorBody),
        (status = 409, description = "The job has finished already", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(&id)?;
    let job = state.queue().cancel(&caller.context, &id).await?;
    Ok(Json(JobView::new(&job, caller.door)))
}
