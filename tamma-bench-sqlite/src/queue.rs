//! [`SqliteQueue`]: the durable job queue in the results database (tables `jobs` and
//! `job_events`, created by the store's migrations).
//!
//! Every change is one `BEGIN IMMEDIATE` transaction (SQLite's single writer), so claims
//! are correct across the processes sharing the file: a claim counts each tier's running
//! jobs under a live lease, picks a job and takes it in the same transaction. Times are
//! the process clock in unix ms; the processes sharing a file share a machine, so a
//! clock.

use crate::connection::{self, SharedConnection};
use crate::migrations::open_results;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::{TenantContext, TenantId, now_ms};
use tamma_bench_core::queue::{
    Job, JobEvent, JobEventKind, JobFilter, JobId, JobKind, JobOutcome, JobQueue, JobState, Lease,
    LeaseStatus, LiveConfig, MAX_PAYLOAD_BYTES, NewJob, QueueConfig, QueueError, QueueErrorKind,
    TierStats, clip_error,
};
use tokio::sync::watch;

/// The queue's tables (migration 4). `pos` orders jobs submitted in the same
/// millisecond; `job_events` is append-only.
pub(crate) const QUEUE_TABLES: &str = "
    CREATE TABLE jobs (
        pos INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        context_json TEXT NOT NULL,
        tier TEXT NOT NULL,
        priority INTEGER NOT NULL,
        kind TEXT NOT NULL,
        run_id TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        cancel_requested INTEGER NOT NULL,
        last_error TEXT,
        worker TEXT,
        lease_token TEXT,
        submitted_at_ms INTEGER NOT NULL,
        available_at_ms INTEGER NOT NULL,
        started_at_ms INTEGER,
        lease_until_ms INTEGER,
        finished_at_ms INTEGER
    );
    CREATE INDEX jobs_by_tenant ON jobs (tenant_id, submitted_at_ms);
    CREATE INDEX jobs_by_state ON jobs (state, tier, available_at_ms);
    CREATE TABLE job_events (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        worker TEXT,
        message TEXT,
        PRIMARY KEY (job_id, seq)
    );
    CREATE TRIGGER job_events_no_update BEFORE UPDATE ON job_events
        BEGIN SELECT RAISE(ABORT, 'job events are append-only'); END;";

/// A [`JobQueue`] in a SQLite results database.
///
/// Clones share one handle (its connections and configuration); each
/// [`open`](Self::open) is a handle of its own, like another process's.
/// [`wait_for_work`](JobQueue::wait_for_work) wakes at once for a submission, a finish or
/// a cancellation through any handle of this process on the same file; work made by
/// other processes is found when the wait times out (the worker's idle poll).
#[derive(Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("path", &self.inner.path)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    config: LiveConfig,
    writer: SharedConnection,
    reader: SharedConnection,
    /// Counts the changes that may have made work, for this process's handles on the
    /// file.
    wake: watch::Sender<u64>,
    /// The last count this handle's waiters saw.
    seen: Mutex<watch::Receiver<u64>>,
    /// Wakes the event log's waiters after a commit (each change logs its event).
    events: crate::events::Wake,
}

/// The process's wake-up channels, one per database file (by canonical path).
fn wake_channel(path: &Path) -> watch::Sender<u64> {
    static CHANNELS: crate::wake::Registry = OnceLock::new();
    crate::wake::channel(&CHANNELS, path)
}

impl SqliteQueue {
    /// Opens (creating if needed) the results database at `path`, applies pending
    /// migrations and enforces `config` (checked first: `Invalid` if it does not hold).
    pub fn open(path: impl AsRef<Path>, config: QueueConfig) -> Result<Self, QueueError> {
        let config = LiveConfig::new(config)?;
        let path = path.as_ref().to_owned();
        let writer = open_results(&path)?;
        let reader = connection::open(&path)?;
        let wake = wake_channel(&path);
        let seen = Mutex::new(wake.subscribe());
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.clone(),
                config,
                writer: SharedConnection::new(writer),
                reader: SharedConnection::new(reader),
                wake,
                seen,
                events: crate::events::Wake::of(&path),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer, on the blocking
    /// pool; commits when it returns `Ok`.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &QueueConfig) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let config = self.inner.config.current();
        let value = self
            .inner
            .writer
            .run(move |conn| {
                Ok((|| {
                    let tx = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(db)?;
                    let value = f(&tx, &config)?;
                    tx.commit().map_err(db)?;
                    Ok::<T, QueueError>(value)
                })())
            })
            .await??;
        self.inner.events.bump();
        Ok(value)
    }

