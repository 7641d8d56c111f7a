//! The SQLite queue passes the behaviour suite every queue passes: each handle the suite
//! opens is a queue of its own on one temporary file, as another process's would be.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::queue::JobQueue;
use tamma_bench_sqlite::SqliteQueue;
use tamma_bench_testkit::conformance::queue::factory;

tamma_bench_testkit::queue_conformance_tests!({
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("results.db");
    let open = factory(move |config| {
        let path = path.clone();
        async move { Arc::new(SqliteQueue::open(&path, config).expect("opens")) as Arc<dyn JobQueue> }
    });
    (dir, open)
});
