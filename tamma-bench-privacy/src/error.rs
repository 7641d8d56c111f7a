//! The repository's errors. Messages name only what the caller named or owns: never
//! another tenant, nor whether another tenant has a run of that id.

use crate::access::AuditFailure;
use crate::authz::PolicyError;
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
    /// The privacy budget of the release is spent: start a new release.
    BudgetExhausted,
    /// Storage, policy or audit failed: retry later or report.
    Unavailable,
}

/// A repository failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct RepositoryError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Details, safe to show the caller.
    pub message: String,
}

impl RepositoryError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
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
        match e.kind {
            // Store messages for these kinds name only the caller's own run id.
            StoreErrorKind::NotFound => Self::new(ErrorKind::NotFound, e.message),
            StoreErrorKind::Conflict | StoreErrorKind::FingerprintMismatch => {
                Self::new(ErrorKind::Invalid, e.message)
            }
            _ => Self::new(
                ErrorKind::Unavailable,
                format!("storage failed: {}", e.message),
            ),
        }
    }
}

impl From<AuditFailure> for RepositoryError {
    fn from(e: AuditFailure) -> Self {
        Self::new(ErrorKind::Unavailable, e.to_string())
    }
}

impl From<PolicyError> for RepositoryError {
    fn from(e: PolicyError) -> Self {
        Self::new(ErrorKind::Unavailable, e.to_string())
    }
}
