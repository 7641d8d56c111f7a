//! The tamper-evident audit trail of repository accesses.
//!
//! Every access (read, write, export, compare; allowed or denied) is an [`AuditEntry`]:
//! tenant, principal, action, resource, classification, decision and the policies that
//! determined it. Entries are stored through the core [`AuditStore`] (SQLite beside the
//! results) and made tamper-evident three ways:
//!
//! - a **hash chain**: each record carries `SHA-256(previous chain value || entry)`, so an
//!   altered, deleted or reordered entry breaks the chain at its index;
//! - an **RFC 6962 Merkle tree** over the entries ([`merkle`]), with inclusion and
//!   consistency proofs;
//! - **signed checkpoints** ([`Checkpoint`]): tree size, root, time and chain value, signed
//!   with Ed25519 as a C2SP signed note, so a rewrite of the chain is caught by the
//!   signature, and truncation by a checkpoint that covers more entries than remain.
//!
//! [`verify`] walks the log and names the first bad entry; without a signing key the log
//! is [`AuditLog::unsigned`] (no checkpoints) and [`verify_chain`] checks the chain
//! alone. The repository reports each access through its `AccessAudit` hook, which
//! [`AuditLog`] implements; an [`AuditAlert`] hook fires for sensitive and restricted
//! data.
//!
//! ```
//! # tokio_test_block_on(async {
//! use std::sync::Arc;
//! use tamma_bench_core::model::TenantContext;
//! use tamma_bench_core::store::MemoryAuditStore;
//! use tamma_bench_privacy::audit::*;
//!
//! let store = Arc::new(MemoryAuditStore::new());
//! let signer = AuditSigner::generate("example.com/audit")?;
//! let verifier = signer.verifier();
//! let log = AuditLog::new(store.clone(), signer);
//! let cx = TenantContext::local_operator();
//! let entry = AuditEntry::new(&cx, AuditAction::Read, "run:local/r1", AuditClass::Public,
//!                             Decision::Allow, vec!["permit-own-tenant".into()]);
//! assert_eq!(log.append(&entry).await?.index, 0);
//! assert!(verify(store.as_ref(), &verifier, &[]).await?.is_intact());
//! # Ok::<(), AuditError>(()) });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) }
//! ```

mod checkpoint;
mod entry;
mod log;
pub mod merkle;
mod note;
mod sink;
mod verify;

pub use checkpoint::Checkpoint;
pub use entry::{
    AuditAction, AuditClass, AuditEntry, CHAIN_START, Decision, ENTRY_VERSION, Hash, chain_next,
};
pub use log::{AuditLog, AuditReceipt, ConsistencyProof, InclusionProof};
pub use note::{AuditSigner, AuditVerifier};
use tamma_bench_core::error::Remedy;
pub use tamma_bench_core::store::AuditStore;
pub use verify::{EntryDamage, Tamper, VerifyReport, verify, verify_chain};

/// The environment variable holding the checkpoint signer key (`PRIVATE+KEY+…`).
pub const SIGNING_KEY_VAR: &str = "TAMMA_BENCH_AUDIT_SIGNING_KEY";
/// The environment variable holding the checkpoint verifier key (`NAME+HEX8+BASE64`).
pub const VERIFIER_KEY_VAR: &str = "TAMMA_BENCH_AUDIT_VERIFIER_KEY";

/// What went wrong in the audit log; tells the caller what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditErrorKind {
    /// The store failed: the access must not proceed unaudited (retry or give up).
    Store,
    /// A signer or verifier key is missing or invalid: fix the configuration.
    Key,
    /// A checkpoint's signature does not verify, or it is not this log's.
    Signature,
    /// An entry or checkpoint does not parse.
    Malformed,
    /// A proof does not verify, or was asked for sizes the log does not have.
    Proof,
}

impl AuditErrorKind {
    /// What a caller can do: retry a failed store; fix a key; give up on a signature,
    /// entry or proof that does not verify.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::Store => Remedy::Retry,
            Self::Key => Remedy::FixInput,
            Self::Signature | Self::Malformed | Self::Proof => Remedy::GiveUp,
        }
    }
}

/// An audit failure. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct AuditError {
    kind: AuditErrorKind,
    message: String,
}

impl AuditError {
    /// An error of `kind`.
    pub fn new(kind: AuditErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> AuditErrorKind {
        self.kind
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }
}

/// Called after an entry about sensitive or restricted data is appended. Runs on the
/// caller's task: keep it quick (e.g. send on a channel).
pub trait AuditAlert: Send + Sync {
    /// `entry` was appended at `index`.
    fn alert(&self, index: u64, entry: &AuditEntry);
}

impl<F: Fn(u64, &AuditEntry) + Send + Sync> AuditAlert for F {
    fn alert(&self, index: u64, entry: &AuditEntry) {
        self(index, entry)
    }
}