    /// Runs `f` on the reader, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        self.inner.reader.run(move |conn| Ok(f(conn))).await?
    }

    /// Wakes this process's waiting workers on the file.
    fn wake(&self) {
        self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A database failure as a queue error: undecodable data is `Corrupt`.
fn db(e: rusqlite::Error) -> QueueError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) => {
            QueueError::new(QueueErrorKind::Corrupt, e.to_string()).with_source(e)
        }
        e => QueueError::backend(e),
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what}: {e}").into(),
    )
}

const JOB_COLUMNS: &str = "id, tenant_id, context_json, tier, priority, kind, run_id, payload_json, state, \
                           attempts, max_attempts, cancel_requested, last_error, worker, submitted_at_ms, \
                           available_at_ms, started_at_ms, lease_until_ms, finished_at_ms";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let id: String = row.get(0)?;
    let tenant: String = row.get(1)?;
    let context: String = row.get(2)?;
    let kind: String = row.get(5)?;
    let payload: String = row.get(7)?;
    let state: String = row.get(8)?;
    Ok(Job {
        id: JobId::new(id).map_err(|e| corrupt("id", e))?,
        tenant_id: TenantId::new(tenant).map_err(|e| corrupt("tenant_id", e))?,
        context: serde_json::from_str::<TenantContext>(&context)
            .map_err(|e| corrupt("context_json", e))?,
        tier: row.get(3)?,
        priority: row.get(4)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        run_id: row.get(6)?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload_json", e))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: row.get(9)?,
        max_attempts: row.get(10)?,
        cancel_requested: row.get(11)?,
        last_error: row.get(12)?,
        worker: row.get(13)?,
        submitted_at_ms: row.get(14)?,
        available_at_ms: row.get(15)?,
        started_at_ms: row.get(16)?,
        lease_until_ms: row.get(17)?,
        finished_at_ms: row.get(18)?,
    })
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<JobEvent> {
    let id: String = row.get(0)?;
    let kind: String = row.get(3)?;
    let state: String = row.get(4)?;
    Ok(JobEvent {
        job_id: JobId::new(id).map_err(|e| corrupt("job_id", e))?,
        seq: row.get::<_, i64>(1)?.max(0) as u64,
        at_ms: row.get(2)?,
        kind: JobEventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        worker: row.get(5)?,
        message: row.get(6)?,
    })
}

/// Job `id` if it runs under the lease `token`.
fn held_job(conn: &Connection, id: &JobId, token: &str) -> Result<Option<Job>, QueueError> {
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND lease_token = ?2 AND state = 'running'"
    ))
    .and_then(|mut s| {
        s.query_row(params![id.as_str(), token], job_from_row)
            .optional()
    })
    .map_err(db)
}

/// Job `id` of `tenant`, or `NotFound` (which does not say whether another tenant has it).
fn job_of(conn: &Connection, tenant: &TenantId, id: &JobId) -> Result<Job, QueueError> {
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND tenant_id = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![id.as_str(), tenant.as_str()], job_from_row)
            .optional()
    })
    .map_err(db)?
    .ok_or_else(|| QueueError::not_found(id))
}

