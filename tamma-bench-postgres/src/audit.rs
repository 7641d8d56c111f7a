//! The audit log in PostgreSQL: one hash chain however many processes write it.
//!
//! Appends serialize on a transaction-scoped advisory lock; under it the record's index
//! is checked against the log's length, so two writers never both extend the same tail
//! (the loser gets [`StoreErrorKind::Conflict`], and `tamma-bench-privacy`'s audit log
//! tries again with `append_next`, which reads the records appended meanwhile and
//! appends under the same lock). The tables are append-only: the application role may
//! only SELECT and INSERT, and triggers refuse UPDATE, DELETE and TRUNCATE to anyone.

use crate::{begin, db_err, get_client};
use async_trait::async_trait;
use deadpool_postgres::{Pool, Transaction};
use tamma_bench_core::store::{
    AuditRecord, AuditStore, NextRecord, StoreError, StoreErrorKind, StoredCheckpoint,
};
use tokio_postgres::Row;

/// The advisory lock key audit appends serialize on ("tamma-au").
const AUDIT_LOCK: i64 = 0x7461_6d6d_612d_6175;

/// An [`AuditStore`] in the store's database (tables `audit_entries` and
/// `audit_checkpoints`). Made by [`crate::PostgresStore::audit_store`].
#[derive(Clone)]
pub struct PostgresAuditStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAuditStore").finish_non_exhaustive()
    }
}

fn record_from_row(row: &Row) -> Result<AuditRecord, StoreError> {
    let index: i64 = row.try_get(0).map_err(db_err)?;
    Ok(AuditRecord {
        index: index.max(0) as u64,
        entry: row.try_get(1).map_err(db_err)?,
        chain_hash: row.try_get(2).map_err(db_err)?,
    })
}

/// Takes the appenders' advisory lock for the rest of `tx`.
async fn lock(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Inserts `record` (and `checkpoint`) in `tx`, which holds the lock, if its index is the
/// log's length ([`StoreErrorKind::Conflict`] otherwise).
async fn insert(
    tx: &Transaction<'_>,
    record: AuditRecord,
    checkpoint: Option<StoredCheckpoint>,
) -> Result<(), StoreError> {
    // Read after the lock is held: the statement's snapshot sees every earlier append.
    let len: i64 = tx
        .query_one("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries", &[])
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    if i64::try_from(record.index).ok() != Some(len) {
        return Err(StoreError::new(
            StoreErrorKind::Conflict,
            format!(
                "audit append at index {}, but the log has {} entries",
                record.index,
                len.max(0)
            ),
        ));
    }
    tx.execute(
        "INSERT INTO audit_entries (idx, entry, chain_hash) VALUES ($1, $2, $3)",
        &[&len, &record.entry, &record.chain_hash],
    )
    .await
    .map_err(db_err)?;
    if let Some(c) = checkpoint {
        tx.execute(
            "INSERT INTO audit_checkpoints (size, note) VALUES ($1, $2)",
            &[&i64::try_from(c.size).unwrap_or(i64::MAX), &c.note],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

impl PostgresAuditStore {
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl AuditStore for PostgresAuditStore {
    async fn append(
        &self,
        record: AuditRecord,
        checkpoint: Option<StoredCheckpoint>,
    ) -> Result<(), StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, None).await?;
        lock(&tx).await?;
        insert(&tx, record, checkpoint).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Reads and appends under the advisory lock: no other writer in between.
    async fn append_next(
        &self,
        from: u64,
        next: NextRecord,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, None).await?;
        lock(&tx).await?;
        let seen = tx
            .query(
                "SELECT idx, entry, chain_hash FROM audit_entries WHERE idx >= $1 ORDER BY idx",
                &[&from],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let (record, checkpoint) = next(&seen);
        insert(&tx, record, checkpoint).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(seen)
    }

    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        let client = get_client(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT idx, entry, chain_hash FROM audit_entries ORDER BY idx DESC LIMIT 1",
                &[],
            )
            .await
            .map_err(db_err)?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn records(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = get_client(&self.pool).await?;
        let rows = client
            .query(
                "SELECT idx, entry, chain_hash FROM audit_entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
                &[&from, &limit],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(record_from_row).collect()
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let client = get_client(&self.pool).await?;
        let rows = client
            .query("SELECT size, note FROM audit_checkpoints ORDER BY seq", &[])
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let size: i64 = r.try_get(0).map_err(db_err)?;
                Ok(StoredCheckpoint {
                    size: size.max(0) as u64,
                    note: r.try_get(1).map_err(db_err)?,
                })
            })
            .collect()
    }
}
