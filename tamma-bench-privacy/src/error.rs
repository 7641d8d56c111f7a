//! The repository's errors. Messages name only what the caller named or owns: never
//! another tenant, nor whether another tenant has a run of that id.

use crate::access::AuditFailure;
use crate::authz::PolicyError;
use crate::crypto::{CryptoError, CryptoErrorKind};
use tamma_bench_core::error::{Cause, Remedy};
use tamma_bench_core::store::{StoreError, StoreErrorKind};

/// What went wrong, and so what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing of that id is visible to the caller: check the id.
    NotFound,
    /// The policy denied the action: ask for the permission.
    Denied,
    /// The request itself is wrong (a record of another tenant, an unknown agent).
    Invalid,
    /// Another write came first: an agent configuration written on a version that is no
    /// longer the latest (or created when it exists). Read it again, and write on the
    /// version read.
    Conflict,
    /// The privacy budget of the release is spent: start a new release.
    BudgetExhausted,
    /// Storage, policy or audit failed: retry later or report.
    Unavailable,
    /// Field-encryption keys are missing or unusable (a sealed field and no keyset, a key
    /// an envelope names is not in the keyset, a bad key file): fix the key configuration.
    Key,
    /// A sealed field does not open with the configured keys: a wrong key of the same
    /// id, or the stored value was altered or moved to another row, column or tenant; or,
    /// with keys, a sealed column holds plaintext (legacy data not yet re-sealed, or a
    /// value swapped in). Do not retry; restore the right key or the data, or re-seal
    /// trusted legacy data (`Repository::reseal`).
    Corrupt,
}

impl ErrorKind {
    /// What a caller can do: fix the id, the permission, the request, the expected
    /// version or the keys; retry
    /// an unavailable storage, policy or audit; give up on a spent budget or corrupt data.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::NotFound | Self::Denied | Self::Invalid | Self::Conflict | Self::Key => {
                Remedy::FixInput
            }
            Self::Unavailable => Remedy::Retry,
            Self::BudgetExhausted | Self::Corrupt => Remedy::GiveUp,
        }
    }
}

/// A repository failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepositoryError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Details, safe to show the caller.
    pub message: String,
    /// The store, audit, policy or crypto error behind it.
    source: Option<Cause>,
}

impl std::fmt::Display for RepositoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RepositoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl RepositoryError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(tamma_bench_core::error::cause(cause));
        self
    }

    /// What kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Details, safe to show the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }

    /// The run is not visible to the caller (whether or not it exists).
    pub fn not_found(run_id: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            format!("no run {run_id:?} visible to this tenant"),
        )
    }

    /// The policy denied `action` on the run.
    pub fn denied(action: &str, run_id: &str) -> Self {
        Self::new(
            ErrorKind::Denied,
            format!("not permitted: {action} on run {run_id:?}"),
        )
    }
}

impl From<StoreError> for RepositoryError {
    fn from(e: StoreError) -> Self {
        let converted = match e.kind() {
            // Store messages for these kinds name only the caller's own run id.
            StoreErrorKind::NotFound => Self::new(ErrorKind::NotFound, e.message()),
            StoreErrorKind::Conflict | StoreErrorKind::FingerprintMismatch => {
                Self::new(ErrorKind::Invalid, e.message())
            }
            _ => Self::new(
                ErrorKind::Unavailable,
                format!("storage failed: {}", e.message()),
            ),
        };
        converted.with_source(e)
    }
}

impl From<AuditFailure> for RepositoryError {
    fn from(e: AuditFailure) -> Self {
        Self::new(ErrorKind::Unavailable, e.to_string()).with_source(e)
    }
}

impl From<PolicyError> for RepositoryError {
    fn from(e: PolicyError) -> Self {
        Self::new(ErrorKind::Unavailable, e.to_string()).with_source(e)
    }
}

impl From<CryptoError> for RepositoryError {
    /// Nothing of the plaintext or the key is in a crypto error's message.
    fn from(e: CryptoError) -> Self {
        let kind = match e.kind() {
            CryptoErrorKind::MissingKey | CryptoErrorKind::InvalidKey => ErrorKind::Key,
            CryptoErrorKind::Rng => ErrorKind::Unavailable,
            _ => ErrorKind::Corrupt,
        };
        Self::new(kind, format!("field encryption: {e}")).with_source(e)
    }
}
