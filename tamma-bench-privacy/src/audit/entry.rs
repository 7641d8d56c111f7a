//! One audit entry and its canonical bytes.

use super::{AuditError, AuditErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tamma_bench_core::model::{TenantContext, TenantId, now_ms};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// The version of the entry format, written first in every entry.
pub const ENTRY_VERSION: u32 = 1;

/// What the caller attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// Read results.
    Read,
    /// Read internal fields.
    ReadInternal,
    /// Write runs or trials.
    Write,
    /// Export trials.
    Export,
    /// Compare results.
    Compare,
    /// Change the deployment's configuration (the resource names the old and new
    /// digests; the principal, who changed it).
    ConfigChange,
    /// Write a version of an agent configuration of the registry (the resource names the
    /// id, the version and the content's digest; a refused write is denied, naming the
    /// rule that refused it).
    AgentConfigWrite,
    /// Authenticate a request at a door of the service (the resource names the door, the
    /// policies the reason: `reason:ok`, `reason:expired`, ...).
    Authenticate,
}

/// The class of the data touched (the most protected class among the fields involved);
/// the same four classes as `crate::classification::Class`, kept here so the stored
/// format does not change with that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditClass {
    /// Anyone who may see the record.
    Public,
    /// The owning tenant and the platform; encrypted at rest; access raises an alert.
    Sensitive,
    /// The platform only.
    Internal,
    /// The platform only, encrypted at rest; access raises an alert.
    Restricted,
}

impl AuditClass {
    /// Whether an access to data of this class fires the alert hook.
    pub fn alerts(self) -> bool {
        matches!(self, Self::Sensitive | Self::Restricted)
    }
}

/// The authorization decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Permitted.
    Allow,
    /// Refused (default deny, or a forbid policy).
    Deny,
}

/// One access to the repository, as logged. Serialized canonically (fields in this
/// order, compact JSON); the bytes are the Merkle leaf and the input of the hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Entry format version ([`ENTRY_VERSION`]).
    pub v: u32,
    /// When, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The tenant acting.
    pub tenant: TenantId,
    /// The principal acting for it.
    pub principal: String,
    /// What was attempted.
    pub action: AuditAction,
    /// What it was attempted on, e.g. `run:acme/run-42` or `trials:acme/run-42`.
    pub resource: String,
    /// The class of the data touched.
    pub classification: AuditClass,
    /// The decision.
    pub decision: Decision,
    /// The ids of the policies that determined the decision (empty for default deny).
    pub policies: Vec<String>,
}

impl AuditEntry {
    /// An entry for `cx` at the current time.
    pub fn new(
        cx: &TenantContext,
        action: AuditAction,
        resource: impl Into<String>,
        classification: AuditClass,
        decision: Decision,
        policies: Vec<String>,
    ) -> Self {
        Self {
            v: ENTRY_VERSION,
            at_ms: now_ms(),
            tenant: cx.tenant_id.clone(),
            principal: cx.principal.clone(),
            action,
            resource: resource.into(),
            classification,
            decision,
            policies,
        }
    }

    /// The canonical bytes.
    pub fn to_canonical(&self) -> Result<Vec<u8>, AuditError> {
        serde_json::to_vec(self)
            .map_err(|e| AuditError::new(AuditErrorKind::Malformed, format!("entry: {e}")))
    }

    /// Parses canonical bytes; bytes that parse but are not canonical are refused too.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, AuditError> {
        let bad = |what: String| AuditError::new(AuditErrorKind::Malformed, what);
        let entry: Self =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("entry does not parse: {e}")))?;
        if entry.v != ENTRY_VERSION {
            return Err(bad(format!("entry version {} is unknown", entry.v)));
        }
        if entry.to_canonical()? != bytes {
            return Err(bad("entry is not in canonical form".to_owned()));
        }
        Ok(entry)
    }
}

/// The chain value before the first entry.
pub const CHAIN_START: Hash = [0; 32];

/// The next hash chain value: `SHA-256(previous || entry)`.
pub fn chain_next(previous: &Hash, entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(entry);
    h.finalize().into()
}
