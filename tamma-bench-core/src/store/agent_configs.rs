//! The registry of agent configurations: [`AgentConfig`]s kept under stable ids,
//! versioned, with optimistic concurrency. The contract every backend implements is
//! [`AgentConfigStore`]; [`MemoryAgentConfigStore`] is the one in memory
//! (`SqliteAgentConfigStore` and `PostgresStore::agent_configs` are the database ones).
//!
//! Every write makes a new version (1, 2, ...) and carries the version it was based on,
//! like an HTTP `If-Match`: `None` creates (the id must not exist), `Some(v)` updates
//! only while `v` is still the latest. A write based on a stale version is refused with
//! [`StoreErrorKind::Conflict`], naming the current version, so two writers that read
//! the same version cannot both win. Versions are never changed or removed: the
//! history stays readable.
//!
//! Every implementation passes the test kit's `agent_config_conformance_tests!`.
//!
//! Agent configurations are internal data (prompts, parameters, where keys live): the
//! store is scoped per tenant like every store, and `tamma-bench-privacy`'s
//! `AgentConfigs` is the front that only internal contexts pass, auditing each write.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use tamma_bench_core::model::{AgentConfig, TenantId};
//! use tamma_bench_core::store::{AgentConfigId, AgentConfigStore, MemoryAgentConfigStore};
//!
//! let store = MemoryAgentConfigStore::new();
//! let tamma = TenantId::new("tamma").unwrap();
//! let id = AgentConfigId::new("summarizer").unwrap();
//! let v1 = store
//!     .put(&tamma, &id, &AgentConfig::new("s", "openai", "gpt-4o"), None, "ana")
//!     .await
//!     .unwrap();
//! let v2 = store
//!     .put(&tamma, &id, &AgentConfig::new("s", "openai", "gpt-4.1"), Some(v1.version), "ana")
//!     .await
//!     .unwrap();
//! assert_eq!((v1.version, v2.version), (1, 2));
//! // A writer still based on version 1 lost the race:
//! let stale = store
//!     .put(&tamma, &id, &AgentConfig::new("s", "openai", "o3"), Some(1), "bo")
//!     .await
//!     .unwrap_err();
//! assert!(stale.message().contains("version 2"));
//! assert_eq!(store.history(&tamma, &id).await.unwrap().len(), 2);
//! # });
//! ```

use super::{StoreError, StoreErrorKind};
use crate::error::Remedy;
use crate::model::{AgentConfig, TenantId, is_safe_id, now_ms};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// The id of an agent configuration in the registry: 1-128 characters of
/// `[A-Za-z0-9._:-]` (the rule of tenant ids), so it is safe in a URL path, a log line
/// and SQL. Deserializing checks the rule too.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct AgentConfigId(String);

impl AgentConfigId {
    /// Makes an id, refusing one that breaks the rule.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidAgentConfigId> {
        let id = id.into();
        if is_safe_id(&id) {
            Ok(Self(id))
        } else {
            Err(InvalidAgentConfigId(id))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentConfigId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AgentConfigId {
    type Error = InvalidAgentConfigId;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<AgentConfigId> for String {
    fn from(id: AgentConfigId) -> Self {
        id.0
    }
}

/// An agent configuration id that breaks the rule of [`AgentConfigId::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid agent configuration id {0:?}: expected 1-128 characters of [A-Za-z0-9._:-]")]
#[non_exhaustive]
pub struct InvalidAgentConfigId(pub String);

impl InvalidAgentConfigId {
    /// What a caller can do: fix the id.
    pub fn remedy(&self) -> Remedy {
        Remedy::FixInput
    }
}

/// One version of an agent configuration, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StoredAgentConfig {
    /// The configuration's id.
    pub id: AgentConfigId,
    /// Its version: 1 for the first write, one more for each write after.
    pub version: u64,
    /// The configuration as written.
    pub config: AgentConfig,
    /// Who wrote this version (the principal of the writer).
    pub author: String,
    /// When this version was written, ms since the Unix epoch.
    pub created_at_ms: i64,
    /// SHA-256 of the configuration's canonical JSON (keys sorted, no spaces), 64 hex
    /// digits: equal configurations have equal digests ([`config_digest`]).
    pub digest: String,
}

impl StoredAgentConfig {
    /// Version `version` of `id` holding `config`, written by `author` now, with its
    /// digest: what a store writes.
    pub fn new(id: &AgentConfigId, version: u64, config: &AgentConfig, author: &str) -> Self {
        Self {
            id: id.clone(),
            version,
            config: config.clone(),
            author: author.to_owned(),
            created_at_ms: now_ms(),
            digest: config_digest(config),
        }
    }
}

impl StoredAgentConfig {
    /// The configuration as the JSON text a database stores.
    pub fn config_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(&self.config).map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("agent configuration: {e}"))
                .with_source(e)
        })
    }

    /// A version as a database returns it (`config_json` as [`Self::config_json`] wrote
    /// it): [`StoreErrorKind::Corrupt`] when the id, the version or the configuration
    /// does not decode.
    pub fn from_stored(
        id: String,
        version: i64,
        config_json: &str,
        author: String,
        created_at_ms: i64,
        digest: String,
    ) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::new(StoreErrorKind::Corrupt, what);
        let id = AgentConfigId::new(id)
            .map_err(|e| corrupt(format!("stored agent configuration id: {e}")).with_source(e))?;
        let version = u64::try_from(version).map_err(|e| {
            corrupt(format!(
                "agent configuration {id}: stored version {version}"
            ))
            .with_source(e)
        })?;
        let config = serde_json::from_str(config_json).map_err(|e| {
            corrupt(format!(
                "stored agent configuration {id} cannot be decoded: {e}"
            ))
            .with_source(e)
        })?;
        Ok(Self {
            id,
            version,
            config,
            author,
            created_at_ms,
            digest,
        })
    }
}

