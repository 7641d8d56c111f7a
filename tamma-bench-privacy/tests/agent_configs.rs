//! The audited front of the agent configuration registry: internal contexts only, every
//! write (stored or refused) and every read in the audit log, whose chain and signed
//! checkpoints still verify. On a real SQLite file holding both the registry and the log.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use tamma_bench_core::model::{AgentConfig, Permission, TenantContext, TenantId, Tier};
use tamma_bench_core::store::agent_configs::config_digest;
use tamma_bench_core::store::{
    AgentConfigId, AgentConfigStore, AuditRecord, AuditStore, MemoryAgentConfigStore, StoreError,
    StoreErrorKind, StoredCheckpoint,
};
use tamma_bench_privacy::agent_configs::EXPECTED_VERSION_POLICY;
use tamma_bench_privacy::audit::{
    AuditAction, AuditClass, AuditEntry, AuditLog, AuditSigner, AuditVerifier, Decision, verify,
};
use tamma_bench_privacy::{AgentConfigs, ErrorKind, InternalContext};
use tamma_bench_sqlite::{SqliteAgentConfigStore, SqliteAuditStore};

fn tamma(principal: &str) -> TenantContext {
    TenantContext::internal(TenantId::new("tamma").unwrap(), principal)
}

fn internal(principal: &str) -> InternalContext {
    InternalContext::new(tamma(principal)).unwrap()
}

fn config(model: &str) -> AgentConfig {
    AgentConfig::new("summarizer", "openai", model)
}

/// The registry and a signed audit log in one SQLite file, and the key that verifies
/// the log.
fn open(path: &Path) -> (AgentConfigs, Arc<SqliteAuditStore>, AuditVerifier) {
    let signer = AuditSigner::generate("tamma-bench.test/agent-configs").unwrap();
    let verifier = signer.verifier();
    let audit_store = Arc::new(SqliteAuditStore::open(path).unwrap());
    let log = Arc::new(AuditLog::new(audit_store.clone(), signer));
    let registry = Arc::new(SqliteAgentConfigStore::open(path).unwrap());
    (AgentConfigs::new(registry, log), audit_store, verifier)
}

