//! [`SqliteEventLog`]: the event log in the results database (tables `events` and
//! `consumer_offsets`, created by the store's migrations), and the outbox half the store
//! and the queue call inside their own transactions ([`append_in`]).
//!
//! SQLite has one writer at a time, so events commit in position order: a reader that
//! has seen position `p` never finds a later-committed event below `p`. A waiting reader
//! wakes at once for an event committed through any handle of this process on the same
//! file, and finds the events of other processes when its wait times out.

use crate::connection::{self, SharedConnection};
use crate::migrations::open_results;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use tamma_bench_core::events::{
    EVENT_VERSION, Event, EventFilter, EventLog, NewEvent, validate_consumer, wait_past_head,
};
use tamma_bench_core::model::{TenantContext, now_ms};
use tamma_bench_core::store::StoreError;
use tokio::sync::watch;

/// The event log's tables (migration 5). `events` is append-only; a position is the
/// row id, never reused since rows are never deleted.
pub(crate) const EVENT_TABLES: &str = "
    CREATE TABLE events (
        position INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        tenant_id TEXT,
        visibility TEXT NOT NULL,
        type TEXT NOT NULL,
        payload_json TEXT NOT NULL
    );
    CREATE INDEX events_by_type ON events (type, position);
    CREATE INDEX events_by_tenant ON events (tenant_id, position);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE consumer_offsets (
        consumer TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );";

/// Wakes this process's waiters on one file's log: bumped after each commit that may
/// have logged events.
#[derive(Clone)]
pub(crate) struct Wake(watch::Sender<u64>);

impl Wake {
    /// The process's wake-up of the file at `path` (by canonical path).
    pub(crate) fn of(path: &Path) -> Self {
        static CHANNELS: crate::wake::Registry = OnceLock::new();
        Self(crate::wake::channel(&CHANNELS, path))
    }

    /// Wakes the waiters (call after the commit).
    pub(crate) fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

/// A position as SQLite stores it.
fn sql_position(p: u64) -> i64 {
    i64::try_from(p).unwrap_or(i64::MAX)
}

/// Appends `events` on `conn` (inside the caller's transaction), skipping ids logged
/// already; returns those logged. The caller bumps the log's [`Wake`] after committing.
pub(crate) fn append_in(conn: &Connection, events: &[NewEvent]) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (id, version, at_ms, tenant_id, visibility, type, payload_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO NOTHING
         RETURNING position",
    )?;
    let mut logged = Vec::with_capacity(events.len());
    for e in events {
        let position: Option<i64> = stmt
            .query_row(
                params![
                    e.id.as_str(),
                    EVENT_VERSION,
                    e.at_ms,
                    e.tenant_id.as_ref().map(|t| t.as_str()),
                    e.visibility.as_str(),
                    e.payload.event_type().as_str(),
                    e.payload_json(),
                ],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(position) = position {
            logged.push(Event {
                position: position.max(0) as u64,
                id: e.id.clone(),
                version: EVENT_VERSION,
                at_ms: e.at_ms,
                tenant_id: e.tenant_id.clone(),
                visibility: e.visibility,
                payload: e.payload.clone(),
            });
        }
    }
    Ok(logged)
}

/// A row of [`EVENT_COLUMNS`], decoded by [`Event::from_stored`].
type EventRow = (i64, String, i64, i64, Option<String>, String, String);

const EVENT_COLUMNS: &str = "position, id, version, at_ms, tenant_id, visibility, payload_json";

/// Events after `after` passing `filter` (and, with `cx`, visible to it), at most `limit`.
fn select(
    conn: &Connection,
    after: u64,
    filter: &EventFilter,
    cx: Option<&TenantContext>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    // ?1 after, ?2 limit, then the tenant filter, the context's tenant, the types.
    let mut values: Vec<rusqlite::types::Value> = vec![
        sql_position(after).into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    let mut clauses = vec!["position > ?1".to_owned()];
    if let Some(t) = &filter.tenant {
        values.push(t.as_str().to_owned().into());
        clauses.push(format!("tenant_id = ?{}", values.len()));
    }
    if let Some(cx) = cx {
        values.push(cx.tenant_id.as_str().to_owned().into());
        let n = values.len();
        let internal = if cx.is_internal() {
            format!(" OR (visibility = 'internal' AND (tenant_id IS NULL OR tenant_id = ?{n}))")
        } else {
            String::new()
        };
        clauses.push(format!(
            "(visibility = 'public' OR (visibility = 'tenant' AND tenant_id = ?{n}){internal})"
        ));
    }
    if !filter.types.is_empty() {
        let marks: Vec<String> = filter
            .types
            .iter()
            .map(|t| {
                values.push(t.as_str().to_owned().into());
                format!("?{}", values.len())
            })
            .collect();
        clauses.push(format!("type IN ({})", marks.join(", ")));
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY position LIMIT ?2",
        clauses.join(" AND ")
    );
    let rows: Vec<EventRow> = conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(values), |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect()
        })
        .map_err(db)?;
    let mut events = Vec::with_capacity(rows.len());
    for (position, id, version, at_ms, tenant, visibility, payload) in rows {
        let version = u16::try_from(version).unwrap_or(u16::MAX);
        let event = Event::from_stored(
            position.max(0) as u64,
            id,
            version,
            at_ms,
            tenant.as_deref(),
            &visibility,
            &payload,
        )?;
        // The SQL decides visibility; the rule is checked once more on the decoded event.
        if cx.is_none_or(|cx| event.visible_to(cx)) {
            events.push(event);
        }
    }
    Ok(events)
}

