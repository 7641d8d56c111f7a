//! The registry of agent configurations as the platform reaches it: internal contexts
//! only, every access audited.
//!
//! [`AgentConfigs`] is the front over core's [`AgentConfigStore`] that a service (such as
//! the internal `PUT`/`GET /internal/v1/agent-configs` API) calls. Every method takes an
//! [`InternalContext`], which only an internal context with the `read_internal` grant can
//! become, so no external tenant reaches a configuration; the configurations are those
//! of the context's tenant (Tamma's). A write also needs the `write` grant.
//!
//! Each write is recorded in the [`AuditLog`] as [`AuditAction::AgentConfigWrite`],
//! class restricted (configurations hold raw prompts and where keys live), by the
//! context's principal, who is also the version's author:
//!
//! | outcome | decision | resource | policies |
//! | --- | --- | --- | --- |
//! | stored | allow | `agent-config:ID@VERSION:sha256:DIGEST` | none |
//! | stale or taken version | deny | `agent-config:ID@VERSION:sha256:DIGEST` (the version it would have made) | `expected-version` |
//! | no `write` grant | deny | the same | none (default deny) |
//!
//! A write is recorded after the store answers, so the entry says what happened; if the
//! entry cannot be appended the call fails ([`ErrorKind::Unavailable`]) and its message
//! says whether the version was stored. Reads are recorded as
//! [`AuditAction::ReadInternal`] before anything is returned, and fail if the entry
//! cannot be appended (fail closed, as the repository's reads).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use tamma_bench_core::model::{AgentConfig, TenantContext, TenantId};
//! use tamma_bench_core::store::{AgentConfigId, MemoryAgentConfigStore, MemoryAuditStore};
//! use tamma_bench_privacy::audit::AuditLog;
//! use tamma_bench_privacy::{AgentConfigs, ErrorKind, InternalContext};
//!
//! let audit = Arc::new(AuditLog::unsigned(Arc::new(MemoryAuditStore::new())));
//! let configs = AgentConfigs::new(Arc::new(MemoryAgentConfigStore::new()), audit);
//! let tamma = TenantContext::internal(TenantId::new("tamma").unwrap(), "ana");
//! let cx = InternalContext::new(tamma).unwrap();
//! let id = AgentConfigId::new("summarizer").unwrap();
//! let v1 = configs.put(&cx, &id, &AgentConfig::new("s", "openai", "gpt-4o"), None).await.unwrap();
//! assert_eq!((v1.version, v1.author.as_str()), (1, "ana"));
//! let e = configs.put(&cx, &id, &AgentConfig::new("s", "openai", "o3"), None).await.unwrap_err();
//! assert_eq!(e.kind(), ErrorKind::Conflict); // it exists: update it from version 1
//! # });
//! ```

use crate::audit::{AuditAction, AuditClass, AuditEntry, AuditError, AuditLog, Decision};
use crate::crypto::{Keyset, RecordCipher};
use crate::error::{ErrorKind, RepositoryError};
use crate::views::InternalContext;
use std::sync::Arc;
use tamma_bench_core::model::{AgentConfig, Permission};
use tamma_bench_core::store::agent_configs::config_digest;
use tamma_bench_core::store::{AgentConfigId, AgentConfigStore, StoreErrorKind, StoredAgentConfig};

/// The policy id an entry of a write refused for its expected version names.
pub const EXPECTED_VERSION_POLICY: &str = "expected-version";

/// Agent configurations for internal contexts, audited. Cheap to clone.
#[derive(Clone)]
pub struct AgentConfigs {
    store: Arc<dyn AgentConfigStore>,
    audit: Arc<AuditLog>,
    cipher: Arc<RecordCipher>,
}

impl std::fmt::Debug for AgentConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfigs").finish_non_exhaustive()
    }
}

/// The resource of a write of version `version` of `id` with content `digest`.
fn write_resource(id: &AgentConfigId, version: u64, digest: &str) -> String {
    format!("agent-config:{id}@{version}:sha256:{digest}")
}

impl AgentConfigs {
    /// The registry in `store`, its accesses recorded in `audit`.
    pub fn new(store: Arc<dyn AgentConfigStore>, audit: Arc<AuditLog>) -> Self {
        Self {
            store,
            audit,
            cipher: Arc::new(RecordCipher::disabled()),
        }
    }

    /// Seals the restricted fields of every configuration written from now on (`system`,
    /// `prompt`, `base_url`, `api_key_env`) with `keyset`, bound to the tenant and the
    /// configuration's id, and opens them on read; plaintext in those fields is then
    /// refused on read unless [`AgentConfigs::allow_plaintext_legacy`] is set. The
    /// digest a version carries is always that of its plaintext, so it names the content
    /// whatever the sealing.
    pub fn with_keyset(mut self, keyset: &Keyset) -> Self {
        let legacy = self.cipher.allows_plaintext_legacy();
        self.cipher = Arc::new(RecordCipher::new(keyset).allow_plaintext_legacy(legacy));
        self
    }

    /// Whether plaintext in sealed fields (written before keys were configured) is read
    /// as it is rather than refused.
    pub fn allow_plaintext_legacy(mut self, allow: bool) -> Self {
        self.cipher = Arc::new((*self.cipher).clone().allow_plaintext_legacy(allow));
        self
    }

    /// `stored` with its sealed fields opened and the digest of its plaintext.
    fn opened(
        &self,
        cx: &InternalContext,
        mut stored: StoredAgentConfig,
    ) -> Result<StoredAgentConfig, RepositoryError> {
        let tenant = &cx.context().tenant_id;
        self.cipher
            .open_agent_config(tenant, stored.id.as_str(), &mut stored.config)?;
        stored.digest = config_digest(&stored.config);
        Ok(stored)
    }

