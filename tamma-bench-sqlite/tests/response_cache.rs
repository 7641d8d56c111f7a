//! The SQLite response cache behaves as every cache does, and keeps its entries across
//! reopening.

use tamma_bench_core::model::TenantId;
use tamma_bench_core::provider::Completion;
use tamma_bench_core::store::ResponseCache;
use tamma_bench_sqlite::{DEFAULT_CACHE_FILE, SqliteResponseCache};
use tamma_bench_testkit::conformance::store::response_cache_expires_purges_and_forgets_tenants;

#[tokio::test]
async fn sqlite_cache_expires_purges_forgets_tenants_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DEFAULT_CACHE_FILE);
    let cache = SqliteResponseCache::open(&path).expect("open");
    response_cache_expires_purges_and_forgets_tenants(&cache).await;
    let c = Completion {
        text: "kept".into(),
        ..Default::default()
    };
    cache
        .put("p", &TenantId::local(), &c, 0, None)
        .await
        .expect("put");
    drop(cache);
    let again = SqliteResponseCache::open(&path).expect("reopen");
    assert_eq!(again.get("p", 0).await.ok().flatten(), Some(c));
}