/// An [`EventLog`] in a SQLite results database (the same file as [`SqliteStore`] and
/// [`SqliteQueue`], which append their events to it in their own transactions).
///
/// [`wait`](EventLog::wait) wakes at once for an event committed through any handle of
/// this process on the same file; events of other processes are found when it times out.
///
/// [`SqliteStore`]: crate::SqliteStore
/// [`SqliteQueue`]: crate::SqliteQueue
pub struct SqliteEventLog {
    path: PathBuf,
    writer: SharedConnection,
    reader: SharedConnection,
    wake: Wake,
}

impl std::fmt::Debug for SqliteEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEventLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteEventLog {
    /// Opens (creating if needed) the results database at `path` and applies pending
    /// migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let writer = open_results(&path)?;
        let reader = connection::open(&path)?;
        Ok(Self {
            wake: Wake::of(&path),
            path,
            writer: SharedConnection::new(writer),
            reader: SharedConnection::new(reader),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl EventLog for SqliteEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let logged = self
            .writer
            .run(move |conn| {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(db)?;
                let logged = append_in(&tx, &events).map_err(db)?;
                tx.commit().map_err(db)?;
                Ok(logged)
            })
            .await?;
        if !logged.is_empty() {
            self.wake.bump();
        }
        Ok(logged)
    }

    async fn read(
        &self,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let filter = filter.clone();
        self.reader
            .run(move |conn| select(conn, after, &filter, None, limit))
            .await
    }

    async fn read_as(
        &self,
        cx: &TenantContext,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let (cx, filter) = (cx.clone(), filter.clone());
        self.reader
            .run(move |conn| select(conn, after, &filter, Some(&cx), limit))
            .await
    }

    async fn head(&self) -> Result<u64, StoreError> {
        self.reader
            .run(|conn| {
                conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|p| p.max(0) as u64)
                .map_err(db)
            })
            .await
    }

    async fn offset(&self, consumer: &str) -> Result<u64, StoreError> {
        validate_consumer(consumer)?;
        let consumer = consumer.to_owned();
        self.reader
            .run(move |conn| {
                conn.query_row(
                    "SELECT position FROM consumer_offsets WHERE consumer = ?1",
                    [consumer],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map(|p| p.unwrap_or(0).max(0) as u64)
                .map_err(db)
            })
            .await
    }

    async fn commit_offset(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        validate_consumer(consumer)?;
        let consumer = consumer.to_owned();
        self.writer
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO consumer_offsets (consumer, position, updated_at_ms)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (consumer) DO UPDATE SET
                         position = MAX(position, excluded.position),
                         updated_at_ms = excluded.updated_at_ms",
                    params![consumer, sql_position(position), now_ms()],
                )
                .map(drop)
                .map_err(db)
            })
            .await
    }

    async fn wait(&self, after: u64, timeout: Duration) {
        // Subscribed before looking, so a change between the look and the wait wakes it.
        wait_past_head(self, after, timeout, self.wake.0.subscribe()).await;
    }
}

/// The queue's half of the outbox: the event of a job's change, appended in the
/// transaction of that change.
pub(crate) mod jobs {
    use super::append_in;
    use rusqlite::Connection;
    use tamma_bench_core::events::{EventPayload, NewEvent};
    use tamma_bench_core::queue::{Job, JobState, QueueError};

    fn log(conn: &Connection, job: &Job, payload: EventPayload) -> Result<(), QueueError> {
        append_in(conn, &[NewEvent::new(Some(job.tenant_id.clone()), payload)])
            .map_err(QueueError::backend)?;
        Ok(())
    }

    /// `job.queued`: `job` was submitted.
    pub(crate) fn queued(conn: &Connection, job: &Job) -> Result<(), QueueError> {
        let payload = EventPayload::JobQueued {
            job_id: job.id.to_string(),
            kind: job.kind.as_str().to_owned(),
            tier: job.tier.clone(),
        };
        log(conn, job, payload)
    }

    /// `job.started`: a worker claimed `job`.
    pub(crate) fn started(conn: &Connection, job: &Job) -> Result<(), QueueError> {
        let payload = EventPayload::JobStarted {
            job_id: job.id.to_string(),
            attempt: job.attempts,
        };
        log(conn, job, payload)
    }

    /// `job.finished` or `job.failed` if `job` is now in a terminal state; nothing if it
    /// is queued again (a retry, a release) or still running.
    pub(crate) fn ended(conn: &Connection, job: &Job) -> Result<(), QueueError> {
        let payload = match job.state {
            JobState::Succeeded | JobState::Cancelled => EventPayload::JobFinished {
                job_id: job.id.to_string(),
                state: job.state.as_str().to_owned(),
            },
            JobState::Failed => EventPayload::JobFailed {
                job_id: job.id.to_string(),
                error: job.last_error.clone().unwrap_or_default(),
            },
            _ => return Ok(()),
        };
        log(conn, job, payload)
    }
}
