//! [`EventLog`] in PostgreSQL: [`PostgresEventLog`].
//!
//! The outbox is in the database (migration 5): triggers on `runs` and `jobs` append the
//! event of each change in the transaction that makes it, so the store and the queue log
//! their events without a line of Rust. The host's view across tenants ([`read`], the
//! head, appends of any tenant) goes through `SECURITY DEFINER` functions that take values
//! only; [`read_as`] of an external context is plain SQL under the row-level security of
//! `events` (its own tenant's events and public ones, narrowed to what it may receive).
//! Each append `NOTIFY`s [`EVENTS_CHANNEL`] in its transaction; each log handle `LISTEN`s
//! on a connection of its own, which wakes [`wait`].
//!
//! [`read`]: EventLog::read
//! [`read_as`]: EventLog::read_as
//! [`wait`]: EventLog::wait

use crate::queue::listener::{self, Listener, Waker};
use crate::{PostgresStore, backend, begin, db_err, get_client};
use async_trait::async_trait;
use deadpool_postgres::Pool;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::events::{
    EVENT_VERSION, Event, EventFilter, EventLog, NewEvent, validate_consumer, wait_past_head,
};
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::store::StoreError;
use tokio::sync::watch;
use tokio_postgres::Row;

/// The channel every append notifies (payload: the position), and every event log
/// handle listens on.
pub const EVENTS_CHANNEL: &str = "tamma_events";

/// The columns of an event row, as [`event_from_row`] reads them.
const EVENT_COLUMNS: &str = "pos, id, version, at_ms, tenant_id, visibility, payload_json";

/// Counts notifications: a waiter subscribes before it looks at the head, so none is lost.
struct Notifications(watch::Sender<u64>);

impl Waker for Notifications {
    fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// An [`EventLog`] in the store's PostgreSQL database, connected as the application role.
/// Cheap to clone (clones share the pool and the listening connection, which closes with
/// the last clone).
#[derive(Clone)]
pub struct PostgresEventLog {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    notifications: Arc<Notifications>,
    _listener: Listener,
}

impl std::fmt::Debug for PostgresEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresEventLog")
            .field("max_connections", &self.inner.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The event log in this store's database: it shares the store's pool and opens one
    /// more connection of its own, which `LISTEN`s for appends (so every event committed
    /// after this returns wakes [`EventLog::wait`]).
    pub async fn events(&self) -> Result<PostgresEventLog, StoreError> {
        let notifications = Arc::new(Notifications(watch::Sender::new(0)));
        let listener = listener::start(&self.config, EVENTS_CHANNEL, notifications.clone())
            .await
            .map_err(|e| backend(format!("cannot listen for events: {e}")).with_source(e))?;
        Ok(PostgresEventLog {
            inner: Arc::new(Inner {
                pool: self.pool.clone(),
                notifications,
                _listener: listener,
            }),
        })
    }
}

fn position(p: u64) -> i64 {
    i64::try_from(p).unwrap_or(i64::MAX)
}

fn event_from_row(row: &Row) -> Result<Event, StoreError> {
    let pos: i64 = row.try_get(0).map_err(db_err)?;
    let version: i32 = row.try_get(2).map_err(db_err)?;
    let tenant: Option<String> = row.try_get(4).map_err(db_err)?;
    let visibility: String = row.try_get(5).map_err(db_err)?;
    let payload: String = row.try_get(6).map_err(db_err)?;
    Event::from_stored(
        u64::try_from(pos).unwrap_or(0),
        row.try_get(1).map_err(db_err)?,
        u16::try_from(version).unwrap_or(u16::MAX),
        row.try_get(3).map_err(db_err)?,
        tenant.as_deref(),
        &visibility,
        &payload,
    )
}

fn type_names(filter: &EventFilter) -> Vec<&'static str> {
    filter.types.iter().map(|t| t.as_str()).collect()
}

