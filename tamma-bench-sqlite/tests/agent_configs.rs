//! The SQLite agent configuration registry: it passes the suite every registry passes
//! (each handle a connection of its own on one temporary file, as another process's
//! would be), shares the results file, and its versions cannot be changed at rest.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::model::{AgentConfig, TenantId};
use tamma_bench_core::store::{AgentConfigId, AgentConfigStore, ResultStore};
use tamma_bench_sqlite::{SqliteAgentConfigStore, SqliteStore};
use tamma_bench_testkit::conformance::agent_configs::{factory, full_config};

mod conformance {
    use super::*;

    tamma_bench_testkit::agent_config_conformance_tests!({
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("results.db");
        let open = factory(move || {
            let path = path.clone();
            async move {
                Arc::new(SqliteAgentConfigStore::open(&path).expect("opens"))
                    as Arc<dyn AgentConfigStore>
            }
        });
        (dir, open)
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_live_in_the_results_file_and_cannot_be_changed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let results = SqliteStore::open(&path).unwrap();
    let store = SqliteAgentConfigStore::open(&path).unwrap();
    let tamma = TenantId::new("tamma").unwrap();
    let id = AgentConfigId::new("summarizer").unwrap();
    let v1 = store
        .put(&tamma, &id, &full_config(), None, "ana")
        .await
        .unwrap();
    store
        .put(
            &tamma,
            &id,
            &AgentConfig::new("s", "openai", "o3"),
            Some(1),
            "ana",
        )
        .await
        .unwrap();
    // The results store of the same file still works beside it.
    assert!(results.list_runs(&tamma).await.unwrap().is_empty());

    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE agent_configs SET config_json = '{}' WHERE version = 1",
        "DELETE FROM agent_configs WHERE version = 2",
    ] {
        let e = conn.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("history"), "{sql}: {e}");
    }
    let e = conn
        .execute(
            "INSERT INTO agent_configs (tenant_id, id, version, config_json, author, created_at_ms, digest) \
             VALUES ('tamma', 'summarizer', 2, '{}', 'mallory', 0, '')",
            [],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("UNIQUE"),
        "a version is written once: {e}"
    );
    drop(conn);
    let reopened = SqliteAgentConfigStore::open(&path).unwrap();
    assert_eq!(
        reopened.get_version(&tamma, &id, 1).await.unwrap(),
        Some(v1)
    );
    assert_eq!(reopened.history(&tamma, &id).await.unwrap().len(), 2);
}
