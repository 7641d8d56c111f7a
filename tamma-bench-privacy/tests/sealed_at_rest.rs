//! Field encryption in the repository's write and read paths, on a real SQLite file:
//! sensitive and restricted fields are ciphertext at rest, plaintext through the
//! repository, fail closed without the right key, and do not open when moved; the
//! executor's store adapter redacts and seals the same way.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use futures::TryStreamExt;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use support::{run, trial};
use tamma_bench_core::model::{Outcome, Run, TenantContext, TenantId, Tier, Trial, Visibility};
use tamma_bench_core::store::ResultStore;
use tamma_bench_privacy::access::{MemoryAudit, Outcome as Decision};
use tamma_bench_privacy::crypto::{DataKey, EnvKeyProvider, Envelope, KeyId, Keyset};
use tamma_bench_privacy::{ErrorKind, InternalContext, Repository, RepositoryError};
use tamma_bench_sqlite::SqliteStore;

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// Every value of every row of `table`, as text (blobs lossily).
fn raw_rows(db: &Path, table: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |row| {
        let mut text = String::new();
        for i in 0..n {
            match row.get_ref(i)? {
                rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                    text.push_str(&String::from_utf8_lossy(b))
                }
                v => text.push_str(&format!("{v:?}")),
            }
            text.push('\t');
        }
        Ok(text)
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The plaintexts of `support::run("r1", ..)` and its trials that must not be at rest.
const PLAINTEXTS: &[&str] = &[
    "SYSTEM-PROMPT-r1",
    "PROMPT-TEMPLATE-r1",
    "KEY_ENV_r1",
    "https://internal.example/r1",
    "output of r1",
    "answer of r1",
    "[redacted:",
];

struct World {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    store: Arc<SqliteStore>,
    owner: TenantContext,
    run: Run,
}

/// Run `r1` of tenant `acme` with two agents and four trials each, written through a
/// repository sealing with `keys`.
async fn world(keys: &Keyset) -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let repo = Repository::new(store.clone()).unwrap().with_keyset(keys);
    let owner = TenantContext::internal(tenant("acme"), "ops");
    let r = run("r1", &tenant("acme"), Visibility::Private, &["a0", "a1"]);
    repo.begin_run(&owner, &r).await.unwrap();
    let trials: Vec<Trial> = ["a0", "a1"]
        .iter()
        .flat_map(|a| (0..4).map(|c| trial(&r, a, c)))
        .collect();
    repo.append_trials(&owner, trials).await.unwrap();
    World {
        _dir: dir,
        db,
        store,
        owner,
        run: r,
    }
}

async fn internal_trials(
    repo: &Repository,
    cx: &TenantContext,
) -> Result<Vec<Trial>, RepositoryError> {
    let icx = InternalContext::new(cx.clone()).unwrap();
    let export = repo.internal_trials(&icx, "r1").await?;
    export.stream().try_collect().await
}

#[tokio::test]
async fn sensitive_and_restricted_fields_are_ciphertext_at_rest_and_plaintext_through_the_repository()
 {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    let rows = [raw_rows(&w.db, "trials"), raw_rows(&w.db, "runs")].concat();
    assert!(!rows.is_empty());
    for row in &rows {
        for p in PLAINTEXTS {
            assert!(!row.contains(p), "{p:?} is stored in clear: {row}");
        }
    }
    assert!(rows.iter().all(|r| r.contains("tbenc1.")));

    let repo = Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    let trials = internal_trials(&repo, &w.owner).await.unwrap();
    assert_eq!(trials.len(), 8);
    let t = trials.iter().find(|t| t.key.case_id == "case-0").unwrap();
    assert_eq!(
        t.output.as_deref(),
        Some("output of r1 with [redacted:api_key]")
    );
    let Outcome::Scored { scores } = &t.outcome else {
        panic!("case-0 is scored")
    };
    assert_eq!(scores[0].answer.as_deref(), Some("answer of r1"));
    assert_eq!(
        scores[0].explanation.as_deref(),
        Some("mail me at [redacted:email]")
    );
    // The run record opens too (its internal view), and an external owner's export opens
    // its sensitive fields.
    let icx = InternalContext::new(w.owner.clone()).unwrap();
    let (stored, _) = repo.internal_summary(&icx, "r1").await.unwrap();
    assert_eq!(stored.agents[0].system.as_deref(), Some("SYSTEM-PROMPT-r1"));
    assert_eq!(
        stored.agents[1].base_url.as_deref(),
        Some("https://internal.example/r1")
    );
    let external = TenantContext::external(tenant("acme"), Tier::Free, "alice");
    let export = repo.trials(&external, "r1").await.unwrap();
    let public: Vec<_> = export.stream().try_collect().await.unwrap();
    assert!(
        public
            .iter()
            .any(|t| t.answer.as_deref() == Some("answer of r1"))
    );
    assert_eq!(w.run.id, "r1");
}