async fn entries(store: &dyn AuditStore) -> Vec<AuditEntry> {
    store
        .records(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|r| AuditEntry::from_canonical(&r.entry).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_refused_writes_are_audited_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (configs, audit, verifier) = open(&dir.path().join("results.db"));
    let id = AgentConfigId::new("summarizer").unwrap();
    let (ana, bo) = (internal("ana"), internal("bo"));

    let v1 = configs
        .put(&ana, &id, &config("gpt-4o"), None)
        .await
        .unwrap();
    let v2 = configs
        .put(&bo, &id, &config("gpt-4.1"), Some(1))
        .await
        .unwrap();
    assert_eq!((v1.author.as_str(), v2.author.as_str()), ("ana", "bo"));
    // Ana, still on version 1, loses: refused, naming the current version.
    let stale = config("o3");
    let e = configs.put(&ana, &id, &stale, Some(1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.message().contains("version 2"), "{e}");
    let cause = std::error::Error::source(&e)
        .and_then(|c| c.downcast_ref::<StoreError>())
        .map(StoreError::kind);
    assert_eq!(cause, Some(StoreErrorKind::Conflict));
    assert_eq!(configs.get(&ana, &id).await.unwrap(), Some(v2.clone()));

    let log = entries(audit.as_ref()).await;
    let writes: Vec<(&str, &str, Decision, &[String])> = log
        .iter()
        .filter(|e| e.action == AuditAction::AgentConfigWrite)
        .map(|e| {
            (
                e.principal.as_str(),
                e.resource.as_str(),
                e.decision,
                e.policies.as_slice(),
            )
        })
        .collect();
    let expected_version = [EXPECTED_VERSION_POLICY.to_owned()];
    assert_eq!(
        writes,
        [
            (
                "ana",
                format!("agent-config:summarizer@1:sha256:{}", v1.digest).as_str(),
                Decision::Allow,
                &[][..]
            ),
            (
                "bo",
                format!("agent-config:summarizer@2:sha256:{}", v2.digest).as_str(),
                Decision::Allow,
                &[][..]
            ),
            (
                "ana",
                format!("agent-config:summarizer@2:sha256:{}", config_digest(&stale)).as_str(),
                Decision::Deny,
                &expected_version[..]
            ),
        ]
    );
    assert!(log.iter().all(|e| e.tenant.as_str() == "tamma"));
    assert!(
        log.iter()
            .all(|e| e.classification == AuditClass::Restricted)
    );
    // The read after the writes is in the log too.
    let last = log.last().unwrap();
    assert_eq!(
        (last.action, last.resource.as_str()),
        (AuditAction::ReadInternal, "agent-config:summarizer")
    );

    let report = verify(audit.as_ref(), &verifier, &[]).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.tamper);
    assert_eq!(report.entries, 4);
    assert_eq!(
        report.signed_size, 4,
        "every entry under a signed checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_twice_is_refused_and_audited_as_a_denied_write() {
    let dir = tempfile::tempdir().unwrap();
    let (configs, audit, verifier) = open(&dir.path().join("results.db"));
    let cx = internal("ana");
    let id = AgentConfigId::new("judge").unwrap();
    configs.put(&cx, &id, &config("a"), None).await.unwrap();
    let e = configs.put(&cx, &id, &config("b"), None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(e.message().contains("current version 1"), "{e}");
    let log = entries(audit.as_ref()).await;
    let decisions: Vec<Decision> = log.iter().map(|e| e.decision).collect();
    assert_eq!(decisions, [Decision::Allow, Decision::Deny]);
    assert!(log[1].resource.starts_with("agent-config:judge@1:"));
    assert!(
        verify(audit.as_ref(), &verifier, &[])
            .await
            .unwrap()
            .is_intact()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_audited_and_see_the_contexts_tenant_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let (configs, audit, _) = open(&path);
    let cx = internal("ana");
    let id = AgentConfigId::new("summarizer").unwrap();
    configs.put(&cx, &id, &config("a"), None).await.unwrap();
    configs.put(&cx, &id, &config("b"), Some(1)).await.unwrap();
    // Another internal tenant's context sees nothing of Tamma's.
    let other = InternalContext::new(TenantContext::internal(
        TenantId::new("ops").unwrap(),
        "ana",
    ))
    .unwrap();
    assert!(configs.list(&other).await.unwrap().is_empty());
    assert_eq!(configs.get(&other, &id).await.unwrap(), None);

    assert_eq!(configs.list(&cx).await.unwrap().len(), 1);
    assert_eq!(configs.history(&cx, &id).await.unwrap().len(), 2);
    let v1 = configs.get_version(&cx, &id, 1).await.unwrap().unwrap();
    assert_eq!(v1.config.model, "a");
    let reads: Vec<(String, String)> = entries(audit.as_ref())
        .await
        .into_iter()
        .filter(|e| e.action == AuditAction::ReadInternal)
        .map(|e| (e.tenant.to_string(), e.resource))
        .collect();
    let expected: Vec<(String, String)> = [
        ("ops", "agent-configs"),
        ("ops", "agent-config:summarizer"),
        ("tamma", "agent-configs"),
        ("tamma", "agent-config:summarizer:history"),
        ("tamma", "agent-config:summarizer@1"),
    ]
    .iter()
    .map(|(t, r)| (t.to_string(), r.to_string()))
    .collect();
    assert_eq!(reads, expected);
}

#[tokio::test]
async fn external_contexts_cannot_reach_the_registry_and_writes_need_the_write_grant() {
    let acme = TenantContext::external(TenantId::new("acme").unwrap(), Tier::Premium, "eve");
    let e = InternalContext::new(acme).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied);
    // An internal kind without the internal grant is no internal context either.
    let no_grant = tamma("ana").with_permissions([Permission::Read, Permission::Write]);
    assert!(InternalContext::new(no_grant).is_err());

    let audit_store = Arc::new(tamma_bench_core::store::MemoryAuditStore::new());
    let registry = Arc::new(MemoryAgentConfigStore::new());
    let configs = AgentConfigs::new(
        registry.clone(),
        Arc::new(AuditLog::unsigned(audit_store.clone())),
    );
    let reader =
        InternalContext::new(tamma("auditor").with_permissions([Permission::ReadInternal]))
            .unwrap();
    let id = AgentConfigId::new("summarizer").unwrap();
    let e = configs
        .put(&reader, &id, &config("a"), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied);
    let tenant = TenantId::new("tamma").unwrap();
    assert_eq!(
        registry.get(&tenant, &id).await.unwrap(),
        None,
        "nothing written"
    );
    let log = entries(audit_store.as_ref()).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].action, log[0].decision, log[0].principal.as_str()),
        (AuditAction::AgentConfigWrite, Decision::Deny, "auditor")
    );
    // It may still read.
    assert!(configs.list(&reader).await.unwrap().is_empty());
}

