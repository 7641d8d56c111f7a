//! The audit log writer: chains, folds into the Merkle tree, signs checkpoints.

use super::checkpoint::Checkpoint;
use super::entry::{AuditEntry, CHAIN_START, Hash, chain_next};
use super::merkle::{self, Frontier};
use super::note::AuditSigner;
use super::{AuditAlert, AuditError, AuditErrorKind};
use std::sync::Arc;
use tamma_bench_core::model::now_ms;
use tamma_bench_core::store::{
    AuditRecord, AuditStore, StoreError, StoreErrorKind, StoredCheckpoint,
};
use tokio::sync::Mutex;

/// Where the log ends: the next index, the chain value and the tree's right edge.
#[derive(Debug, Clone)]
struct Tail {
    chain: Hash,
    frontier: Frontier,
}

/// Proof that an entry is in the tree of a given size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size.
    pub size: u64,
    /// The audit path (RFC 6962 §2.1.1).
    pub hashes: Vec<Hash>,
}

/// Proof that a tree extends an older one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// The proof (RFC 6962 §2.1.2).
    pub hashes: Vec<Hash>,
}

/// What an append produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReceipt {
    /// The entry's index.
    pub index: u64,
    /// The signed checkpoint written with it, if one was.
    pub checkpoint: Option<String>,
}

/// The tamper-evident audit log over an [`AuditStore`].
///
/// Every entry extends the hash chain and the RFC 6962 tree; every `checkpoint_every`
/// entries (default 1: every entry) a signed checkpoint is written in the same
/// transaction. An [`AuditLog::unsigned`] log writes no checkpoints: its entries are
/// chained and in the tree, so alteration, deletion and reordering are still found, but a
/// rewrite of the whole chain or a truncation is not. One writer per process; several
/// processes may append to one store (an append that loses the race reads the entries it
/// missed and retries).
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    signer: Option<AuditSigner>,
    checkpoint_every: u64,
    alert: Option<Arc<dyn AuditAlert>>,
    tail: Mutex<Option<Tail>>,
}

/// How many times an append is tried before it gives up on other processes appending
/// first (each lost race reads only the entries it missed, then waits up to 20 ms at
/// random).
const APPEND_ATTEMPTS: u64 = 64;

fn store_error(e: StoreError) -> AuditError {
    AuditError::new(AuditErrorKind::Store, format!("audit store: {e}"))
}

