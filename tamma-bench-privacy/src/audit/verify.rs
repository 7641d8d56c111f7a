//! Verification of a stored audit log: the first altered, deleted, reordered or
//! truncated entry.

use super::AuditError;
use super::checkpoint::Checkpoint;
use super::entry::{AuditEntry, CHAIN_START, Hash, chain_next};
use super::log::for_each_record;
use super::merkle::{self, Frontier};
use super::note::AuditVerifier;
use std::collections::BTreeMap;
use tamma_bench_core::store::AuditStore;

/// How an entry was found damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryDamage {
    /// The entry at this index is missing (deleted, or the log was renumbered).
    Missing,
    /// The entry's bytes or its chain value do not follow from the entries before it:
    /// it was altered, or entries were deleted or reordered here.
    Altered,
    /// The hash chain is intact but a signed checkpoint disagrees: entries from this
    /// index to the checkpoint's size were rewritten along with the chain.
    Rewritten,
    /// The log ends here but a signed checkpoint covers more entries.
    Truncated,
}

/// What verification found wrong, the first problem in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// An entry problem, at the first bad index.
    Entry {
        /// The first bad index.
        index: u64,
        /// How it is bad.
        damage: EntryDamage,
        /// A human-readable explanation.
        detail: String,
    },
    /// A checkpoint does not verify (bad signature, wrong origin, unparsable).
    Checkpoint {
        /// Its position among the checkpoints checked (stored ones first, then trusted).
        position: usize,
        /// A human-readable explanation.
        detail: String,
    },
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read.
    pub entries: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: usize,
    /// The largest size a valid checkpoint covers.
    pub signed_size: u64,
    /// The head of the tree over all entries read.
    pub root: Hash,
    /// The first problem, if any.
    pub tamper: Option<Tamper>,
}

impl VerifyReport {
    /// Whether the log verified.
    pub fn is_intact(&self) -> bool {
        self.tamper.is_none()
    }

    /// Entries past the last checkpoint: intact as far as the chain can tell, but not
    /// yet covered by a signature (truncating them cannot be detected).
    pub fn unsigned_entries(&self) -> u64 {
        self.entries.saturating_sub(self.signed_size)
    }
}

/// Walks the log in `store`: every entry must be present at its index, canonical, and
/// extend the hash chain; every checkpoint (stored, and each of `trusted`, e.g. a copy
/// published elsewhere) must be signed by `verifier` and match the tree head and chain
/// value at its size; no checkpoint may cover more entries than the log has.
pub async fn verify(
    store: &dyn AuditStore,
    verifier: &AuditVerifier,
    trusted: &[String],
) -> Result<VerifyReport, AuditError> {
    walk(store, Some(verifier), trusted).await
}

/// Walks the log in `store` without a verifier key: every entry must be present at its
/// index, canonical, and extend the hash chain. Checkpoints are not read (without the key
/// they prove nothing), so a rewrite of the whole chain from some entry on, or a
/// truncation, is not detected: use [`verify`] for that.
pub async fn verify_chain(store: &dyn AuditStore) -> Result<VerifyReport, AuditError> {
    walk(store, None, &[]).await
}

async fn walk(
    store: &dyn AuditStore,
    verifier: Option<&AuditVerifier>,
    trusted: &[String],
) -> Result<VerifyReport, AuditError> {
    let stored = match verifier {
        Some(_) => store
            .checkpoints()
            .await
            .map_err(|e| AuditError::new(super::AuditErrorKind::Store, e.to_string()))?,
        None => Vec::new(),
    };
    let notes = stored
        .iter()
        .map(|c| c.note.as_str())
        .chain(trusted.iter().map(String::as_str));
    // Valid checkpoints by size (first per size is enough: all must agree).
    let mut by_size: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
    let mut count = 0;
    for (position, note) in notes.enumerate() {
        let Some(verifier) = verifier else { break };
        match Checkpoint::open(note, verifier) {
            Ok(c) => {
                count += 1;
                by_size.entry(c.size).or_default().push(c);
            }
            Err(e) => {
                return Ok(VerifyReport {
                    entries: 0,
                    checkpoints: count,
                    signed_size: 0,
                    root: merkle::empty_root(),
                    tamper: Some(Tamper::Checkpoint {
                        position,
                        detail: e.to_string(),
                    }),
                });
            }
        }
    }
    let signed_size = by_size.keys().next_back().copied().unwrap_or(0);

    let mut chain = CHAIN_START;
    let mut frontier = Frontier::new();
    let mut last_good_checkpoint = 0;
    let mut tamper = None;
    let check = |frontier: &Frontier, chain: &Hash, last_good: &mut u64| -> Option<Tamper> {
        let size = frontier.size();
        let cps = by_size.get(&size)?;
        if cps
            .iter()
            .all(|c| c.root == frontier.root() && &c.chain == chain)
        {
            *last_good = size;
            return None;
        }
        Some(Tamper::Entry {
            index: *last_good,
            damage: EntryDamage::Rewritten,
            detail: format!(
                "the signed checkpoint of size {size} does not match entries {}..{}: they were rewritten",
                *last_good,
                size - 1
            ),
        })
    };
    tamper = tamper.or_else(|| check(&frontier, &chain, &mut last_good_checkpoint));
    if tamper.is_none() {
        for_each_record(store, |r| {
            let i = frontier.size();
            let bad = |damage, detail: String| Some(Tamper::Entry { index: i, damage, detail });
            if r.index != i {
                tamper = bad(EntryDamage::Missing, format!("entry {i} is missing (next stored is {})", r.index));
                return false;
            }
            let expected = chain_next(&chain, &r.entry);
            if r.chain_hash != expected {
                tamper = bad(
                    EntryDamage::Altered,
                    format!("entry {i} does not extend the hash chain: altered, or entries were deleted or reordered here"),
                );
                return false;
            }
            if let Err(e) = AuditEntry::from_canonical(&r.entry) {
                tamper = bad(EntryDamage::Altered, format!("entry {i}: {e}"));
                return false;
            }
            chain = expected;
            frontier.push(merkle::leaf_hash(&r.entry));
            tamper = check(&frontier, &chain, &mut last_good_checkpoint);
            tamper.is_none()
        })
        .await?;
    }
    let entries = frontier.size();
    if tamper.is_none() && signed_size > entries {
        tamper = Some(Tamper::Entry {
            index: entries,
            damage: EntryDamage::Truncated,
            detail: format!(
                "the log ends after {entries} entries but a signed checkpoint covers {signed_size}: entries {entries}..{} were removed",
                signed_size - 1
            ),
        });
    }
    Ok(VerifyReport {
        entries,
        checkpoints: count,
        signed_size,
        root: frontier.root(),
        tamper,
    })
}