#[async_trait]
impl EventLog for PostgresEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = get_client(&self.inner.pool).await?;
        let tx = begin(&mut client, None).await?;
        let mut logged = Vec::with_capacity(events.len());
        for e in events {
            let row = tx
                .query_one(
                    "SELECT tamma_events_append($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &e.id.as_str(),
                        &i32::from(EVENT_VERSION),
                        &e.at_ms,
                        &e.tenant_id.as_ref().map(|t| t.as_str()),
                        &e.visibility.as_str(),
                        &e.payload.event_type().as_str(),
                        &e.payload_json(),
                    ],
                )
                .await
                .map_err(db_err)?;
            let pos: Option<i64> = row.try_get(0).map_err(db_err)?;
            if let Some(pos) = pos {
                logged.push(Event {
                    position: u64::try_from(pos).unwrap_or(0),
                    id: e.id,
                    version: EVENT_VERSION,
                    at_ms: e.at_ms,
                    tenant_id: e.tenant_id,
                    visibility: e.visibility,
                    payload: e.payload,
                });
            }
        }
        tx.commit().await.map_err(db_err)?;
        Ok(logged)
    }

    async fn read(
        &self,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let client = get_client(&self.inner.pool).await?;
        let rows = client
            .query(
                &format!("SELECT {EVENT_COLUMNS} FROM tamma_events_read($1, $2, $3, $4)"),
                &[
                    &position(after),
                    &type_names(filter),
                    &filter.tenant.as_ref().map(|t| t.as_str()),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn read_as(
        &self,
        cx: &TenantContext,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        if cx.is_internal() {
            // An internal context also receives deployment-wide internal events, which
            // belong to no tenant: the host's view, filtered by the rule of reads.
            return read_visible(self, cx, after, filter, limit).await;
        }
        // An external context: its tenant's rows and public ones (row-level security),
        // never an internal event.
        let mut client = get_client(&self.inner.pool).await?;
        let tx = begin(&mut client, Some(&cx.tenant_id)).await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events \
                     WHERE pos > $1 AND visibility <> 'internal' \
                       AND (visibility = 'public' OR tenant_id = $2) \
                       AND (cardinality($3::text[]) = 0 OR type = ANY ($3)) \
                       AND ($4::text IS NULL OR tenant_id = $4) \
                     ORDER BY pos LIMIT $5"
                ),
                &[
                    &position(after),
                    &cx.tenant_id.as_str(),
                    &type_names(filter),
                    &filter.tenant.as_ref().map(|t| t.as_str()),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // The SQL decides; the rule is checked once more on the decoded events.
        Ok(events.into_iter().filter(|e| e.visible_to(cx)).collect())
    }

    async fn head(&self) -> Result<u64, StoreError> {
        let client = get_client(&self.inner.pool).await?;
        let row = client
            .query_one("SELECT tamma_events_head()", &[])
            .await
            .map_err(db_err)?;
        let head: i64 = row.try_get(0).map_err(db_err)?;
        Ok(u64::try_from(head).unwrap_or(0))
    }

    async fn offset(&self, consumer: &str) -> Result<u64, StoreError> {
        validate_consumer(consumer)?;
        let client = get_client(&self.inner.pool).await?;
        let row = client
            .query_opt(
                "SELECT pos FROM consumer_offsets WHERE consumer = $1",
                &[&consumer],
            )
            .await
            .map_err(db_err)?;
        match row {
            Some(row) => {
                let pos: i64 = row.try_get(0).map_err(db_err)?;
                Ok(u64::try_from(pos).unwrap_or(0))
            }
            None => Ok(0),
        }
    }

    async fn commit_offset(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        validate_consumer(consumer)?;
        let client = get_client(&self.inner.pool).await?;
        client
            .execute(
                "INSERT INTO consumer_offsets (consumer, pos, updated_at_ms) \
                 VALUES ($1, $2, tamma_now_ms()) \
                 ON CONFLICT (consumer) DO UPDATE SET \
                     pos = GREATEST(consumer_offsets.pos, excluded.pos), \
                     updated_at_ms = excluded.updated_at_ms",
                &[&consumer, &self::position(position)],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn wait(&self, after: u64, timeout: Duration) {
        // Subscribed before looking, so a change between the look and the wait wakes it.
        wait_past_head(self, after, timeout, self.inner.notifications.0.subscribe()).await;
    }
}

/// The host's view after `after`, paged, keeping what `cx` may receive.
async fn read_visible(
    log: &PostgresEventLog,
    cx: &TenantContext,
    after: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut out = Vec::new();
    let mut position = after;
    while out.len() < limit {
        let page = log.read(position, filter, limit.max(64)).await?;
        let Some(last) = page.last().map(|e| e.position) else {
            break;
        };
        position = last;
        out.extend(page.into_iter().filter(|e| e.visible_to(cx)));
    }
    out.truncate(limit);
    Ok(out)
}
