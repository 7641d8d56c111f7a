//! The SQLite store passes the behaviour suite every store passes.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::store::ResultStore;
use tamma_bench_sqlite::SqliteStore;

fn fresh() -> (tempfile::TempDir, Arc<dyn ResultStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("results.db")).expect("opens");
    (dir, Arc::new(store))
}

tamma_bench_testkit::store_conformance_tests!(fresh());
