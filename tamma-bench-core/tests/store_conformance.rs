//! Every store passes the same behaviour suite: here the memory store (the SQLite store
//! runs it in `tamma-bench-sqlite`).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

mod memory {
    use std::sync::Arc;
    use tamma_bench_core::store::{MemoryStore, ResultStore};

    tamma_bench_core::store_conformance_tests!((
        (),
        Arc::new(MemoryStore::new()) as Arc<dyn ResultStore>
    ));
}
