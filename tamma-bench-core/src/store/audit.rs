//! The `AuditStore` contract: append-only storage of the audit log's records and signed
//! checkpoints, and its memory implementation (the SQLite one, in the results database,
//! is `tamma-bench-sqlite`'s `SqliteAuditStore`).
//!
//! The store keeps bytes; it neither hashes nor signs. The tamper-evident structure
//! (hash chain, RFC 6962 Merkle tree, signed checkpoints) and its verification live in
//! `tamma-bench-privacy`'s `audit` module, which is the only writer of this log.
//!
//! The API is append-only: there is no method that changes or removes a record or a
//! checkpoint (and a database backend refuses `UPDATE` and `DELETE` on its tables too).
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
use std::sync::{Mutex, MutexGuard};

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

/// What [`AuditStore::append_next`] appends: the record (and checkpoint, if any) made
/// from the records stored since the writer last looked.
pub type NextRecord =
    Box<dyn FnOnce(&[AuditRecord]) -> (AuditRecord, Option<StoredCheckpoint>) + Send>;

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

    /// Appends the record (and checkpoint) that `next` makes from the records stored at
    /// index `from` and after, and returns those records: a writer that lost a race
    /// catches up and appends in one step. A store with an append lock (a database
    /// transaction) reads and appends under it, so no other writer can come in between
    /// and the append does not conflict unless `next` ignores what it was given; the
    /// default reads, then appends, and may still fail with
    /// [`StoreErrorKind::Conflict`].
    async fn append_next(
        &self,
        from: u64,
        next: NextRecord,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        const PAGE: usize = 4096;
        let mut seen: Vec<AuditRecord> = Vec::new();
        loop {
            let at = from.saturating_add(seen.len() as u64);
            let page = self.records(at, PAGE).await?;
            let full = page.len() == PAGE;
            seen.extend(page);
            if !full {
                break;
            }
        }
        let (record, checkpoint) = next(&seen);
        self.append(record, checkpoint).await?;
        Ok(seen)
    }

    /// The record with the highest index, if any.
    async fn last(&self) -> Result<Option<AuditRecord>, StoreError>;

    /// Up to `limit` records with index `>= from`, in index order (as stored: a damaged
    /// log may have gaps, which the verifier reports).
    async fn records(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Every checkpoint, oldest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

/// The error of an append at `index` when the log holds `len` records: another writer
/// appended first ([`StoreErrorKind::Conflict`]). Every [`AuditStore`] answers it.
pub fn append_conflict(index: u64, len: u64) -> StoreError {
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
            return Err(append_conflict(record.index, len));
        }
        g.0.push(record);
        g.1.extend(checkpoint);
        Ok(())
    }

    async fn append_next(
        &self,
        from: u64,
        next: NextRecord,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut g = self.lock();
        let start = usize::try_from(from).unwrap_or(usize::MAX);
        let seen: Vec<AuditRecord> = g.0.iter().skip(start).cloned().collect();
        let (record, checkpoint) = next(&seen);
        let len = g.0.len() as u64;
        if record.index != len {
            return Err(append_conflict(record.index, len));
        }
        g.0.push(record);
        g.1.extend(checkpoint);
        Ok(seen)
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