#[tokio::test]
async fn without_the_key_or_with_a_wrong_one_sealed_fields_fail_closed() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    // No keys at all.
    let bare = Repository::new(w.store.clone()).unwrap();
    let err = internal_trials(&bare, &w.owner).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Key, "{err}");
    let icx = InternalContext::new(w.owner.clone()).unwrap();
    assert_eq!(
        bare.internal_summary(&icx, "r1").await.unwrap_err().kind,
        ErrorKind::Key
    );
    // Another key under the same id: authentication fails.
    let impostor = Keyset::new(KeyId::new("k1").unwrap(), DataKey::generate().unwrap());
    let wrong = Repository::new(w.store.clone())
        .unwrap()
        .with_keyset(&impostor);
    let err = internal_trials(&wrong, &w.owner).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    // A keyset without the key the data names.
    let other = Repository::new(w.store.clone())
        .unwrap()
        .with_keyset(&Keyset::generate("k9").unwrap());
    let err = internal_trials(&other, &w.owner).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Key, "{err}");
    assert!(!err.message.contains("output of r1"), "{err}");
    // Fields the caller may not see are dropped unopened: another tenant's view of a
    // public run never needs (nor fails on) the key. Here the run is private: absent.
    let stranger = TenantContext::external(tenant("zed"), Tier::Free, "z");
    assert_eq!(
        bare.trials(&stranger, "r1").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    // A provider that has no keys refuses to build the repository.
    let missing = Repository::new(w.store.clone())
        .unwrap()
        .with_keys(&EnvKeyProvider::from_var("TAMMA_BENCH_TEST_NO_SUCH_KEYS"));
    assert_eq!(missing.unwrap_err().kind, ErrorKind::Key);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_or_tenant_does_not_open() {
    let keys = Keyset::generate("k1").unwrap();
    let repo_for = |w: &World| Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    // Moved to another row of the same run.
    let w = world(&keys).await;
    let conn = Connection::open(&w.db).unwrap();
    let moved = conn
        .execute(
            "UPDATE trials SET output = (SELECT output FROM trials WHERE agent = 'a0' AND case_id = 'case-0')
             WHERE agent = 'a0' AND case_id = 'case-1'",
            [],
        )
        .unwrap();
    assert_eq!(moved, 1);
    let err = internal_trials(&repo_for(&w), &w.owner).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");

    // Moved to another tenant: the whole run relabelled.
    let w = world(&keys).await;
    let conn = Connection::open(&w.db).unwrap();
    conn.execute("UPDATE runs SET tenant_id = 'zed'", [])
        .unwrap();
    conn.execute("UPDATE trials SET tenant_id = 'zed'", [])
        .unwrap();
    let zed = TenantContext::internal(tenant("zed"), "ops");
    let err = internal_trials(&repo_for(&w), &zed).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");

    // Moved between agents' configurations of one run.
    let w = world(&keys).await;
    let conn = Connection::open(&w.db).unwrap();
    let agents: String = conn
        .query_row("SELECT agents_json FROM runs", [], |r| r.get(0))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&agents).unwrap();
    let first = v[0]["system"].clone();
    v[1]["system"] = first;
    conn.execute(
        "UPDATE runs SET agents_json = ?1",
        [serde_json::to_string(&v).unwrap()],
    )
    .unwrap();
    let icx = InternalContext::new(w.owner.clone()).unwrap();
    let err = repo_for(&w).internal_summary(&icx, "r1").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
}