/// SHA-256 of `config` as canonical JSON (object keys sorted, no whitespace), as 64 hex
/// digits.
pub fn config_digest(config: &AgentConfig) -> String {
    // A configuration is plain data (strings, numbers, booleans, maps with string keys):
    // serializing it into a Value cannot fail.
    let value = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
    let mut canonical = String::new();
    crate::config::write_canonical(&value, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The version a write of `id` based on `expected` makes when `current` is the latest
/// stored version (`None`: none), or the conflict every store answers: creating an id
/// that exists, or updating from a version that is not the latest (or of an id that
/// does not exist).
pub fn next_version(
    id: &AgentConfigId,
    expected: Option<u64>,
    current: Option<u64>,
) -> Result<u64, StoreError> {
    if expected == current {
        return Ok(current.unwrap_or(0).saturating_add(1));
    }
    Err(version_conflict(id, expected, current))
}

/// The conflict of a write of `id` based on `expected` when `current` is the latest
/// version: its message names the current version.
pub fn version_conflict(
    id: &AgentConfigId,
    expected: Option<u64>,
    current: Option<u64>,
) -> StoreError {
    let id = id.as_str();
    let message = match (expected, current) {
        (None, Some(c)) => format!(
            "agent configuration {id:?} exists (current version {c}): update it with expected version {c}"
        ),
        (Some(e), None) => format!(
            "agent configuration {id:?} does not exist (current version: none), so it cannot be updated from {e}: create it without an expected version"
        ),
        (Some(e), Some(c)) => format!(
            "agent configuration {id:?} is at version {c}, not {e}: another write came first; read it again and retry"
        ),
        (None, None) => format!("agent configuration {id:?}: conflicting write"),
    };
    StoreError::new(StoreErrorKind::Conflict, message)
}

/// The registry of agent configurations, scoped per tenant: a tenant reads and writes
/// its own configurations only, and an id of one tenant says nothing about another's.
#[async_trait]
pub trait AgentConfigStore: Send + Sync {
    /// Writes `config` as the next version of `id`, if `expected_version` is the latest
    /// version (`None`: `id` must not exist, and version 1 is made), in one step: of two
    /// writers based on the same version exactly one wins, and the other gets
    /// [`StoreErrorKind::Conflict`] naming the current version ([`next_version`]).
    /// Returns the version stored.
    async fn put(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        config: &AgentConfig,
        expected_version: Option<u64>,
        author: &str,
    ) -> Result<StoredAgentConfig, StoreError>;

    /// The latest version of `id`, if there is one.
    async fn get(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Option<StoredAgentConfig>, StoreError>;

    /// Version `version` of `id`, if there is one.
    async fn get_version(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        version: u64,
    ) -> Result<Option<StoredAgentConfig>, StoreError>;

    /// The latest version of every configuration of `tenant`, sorted by id (byte order).
    async fn list(&self, tenant: &TenantId) -> Result<Vec<StoredAgentConfig>, StoreError>;

    /// Every version of `id`, oldest first (empty when there is none).
    async fn history(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Vec<StoredAgentConfig>, StoreError>;
}

/// Versions by id, per tenant.
type Registry = BTreeMap<TenantId, BTreeMap<AgentConfigId, Vec<StoredAgentConfig>>>;

/// An [`AgentConfigStore`] in memory, for tests and short-lived hosts.
#[derive(Debug, Default)]
pub struct MemoryAgentConfigStore {
    inner: Mutex<Registry>,
}

impl MemoryAgentConfigStore {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Each change is one push: a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn versions(&self, tenant: &TenantId, id: &AgentConfigId) -> Vec<StoredAgentConfig> {
        self.lock()
            .get(tenant)
            .and_then(|ids| ids.get(id))
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl AgentConfigStore for MemoryAgentConfigStore {
    async fn put(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        config: &AgentConfig,
        expected_version: Option<u64>,
        author: &str,
    ) -> Result<StoredAgentConfig, StoreError> {
        let mut registry = self.lock();
        let versions = registry
            .entry(tenant.clone())
            .or_default()
            .entry(id.clone())
            .or_default();
        let current = versions.last().map(|v| v.version);
        let version = next_version(id, expected_version, current)?;
        let stored = StoredAgentConfig::new(id, version, config, author);
        versions.push(stored.clone());
        Ok(stored)
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Option<StoredAgentConfig>, StoreError> {
        Ok(self.versions(tenant, id).pop())
    }

    async fn get_version(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        version: u64,
    ) -> Result<Option<StoredAgentConfig>, StoreError> {
        Ok(self
            .versions(tenant, id)
            .into_iter()
            .find(|v| v.version == version))
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<StoredAgentConfig>, StoreError> {
        Ok(self
            .lock()
            .get(tenant)
            .map(|ids| ids.values().filter_map(|v| v.last().cloned()).collect())
            .unwrap_or_default())
    }

    async fn history(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Vec<StoredAgentConfig>, StoreError> {
        Ok(self.versions(tenant, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_rule_and_deserializing_checks_it() {
        assert!(AgentConfigId::new("a.b_c:d-E9").is_ok());
        assert!(AgentConfigId::new("x".repeat(128)).is_ok());
        for bad in ["", "a b", "a/b", "é", "a\n"] {
            let e = AgentConfigId::new(bad).unwrap_err();
            assert_eq!(e.remedy(), Remedy::FixInput);
            assert!(e.to_string().contains("[A-Za-z0-9._:-]"), "{e}");
        }
        assert!(AgentConfigId::new("x".repeat(129)).is_err());
        let id: AgentConfigId = serde_json::from_str("\"ok-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ok-1\"");
        assert!(serde_json::from_str::<AgentConfigId>("\"no/slash\"").is_err());
    }

    #[test]
    fn digests_are_of_the_content_not_of_the_field_order() {
        let a = AgentConfig::new("a", "openai", "gpt-4o");
        let mut b = a.clone();
        assert_eq!(config_digest(&a), config_digest(&b));
        assert_eq!(config_digest(&a).len(), 64);
        b.temperature = Some(0.5);
        assert_ne!(config_digest(&a), config_digest(&b));
        // Canonical: keys sorted whatever order the JSON text had.
        let reordered: AgentConfig =
            serde_json::from_str(r#"{"model":"gpt-4o","provider":"openai","name":"a"}"#).unwrap();
        assert_eq!(config_digest(&reordered), config_digest(&a));
    }

    #[test]
    fn stored_rows_decode_or_are_corrupt() {
        let id = AgentConfigId::new("x").unwrap();
        let v = StoredAgentConfig::new(&id, 2, &AgentConfig::new("a", "openai", "m"), "ana");
        let json = v.config_json().unwrap();
        let back = StoredAgentConfig::from_stored(
            "x".into(),
            2,
            &json,
            "ana".into(),
            v.created_at_ms,
            v.digest.clone(),
        )
        .unwrap();
        assert_eq!(back, v);
        for (id, version, json) in [("a/b", 1, json.as_str()), ("x", -1, &json), ("x", 1, "{")] {
            let e = StoredAgentConfig::from_stored(
                id.into(),
                version,
                json,
                String::new(),
                0,
                String::new(),
            )
            .unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::Corrupt, "{e}");
        }
    }

    #[test]
    fn the_next_version_follows_the_expected_one_and_conflicts_name_the_current() {
        let id = AgentConfigId::new("x").unwrap();
        assert_eq!(next_version(&id, None, None).unwrap(), 1);
        assert_eq!(next_version(&id, Some(3), Some(3)).unwrap(), 4);
        for (expected, current, names) in [
            (None, Some(2), "current version 2"),
            (Some(1), Some(2), "at version 2"),
            (Some(1), None, "current version: none"),
            (Some(0), None, "current version: none"),
        ] {
            let e = next_version(&id, expected, current).unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::Conflict);
            assert!(e.message().contains(names), "{e}");
        }
    }
}
