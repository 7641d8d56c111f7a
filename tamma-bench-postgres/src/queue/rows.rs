//! Rows of `jobs` and `job_events` as the queue's types, and driver errors as queue
//! errors.

use deadpool_postgres::PoolError;
use tamma_bench_core::model::{TenantContext, TenantId};
use tamma_bench_core::queue::{
    Job, JobEvent, JobEventKind, JobId, JobKind, JobState, QueueError, QueueErrorKind,
};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

/// The columns [`job_from_row`] reads, in its order (the lease token last).
pub(super) const JOB_COLUMNS: &str = "tenant_id, id, context_json, tier, priority, kind, run_id, \
    payload_json, state, attempts, max_attempts, cancel_requested, last_error, worker, \
    submitted_at_ms, available_at_ms, started_at_ms, lease_until_ms, finished_at_ms, lease_token";

/// The index of `lease_token` in [`JOB_COLUMNS`].
pub(super) const TOKEN: usize = 19;

/// The columns [`event_from_row`] reads.
pub(super) const EVENT_COLUMNS: &str = "job_id, seq, at_ms, kind, state, worker, message";

fn corrupt(message: impl Into<String>) -> QueueError {
    QueueError::new(QueueErrorKind::Corrupt, message)
}

pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, QueueError> {
    row.try_get(i)
        .map_err(|e| corrupt(format!("column {i}: {e}")))
}

fn unsigned<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, QueueError> {
    T::try_from(v).map_err(|_| corrupt(format!("{what} out of range: {v}")))
}

fn state(s: &str) -> Result<JobState, QueueError> {
    JobState::parse(s).ok_or_else(|| corrupt(format!("job state {s:?}")))
}

pub(super) fn job_from_row(row: &Row) -> Result<Job, QueueError> {
    let id: String = get(row, 1)?;
    let context: TenantContext = serde_json::from_str(get(row, 2)?)
        .map_err(|e| corrupt(format!("job {id}: context: {e}")))?;
    let payload = serde_json::from_str(get(row, 7)?)
        .map_err(|e| corrupt(format!("job {id}: payload: {e}")))?;
    let kind: &str = get(row, 5)?;
    Ok(Job {
        tenant_id: TenantId::new(get::<String>(row, 0)?)
            .map_err(|e| corrupt(format!("job {id}: tenant: {e}")))?,
        context,
        tier: get(row, 3)?,
        priority: get(row, 4)?,
        kind: JobKind::parse(kind).ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
        run_id: get(row, 6)?,
        payload,
        state: state(get(row, 8)?)?,
        attempts: unsigned(i64::from(get::<i32>(row, 9)?), "attempts")?,
        max_attempts: unsigned(i64::from(get::<i32>(row, 10)?), "max_attempts")?,
        cancel_requested: get(row, 11)?,
        last_error: get(row, 12)?,
        worker: get(row, 13)?,
        submitted_at_ms: get(row, 14)?,
        available_at_ms: get(row, 15)?,
        started_at_ms: get(row, 16)?,
        lease_until_ms: get(row, 17)?,
        finished_at_ms: get(row, 18)?,
        id: JobId::new(id).map_err(|e| corrupt(format!("job id: {e}")))?,
    })
}

pub(super) fn event_from_row(row: &Row) -> Result<JobEvent, QueueError> {
    let kind: &str = get(row, 3)?;
    Ok(JobEvent {
        job_id: JobId::new(get::<String>(row, 0)?).map_err(|e| corrupt(format!("job id: {e}")))?,
        seq: unsigned(get(row, 1)?, "seq")?,
        at_ms: get(row, 2)?,
        kind: JobEventKind::parse(kind).ok_or_else(|| corrupt(format!("event kind {kind:?}")))?,
        state: state(get(row, 4)?)?,
        worker: get(row, 5)?,
        message: get(row, 6)?,
    })
}

/// A driver error as a queue error (`Backend`, retry): the server's code and message,
/// never its detail (which may quote a row); the error kept as the source.
pub(super) fn pg_err(e: tokio_postgres::Error) -> QueueError {
    let message = match e.as_db_error() {
        Some(db) => format!("postgres error {}: {}", db.code().code(), db.message()),
        None => format!("postgres: {e}"),
    };
    QueueError::new(QueueErrorKind::Backend, message).with_source(e)
}

/// No connection from the pool (`Backend`, retry).
pub(super) fn pool_err(e: PoolError) -> QueueError {
    QueueError::new(
        QueueErrorKind::Backend,
        format!("no Postgres connection: {e}"),
    )
    .with_source(e)
}
