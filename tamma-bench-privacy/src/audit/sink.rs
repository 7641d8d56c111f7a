//! The repository's audit hook ([`AccessAudit`]), implemented by the audit log.

use super::{AuditAction, AuditClass, AuditEntry, AuditLog, Decision, ENTRY_VERSION};
use crate::access::{AccessAudit, AccessEvent, AuditFailure, Outcome};
use crate::authz::Action;
use crate::classification::Class;
use async_trait::async_trait;

impl From<Action> for AuditAction {
    fn from(a: Action) -> Self {
        match a {
            Action::Read => Self::Read,
            Action::Write => Self::Write,
            Action::Export => Self::Export,
            Action::Compare => Self::Compare,
            Action::ReadInternal => Self::ReadInternal,
        }
    }
}

impl From<Class> for AuditClass {
    fn from(c: Class) -> Self {
        match c {
            Class::Public => Self::Public,
            Class::Sensitive => Self::Sensitive,
            Class::Internal => Self::Internal,
            Class::Restricted => Self::Restricted,
        }
    }
}

impl From<Outcome> for Decision {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Allowed => Self::Allow,
            Outcome::Denied => Self::Deny,
        }
    }
}

impl From<AccessEvent> for AuditEntry {
    fn from(e: AccessEvent) -> Self {
        Self {
            v: ENTRY_VERSION,
            at_ms: e.at_ms,
            tenant: e.tenant_id,
            principal: e.principal,
            action: e.action.into(),
            resource: e.resource,
            classification: e.classification.into(),
            decision: e.outcome.into(),
            policies: e.reasons,
        }
    }
}

/// Appends each access before the repository returns anything; a failed append fails the
/// access. Sensitive and restricted accesses fire the log's alert hook.
#[async_trait]
impl AccessAudit for AuditLog {
    async fn record(&self, event: AccessEvent) -> Result<(), AuditFailure> {
        self.append(&AuditEntry::from(event))
            .await
            .map(|_| ())
            .map_err(|e| AuditFailure::new(e.to_string()))
    }
}