/// An audit store that refuses every append.
struct DownAuditStore;

#[async_trait]
impl AuditStore for DownAuditStore {
    async fn append(&self, _: AuditRecord, _: Option<StoredCheckpoint>) -> Result<(), StoreError> {
        Err(StoreError::new(StoreErrorKind::Backend, "audit disk full"))
    }

    async fn append_next(
        &self,
        _: u64,
        _: tamma_bench_core::store::NextRecord,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        Err(StoreError::new(StoreErrorKind::Backend, "audit disk full"))
    }

    async fn last(&self) -> Result<Option<AuditRecord>, StoreError> {
        Ok(None)
    }

    async fn records(&self, _: u64, _: usize) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(Vec::new())
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn without_the_audit_log_writes_fail_saying_what_was_stored_and_reads_return_nothing() {
    let registry = Arc::new(MemoryAgentConfigStore::new());
    let configs = AgentConfigs::new(
        registry.clone(),
        Arc::new(AuditLog::unsigned(Arc::new(DownAuditStore))),
    );
    let cx = internal("ana");
    let id = AgentConfigId::new("summarizer").unwrap();
    let e = configs.put(&cx, &id, &config("a"), None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.message().contains("stored as version 1"), "{e}");
    let tenant = TenantId::new("tamma").unwrap();
    let stored = registry.get(&tenant, &id).await.unwrap().map(|s| s.version);
    assert_eq!(stored, Some(1), "as the message says");
    let e = configs.list(&cx).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let e = configs.get(&cx, &id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_data_keys_restricted_fields_are_sealed_at_rest_and_bound_to_their_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let keys = tamma_bench_privacy::crypto::Keyset::generate("k1").unwrap();
    let (registry, _, _) = open(&path);
    let registry = registry.with_keyset(&keys);
    let cx = internal("ana");
    let mut secret = config("gpt-4o");
    secret.system = Some("SYSTEM-PROMPT-7f3a".into());
    secret.prompt = Some("PROMPT-TEMPLATE-9b1c {{input}}".into());
    secret.base_url = Some("https://models.internal.example/v1".into());
    let a = AgentConfigId::new("a").unwrap();
    let stored = registry.put(&cx, &a, &secret, None).await.unwrap();
    assert_eq!(stored.config, secret, "the caller gets what it wrote");
    assert_eq!(
        stored.digest,
        config_digest(&secret),
        "the plaintext's digest"
    );

    // At rest: no restricted value in the file, in any page.
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for value in [
        "SYSTEM-PROMPT-7f3a",
        "PROMPT-TEMPLATE-9b1c",
        "models.internal.example",
    ] {
        assert!(!text.contains(value), "{value} is stored in clear");
    }
    // The raw store holds envelopes.
    let raw = SqliteAgentConfigStore::open(&path).unwrap();
    let tenant = TenantId::new("tamma").unwrap();
    let raw_a = raw.get(&tenant, &a).await.unwrap().unwrap();
    assert!(raw_a.config.system.as_deref().unwrap().starts_with("tbenc"));

    // Reads open them, with the plaintext's digest.
    let read = registry.get(&cx, &a).await.unwrap().unwrap();
    assert_eq!((read.config, read.digest), (secret.clone(), stored.digest));

    // A sealed value copied under another id does not open.
    let b = AgentConfigId::new("b").unwrap();
    raw.put(&tenant, &b, &raw_a.config, None, "mallory")
        .await
        .unwrap();
    let moved = registry.get(&cx, &b).await.unwrap_err();
    assert_eq!(moved.kind(), ErrorKind::Corrupt, "{moved}");
    // And plaintext put there behind the registry's back is refused, not read.
    let c = AgentConfigId::new("c").unwrap();
    raw.put(&tenant, &c, &secret, None, "mallory")
        .await
        .unwrap();
    assert!(registry.get(&cx, &c).await.is_err());
}