/// Reads every record's entry bytes in pages and feeds them to `f`.
pub(crate) async fn for_each_record(
    store: &dyn AuditStore,
    mut f: impl FnMut(AuditRecord) -> bool,
) -> Result<(), AuditError> {
    const PAGE: usize = 4096;
    let mut from = 0;
    loop {
        let page = store.records(from, PAGE).await.map_err(store_error)?;
        let Some(last) = page.last().map(|r| r.index) else {
            return Ok(());
        };
        let full = page.len() == PAGE;
        for r in page {
            if !f(r) {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
        from = last.saturating_add(1);
    }
}

fn checkpoint_note(signer: &AuditSigner, tail: &Tail) -> String {
    Checkpoint {
        origin: signer.name().to_owned(),
        size: tail.frontier.size(),
        root: tail.frontier.root(),
        time_ms: now_ms(),
        chain: tail.chain,
    }
    .sign(signer)
}

impl AuditLog {
    /// A log over `store`, signing with `signer`.
    pub fn new(store: Arc<dyn AuditStore>, signer: AuditSigner) -> Self {
        Self::with_signer(store, Some(signer))
    }

    /// A log over `store` without a signing key: no checkpoints are written.
    pub fn unsigned(store: Arc<dyn AuditStore>) -> Self {
        Self::with_signer(store, None)
    }

    /// A log over `store`, signing checkpoints when `signer` is given.
    pub fn with_signer(store: Arc<dyn AuditStore>, signer: Option<AuditSigner>) -> Self {
        Self {
            store,
            signer,
            checkpoint_every: 1,
            alert: None,
            tail: Mutex::new(None),
        }
    }

    /// Writes a checkpoint every `n` entries (at least 1). Fewer checkpoints cost less
    /// space, but a rewritten stretch is then located only to within `n` entries.
    pub fn with_checkpoint_every(mut self, n: u64) -> Self {
        self.checkpoint_every = n.max(1);
        self
    }

    /// Calls `alert` after each appended entry whose class is sensitive or restricted.
    pub fn with_alert(mut self, alert: Arc<dyn AuditAlert>) -> Self {
        self.alert = Some(alert);
        self
    }

    /// The signer's name, which is the log's origin (`None` for an unsigned log).
    pub fn origin(&self) -> Option<&str> {
        self.signer.as_ref().map(AuditSigner::name)
    }

    /// Whether checkpoints are signed (a signing key is configured).
    pub fn is_signed(&self) -> bool {
        self.signer.is_some()
    }

    async fn load_tail(&self) -> Result<Tail, AuditError> {
        let mut tail = Tail {
            chain: CHAIN_START,
            frontier: Frontier::new(),
        };
        self.catch_up(&mut tail).await?;
        Ok(tail)
    }

    /// Extends `tail` with the records stored after it (another process's appends), in
    /// pages: an append that lost a race reads only what it missed, not the whole log.
    async fn catch_up(&self, tail: &mut Tail) -> Result<(), AuditError> {
        const PAGE: usize = 4096;
        loop {
            let page = self
                .store
                .records(tail.frontier.size(), PAGE)
                .await
                .map_err(store_error)?;
            let full = page.len() == PAGE;
            for r in page {
                tail.frontier.push(merkle::leaf_hash(&r.entry));
                tail.chain = r.chain_hash.as_slice().try_into().unwrap_or(tail.chain);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Appends `entry`; returns its index (and the checkpoint written with it).
    pub async fn append(&self, entry: &AuditEntry) -> Result<AuditReceipt, AuditError> {
        let bytes = entry.to_canonical()?;
        let mut guard = self.tail.lock().await;
        // Where the log ended when last seen; a failed append reloads it.
        let mut seen = match guard.take() {
            Some(t) => t,
            None => self.load_tail().await?,
        };
        for attempt in 0..APPEND_ATTEMPTS {
            let mut tail = seen.clone();
            let index = tail.frontier.size();
            tail.chain = chain_next(&tail.chain, &bytes);
            tail.frontier.push(merkle::leaf_hash(&bytes));
            let note = self
                .signer
                .as_ref()
                .filter(|_| tail.frontier.size().is_multiple_of(self.checkpoint_every))
                .map(|signer| checkpoint_note(signer, &tail));
            let record = AuditRecord {
                index,
                entry: bytes.clone(),
                chain_hash: tail.chain.to_vec(),
            };
            let stored = note.clone().map(|note| StoredCheckpoint {
                size: index + 1,
                note,
            });
            match self.store.append(record, stored).await {
                Ok(()) => {
                    *guard = Some(tail);
                    drop(guard);
                    if let Some(alert) = self
                        .alert
                        .as_ref()
                        .filter(|_| entry.classification.alerts())
                    {
                        alert.alert(index, entry);
                    }
                    return Ok(AuditReceipt {
                        index,
                        checkpoint: note,
                    });
                }
                // Another writer appended first: read what it appended and try again,
                // after a short random pause so that racing processes fall out of step.
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    self.catch_up(&mut seen).await?;
                    let pause = rand::random_range(0..=attempt.min(20));
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(AuditError::new(
            AuditErrorKind::Store,
            format!("audit append lost the race to other writers {APPEND_ATTEMPTS} times"),
        ))
    }

    /// The most recent signed checkpoint, to publish outside the store (a copy kept
    /// elsewhere lets `verify` detect truncation even if the checkpoints are removed).
    pub async fn latest_checkpoint(&self) -> Result<Option<String>, AuditError> {
        let all = self.store.checkpoints().await.map_err(store_error)?;
        Ok(all.into_iter().max_by_key(|c| c.size).map(|c| c.note))
    }

    /// The leaf hashes of the first `size` entries.
    async fn leaves(&self, size: u64) -> Result<Vec<Hash>, AuditError> {
        let mut leaves = Vec::new();
        for_each_record(self.store.as_ref(), |r| {
            if r.index >= size {
                return false;
            }
            leaves.push(merkle::leaf_hash(&r.entry));
            true
        })
        .await?;
        if (leaves.len() as u64) < size {
            return Err(AuditError::new(
                AuditErrorKind::Proof,
                format!("the log has {} entries, not {size}", leaves.len()),
            ));
        }
        Ok(leaves)
    }

    /// The tree head over the first `size` entries.
    pub async fn root(&self, size: u64) -> Result<Hash, AuditError> {
        Ok(merkle::root(&self.leaves(size).await?))
    }

    /// Proof that entry `index` is in the tree of `size` entries.
    pub async fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, AuditError> {
        let hashes = merkle::inclusion_proof(index, &self.leaves(size).await?)?;
        Ok(InclusionProof {
            index,
            size,
            hashes,
        })
    }

    /// Proof that the tree of `new_size` entries extends the tree of `old_size`.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, AuditError> {
        let hashes = merkle::consistency_proof(old_size, &self.leaves(new_size).await?)?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            hashes,
        })
    }
}