    fn opened_all(
        &self,
        cx: &InternalContext,
        all: Vec<StoredAgentConfig>,
    ) -> Result<Vec<StoredAgentConfig>, RepositoryError> {
        all.into_iter().map(|s| self.opened(cx, s)).collect()
    }

    /// Appends one entry for `cx`.
    async fn record(
        &self,
        cx: &InternalContext,
        action: AuditAction,
        resource: String,
        decision: Decision,
        policies: Vec<String>,
    ) -> Result<(), AuditError> {
        let entry = AuditEntry::new(
            cx.context(),
            action,
            resource,
            AuditClass::Restricted,
            decision,
            policies,
        );
        self.audit.append(&entry).await.map(drop)
    }

    /// Records a read of `resource`, before anything is returned.
    async fn record_read(
        &self,
        cx: &InternalContext,
        resource: String,
    ) -> Result<(), RepositoryError> {
        self.record(
            cx,
            AuditAction::ReadInternal,
            resource,
            Decision::Allow,
            Vec::new(),
        )
        .await
        .map_err(|e| unaudited(e, "the read was refused"))
    }

    /// Writes `config` as the next version of `id` for the context's tenant, based on
    /// `expected_version` (`None`: create; `id` must not exist), authored by the
    /// context's principal. A write based on a version that is not the latest is refused
    /// with [`ErrorKind::Conflict`] (the message names the current version); a context
    /// without the `write` grant with [`ErrorKind::Denied`]. Stored or refused, the write
    /// is recorded in the audit log.
    pub async fn put(
        &self,
        cx: &InternalContext,
        id: &AgentConfigId,
        config: &AgentConfig,
        expected_version: Option<u64>,
    ) -> Result<StoredAgentConfig, RepositoryError> {
        let attempted = expected_version.map_or(1, |v| v.saturating_add(1));
        let resource = write_resource(id, attempted, &config_digest(config));
        let action = AuditAction::AgentConfigWrite;
        if !cx.context().has(Permission::Write) {
            self.record(cx, action, resource, Decision::Deny, Vec::new())
                .await
                .map_err(|e| unaudited(e, "the write was refused"))?;
            return Err(RepositoryError::new(
                ErrorKind::Denied,
                format!("not permitted: write on agent configuration {id:?}"),
            ));
        }
        let cx_tenant = &cx.context().tenant_id;
        let principal = &cx.context().principal;
        let mut sealed = config.clone();
        self.cipher
            .seal_agent_config(cx_tenant, id.as_str(), &mut sealed)?;
        match self
            .store
            .put(cx_tenant, id, &sealed, expected_version, principal)
            .await
        {
            Ok(mut stored) => {
                stored.config = config.clone();
                stored.digest = config_digest(config);
                let resource = write_resource(id, stored.version, &stored.digest);
                self.record(cx, action, resource, Decision::Allow, Vec::new())
                    .await
                    .map_err(|e| {
                        let stored_as = format!(
                            "agent configuration {id:?} was stored as version {}",
                            stored.version
                        );
                        tracing::error!(error = %e, "{stored_as} but could not be audited");
                        unaudited(e, &stored_as)
                    })?;
                Ok(stored)
            }
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                let policies = vec![EXPECTED_VERSION_POLICY.to_owned()];
                self.record(cx, action, resource, Decision::Deny, policies)
                    .await
                    .map_err(|a| unaudited(a, "the write was refused"))?;
                Err(RepositoryError::new(ErrorKind::Conflict, e.message()).with_source(e))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The latest version of `id`, if there is one.
    pub async fn get(
        &self,
        cx: &InternalContext,
        id: &AgentConfigId,
    ) -> Result<Option<StoredAgentConfig>, RepositoryError> {
        let found = self.store.get(&cx.context().tenant_id, id).await?;
        self.record_read(cx, format!("agent-config:{id}")).await?;
        found.map(|s| self.opened(cx, s)).transpose()
    }

    /// Version `version` of `id`, if there is one.
    pub async fn get_version(
        &self,
        cx: &InternalContext,
        id: &AgentConfigId,
        version: u64,
    ) -> Result<Option<StoredAgentConfig>, RepositoryError> {
        let found = self
            .store
            .get_version(&cx.context().tenant_id, id, version)
            .await?;
        self.record_read(cx, format!("agent-config:{id}@{version}"))
            .await?;
        found.map(|s| self.opened(cx, s)).transpose()
    }

    /// The latest version of every configuration of the context's tenant, sorted by id.
    pub async fn list(
        &self,
        cx: &InternalContext,
    ) -> Result<Vec<StoredAgentConfig>, RepositoryError> {
        let all = self.store.list(&cx.context().tenant_id).await?;
        self.record_read(cx, "agent-configs".to_owned()).await?;
        self.opened_all(cx, all)
    }

    /// Every version of `id`, oldest first.
    pub async fn history(
        &self,
        cx: &InternalContext,
        id: &AgentConfigId,
    ) -> Result<Vec<StoredAgentConfig>, RepositoryError> {
        let versions = self.store.history(&cx.context().tenant_id, id).await?;
        self.record_read(cx, format!("agent-config:{id}:history"))
            .await?;
        self.opened_all(cx, versions)
    }
}

/// The audit log failed: the access fails ([`ErrorKind::Unavailable`]); `what` says
/// what became of it.
fn unaudited(e: AuditError, what: &str) -> RepositoryError {
    RepositoryError::new(
        ErrorKind::Unavailable,
        format!("audit log unavailable ({what}): {e}"),
    )
    .with_source(e)
}