/// Appends an event to `job`'s history: `kind`, leaving it in `state`.
fn record(
    tx: &Transaction<'_>,
    job: &JobId,
    at_ms: i64,
    kind: JobEventKind,
    state: JobState,
    worker: Option<&str>,
    message: Option<&str>,
) -> Result<(), QueueError> {
    tx.prepare_cached(
        "INSERT INTO job_events (job_id, seq, at_ms, kind, state, worker, message)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id = ?1),
                 ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            job.as_str(),
            at_ms,
            kind.as_str(),
            state.as_str(),
            worker,
            message
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// Writes the mutable fields of `job` back.
fn save(tx: &Transaction<'_>, job: &Job, lease_token: Option<&str>) -> Result<(), QueueError> {
    tx.prepare_cached(
        "UPDATE jobs SET state = ?2, attempts = ?3, cancel_requested = ?4, last_error = ?5,
             worker = ?6, lease_token = ?7, available_at_ms = ?8, started_at_ms = ?9,
             lease_until_ms = ?10, finished_at_ms = ?11
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            job.id.as_str(),
            job.state.as_str(),
            job.attempts,
            job.cancel_requested,
            job.last_error,
            job.worker,
            lease_token,
            job.available_at_ms,
            job.started_at_ms,
            job.lease_until_ms,
            job.finished_at_ms
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// Leaves `job` in terminal `state` at `now`.
fn end(job: &mut Job, state: JobState, now: i64) {
    job.state = state;
    job.lease_until_ms = None;
    job.finished_at_ms = Some(now);
}

/// Ends the jobs whose lease expired and that may not be claimed again: attempts spent
/// (`failed`) or a cancellation asked for (`cancelled`).
fn settle_dead_leases(tx: &Transaction<'_>, now: i64) -> Result<(), QueueError> {
    let dead: Vec<Job> = tx
        .prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' AND lease_until_ms <= ?1
               AND (attempts >= max_attempts OR cancel_requested)"
        ))
        .and_then(|mut s| {
            s.query_map([now], job_from_row)?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(db)?;
    for mut job in dead {
        let holder = job.worker.clone().unwrap_or_default();
        let (state, kind, message) = if job.cancel_requested {
            (
                JobState::Cancelled,
                JobEventKind::Cancelled,
                format!("the lease of worker {holder} expired after cancellation was asked for"),
            )
        } else {
            job.last_error = Some(format!(
                "the lease of worker {holder} expired and the job's {} attempts are spent",
                job.max_attempts
            ));
            (
                JobState::Failed,
                JobEventKind::Failed,
                job.last_error.clone().unwrap_or_default(),
            )
        };
        end(&mut job, state, now);
        save(tx, &job, None)?;
        record(tx, &job.id, now, kind, state, Some(&holder), Some(&message))?;
        crate::events::jobs::ended(tx, &job)?;
    }
    Ok(())
}

/// Running jobs under a live lease, per tier.
fn running_per_tier(conn: &Connection, now: i64) -> Result<HashMap<String, u64>, QueueError> {
    conn.prepare_cached(
        "SELECT tier, COUNT(*) FROM jobs WHERE state = 'running' AND lease_until_ms > ?1
         GROUP BY tier",
    )
    .and_then(|mut s| {
        s.query_map([now], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?
        .collect()
    })
    .map_err(db)
}

/// Jobs `tenant` submitted into `tier` since `since_ms`, and the oldest's time.
fn recent_submissions(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    tier: &str,
    since_ms: i64,
) -> Result<(u64, Option<i64>), QueueError> {
    tx.prepare_cached(
        "SELECT COUNT(*), MIN(submitted_at_ms) FROM jobs
         WHERE tenant_id = ?1 AND tier = ?2 AND submitted_at_ms > ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![tenant.as_str(), tier, since_ms], |r| {
            Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?))
        })
    })
    .map_err(db)
}

/// A new lease token: 128 random bits in hex.
fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[async_trait]
impl JobQueue for SqliteQueue {
    fn live_config(&self) -> &LiveConfig {
        &self.inner.config
    }

    async fn submit(&self, cx: &TenantContext, job: NewJob) -> Result<Job, QueueError> {
        let tier = self.inner.config.current().resolve_tier(cx, &job)?.clone();
        let payload = serde_json::to_string(&job.payload)
            .map_err(|e| QueueError::invalid(format!("the payload is not JSON: {e}")))?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(QueueError::invalid(format!(
                "the payload has {} bytes of JSON; at most {MAX_PAYLOAD_BYTES} are accepted",
                payload.len()
            )));
        }
        if job.max_attempts == Some(0) {
            return Err(QueueError::invalid("max_attempts must be at least 1"));
        }
        if job.run_id.as_deref() == Some("") {
            return Err(QueueError::invalid("the run id must not be empty"));
        }
        let context = serde_json::to_string(cx).map_err(QueueError::backend)?;
        let id = JobId::generate();
        let cx = cx.clone();
        let job = self
            .write(move |tx, config| {
                let now = now_ms();
                if let Some(limit) = tier.submissions_per_minute {
                    let (recent, oldest) =
                        recent_submissions(tx, &cx.tenant_id, &tier.name, now - 60_000)?;
                    if recent >= u64::from(limit) {
                        let leaves_at = oldest.unwrap_or(now) + 60_000;
                        let wait = Duration::from_millis((leaves_at - now).clamp(1, 60_000) as u64);
                        return Err(QueueError::rate_limited(&tier.name, limit, wait));
                    }
                }
                let job = Job {
                    run_id: job.run_id.unwrap_or_else(|| id.to_string()),
                    id,
                    tenant_id: cx.tenant_id.clone(),
                    context: cx,
                    tier: tier.name,
                    priority: tier.priority,
                    kind: job.kind,
                    payload: job.payload,
                    state: JobState::Queued,
                    attempts: 0,
                    max_attempts: job.max_attempts.unwrap_or(config.max_attempts),
                    cancel_requested: false,
                    last_error: None,
                    worker: None,
                    submitted_at_ms: now,
                    available_at_ms: now,
                    started_at_ms: None,
                    lease_until_ms: None,
                    finished_at_ms: None,
                };
                tx.prepare_cached(&format!(
                    "INSERT INTO jobs ({JOB_COLUMNS}, lease_token)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                             ?16, ?17, ?18, ?19, NULL)"
                ))
                .and_then(|mut s| {
                    s.execute(params![
                        job.id.as_str(),
                        job.tenant_id.as_str(),
                        context,
                        job.tier,
                        job.priority,
                        job.kind.as_str(),
                        job.run_id,
                        payload,
                        job.state.as_str(),
                        job.attempts,
                        job.max_attempts,
                        job.cancel_requested,
                        job.last_error,
                        job.worker,
                        job.submitted_at_ms,
                        job.available_at_ms,
                        job.started_at_ms,
                        job.lease_until_ms,
                        job.finished_at_ms
                    ])
                })
                .map_err(db)?;
                record(
                    tx,
                    &job.id,
                    now,
                    JobEventKind::Submitted,
                    JobState::Queued,
                    None,
                    Some(&job.context.principal),
                )?;
                crate::events::jobs::queued(tx, &job)?;
                Ok(job)
            })
            .await?;
        self.wake();
        Ok(job)
    }

    async fn claim(
        &self,
        worker: &str,
        tiers: Option<&[String]>,
    ) -> Result<Option<Lease>, QueueError> {
        let worker = worker.to_owned();
        let tiers = tiers.map(<[String]>::to_vec);
        self.write(move |tx, config| {
            let now = now_ms();
            settle_dead_leases(tx, now)?;
            let running = running_per_tier(tx, now)?;
            let open: Vec<&str> = config
                .tiers
                .iter()
                .filter(|t| tiers.as_ref().is_none_or(|only| only.contains(&t.name)))
                .filter(|t| running.get(&t.name).copied().unwrap_or(0) < u64::from(t.concurrency))
                .map(|t| t.name.as_str())
                .collect();
            if open.is_empty() {
                return Ok(None);
            }
            // Tier names are bound as parameters ?3, ?4, ...
            let placeholders: Vec<String> =
                (0..open.len()).map(|i| format!("?{}", i + 3)).collect();
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs
                 WHERE tier IN ({})
                   AND ((state = 'queued' AND available_at_ms <= ?1)
                        OR (state = 'running' AND lease_until_ms <= ?1))
                 ORDER BY priority + MAX(?1 - submitted_at_ms, 0) / ?2 DESC, submitted_at_ms, pos
                 LIMIT 1",
                placeholders.join(", ")
            );
            let mut values: Vec<rusqlite::types::Value> = vec![
                now.into(),
                (config.aging_ms.min(i64::MAX as u64) as i64).into(),
            ];
            values.extend(
                open.iter()
                    .map(|t| rusqlite::types::Value::Text((*t).to_owned())),
            );
            let Some(mut job) = tx
                .prepare(&sql)
                .and_then(|mut s| {
                    s.query_row(rusqlite::params_from_iter(values), job_from_row)
                        .optional()
                })
                .map_err(db)?
            else {
                return Ok(None);
            };
            if job.state == JobState::Running {
                let holder = job.worker.clone();
                record(
                    tx,
                    &job.id,
                    now,
                    JobEventKind::LeaseExpired,
                    JobState::Queued,
                    holder.as_deref(),
                    Some("no heartbeat before the lease ended"),
                )?;
            }
            let token = token();
            job.state = JobState::Running;
            job.attempts = job.attempts.saturating_add(1);
            job.worker = Some(worker.clone());
            job.started_at_ms = Some(now);
            job.lease_until_ms =
                Some(now.saturating_add(config.lease_ms.min(i64::MAX as u64) as i64));
            save(tx, &job, Some(&token))?;
            record(
                tx,
                &job.id,
                now,
                JobEventKind::Claimed,
                JobState::Running,
                Some(&worker),
                None,
            )?;
            crate::events::jobs::started(tx, &job)?;
            Ok(Some(Lease { job, worker, token }))
        })
        .await
    }

    async fn heartbeat(&self, lease: &Lease) -> Result<LeaseStatus, QueueError> {
        let id = lease.job.id.clone();
        let token = lease.token.clone();
        self.write(move |tx, config| {
            let now = now_ms();
            let held = tx
                .prepare_cached(
                    "UPDATE jobs SET lease_until_ms = ?3
                     WHERE id = ?1 AND lease_token = ?2 AND state = 'running'
                     RETURNING cancel_requested",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            id.as_str(),
                            token,
                            now.saturating_add(config.lease_ms.min(i64::MAX as u64) as i64)
                        ],
                        |r| r.get::<_, bool>(0),
                    )
                    .optional()
                })
                .map_err(db)?;
            Ok(match held {
                Some(cancel_requested) => LeaseStatus::Held { cancel_requested },
                None => LeaseStatus::Lost,
            })
        })
        .await
    }

    async fn finish(&self, lease: &Lease, outcome: JobOutcome) -> Result<Job, QueueError> {
        let id = lease.job.id.clone();
        let token = lease.token.clone();
        let worker = lease.worker.clone();
        let job = self
            .write(move |tx, config| {
                let now = now_ms();
                let Some(mut job) = held_job(tx, &id, &token)? else {
                    return Err(QueueError::lease_lost(&id));
                };
                let (kind, message) = match outcome {
                    JobOutcome::Succeeded => {
                        end(&mut job, JobState::Succeeded, now);
                        (JobEventKind::Succeeded, None)
                    }
                    JobOutcome::Cancelled => {
                        end(&mut job, JobState::Cancelled, now);
                        (JobEventKind::Cancelled, None)
                    }
                    JobOutcome::Failed { error, remedy } => {
                        let error = clip_error(&error);
                        job.last_error = Some(error.clone());
                        if job.cancel_requested {
                            end(&mut job, JobState::Cancelled, now);
                            (JobEventKind::Cancelled, Some(error))
                        } else if remedy == Remedy::Retry && job.attempts < job.max_attempts {
                            job.state = JobState::Queued;
                            job.lease_until_ms = None;
                            job.available_at_ms =
                                now.saturating_add(config.backoff_ms(job.attempts));
                            (JobEventKind::Retried, Some(error))
                        } else {
                            end(&mut job, JobState::Failed, now);
                            (JobEventKind::Failed, Some(error))
                        }
                    }
                    JobOutcome::Released => {
                        if job.cancel_requested {
                            end(&mut job, JobState::Cancelled, now);
                            (JobEventKind::Cancelled, None)
                        } else {
                            job.state = JobState::Queued;
                            job.attempts = job.attempts.saturating_sub(1);
                            job.lease_until_ms = None;
                            job.available_at_ms = now;
                            (JobEventKind::Released, None)
                        }
                    }
                };
                save(tx, &job, None)?;
                record(
                    tx,
                    &job.id,
                    now,
                    kind,
                    job.state,
                    Some(&worker),
                    message.as_deref(),
                )?;
                crate::events::jobs::ended(tx, &job)?;
                Ok(job)
            })
            .await?;
        self.wake();
        Ok(job)
    }

    async fn cancel(&self, cx: &TenantContext, id: &JobId) -> Result<Job, QueueError> {
        let tenant = cx.tenant_id.clone();
        let principal = cx.principal.clone();
        let id = id.clone();
        let job = self
            .write(move |tx, _| {
                let now = now_ms();
                let mut job = job_of(tx, &tenant, &id)?;
                let message = format!("cancelled by {principal}");
                match job.state {
                    JobState::Queued => {
                        end(&mut job, JobState::Cancelled, now);
                        save(tx, &job, None)?;
                        record(
                            tx,
                            &job.id,
                            now,
                            JobEventKind::Cancelled,
                            job.state,
                            None,
                            Some(&message),
                        )?;
                        crate::events::jobs::ended(tx, &job)?;
                    }
                    JobState::Running if !job.cancel_requested => {
                        job.cancel_requested = true;
                        tx.execute(
                            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1",
                            [job.id.as_str()],
                        )
                        .map_err(db)?;
                        record(
                            tx,
                            &job.id,
                            now,
                            JobEventKind::CancelRequested,
                            job.state,
                            job.worker.as_deref(),
                            Some(&message),
                        )?;
                    }
                    JobState::Running => {}
                    state => {
                        return Err(QueueError::new(
                            QueueErrorKind::InvalidState,
                            format!("job {} is already {state}", job.id),
                        ));
                    }
                }
                Ok(job)
            })
            .await?;
        self.wake();
        Ok(job)
    }

    async fn get(&self, cx: &TenantContext, id: &JobId) -> Result<Option<Job>, QueueError> {
        let tenant = cx.tenant_id.clone();
        let id = id.clone();
        self.read(move |conn| match job_of(conn, &tenant, &id) {
            Ok(job) => Ok(Some(job)),
            Err(e) if e.kind() == QueueErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn list(&self, cx: &TenantContext, filter: &JobFilter) -> Result<Vec<Job>, QueueError> {
        let tenant = cx.tenant_id.clone();
        let filter = filter.clone();
        self.read(move |conn| {
            // The limit is ?2 (-1: none), the states ?3, ?4, ...
            let states = if filter.states.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (0..filter.states.len())
                    .map(|i| format!("?{}", i + 3))
                    .collect();
                format!("AND state IN ({})", marks.join(", "))
            };
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = ?1 {states}
                 ORDER BY submitted_at_ms DESC, pos DESC LIMIT ?2"
            );
            let limit = filter.limit.map_or(-1, |n| n.min(i64::MAX as usize) as i64);
            let mut values: Vec<rusqlite::types::Value> =
                vec![tenant.as_str().to_owned().into(), limit.into()];
            values.extend(filter.states.iter().map(|s| s.as_str().to_owned().into()));
            conn.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(rusqlite::params_from_iter(values), job_from_row)?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(db)
        })
        .await
    }

    async fn history(&self, cx: &TenantContext, id: &JobId) -> Result<Vec<JobEvent>, QueueError> {
        let tenant = cx.tenant_id.clone();
        let id = id.clone();
        self.read(move |conn| {
            job_of(conn, &tenant, &id)?;
            conn.prepare_cached(
                "SELECT job_id, seq, at_ms, kind, state, worker, message FROM job_events
                 WHERE job_id = ?1 ORDER BY seq",
            )
            .and_then(|mut s| {
                s.query_map([id.as_str()], event_from_row)?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(db)
        })
        .await
    }

    async fn stats(&self) -> Result<Vec<TierStats>, QueueError> {
        let tiers: Vec<String> = self
            .inner
            .config
            .current()
            .tiers
            .iter()
            .map(|t| t.name.clone())
            .collect();
        self.read(move |conn| {
            let now = now_ms();
            let running = running_per_tier(conn, now)?;
            let queued: HashMap<String, (u64, i64)> = conn
                .prepare_cached(
                    "SELECT tier, COUNT(*), MIN(submitted_at_ms) FROM jobs
                     WHERE state = 'queued' GROUP BY tier",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok((r.get(0)?, (r.get::<_, i64>(1)?.max(0) as u64, r.get(2)?)))
                    })?
                    .collect()
                })
                .map_err(db)?;
            Ok(tiers
                .into_iter()
                .map(|tier| {
                    let (n, oldest) = queued.get(&tier).copied().unwrap_or((0, now));
                    TierStats {
                        queued: n,
                        running: running.get(&tier).copied().unwrap_or(0),
                        oldest_wait_ms: (now - oldest).max(0),
                        tier,
                    }
                })
                .collect())
        })
        .await
    }

    async fn wait_for_work(&self, timeout: Duration) {
        // A clone remembers what this handle saw last, so a change made between two
        // waits (while the worker claimed) wakes the next wait at once.
        let mut seen = self
            .inner
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let _ = tokio::time::timeout(timeout, seen.changed()).await;
        seen.borrow_and_update();
        *self.inner.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
    }
}
