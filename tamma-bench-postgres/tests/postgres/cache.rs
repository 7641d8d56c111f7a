//! The response cache: per-tenant handles under row-level security.

use crate::support::{Migrated, TestDb};
use tamma_bench_core::model::TenantId;
use tamma_bench_core::provider::Completion;
use tamma_bench_core::store::ResponseCache;

#[tokio::test]
async fn cache_expires_purges_forgets_and_keeps_tenants_apart() {
    let db = TestDb::create().await;
    let store = db.store(2).await;
    let (acme, globex) = (
        TenantId::new("acme").unwrap(),
        TenantId::new("globex").unwrap(),
    );
    let cache = store.response_cache(acme.clone());
    let theirs = store.response_cache(globex.clone());
    let c = Completion {
        text: "42".into(),
        ..Default::default()
    };
    assert_eq!(cache.get("k", 0).await.unwrap(), None);
    cache.put("k", &acme, &c, 0, Some(100)).await.unwrap();
    cache.put("forever", &acme, &c, 0, None).await.unwrap();
    theirs.put("k", &globex, &c, 0, None).await.unwrap();
    assert_eq!(cache.get("k", 99).await.unwrap(), Some(c.clone()));
    assert_eq!(cache.get("k", 100).await.unwrap(), None, "expired");
    assert_eq!(cache.purge_expired(100).await.unwrap(), 1, "only acme's");
    assert_eq!(theirs.get("k", 1_000).await.unwrap(), Some(c.clone()));
    assert_eq!(
        theirs.get("forever", 0).await.unwrap(),
        None,
        "acme's key, not globex's"
    );
    // A later put replaces.
    let newer = Completion {
        text: "43".into(),
        ..Default::default()
    };
    cache.put("forever", &acme, &newer, 1, None).await.unwrap();
    assert_eq!(cache.get("forever", i64::MAX).await.unwrap(), Some(newer));
    // A handle writes for its own tenant only.
    assert!(cache.put("x", &globex, &c, 0, None).await.is_err());
    assert_eq!(cache.clear_tenant(&acme).await.unwrap(), 1);
    assert_eq!(cache.get("forever", 0).await.unwrap(), None);
    assert_eq!(theirs.get("k", 0).await.unwrap(), Some(c));
}
