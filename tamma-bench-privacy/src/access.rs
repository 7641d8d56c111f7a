//! The audit hook: every repository access, allowed or denied, is reported to an
//! [`AccessAudit`] before any data is returned.
//!
//! The tamper-evident audit log (issue 5 item 7, `crate::audit`) implements this trait;
//! [`NoAudit`] records nothing (tests, benches, embedded use without a log). A failing
//! audit fails the access (fail closed).

use crate::authz::Action;
use crate::classification::Class;
use async_trait::async_trait;
use serde::Serialize;
use tamma_bench_core::model::TenantId;

/// Whether the access went ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The policy allowed it.
    Allowed,
    /// The policy denied it (or the resource was not visible to the caller).
    Denied,
}

/// One access to the repository, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEvent {
    /// The tenant acting.
    pub tenant_id: TenantId,
    /// The principal acting.
    pub principal: String,
    /// What it asked to do.
    pub action: Action,
    /// What it asked about: `run:ID`, or `runs` for a listing.
    pub resource: String,
    /// The most protected class of field the access returns (or would have returned).
    pub classification: Class,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Ids of the policies that determined the decision.
    pub reasons: Vec<String>,
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
}

/// The audit hook could not record an access; the access is refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log unavailable: {0}")]
#[non_exhaustive]
pub struct AuditFailure(pub String);

impl AuditFailure {
    /// The audit hook failed, saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// What a caller can do: retry (the access must not proceed unaudited).
    pub fn remedy(&self) -> tamma_bench_core::error::Remedy {
        tamma_bench_core::error::Remedy::Retry
    }
}

/// Receives every access of the repository.
#[async_trait]
pub trait AccessAudit: Send + Sync {
    /// Records `event` durably before the access proceeds. Sensitive and restricted
    /// classifications are where an implementation raises its alert.
    async fn record(&self, event: AccessEvent) -> Result<(), AuditFailure>;
}

/// Records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

#[async_trait]
impl AccessAudit for NoAudit {
    async fn record(&self, _event: AccessEvent) -> Result<(), AuditFailure> {
        Ok(())
    }
}

/// Keeps every event in memory: for tests and for hosts that ship events elsewhere.
#[derive(Debug, Default)]
pub struct MemoryAudit {
    events: std::sync::Mutex<Vec<AccessEvent>>,
}

impl MemoryAudit {
    /// The events recorded so far.
    pub fn events(&self) -> Vec<AccessEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl AccessAudit for MemoryAudit {
    async fn record(&self, event: AccessEvent) -> Result<(), AuditFailure> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event);
        Ok(())
    }
}
