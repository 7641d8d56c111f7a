//! A database written by the previous release opens, migrates and reads back as it was
//! written: runs, trials, run annotations, sealed fields, the audit log and the response
//! cache.
//!
//! `fixtures/release-0.1.0/` was written by the `tamma-bench` binary of release 0.1.0
//! (commit 7b4e9f2, when SQLite still lived in core) running `make.sh` over the inputs
//! beside it: a private run `plain` of the local operator before any key was configured
//! (plaintext, audit entries chained but unsigned), then a public run `sealed` of tenant
//! `acme` with data keys (`K1` below) and a checkpoint signing key (its verifier is
//! `verifier.key`). The agent's cache layer wrote `tamma-bench-cache.db`, its adaptive
//! concurrency a run annotation. Each test works on a copy in a temporary directory.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use futures::TryStreamExt;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tamma_bench_core::model::{
    Outcome, RunStatus, TenantContext, TenantId, Trial, TrialKey, Visibility,
};
use tamma_bench_core::queue::{JobKind, JobOutcome, JobQueue, JobState, NewJob, QueueConfig};
use tamma_bench_core::store::{AuditStore, ResponseCache, ResultStore};
use tamma_bench_privacy::audit::{AuditLog, AuditVerifier, verify, verify_chain};
use tamma_bench_privacy::crypto::Keyset;
use tamma_bench_privacy::{InternalContext, Repository};
use tamma_bench_sqlite::{
    DEFAULT_CACHE_FILE, SqliteAuditStore, SqliteQueue, SqliteResponseCache, SqliteStore,
};

/// The data key the fixture's run `sealed` was written under.
const K1: &str = "k1=hex:abababababababababababababababababababababababababababababababab";
/// The migrations release 0.1.0 had applied.
const RELEASE_SCHEMA_VERSION: i64 = 3;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-0.1.0")
}

/// A copy of the fixture's `file` in a fresh temporary directory (the fixture itself is
/// never opened for writing).
fn copy_of(file: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::copy(fixture().join(file), &path).unwrap();
    (dir, path)
}

fn schema_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

async fn all_trials(store: &dyn ResultStore, tenant: &TenantId, run_id: &str) -> Vec<Trial> {
    store.trials(tenant, run_id).try_collect().await.unwrap()
}

