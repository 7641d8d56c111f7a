//! SQLite specifics beyond the conformance suite: migrations, reopening, several handles
//! on one file.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use futures::TryStreamExt;
use std::sync::Arc;
use tamma_bench_core::store::{ResultStore, StoreErrorKind};
use tamma_bench_sqlite::SqliteStore;
use tamma_bench_testkit::conformance::store::{run, tenant, trial};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_everything_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let r = run("r1", "t1");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.begin_run(&r).await.unwrap();
        store
            .append_trials((0..10).map(|c| trial(&r, c, 0)).collect())
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let trials: Vec<_> = store
        .trials(&tenant("t1"), "r1")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(trials.len(), 10);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7, "every migration ran");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).err().expect("refused");
    assert_eq!(err.kind(), StoreErrorKind::Backend);
    assert!(err.message().contains("99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_write_concurrently_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let a: Arc<dyn ResultStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn ResultStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let r = run("r1", "t1");
    a.begin_run(&r).await.unwrap();
    let write = |store: Arc<dyn ResultStore>, from: usize| {
        let r = r.clone();
        tokio::spawn(async move {
            for chunk in (from..from + 2000).collect::<Vec<_>>().chunks(100) {
                store
                    .append_trials(chunk.iter().map(|c| trial(&r, *c, 0)).collect())
                    .await
                    .unwrap();
            }
        })
    };
    let (x, y) = (write(a.clone(), 0), write(b.clone(), 1000));
    x.await.unwrap();
    y.await.unwrap();
    assert_eq!(
        a.completed_keys(&tenant("t1"), "r1").await.unwrap().len(),
        3000
    );
    let via_b: Vec<_> = b.trials(&tenant("t1"), "r1").try_collect().await.unwrap();
    assert_eq!(via_b.len(), 3000);
}