#[tokio::test]
async fn after_rotation_old_data_opens_and_new_data_uses_the_new_key() {
    let mut keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    keys.rotate(KeyId::new("k2").unwrap(), DataKey::generate().unwrap())
        .unwrap();
    let repo = Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    let r2 = run("r2", &tenant("acme"), Visibility::Private, &["a0"]);
    repo.begin_run(&w.owner, &r2).await.unwrap();
    repo.append_trials(&w.owner, vec![trial(&r2, "a0", 0)])
        .await
        .unwrap();
    assert_eq!(internal_trials(&repo, &w.owner).await.unwrap().len(), 8);
    let conn = Connection::open(&w.db).unwrap();
    let key_of = |run: &str| -> String {
        let output: String = conn
            .query_row(
                "SELECT output FROM trials WHERE run_id = ?1 LIMIT 1",
                [run],
                |r| r.get(0),
            )
            .unwrap();
        Envelope::from_text(&output).unwrap().key_id.to_string()
    };
    assert_eq!(key_of("r1"), "k1");
    assert_eq!(key_of("r2"), "k2");
}

#[tokio::test]
async fn the_executor_store_redacts_and_seals_at_write_and_audits_every_access() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let raw = Arc::new(SqliteStore::open(&db).unwrap());
    let audit = Arc::new(MemoryAudit::default());
    let repo = Repository::new(raw.clone())
        .unwrap()
        .with_audit(audit.clone());
    let cx = TenantContext::external(tenant("acme"), Tier::Free, "alice");
    let store = repo.store_for(&cx);
    let r = run("r1", &tenant("acme"), Visibility::Private, &["a0"]);
    store.begin_run(&r).await.unwrap();
    let mut t = trial(&r, "a0", 0);
    t.output = Some(
        "key sk-proj-ABCDEFGHIJKLMNOPqrstuv, Authorization: Bearer eyJhbGciOi.J9.x_y, mail jane@corp.example"
            .into(),
    );
    store.append_trials(vec![t]).await.unwrap();
    let rows = raw_rows(&db, "trials").concat();
    for secret in [
        "sk-proj-",
        "eyJhbGciOi",
        "jane@corp.example",
        "ops@corp.example",
    ] {
        assert!(!rows.contains(secret), "{secret:?} stored: {rows}");
    }
    assert!(rows.contains("[redacted:api_key]") && rows.contains("[redacted:email]"));
    assert!(rows.contains("Bearer [redacted:bearer_token]"));

    // Reads see the caller's own run at its level (an external caller: no cost), and
    // nothing of another tenant.
    let read: Vec<Trial> = store
        .trials(&tenant("acme"), "r1")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].cost_usd, 0.0);
    let own = store.get_run(&tenant("acme"), "r1").await.unwrap().unwrap();
    assert!(own.agents[0].system.is_none() && own.fingerprint.is_empty());
    assert!(store.get_run(&tenant("zed"), "r1").await.unwrap().is_none());
    let events = audit.events();
    assert!(events.len() >= 5, "{events:?}");
    assert_eq!(
        events.last().map(|e| e.outcome),
        Some(Decision::Denied),
        "{events:?}"
    );
}

