//! [`JobQueue`] in PostgreSQL: [`PostgresQueue`].
//!
//! Tenant-scoped calls (submit, cancel, get, list, history) are plain SQL in a
//! transaction that sets the tenant, under the row-level security of `jobs` and
//! `job_events`. Worker calls (claim, heartbeat, finish, stats) act across tenants
//! through the `SECURITY DEFINER` functions of migration 4, which take values only and
//! return a job only to its claim or its lease's holder (`docs/ARCHITECTURE.md`).
//! Submissions, finishes and cancellations `NOTIFY` [`NOTIFY_CHANNEL`] in their
//! transaction; each handle `LISTEN`s on a connection of its own (`listener.rs`).

pub(crate) mod listener;
mod rows;

use crate::{DEFAULT_MAX_CONNECTIONS, PostgresStore};
use async_trait::async_trait;
use deadpool_postgres::{Object, Pool, Transaction};
use rows::{
    EVENT_COLUMNS, JOB_COLUMNS, TOKEN, event_from_row, get, job_from_row, pg_err, pool_err,
};
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::{TenantContext, TenantId};
use tamma_bench_core::queue::{
    Job, JobEvent, JobFilter, JobId, JobOutcome, JobQueue, JobState, Lease, LeaseStatus,
    MAX_PAYLOAD_BYTES, NewJob, QueueConfig, QueueError, QueueErrorKind, TierStats, clip_error,
};

/// The channel submissions, finishes and cancellations notify (payload: the tier), and
/// every queue handle listens on.
pub const NOTIFY_CHANNEL: &str = "tamma_jobs";

/// The advisory lock class of a tenant's submissions to a tier (the rate limit's count
/// is exact under it); the claimers' class of a tier is in migration 4.
const RATE_LOCK_CLASS: i32 = 0x7461_6d72; // "tamr"

/// The rate limit's window.
const WINDOW_MS: i64 = 60_000;

/// A [`JobQueue`] in the store's PostgreSQL database, for any number of worker processes
/// on any number of machines. Connected as the application role; cheap to clone (clones
/// share the pool and the listening connection, which closes with the last clone).
///
/// ```no_run
/// # async fn f() -> Result<(), tamma_bench_core::queue::QueueError> {
/// use tamma_bench_core::model::TenantContext;
/// use tamma_bench_core::queue::{JobKind, JobOutcome, JobQueue, NewJob, QueueConfig};
/// use tamma_bench_postgres::PostgresQueue;
///
/// let url = "postgres://tamma_app@db.internal/tamma";
/// let queue = PostgresQueue::open(url, QueueConfig::default()).await?;
/// let cx = TenantContext::local_operator();
/// queue
///     .submit(&cx, NewJob::new(JobKind::Run, serde_json::json!({"benchmark": "b.toml"})))
///     .await?;
/// // In a worker (usually through core's `run_worker`):
/// if let Some(lease) = queue.claim("worker-1", None).await? {
///     queue.finish(&lease, JobOutcome::Succeeded).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresQueue {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    config: QueueConfig,
    wake: Arc<listener::Wake>,
    _listener: listener::Listener,
}

impl std::fmt::Debug for PostgresQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQueue")
            .field("tiers", &self.inner.config.tiers.len())
            .field("max_connections", &self.inner.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The job queue in this store's database, enforcing `config`: it shares the store's
    /// pool and opens one more connection of its own, which `LISTEN`s for new work (so
    /// every submission after this returns wakes [`JobQueue::wait_for_work`]).
    pub async fn queue(&self, config: QueueConfig) -> Result<PostgresQueue, QueueError> {
        config.validate()?;
        let wake = Arc::new(listener::Wake::default());
        let listener = listener::start(&self.config, NOTIFY_CHANNEL, wake.clone()).await?;
        Ok(PostgresQueue {
            inner: Arc::new(Inner {
                pool: self.pool.clone(),
                config,
                wake,
                _listener: listener,
            }),
        })
    }
}