fn headline(t: &Trial) -> Option<f64> {
    match &t.outcome {
        Outcome::Scored { scores } => scores.first().map(|s| s.value),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_trials_and_annotations_of_the_previous_release_read_back_after_migrating() {
    let (_dir, db) = copy_of("results.db");
    assert_eq!(schema_version(&db), RELEASE_SCHEMA_VERSION);
    let store = SqliteStore::open(&db).unwrap();
    assert!(
        schema_version(&db) >= RELEASE_SCHEMA_VERSION,
        "migrated forward"
    );

    let local = TenantId::local();
    let runs = store.list_runs(&local).await.unwrap();
    assert_eq!(runs.len(), 1);
    let plain = &runs[0];
    assert_eq!(
        (plain.id.as_str(), plain.benchmark_id.as_str()),
        ("plain", "fixture-private")
    );
    assert_eq!(
        (plain.visibility, plain.status, plain.epochs, plain.n_cases),
        (Visibility::Private, RunStatus::Completed, 2, 3)
    );
    assert_eq!(plain.agents[0].name, "alpha");
    assert_eq!(
        plain.agents[0].system.as_deref(),
        Some("INTERNAL-SYSTEM-PROMPT")
    );

    let trials = all_trials(&store, &local, "plain").await;
    let got: Vec<(String, u32, Option<&str>, Option<f64>)> = trials
        .iter()
        .map(|t| {
            (
                t.key.case_id.clone(),
                t.key.epoch,
                t.output.as_deref(),
                headline(t),
            )
        })
        .collect();
    let want =
        |case: &str, epoch, output, score| (case.to_owned(), epoch, Some(output), Some(score));
    assert_eq!(
        got,
        vec![
            want("c1", 0, "2", 1.0),
            want("c1", 1, "2", 1.0),
            want("c2", 0, "5", 0.0),
            want("c2", 1, "5", 0.0),
            want("c3", 0, "9 SECRET-OUTPUT", 0.0),
            want("c3", 1, "9 SECRET-OUTPUT", 0.0),
        ]
    );
    let c3 = &trials[4];
    assert_eq!(
        (
            c3.cluster.as_deref(),
            c3.tags.clone(),
            c3.usage.input_tokens
        ),
        (Some("large"), vec!["product".to_owned()], 12)
    );
    assert_eq!(
        store.completed_keys(&local, "plain").await.unwrap().len(),
        6
    );
    let annotations = store.run_annotations(&local, "plain").await.unwrap();
    assert_eq!(
        annotations.keys().collect::<Vec<_>>(),
        ["adaptive_concurrency/alpha"]
    );
    assert!(annotations["adaptive_concurrency/alpha"].is_array());

    // The other tenant's run is its own, and listed as public.
    let acme = TenantId::new("acme").unwrap();
    assert_eq!(store.get_run(&local, "sealed").await.unwrap(), None);
    let sealed = store.get_run(&acme, "sealed").await.unwrap().unwrap();
    assert_eq!(sealed.visibility, Visibility::Public);
    let public: Vec<String> = store
        .list_public_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(public, ["sealed"]);

    // The migrated database takes new writes: one more trial of the old run.
    let mut extra = trials[0].clone();
    extra.key = TrialKey::new("alpha", "c1", 2);
    let report = store
        .append_trials(vec![extra, trials[1].clone()])
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 1));
    drop(store);
    let reopened = SqliteStore::open(&db).unwrap();
    assert_eq!(all_trials(&reopened, &local, "plain").await.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_fields_of_the_previous_release_open_with_its_key() {
    let (_dir, db) = copy_of("results.db");
    let store: Arc<dyn ResultStore> = Arc::new(SqliteStore::open(&db).unwrap());
    let acme = TenantId::new("acme").unwrap();

    // At rest, the outputs are sealed.
    let raw = all_trials(store.as_ref(), &acme, "sealed").await;
    assert_eq!(raw.len(), 3);
    for t in &raw {
        let output = t.output.as_deref().unwrap();
        assert!(
            !output.contains("SECRET-OUTPUT") && output.len() > 20,
            "{output}"
        );
    }

    // Through the repository with the key, they open to what the agent answered.
    let keyset = Keyset::parse(K1, "test").unwrap();
    let repo = Repository::new(store).unwrap().with_keyset(&keyset);
    let icx = InternalContext::new(TenantContext::internal(acme, "operator")).unwrap();
    let export = repo.internal_trials(&icx, "sealed").await.unwrap();
    let outputs: BTreeSet<String> = export
        .stream()
        .map_ok(|t| t.output.unwrap_or_default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        outputs,
        BTreeSet::from(["2".into(), "5".into(), "9 SECRET-OUTPUT".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_of_the_previous_release_verifies_and_grows() {
    let (_dir, db) = copy_of("results.db");
    let store = Arc::new(SqliteAuditStore::open(&db).unwrap());
    let verifier = std::fs::read_to_string(fixture().join("verifier.key")).unwrap();
    let verifier = AuditVerifier::parse(verifier.trim()).unwrap();
    let report = verify(store.as_ref(), &verifier, &[]).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.tamper);
    assert_eq!(report.entries, 15);
    assert!(report.checkpoints > 0);
    assert_eq!(report.signed_size, report.entries);

    // Accesses through the repository append to the same log, which stays intact.
    let results: Arc<dyn ResultStore> = Arc::new(SqliteStore::open(&db).unwrap());
    let log = AuditLog::unsigned(store.clone() as Arc<dyn AuditStore>);
    let repo = Repository::new(results).unwrap().with_audit(Arc::new(log));
    let runs = repo.runs(&TenantContext::local_operator()).await.unwrap();
    assert_eq!(runs.len(), 2, "its own run and the public one");
    let report = verify_chain(store.as_ref()).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.tamper);
    assert!(report.entries > 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_cache_of_the_previous_release_answers() {
    let (_dir, path) = copy_of(DEFAULT_CACHE_FILE);
    // The entries as the previous release stored them (key, tenant, text, written at).
    let stored: Vec<(String, String, String, i64)> = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare("SELECT key, tenant_id, completion_json, created_at_ms FROM response_cache")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(
        stored.len(),
        9,
        "six local entries (two epochs) and three of acme"
    );
    let cache = SqliteResponseCache::open(&path).unwrap();
    for (key, _, json, created_at_ms) in &stored {
        let text = serde_json::from_str::<serde_json::Value>(json).unwrap()["text"].clone();
        let got = cache.get(key, *created_at_ms).await.unwrap().unwrap();
        assert_eq!(serde_json::Value::from(got.text), text);
    }
    assert_eq!(
        cache
            .clear_tenant(&TenantId::new("acme").unwrap())
            .await
            .unwrap(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_release_database_gets_the_job_queue() {
    let (_dir, db) = copy_of("results.db");
    assert_eq!(schema_version(&db), RELEASE_SCHEMA_VERSION);
    let queue = SqliteQueue::open(&db, QueueConfig::default()).unwrap();
    assert!(schema_version(&db) > RELEASE_SCHEMA_VERSION, "migrated");
    let tables: BTreeSet<String> = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert!(
        tables.contains("jobs") && tables.contains("job_events"),
        "{tables:?}"
    );

    let op = TenantContext::local_operator();
    let job = queue
        .submit(
            &op,
            NewJob::new(JobKind::Run, serde_json::json!({"run": "next"})),
        )
        .await
        .unwrap();
    let lease = queue.claim("w1", None).await.unwrap().unwrap();
    assert_eq!(lease.job.id, job.id);
    let done = queue.finish(&lease, JobOutcome::Succeeded).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);

    // The release's runs are where they were, and the store opens the migrated file.
    let store = SqliteStore::open(&db).unwrap();
    let runs = store.list_runs(&TenantId::local()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, "plain");
}
