//! The tenant-aware repository: the only way results leave a store.
//!
//! Every method takes the caller's [`TenantContext`] (or an [`InternalContext`]), asks
//! the [`AccessPolicy`] for a decision on each run it touches, reports the access to the
//! [`AccessAudit`] hook before returning anything, and returns typed views projected to
//! the caller's [`AccessLevel`]. Writes redact secrets and, with a keyset
//! ([`Repository::with_keys`]), seal sensitive and restricted fields before the store sees
//! them; reads open them. [`Repository::store_for`] hands the executor one tenant's view
//! of the repository as a [`ResultStore`], so runs are written the same way.

mod read;
mod release;
mod reseal;
mod tenant_store;
mod write;

pub use read::TrialExport;
pub use release::Release;
pub use reseal::ResealReport;
pub use tenant_store::TenantStore;

use crate::access::{AccessAudit, AccessEvent, NoAudit, Outcome};
use crate::authz::{AccessPolicy, Action, RunResource};
use crate::classification::{AccessLevel, Class};
use crate::crypto::{KeyProvider, Keyset, RecordCipher};
use crate::error::RepositoryError;
use std::sync::Arc;
use tamma_bench_core::model::{Run, TenantContext, now_ms};
use tamma_bench_core::store::ResultStore;

/// Results of a store, seen through tenancy, policy and privacy filters.
#[derive(Clone)]
pub struct Repository {
    store: Arc<dyn ResultStore>,
    policy: Arc<AccessPolicy>,
    audit: Arc<dyn AccessAudit>,
    cipher: Arc<RecordCipher>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("policy", &self.policy)
            .field("cipher", &self.cipher)
            .finish()
    }
}

impl Repository {
    /// A repository over `store` with the shipped policy, no audit log and no data keys
    /// (nothing sealed; a sealed field read fails with [`ErrorKind::Key`]).
    ///
    /// [`ErrorKind::Key`]: crate::ErrorKind::Key
    pub fn new(store: Arc<dyn ResultStore>) -> Result<Self, RepositoryError> {
        Ok(Self {
            store,
            policy: Arc::new(AccessPolicy::shipped()?),
            audit: Arc::new(NoAudit),
            cipher: Arc::new(RecordCipher::disabled()),
        })
    }

    /// With field encryption under `keyset`: sensitive and restricted fields are sealed
    /// with its primary key at write and opened with any of its keys at read. A value of
    /// a sealed column that is not sealed is refused at read ([`ErrorKind::Corrupt`])
    /// unless [`Repository::allow_plaintext_legacy`] is set.
    ///
    /// [`ErrorKind::Corrupt`]: crate::ErrorKind::Corrupt
    pub fn with_keyset(mut self, keyset: &Keyset) -> Self {
        let legacy = self.cipher.allows_plaintext_legacy();
        self.cipher = Arc::new(RecordCipher::new(keyset).allow_plaintext_legacy(legacy));
        self
    }

    /// With `allow`, reads (with a keyset) take a value of a sealed column that is not
    /// sealed for plaintext written before keys were configured and return it as it is,
    /// with a warning in the log once per read batch, instead of refusing it. Meant for
    /// the time between configuring keys and [`Repository::reseal`]: while it is set,
    /// whoever can write the database can put plaintext of their choosing in a sealed
    /// column and have it served.
    pub fn allow_plaintext_legacy(mut self, allow: bool) -> Self {
        self.cipher = Arc::new((*self.cipher).clone().allow_plaintext_legacy(allow));
        self
    }

    /// With field encryption under the keyset `keys` provides; fails (closed) when it
    /// provides none.
    pub fn with_keys(self, keys: &dyn KeyProvider) -> Result<Self, RepositoryError> {
        Ok(self.with_keyset(&keys.keyset()?))
    }

    /// With another policy.
    pub fn with_policy(mut self, policy: Arc<AccessPolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// With an audit hook (the audit log of issue 5 item 7).
    pub fn with_audit(mut self, audit: Arc<dyn AccessAudit>) -> Self {
        self.audit = audit;
        self
    }

    /// Reports one access.
    async fn audit(
        &self,
        cx: &TenantContext,
        action: Action,
        resource: String,
        classification: Class,
        allowed: bool,
        reasons: Vec<String>,
    ) -> Result<(), RepositoryError> {
        let event = AccessEvent {
            tenant_id: cx.tenant_id.clone(),
            principal: cx.principal.clone(),
            action,
            resource,
            classification,
            outcome: if allowed {
                Outcome::Allowed
            } else {
                Outcome::Denied
            },
            reasons,
            at_ms: now_ms(),
        };
        Ok(self.audit.record(event).await?)
    }

    /// The run `run_id` as `cx` may see it: its own, else a public run of any tenant.
    async fn find(&self, cx: &TenantContext, run_id: &str) -> Result<Option<Run>, RepositoryError> {
        if let Some(run) = self.store.get_run(&cx.tenant_id, run_id).await? {
            return Ok(Some(run));
        }
        Ok(self
            .store
            .list_public_runs()
            .await?
            .into_iter()
            .find(|r| r.id == run_id))
    }

    /// Finds the run and authorizes `action` on it; audits either way, with
    /// `classification` the most protected class the access returns from an own run.
    /// Returns the run and the level its fields may be shown at.
    async fn authorize(
        &self,
        cx: &TenantContext,
        action: Action,
        run_id: &str,
        classification: Class,
    ) -> Result<(Run, AccessLevel), RepositoryError> {
        let resource = format!("run:{run_id}");
        let found = self.find(cx, run_id).await?;
        // What another tenant's run can show at most is public.
        let classification = match &found {
            Some(r) if r.tenant_id != cx.tenant_id && !cx.is_internal() => Class::Public,
            _ => classification,
        };
        let Some(run) = found else {
            self.audit(cx, action, resource, classification, false, Vec::new())
                .await?;
            return Err(RepositoryError::not_found(run_id));
        };
        let d = self.policy.decide(cx, action, resource_of(&run));
        self.audit(cx, action, resource, classification, d.allowed, d.reasons)
            .await?;
        if !d.allowed {
            // A run the caller may not read at all is reported as absent.
            if run.tenant_id != cx.tenant_id && action != Action::ReadInternal {
                return Err(RepositoryError::not_found(run_id));
            }
            return Err(RepositoryError::denied(action.as_str(), run_id));
        }
        let level = match action {
            Action::ReadInternal => AccessLevel::Internal,
            _ if run.tenant_id == cx.tenant_id => AccessLevel::Owner,
            _ => AccessLevel::Public,
        };
        Ok((run, level))
    }
}

/// Logs, once per read batch, that `n` values of sealed columns of `scope` (a run, or the
/// runs listed) were read as legacy plaintext (only with
/// [`Repository::allow_plaintext_legacy`]).
fn warn_plaintext_legacy(scope: impl std::fmt::Display, n: usize) {
    if n > 0 {
        tracing::warn!(
            "{scope}: read plaintext in sealed columns as legacy data; \
             seal it with `tamma-bench keys reseal` (Repository::reseal)"
        );
    }
}

/// The policy's view of a run.
fn resource_of(run: &Run) -> RunResource<'_> {
    RunResource {
        id: &run.id,
        owner: &run.tenant_id,
        visibility: run.visibility,
    }
}
