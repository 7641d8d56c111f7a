//! Tenants' credentials through the privacy front, on a real SQLite file: sealed at rest,
//! bound to their tenant and name, refused without data keys, opened only through
//! `open_for_worker`, every access audited, and no value in any message or `Debug`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::{Permission, TenantContext, TenantId, Tier};
use tamma_bench_core::store::{CredentialName, CredentialStore, MemoryCredentialStore};
use tamma_bench_privacy::access::{MemoryAudit, Outcome};
use tamma_bench_privacy::authz::Action;
use tamma_bench_privacy::credentials::MAX_SECRET_LEN;
use tamma_bench_privacy::crypto::{DataKey, KeyId, Keyset};
use tamma_bench_privacy::{Class, CredentialErrorKind, Credentials, Secret};
use tamma_bench_sqlite::SqliteCredentialStore;

const SECRET: &str = "sk-proj-CREDENTIAL-AT-REST-0123456789";

fn cx(tenant: &str) -> TenantContext {
    TenantContext::external(TenantId::new(tenant).unwrap(), Tier::Free, "alice")
}

fn name(n: &str) -> CredentialName {
    CredentialName::new(n).unwrap()
}

/// Every byte of every file in `dir` (the database, its WAL and shared memory).
fn bytes_at_rest(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

struct World {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Arc<SqliteCredentialStore>,
    credentials: Credentials,
    audit: Arc<MemoryAudit>,
}

fn world(keyset: Option<&Keyset>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store = Arc::new(SqliteCredentialStore::open(path.join("results.db")).unwrap());
    let audit = Arc::new(MemoryAudit::default());
    let mut credentials = Credentials::new(store.clone()).with_audit(audit.clone());
    if let Some(k) = keyset {
        credentials = credentials.with_keyset(k);
    }
    World {
        _dir: dir,
        dir: path,
        store,
        credentials,
        audit,
    }
}

#[tokio::test]
async fn a_credential_is_ciphertext_at_rest_and_opens_for_a_worker() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(Some(&keys));
    let acme = cx("acme");
    w.credentials
        .put(&acme, "OPENAI_API_KEY", &Secret::new(SECRET))
        .await
        .unwrap();
    assert!(
        !contains(&bytes_at_rest(&w.dir), SECRET),
        "plaintext at rest"
    );
    let raw = w
        .store
        .get(&acme.tenant_id, &name("OPENAI_API_KEY"))
        .await
        .unwrap()
        .unwrap();
    assert!(!contains(&raw, SECRET));
    assert!(raw.len() > SECRET.len(), "an envelope, not the value");
    let opened = w
        .credentials
        .open_for_worker(&acme, "OPENAI_API_KEY")
        .await
        .unwrap();
    assert_eq!(opened.expose(), SECRET);
    // Names and times only in a listing.
    let listed = w.credentials.names(&acme).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, name("OPENAI_API_KEY"));
    assert!(!format!("{listed:?}").contains(SECRET));
    // Another tenant has nothing under that name.
    let e = w
        .credentials
        .open_for_worker(&cx("globex"), "OPENAI_API_KEY")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), CredentialErrorKind::NotFound);
    assert_eq!(e.remedy(), Remedy::FixInput);
    assert!(e.to_string().contains("OPENAI_API_KEY"), "{e}");
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_tenant_or_name_does_not_open() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(Some(&keys));
    let (acme, globex) = (cx("acme"), cx("globex"));
    w.credentials
        .put(&acme, "A", &Secret::new(SECRET))
        .await
        .unwrap();
    let sealed = w
        .store
        .get(&acme.tenant_id, &name("A"))
        .await
        .unwrap()
        .unwrap();
    // Copied under the store, where an attacker with the database would put it.
    w.store
        .put(&globex.tenant_id, &name("A"), sealed.clone())
        .await
        .unwrap();
    w.store
        .put(&acme.tenant_id, &name("B"), sealed.clone())
        .await
        .unwrap();
    for (who, n) in [(&globex, "A"), (&acme, "B")] {
        let e = w.credentials.open_for_worker(who, n).await.unwrap_err();
        assert_eq!(e.kind(), CredentialErrorKind::Corrupt, "{e}");
        assert_eq!(e.remedy(), Remedy::GiveUp);
        assert!(e.to_string().contains(n), "{e}");
        assert!(!e.to_string().contains(SECRET), "{e}");
    }
    // An altered byte does not open either.
    let mut altered = sealed;
    let last = altered.len() - 1;
    altered[last] ^= 1;
    w.store
        .put(&acme.tenant_id, &name("A"), altered)
        .await
        .unwrap();
    let e = w.credentials.open_for_worker(&acme, "A").await.unwrap_err();
    assert_eq!(e.kind(), CredentialErrorKind::Corrupt, "{e}");
}

#[tokio::test]
async fn without_data_keys_nothing_is_stored_and_nothing_opens() {
    let w = world(None);
    let acme = cx("acme");
    assert!(!w.credentials.is_sealing());
    let e = w
        .credentials
        .put(&acme, "OPENAI_API_KEY", &Secret::new(SECRET))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), CredentialErrorKind::Key, "{e}");
    assert_eq!(e.remedy(), Remedy::FixInput);
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert!(w.store.list(&acme.tenant_id).await.unwrap().is_empty());
    assert!(!contains(&bytes_at_rest(&w.dir), SECRET));
    // A value sealed elsewhere does not open without keys either.
    w.store
        .put(&acme.tenant_id, &name("X"), vec![1, 2, 3])
        .await
        .unwrap();
    let e = w.credentials.open_for_worker(&acme, "X").await.unwrap_err();
    assert_eq!(e.kind(), CredentialErrorKind::Key, "{e}");
}

