//! Every store passes the same behaviour suite.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

mod memory {
    use std::sync::Arc;
    use tamma_bench_core::store::{MemoryStore, ResultStore};

    tamma_bench_testkit::store_conformance_tests!((
        (),
        Arc::new(MemoryStore::new()) as Arc<dyn ResultStore>
    ));
}

mod sqlite {
    use std::sync::Arc;
    use tamma_bench_core::store::{ResultStore, SqliteStore};

    fn fresh() -> (tempfile::TempDir, Arc<dyn ResultStore>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("results.db")).expect("opens");
        (dir, Arc::new(store))
    }

    tamma_bench_testkit::store_conformance_tests!(fresh());
}