#[tokio::test]
async fn with_keys_the_executor_store_writes_ciphertext_and_reads_plaintext() {
    let keys = Keyset::generate("k1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let raw = Arc::new(SqliteStore::open(&db).unwrap());
    let repo = Repository::new(raw).unwrap().with_keyset(&keys);
    let cx = TenantContext::local_operator();
    let store = repo.store_for(&cx);
    let r = run("r1", &cx.tenant_id, Visibility::Private, &["a0"]);
    store.begin_run(&r).await.unwrap();
    store
        .append_trials((0..4).map(|c| trial(&r, "a0", c)).collect())
        .await
        .unwrap();
    for row in [raw_rows(&db, "trials"), raw_rows(&db, "runs")].concat() {
        for p in PLAINTEXTS {
            assert!(!row.contains(p), "{p:?} is stored in clear: {row}");
        }
    }
    let read: Vec<Trial> = store
        .trials(&cx.tenant_id, "r1")
        .try_collect()
        .await
        .unwrap();
    assert!(read.iter().all(|t| {
        t.output
            .as_deref()
            .is_some_and(|o| o.starts_with("output of r1"))
    }));
    let run = store.get_run(&cx.tenant_id, "r1").await.unwrap().unwrap();
    assert_eq!(run.agents[0].system.as_deref(), Some("SYSTEM-PROMPT-r1"));
}

/// Every stored value of a sealed column: trial outputs, scorer answers and explanations,
/// and the agents' system, prompt, base URL and key variable.
fn sealed_values(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut values = Vec::new();
    let mut stmt = conn
        .prepare("SELECT output, outcome_json FROM trials")
        .unwrap();
    let rows: Vec<(Option<String>, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for (output, outcome) in rows {
        values.extend(output);
        let outcome: serde_json::Value = serde_json::from_str(&outcome).unwrap();
        for s in outcome["scores"].as_array().into_iter().flatten() {
            for field in ["answer", "explanation"] {
                values.extend(s[field].as_str().map(str::to_owned));
            }
        }
    }
    let mut stmt = conn.prepare("SELECT agents_json FROM runs").unwrap();
    let agents: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for a in agents {
        let a: serde_json::Value = serde_json::from_str(&a).unwrap();
        for agent in a.as_array().unwrap() {
            for field in ["system", "prompt", "base_url", "api_key_env"] {
                values.extend(agent[field].as_str().map(str::to_owned));
            }
        }
    }
    values
}

/// The key id each sealed value names (panics on a value that is not an envelope).
fn key_ids(db: &Path) -> Vec<String> {
    sealed_values(db)
        .iter()
        .map(|v| Envelope::from_text(v).unwrap().key_id.to_string())
        .collect()
}

/// Puts `value` into the `output` of trial `agent`/`case` of run r1, as someone who can
/// write the file would.
fn swap_output(db: &Path, agent: &str, case: &str, value: Option<&str>) {
    let conn = Connection::open(db).unwrap();
    let n = conn
        .execute(
            "UPDATE trials SET output = ?3 WHERE run_id = 'r1' AND agent = ?1 AND case_id = ?2",
            rusqlite::params![agent, case, value],
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// Puts `value` into the `system` prompt of agent `index` of run r1.
fn swap_system(db: &Path, index: usize, value: &str) {
    let conn = Connection::open(db).unwrap();
    let agents: String = conn
        .query_row("SELECT agents_json FROM runs WHERE id = 'r1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&agents).unwrap();
    v[index]["system"] = value.into();
    conn.execute(
        "UPDATE runs SET agents_json = ?1 WHERE id = 'r1'",
        [serde_json::to_string(&v).unwrap()],
    )
    .unwrap();
}

#[tokio::test]
async fn with_keys_plaintext_swapped_into_a_sealed_column_is_refused_naming_run_trial_and_column() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    swap_output(&w.db, "a0", "case-1", Some("FORGED output"));
    let repo = Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    let err = internal_trials(&repo, &w.owner).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    for part in ["\"r1\"", "a0/case-1/0", "trials.output", "not encrypted"] {
        assert!(err.message.contains(part), "{part:?} not in {err}");
    }
    assert!(!err.message.contains("FORGED"), "{err}");
    // The external owner's export and the executor's store refuse it too.
    let external = TenantContext::external(tenant("acme"), Tier::Free, "alice");
    let export = repo.trials(&external, "r1").await.unwrap();
    let read: Result<Vec<_>, _> = export.stream().try_collect().await;
    assert_eq!(read.unwrap_err().kind, ErrorKind::Corrupt);
    let via_store: Result<Vec<Trial>, _> = repo
        .store_for(&w.owner)
        .trials(&tenant("acme"), "r1")
        .try_collect()
        .await;
    assert!(via_store.unwrap_err().message().contains("a0/case-1/0"));

    // A run's agent configuration: the same.
    swap_system(&w.db, 1, "FORGED system prompt");
    let icx = InternalContext::new(w.owner.clone()).unwrap();
    let err = repo.internal_summary(&icx, "r1").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    for part in ["\"r1\"", "agent \"a1\"", "runs.agents.system"] {
        assert!(err.message.contains(part), "{part:?} not in {err}");
    }
    assert_eq!(
        repo.internal_runs(&icx).await.unwrap_err().kind,
        ErrorKind::Corrupt
    );
}

#[tokio::test]
async fn absent_and_empty_values_of_sealed_columns_are_not_plaintext() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    swap_output(&w.db, "a0", "case-0", None);
    swap_output(&w.db, "a0", "case-1", Some(""));
    let repo = Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    let trials = internal_trials(&repo, &w.owner).await.unwrap();
    let output = |case: &str| {
        trials
            .iter()
            .find(|t| t.key.agent == "a0" && t.key.case_id == case)
            .unwrap()
            .output
            .clone()
    };
    assert_eq!(output("case-0"), None);
    assert_eq!(output("case-1").as_deref(), Some(""));
    assert!(output("case-2").unwrap().starts_with("output of r1"));
}

#[tokio::test]
async fn the_legacy_opt_in_reads_plaintext_in_sealed_columns_as_it_is() {
    let keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    swap_output(&w.db, "a0", "case-1", Some("legacy output"));
    swap_system(&w.db, 1, "legacy system prompt");
    // The opt-in holds whichever order the repository is built in.
    for repo in [
        Repository::new(w.store.clone())
            .unwrap()
            .with_keyset(&keys)
            .allow_plaintext_legacy(true),
        Repository::new(w.store.clone())
            .unwrap()
            .allow_plaintext_legacy(true)
            .with_keyset(&keys),
    ] {
        let trials = internal_trials(&repo, &w.owner).await.unwrap();
        assert_eq!(trials.len(), 8);
        let t = trials
            .iter()
            .find(|t| t.key.agent == "a0" && t.key.case_id == "case-1")
            .unwrap();
        assert_eq!(t.output.as_deref(), Some("legacy output"));
        // Envelopes still open, and must: the opt-in is about plaintext only.
        assert!(
            trials
                .iter()
                .filter(|t| t.key.case_id != "case-1" || t.key.agent != "a0")
                .all(|t| t.output.as_deref().unwrap().starts_with("output of r1"))
        );
        let icx = InternalContext::new(w.owner.clone()).unwrap();
        let (run, _) = repo.internal_summary(&icx, "r1").await.unwrap();
        assert_eq!(
            run.agents[1].system.as_deref(),
            Some("legacy system prompt")
        );
        assert_eq!(run.agents[0].system.as_deref(), Some("SYSTEM-PROMPT-r1"));
    }
    // Turned off again, strict.
    let strict = Repository::new(w.store.clone())
        .unwrap()
        .allow_plaintext_legacy(true)
        .with_keyset(&keys)
        .allow_plaintext_legacy(false);
    assert_eq!(
        internal_trials(&strict, &w.owner).await.unwrap_err().kind,
        ErrorKind::Corrupt
    );
}

#[tokio::test]
async fn reseal_seals_legacy_plaintext_so_strict_reads_work_and_audits_each_run_as_a_write() {
    // Written before keys were configured.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let owner = TenantContext::internal(tenant("acme"), "ops");
    let legacy = Repository::new(store.clone()).unwrap();
    for id in ["r1", "r2"] {
        let r = run(id, &tenant("acme"), Visibility::Private, &["a0", "a1"]);
        legacy.begin_run(&owner, &r).await.unwrap();
        let trials = (0..4).map(|c| trial(&r, "a0", c)).collect();
        legacy.append_trials(&owner, trials).await.unwrap();
    }
    // Another tenant's run is not touched.
    let zed = TenantContext::internal(tenant("zed"), "ops");
    let z = run("z1", &tenant("zed"), Visibility::Private, &["a0"]);
    legacy.begin_run(&zed, &z).await.unwrap();
    assert!(sealed_values(&db).iter().all(|v| !v.starts_with("tbenc1.")));

    let keys = Keyset::generate("k1").unwrap();
    let audit = Arc::new(MemoryAudit::default());
    let repo = Repository::new(store.clone())
        .unwrap()
        .with_keyset(&keys)
        .with_audit(audit.clone());
    let before = Repository::new(store.clone())
        .unwrap()
        .with_keyset(&keys)
        .allow_plaintext_legacy(true);
    let expected = internal_trials(&before, &owner).await.unwrap();
    assert_eq!(
        internal_trials(&repo, &owner).await.unwrap_err().kind,
        ErrorKind::Corrupt
    );

    let icx = InternalContext::new(owner.clone()).unwrap();
    let report = repo.reseal(&icx).await.unwrap();
    assert_eq!(report.primary_key, "k1");
    assert_eq!((report.runs, report.runs_changed), (2, 2));
    assert_eq!(report.trials_changed, 8);
    // Per run: 2 agents × 4 fields, 4 outputs, 2 scored trials × (answer, explanation).
    assert_eq!(report.values.sealed, 2 * (8 + 4 + 4));
    assert_eq!(report.values.rekeyed, 0);
    let writes: Vec<_> = audit
        .events()
        .into_iter()
        .filter(|e| e.action == tamma_bench_privacy::Action::Write)
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(
        writes
            .iter()
            .all(|e| e.outcome == Decision::Allowed && e.resource.starts_with("run:r"))
    );

    // No plaintext of acme's runs is left at rest; zed's run is as it was.
    let acme_rows: Vec<String> = [raw_rows(&db, "trials"), raw_rows(&db, "runs")]
        .concat()
        .into_iter()
        .filter(|r| !r.contains("z1"))
        .collect();
    for row in &acme_rows {
        for p in PLAINTEXTS
            .iter()
            .chain(&["SYSTEM-PROMPT-r2", "output of r2"])
        {
            assert!(!row.contains(p), "{p:?} is stored in clear: {row}");
        }
    }
    let values = sealed_values(&db);
    assert_eq!(
        values.iter().filter(|v| !v.starts_with("tbenc1.")).count(),
        4,
        "only zed's agent fields are plaintext: {values:?}"
    );

    // Strict reads now see what the legacy read saw.
    let mut after = internal_trials(&repo, &owner).await.unwrap();
    let mut expected = expected;
    after.sort_by(|a, b| a.key.cmp(&b.key));
    expected.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(after, expected);
    let (r1, _) = repo.internal_summary(&icx, "r1").await.unwrap();
    assert_eq!(r1.agents[1].system.as_deref(), Some("SYSTEM-PROMPT-r1"));

    // Again: nothing left to do.
    let again = repo.reseal(&icx).await.unwrap();
    assert_eq!((again.runs, again.runs_changed), (2, 0));
    assert_eq!(again.values, Default::default());

    // Without keys there is nothing to reseal with.
    let bare = Repository::new(store).unwrap();
    assert_eq!(bare.reseal(&icx).await.unwrap_err().kind, ErrorKind::Key);
}

#[tokio::test]
async fn reseal_after_rotation_moves_old_key_envelopes_onto_the_primary_key() {
    let mut keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    let k2 = [7u8; 32];
    keys.rotate(KeyId::new("k2").unwrap(), DataKey::from_bytes(k2))
        .unwrap();
    let repo = Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    let expected = internal_trials(&repo, &w.owner).await.unwrap();
    let ids = key_ids(&w.db);
    assert!(!ids.is_empty() && ids.iter().all(|k| k == "k1"), "{ids:?}");

    let icx = InternalContext::new(w.owner.clone()).unwrap();
    let report = repo.reseal(&icx).await.unwrap();
    assert_eq!(report.primary_key, "k2");
    assert_eq!(report.values.sealed, 0);
    assert_eq!(report.values.rekeyed, ids.len() as u64);
    let ids = key_ids(&w.db);
    assert!(ids.iter().all(|k| k == "k2"), "{ids:?}");

    // k1 is no longer needed: a keyset of k2 alone reads everything, strictly.
    let only_k2 = Keyset::new(KeyId::new("k2").unwrap(), DataKey::from_bytes(k2));
    let repo = Repository::new(w.store.clone())
        .unwrap()
        .with_keyset(&only_k2);
    assert_eq!(internal_trials(&repo, &w.owner).await.unwrap(), expected);
    let (run, _) = repo.internal_summary(&icx, "r1").await.unwrap();
    assert_eq!(run.agents[0].prompt.as_deref(), Some("PROMPT-TEMPLATE-r1"));
}

#[tokio::test]
async fn a_reseal_that_fails_on_a_run_writes_nothing_of_that_run() {
    let mut keys = Keyset::generate("k1").unwrap();
    let w = world(&keys).await;
    keys.rotate(KeyId::new("k2").unwrap(), DataKey::generate().unwrap())
        .unwrap();
    // One plaintext to seal, then (later in the store's order) an old envelope moved to
    // another row, which does not open.
    swap_output(&w.db, "a0", "case-0", Some("legacy output"));
    let conn = Connection::open(&w.db).unwrap();
    conn.execute(
        "UPDATE trials SET output = (SELECT output FROM trials WHERE agent = 'a0' AND case_id = 'case-1')
         WHERE agent = 'a1' AND case_id = 'case-3'",
        [],
    )
    .unwrap();
    let before = sealed_values(&w.db);

    let repo = Repository::new(w.store.clone()).unwrap().with_keyset(&keys);
    let icx = InternalContext::new(w.owner.clone()).unwrap();
    let err = repo.reseal(&icx).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("a1/case-3/0"), "{err}");
    assert_eq!(
        sealed_values(&w.db),
        before,
        "nothing of the run was written"
    );
}
