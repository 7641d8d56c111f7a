//! Storage of the audit log: append-only records and signed checkpoints, in memory and
//! in SQLite (the same database as results).
//!
//! The store keeps bytes; it neither hashes nor signs. The tamper-evident structure
//! (hash chain, RFC 6962 Merkle tree, signed checkpoints) and its verification live in
//! `tamma-bench-privacy`'s `audit` module, which is the only writer of this log.
//!
//! The API is append-only: there is no method that changes or removes a record or a
//! checkpoint, and the SQLite tables refuse `UPDATE` and `DELETE` with triggers.
//!
//! ```compile_fail
//! # async fn f(store: &dyn tamma_bench_core::store::AuditStore) {
//! store.delete(0).await; // no such method: the log is append-only
//! # }
//! ```
//!
//! ```compile_fail
//! # async fn f(store: &dyn tamma_bench_core::store::AuditStore, r: tamma_bench_core::store::AuditRecord) {
//! store.update(r).await; // no such method either
//! # }
//! ```

use super::{StoreError, StoreErrorKind};
use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::{Arc, Mutex, MutexGuard};

/// One stored audit entry, at position `index` of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the log, from 0, without gaps.
    pub index: u64,
    /// The canonical entry bytes (the Merkle leaf).
    pub entry: Vec<u8>,
    /// The hash chain value after this entry (32 bytes when intact).
    pub chain_hash: Vec<u8>,
}

/// One stored signed checkpoint of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The number of entries it covers.
    pub size: u64,
    /// The signed note text.
    pub note: String,
}

/// Append-only storage of the audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `record`, whose index must equal the number of records stored (else
    /// [`StoreErrorKind::Conflict`]: another writer appended first), and `checkpoint`
    /// if given, in one transaction.
    async fn append(
        &self,
        record: AuditRecord,
        checkpoint: Option<StoredCheckpoint>,
    ) -> Result<(), StoreError>;

    /// The record with the highest index, if any.
    async fn last(&self) -> Result<Option<AuditRecord>, StoreError>;

    /// Up to `limit` records with index `>= from`, in index order (as stored: a damaged
    /// log may have gaps, which the verifier reports).
    async fn records(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Every checkpoint, oldest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

fn conflict(index: u64, len: u64) -> StoreError {
    StoreError::new(
        StoreErrorKind::Conflict,
        format!("audit append at index {index}, but the log has {len} entries"),
    )
}

/// An [`AuditStore`] in memory, for tests and short-lived hosts.
#[derive(Debug, Default)]
pub struct MemoryAuditStore {
    inner: Mutex<(Vec<AuditRecord>, Vec<StoredCheckpoint>)>,
}

impl MemoryAuditStore {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<AuditRecord>, Vec<StoredCheckpoint>)> {
        // Each change is one push: a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl AuditStore for MemoryAuditStore {
    async fn append(
        &self,
        record: AuditRecord,
        checkpoint: Option<StoredCheckpoint>,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let len = g.0.len() as u64;
        if record.index != len {
            return Err(conflict(record.index, len));
        }
        g.0.push(record);
        g.1.extend(checkpoint);
        Ok(())
    }

    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        Ok(self.lock().0.last().cloned())
    }

    async fn records(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let g = self.lock();
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        Ok(g.0.iter().skip(from).take(limit).cloned().collect())
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        Ok(self.lock().1.clone())
    }
}

/// The SQL of the audit tables (one migration of the SQLite store).
pub(crate) const AUDIT_MIGRATION: &str = "
    CREATE TABLE audit_entries (
        idx INTEGER PRIMARY KEY,
        entry BLOB NOT NULL,
        chain_hash BLOB NOT NULL
    );
    CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        size INTEGER NOT NULL,
        note TEXT NOT NULL
    );
    CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

/// An [`AuditStore`] in the SQLite results database (tables `audit_entries` and
/// `audit_checkpoints`, created by the store's migrations).
pub struct SqliteAuditStore {
    conn: Arc<Mutex<Connection>>,
}

/// Bytes of a column whatever its storage class (a tampered row may hold text, a number
/// or NULL where a blob belongs; the verifier judges the bytes).
fn bytes_of(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_string().into_bytes(),
        ValueRef::Real(r) => r.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        index: row.get::<_, i64>(0)?.max(0) as u64,
        entry: bytes_of(row.get_ref(1)?),
        chain_hash: bytes_of(row.get_ref(2)?),
    })
}

impl SqliteAuditStore {
    /// Opens the audit log of the SQLite database at `path`, applying pending migrations
    /// (the same ones as [`super::SqliteStore::open`]).
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        let mut conn = super::sqlite::open_connection(path.as_ref())?;
        super::sqlite::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c).map_err(StoreError::backend)?
        })
        .await
        .map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("store task failed: {e}"))
                .with_source(e)
        })?
    }
}

#[async_trait]
impl AuditStore for SqliteAuditStore {
    async fn append(
        &self,
        record: AuditRecord,
        checkpoint: Option<StoredCheckpoint>,
    ) -> Result<(), StoreError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let len: i64 = tx.query_row(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries",
                [],
                |r| r.get(0),
            )?;
            if i64::try_from(record.index).ok() != Some(len) {
                return Ok(Err(conflict(record.index, len.max(0) as u64)));
            }
            tx.execute(
                "INSERT INTO audit_entries (idx, entry, chain_hash) VALUES (?1, ?2, ?3)",
                params![len, record.entry, record.chain_hash],
            )?;
            if let Some(c) = checkpoint {
                tx.execute(
                    "INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)",
                    params![i64::try_from(c.size).unwrap_or(i64::MAX), c.note],
                )?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        self.with_conn(|conn| {
            conn.query_row(
                "SELECT idx, entry, chain_hash FROM audit_entries ORDER BY idx DESC LIMIT 1",
                [],
                record_from_row,
            )
            .optional()
            .map(Ok)
        })
        .await
    }

    async fn records(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT idx, entry, chain_hash FROM audit_entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![from, limit], record_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Ok(rows))
        })
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT size, note FROM audit_checkpoints ORDER BY seq")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(StoredCheckpoint {
                        size: r.get::<_, i64>(0)?.max(0) as u64,
                        note: String::from_utf8_lossy(&bytes_of(r.get_ref(1)?)).into_owned(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Ok(rows))
        })
        .await
    }
}
