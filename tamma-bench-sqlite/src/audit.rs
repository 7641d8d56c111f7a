//! [`SqliteAuditStore`]: the audit log in the results database, append-only.
//!
//! Two tables, created by migration 3 of the results database: `audit_entries` (one row
//! per entry, keyed by its index) and `audit_checkpoints`. Triggers refuse `UPDATE` and
//! `DELETE` on both, so the log is append-only even to a program that bypasses this API.

use crate::connection::SharedConnection;
use crate::migrations::open_results;
use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use tamma_bench_core::store::audit::append_conflict;
use tamma_bench_core::store::{AuditRecord, AuditStore, NextRecord, StoreError, StoredCheckpoint};

/// The SQL of the audit tables: migration 3 of the results database (released: never
/// edit it, append a migration instead).
pub(crate) const AUDIT_TABLES: &str = "
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
    conn: SharedConnection,
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

/// Inserts `record` (and `checkpoint`) in `tx` if its index is the log's length (a
/// conflict otherwise).
fn insert(
    tx: &rusqlite::Transaction<'_>,
    record: AuditRecord,
    checkpoint: Option<StoredCheckpoint>,
) -> rusqlite::Result<Result<(), StoreError>> {
    let len: i64 = tx.query_row(
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries",
        [],
        |r| r.get(0),
    )?;
    if i64::try_from(record.index).ok() != Some(len) {
        return Ok(Err(append_conflict(record.index, len.max(0) as u64)));
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
    Ok(Ok(()))
}

impl SqliteAuditStore {
    /// Opens the audit log of the SQLite database at `path`, applying pending migrations
    /// (the same ones as [`crate::SqliteStore::open`]).
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::new(open_results(path.as_ref())?),
        })
    }

    /// Runs `f` on the connection; a database error is a backend failure, an inner
    /// error is returned as it is.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.conn
            .run(move |c| f(c).map_err(StoreError::backend)?)
            .await
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
            if let Err(e) = insert(&tx, record, checkpoint)? {
                return Ok(Err(e));
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
    }

    /// Reads and appends in one `IMMEDIATE` transaction: no other writer in between.
    async fn append_next(
        &self,
        from: u64,
        next: NextRecord,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let seen = {
                let mut stmt = tx.prepare_cached(
                    "SELECT idx, entry, chain_hash FROM audit_entries WHERE idx >= ?1 ORDER BY idx",
                )?;
                stmt.query_map(params![from], record_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let (record, checkpoint) = next(&seen);
            if let Err(e) = insert(&tx, record, checkpoint)? {
                return Ok(Err(e));
            }
            tx.commit()?;
            Ok(Ok(seen))
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
