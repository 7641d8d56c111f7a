//! Every store passes the same behaviour suite: here the memory store (the SQLite store
//! runs it in `tamma-bench-sqlite`).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

mod memory {
    use std::sync::Arc;
    use tamma_bench_core::store::{MemoryStore, ResultStore};

    tamma_bench_testkit::store_conformance_tests!((
        (),
        Arc::new(MemoryStore::new()) as Arc<dyn ResultStore>
    ));
}

mod memory_response_cache {
    use tamma_bench_core::store::MemoryResponseCache;

    #[tokio::test]
    async fn expires_purges_and_forgets_tenants() {
        tamma_bench_testkit::conformance::store::response_cache_expires_purges_and_forgets_tenants(
            &MemoryResponseCache::new(),
        )
        .await;
    }
}
