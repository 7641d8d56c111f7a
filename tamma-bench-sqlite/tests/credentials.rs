//! The SQLite credential store passes the behaviour suite every credential store passes,
//! on a real file; keeps its values across reopening (and beside the results, in the same
//! file); and its table refuses names of another shape even to raw SQL.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::model::TenantId;
use tamma_bench_core::store::{CredentialName, CredentialStore, ResultStore};
use tamma_bench_sqlite::{SqliteCredentialStore, SqliteStore};

fn fresh() -> (tempfile::TempDir, Arc<dyn CredentialStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteCredentialStore::open(dir.path().join("results.db")).expect("opens");
    (dir, Arc::new(store))
}

mod conformance {
    tamma_bench_testkit::credential_store_conformance_tests!(super::fresh());
}

#[tokio::test]
async fn credentials_live_in_the_results_file_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let results = SqliteStore::open(&path).unwrap();
    let acme = TenantId::new("acme").unwrap();
    let name = CredentialName::new("OPENAI_API_KEY").unwrap();
    let store = SqliteCredentialStore::open(&path).unwrap();
    store.put(&acme, &name, vec![1, 2, 3]).await.unwrap();
    drop(store);
    let again = SqliteCredentialStore::open(&path).unwrap();
    assert_eq!(again.get(&acme, &name).await.unwrap(), Some(vec![1, 2, 3]));
    assert!(results.list_runs(&acme).await.unwrap().is_empty());
}

#[test]
fn the_table_refuses_names_core_would_refuse() {
    let (dir, _store) = fresh();
    let conn = rusqlite::Connection::open(dir.path().join("results.db")).unwrap();
    let insert = |name: &str| {
        conn.execute(
            "INSERT INTO credentials (tenant_id, name, sealed, updated_at_ms) VALUES ('acme', ?1, x'00', 0)",
            [name],
        )
    };
    for ok in ["a", "A.b-c_9", &"k".repeat(64)] {
        insert(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    for bad in ["", "a b", "a/b", "é", "a'", &"k".repeat(65)] {
        assert!(insert(bad).is_err(), "{bad:?} was accepted");
    }
}