#[tokio::test]
async fn credentials_sealed_under_an_old_key_open_after_a_rotation() {
    let mut keys = Keyset::generate("k1").unwrap();
    let w = world(Some(&keys));
    let acme = cx("acme");
    w.credentials
        .put(&acme, "K", &Secret::new(SECRET))
        .await
        .unwrap();
    keys.rotate(KeyId::new("k2").unwrap(), DataKey::generate().unwrap())
        .unwrap();
    let rotated = Credentials::new(w.store.clone()).with_keyset(&keys);
    assert_eq!(
        rotated.open_for_worker(&acme, "K").await.unwrap().expose(),
        SECRET
    );
    // Without the old key, it does not open, and the error says which key is missing.
    let only_new = Keyset::generate("k2").unwrap();
    let e = Credentials::new(w.store.clone())
        .with_keyset(&only_new)
        .open_for_worker(&acme, "K")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), CredentialErrorKind::Key, "{e}");
    assert!(e.to_string().contains("k1"), "{e}");
}

#[tokio::test]
async fn every_access_is_audited_and_permissions_are_checked() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(Some(&keys));
    let acme = cx("acme");
    w.credentials
        .put(&acme, "K", &Secret::new(SECRET))
        .await
        .unwrap();
    w.credentials.names(&acme).await.unwrap();
    w.credentials.open_for_worker(&acme, "K").await.unwrap();
    assert!(w.credentials.delete(&acme, "K").await.unwrap());
    assert!(!w.credentials.delete(&acme, "K").await.unwrap());
    // A reader without `write` may list, but neither store, delete nor use a credential.
    let mut reader = cx("acme");
    reader.permissions = vec![Permission::Read];
    w.credentials.names(&reader).await.unwrap();
    for e in [
        w.credentials
            .put(&reader, "K", &Secret::new(SECRET))
            .await
            .unwrap_err(),
        w.credentials.delete(&reader, "K").await.unwrap_err(),
        w.credentials
            .open_for_worker(&reader, "K")
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), CredentialErrorKind::Denied, "{e}");
        assert!(e.to_string().contains("write"), "{e}");
    }
    let mut nothing = cx("acme");
    nothing.permissions.clear();
    let e = w.credentials.names(&nothing).await.unwrap_err();
    assert_eq!(e.kind(), CredentialErrorKind::Denied, "{e}");

    let seen: Vec<(Action, String, Class, Outcome)> = w
        .audit
        .events()
        .into_iter()
        .map(|e| (e.action, e.resource, e.classification, e.outcome))
        .collect();
    use Outcome::{Allowed, Denied};
    let k = || "credential:K".to_owned();
    let all = || "credentials".to_owned();
    assert_eq!(
        seen,
        vec![
            (Action::Write, k(), Class::Restricted, Allowed),
            (Action::Read, all(), Class::Sensitive, Allowed),
            (Action::Read, k(), Class::Restricted, Allowed),
            (Action::Write, k(), Class::Restricted, Allowed),
            (Action::Write, k(), Class::Restricted, Allowed),
            (Action::Read, all(), Class::Sensitive, Allowed),
            (Action::Write, k(), Class::Restricted, Denied),
            (Action::Write, k(), Class::Restricted, Denied),
            (Action::Read, k(), Class::Restricted, Denied),
            (Action::Read, all(), Class::Sensitive, Denied),
        ]
    );
    let events = w.audit.events();
    assert_eq!(events[2].reasons, ["credentials-worker-open"]);
    assert_eq!(events[0].reasons, ["credentials-own-tenant"]);
    assert!(events.iter().all(|e| e.tenant_id.as_str() == "acme"));
    assert!(!format!("{events:?}").contains(SECRET));
}

#[tokio::test]
async fn names_and_values_are_checked_and_no_message_or_debug_holds_a_value() {
    let keys = Keyset::generate("k1").unwrap();
    let credentials = Credentials::new(Arc::new(MemoryCredentialStore::new())).with_keyset(&keys);
    let acme = cx("acme");
    let mut errors = Vec::new();
    for bad_name in [
        "",
        "a b",
        &"k".repeat(65),
        SECRET.replace('-', " ").as_str(),
    ] {
        let e = credentials
            .put(&acme, bad_name, &Secret::new(SECRET))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), CredentialErrorKind::InvalidName, "{e}");
        errors.push(e);
    }
    for bad_value in ["", "   ", &"x".repeat(MAX_SECRET_LEN + 1)] {
        let e = credentials
            .put(&acme, "K", &Secret::new(bad_value))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), CredentialErrorKind::InvalidValue, "{e}");
        errors.push(e);
    }
    credentials
        .put(&acme, "K", &Secret::new("x".repeat(MAX_SECRET_LEN)))
        .await
        .unwrap();
    for e in &errors {
        assert!(!e.to_string().contains(SECRET), "{e}");
        assert!(!format!("{e:?}").contains(SECRET), "{e:?}");
        assert!(!e.to_string().contains("sk proj"), "{e}");
    }
    let secret = Secret::new(SECRET);
    assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    assert_eq!(secret.to_string(), "[redacted]");
    assert!(!format!("{credentials:?}").contains(SECRET));
}