impl PostgresQueue {
    /// Connects to the database at `url` as the application role (a pool of
    /// [`DEFAULT_MAX_CONNECTIONS`] and the listening connection) and enforces `config`.
    /// Refuses what [`PostgresStore::connect`] refuses (a schema not this build's, a role
    /// row-level security would not bind).
    pub async fn open(url: &str, config: QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        let pg: crate::Config = url
            .parse()
            .map_err(|e| QueueError::invalid(format!("invalid Postgres connection string: {e}")))?;
        let store = PostgresStore::connect(pg, DEFAULT_MAX_CONNECTIONS).await?;
        store.queue(config).await
    }

    async fn client(&self) -> Result<Object, QueueError> {
        self.inner.pool.get().await.map_err(pool_err)
    }
}

/// Begins a transaction on `client` scoped to `tenant` (for this transaction only).
async fn tenant_tx<'c>(
    client: &'c mut Object,
    tenant: &TenantId,
) -> Result<Transaction<'c>, QueueError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute(
        "SELECT set_config('tamma.tenant_id', $1, true)",
        &[&tenant.as_str()],
    )
    .await
    .map_err(pg_err)?;
    Ok(tx)
}

/// Appends an event to job `id`'s history as its tenant (the caller holds the job's row).
async fn append_event(
    tx: &Transaction<'_>,
    job: &Job,
    kind: &str,
    message: Option<&str>,
    at_ms: i64,
) -> Result<(), QueueError> {
    tx.execute(
        "INSERT INTO job_events (tenant_id, job_id, seq, at_ms, kind, state, worker, message) \
         SELECT $1::text, $2::text, COALESCE(MAX(seq), 0) + 1, $3::bigint, $4::text, $5::text, \
                $6::text, $7::text \
         FROM job_events WHERE tenant_id = $1::text AND job_id = $2::text",
        &[
            &job.tenant_id.as_str(),
            &job.id.as_str(),
            &at_ms,
            &kind,
            &job.state.as_str(),
            &job.worker,
            &message,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

async fn notify(tx: &Transaction<'_>, tier: &str) -> Result<(), QueueError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &tier])
        .await
        .map_err(pg_err)?;
    Ok(())
}

async fn now_ms(tx: &Transaction<'_>) -> Result<i64, QueueError> {
    let row = tx
        .query_one("SELECT tamma_now_ms()", &[])
        .await
        .map_err(pg_err)?;
    get(&row, 0)
}

fn to_i32(v: u32, what: &str) -> Result<i32, QueueError> {
    i32::try_from(v).map_err(|_| QueueError::invalid(format!("{what} too large: {v}")))
}

#[async_trait]
impl JobQueue for PostgresQueue {
    fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    async fn submit(&self, cx: &TenantContext, job: NewJob) -> Result<Job, QueueError> {
        let tier = self.inner.config.resolve_tier(cx, &job)?;
        let payload = serde_json::to_string(&job.payload)
            .map_err(|e| QueueError::invalid(format!("the payload is not JSON: {e}")))?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(QueueError::invalid(format!(
                "the payload has {} bytes of JSON; at most {MAX_PAYLOAD_BYTES}",
                payload.len()
            )));
        }
        let max_attempts = job.max_attempts.unwrap_or(self.inner.config.max_attempts);
        if max_attempts == 0 {
            return Err(QueueError::invalid("max_attempts must be at least 1"));
        }
        if job.run_id.as_deref() == Some("") {
            return Err(QueueError::invalid("the run id must not be empty"));
        }
        let context = serde_json::to_string(cx)
            .map_err(|e| QueueError::invalid(format!("the context is not JSON: {e}")))?;
        let id = JobId::generate();
        let run_id = job.run_id.unwrap_or_else(|| id.to_string());
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, &cx.tenant_id).await?;
        if tier.submissions_per_minute.is_some() {
            // Serialize this tenant's submissions to the tier: the count below is exact.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2::text || '/' || $3::text))",
                &[&RATE_LOCK_CLASS, &cx.tenant_id.as_str(), &tier.name],
            )
            .await
            .map_err(pg_err)?;
        }
        let now = now_ms(&tx).await?;
        if let Some(limit) = tier.submissions_per_minute {
            // The limit-th newest submission in the window: while it is there, the window
            // is full; it leaves at its submission plus the window.
            let full = tx
                .query_opt(
                    "SELECT submitted_at_ms FROM jobs \
                     WHERE tenant_id = $1 AND tier = $2 AND submitted_at_ms > $3 \
                     ORDER BY submitted_at_ms DESC, ord DESC OFFSET $4 LIMIT 1",
                    &[
                        &cx.tenant_id.as_str(),
                        &tier.name,
                        &(now - WINDOW_MS),
                        &(i64::from(limit) - 1),
                    ],
                )
                .await
                .map_err(pg_err)?;
            if let Some(row) = full {
                let at: i64 = get(&row, 0)?;
                let wait = (at + WINDOW_MS - now).max(1);
                return Err(QueueError::rate_limited(
                    &tier.name,
                    limit,
                    Duration::from_millis(wait as u64),
                ));
            }
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO jobs (tenant_id, id, context_json, tier, priority, kind, run_id, \
                     payload_json, state, attempts, max_attempts, submitted_at_ms, available_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $10, $10) \
                     RETURNING {JOB_COLUMNS}"
                ),
                &[
                    &cx.tenant_id.as_str(),
                    &id.as_str(),
                    &context,
                    &tier.name,
                    &tier.priority,
                    &job.kind.as_str(),
                    &run_id,
                    &payload,
                    &to_i32(max_attempts, "max_attempts")?,
                    &now,
                ],
            )
            .await
            .map_err(pg_err)?;
        let stored = job_from_row(&row)?;
        append_event(&tx, &stored, "submitted", None, now).await?;
        notify(&tx, &stored.tier).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(stored)
    }

    async fn claim(
        &self,
        worker: &str,
        tiers: Option<&[String]>,
    ) -> Result<Option<Lease>, QueueError> {
        if worker.is_empty() || worker.len() > 256 {
            return Err(QueueError::invalid("a worker id has 1-256 bytes"));
        }
        let config = &self.inner.config;
        // The configured tiers the worker takes from (a name not configured matches none).
        let chosen: Vec<_> = config
            .tiers
            .iter()
            .filter(|t| tiers.is_none_or(|only| only.contains(&t.name)))
            .collect();
        if chosen.is_empty() {
            return Ok(None);
        }
        let names: Vec<&str> = chosen.iter().map(|t| t.name.as_str()).collect();
        let concurrency = chosen
            .iter()
            .map(|t| to_i32(t.concurrency, "concurrency"))
            .collect::<Result<Vec<_>, _>>()?;
        let lease_ms = i64::try_from(config.lease_ms).unwrap_or(i64::MAX);
        let aging_ms = i64::try_from(config.aging_ms).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM tamma_job_claim($1, $2, $3, $4, $5)"),
                &[&worker, &names, &concurrency, &lease_ms, &aging_ms],
            )
            .await
            .map_err(pg_err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Lease {
            job: job_from_row(&row)?,
            worker: worker.to_owned(),
            token: get(&row, TOKEN)?,
        }))
    }

    async fn heartbeat(&self, lease: &Lease) -> Result<LeaseStatus, QueueError> {
        let config = &self.inner.config;
        let concurrency = config
            .tier(&lease.job.tier)
            .map_or(Ok(0), |t| to_i32(t.concurrency, "concurrency"))?;
        let lease_ms = i64::try_from(config.lease_ms).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT lease_held, cancel_asked FROM tamma_job_heartbeat($1, $2, $3, $4, $5)",
                &[
                    &lease.job.tenant_id.as_str(),
                    &lease.job.id.as_str(),
                    &lease.token,
                    &lease_ms,
                    &concurrency,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(if get(&row, 0)? {
            LeaseStatus::Held {
                cancel_requested: get(&row, 1)?,
            }
        } else {
            LeaseStatus::Lost
        })
    }

    async fn finish(&self, lease: &Lease, outcome: JobOutcome) -> Result<Job, QueueError> {
        let (name, error, retry) = match &outcome {
            JobOutcome::Succeeded => ("succeeded", None, false),
            JobOutcome::Failed { error, remedy } => {
                ("failed", Some(clip_error(error)), *remedy == Remedy::Retry)
            }
            JobOutcome::Cancelled => ("cancelled", None, false),
            JobOutcome::Released => ("released", None, false),
        };
        let backoff = self.inner.config.backoff_ms(lease.job.attempts);
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM tamma_job_finish($1, $2, $3, $4, $5, $6, $7)"),
                &[
                    &lease.job.tenant_id.as_str(),
                    &lease.job.id.as_str(),
                    &lease.token,
                    &name,
                    &error,
                    &retry,
                    &backoff,
                ],
            )
            .await
            .map_err(pg_err)?;
        match row {
            Some(row) => job_from_row(&row),
            None => Err(QueueError::lease_lost(&lease.job.id)),
        }
    }

    async fn cancel(&self, cx: &TenantContext, id: &JobId) -> Result<Job, QueueError> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, &cx.tenant_id).await?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
                ),
                &[&cx.tenant_id.as_str(), &id.as_str()],
            )
            .await
            .map_err(pg_err)?;
        let job = match row {
            Some(row) => job_from_row(&row)?,
            None => return Err(QueueError::not_found(id)),
        };
        let now = now_ms(&tx).await?;
        let (tenant, id_str) = (cx.tenant_id.as_str(), id.as_str());
        let row = match job.state {
            s if s.is_terminal() => {
                return Err(QueueError::new(
                    QueueErrorKind::InvalidState,
                    format!("job {id} is already {s}"),
                ));
            }
            JobState::Running if job.cancel_requested => return Ok(job),
            JobState::Running => {
                tx.query_one(
                    &format!(
                        "UPDATE jobs SET cancel_requested = true WHERE tenant_id = $1 AND id = $2 \
                     RETURNING {JOB_COLUMNS}"
                    ),
                    &[&tenant, &id_str],
                )
                .await
            }
            _ => {
                tx.query_one(
                    &format!(
                        "UPDATE jobs SET state = 'cancelled', finished_at_ms = $3 \
                     WHERE tenant_id = $1 AND id = $2 RETURNING {JOB_COLUMNS}"
                    ),
                    &[&tenant, &id_str, &now],
                )
                .await
            }
        }
        .map_err(pg_err)?;
        let job = job_from_row(&row)?;
        let by = format!("by {}", cx.principal);
        let kind = if job.state == JobState::Running {
            "cancel_requested"
        } else {
            "cancelled"
        };
        append_event(&tx, &job, kind, Some(&by), now).await?;
        notify(&tx, &job.tier).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(job)
    }

    async fn get(&self, cx: &TenantContext, id: &JobId) -> Result<Option<Job>, QueueError> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, &cx.tenant_id).await?;
        let row = tx
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"),
                &[&cx.tenant_id.as_str(), &id.as_str()],
            )
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn list(&self, cx: &TenantContext, filter: &JobFilter) -> Result<Vec<Job>, QueueError> {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        let limit = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, &cx.tenant_id).await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs \
                     WHERE tenant_id = $1 AND (cardinality($2::text[]) = 0 OR state = ANY ($2)) \
                     ORDER BY submitted_at_ms DESC, ord DESC LIMIT $3"
                ),
                &[&cx.tenant_id.as_str(), &states, &limit],
            )
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn history(&self, cx: &TenantContext, id: &JobId) -> Result<Vec<JobEvent>, QueueError> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, &cx.tenant_id).await?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM jobs WHERE tenant_id = $1 AND id = $2",
                &[&cx.tenant_id.as_str(), &id.as_str()],
            )
            .await
            .map_err(pg_err)?;
        if exists.is_none() {
            return Err(QueueError::not_found(id));
        }
        let rows = tx
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM job_events \
                     WHERE tenant_id = $1 AND job_id = $2 ORDER BY seq"
                ),
                &[&cx.tenant_id.as_str(), &id.as_str()],
            )
            .await
            .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn stats(&self) -> Result<Vec<TierStats>, QueueError> {
        let names: Vec<&str> = self
            .inner
            .config
            .tiers
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tier, queued, running, oldest_wait_ms FROM tamma_job_stats($1)",
                &[&names],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|row| {
                let count = |i: usize| -> Result<u64, QueueError> {
                    u64::try_from(get::<i64>(row, i)?)
                        .map_err(|_| QueueError::new(QueueErrorKind::Corrupt, "a negative count"))
                };
                Ok(TierStats {
                    tier: get(row, 0)?,
                    queued: count(1)?,
                    running: count(2)?,
                    oldest_wait_ms: get(row, 3)?,
                })
            })
            .collect()
    }

    async fn wait_for_work(&self, timeout: Duration) {
        self.inner.wake.wait(timeout).await;
    }
}
