//! The store conformance suite of the test kit, run against the tenant-aware store the
//! executor writes through (`Repository::store_for`, a `TenantStore`): over SQLite with
//! the audit log in the same database and a keyset sealing sensitive fields, as the CLI
//! assembles it, and over memory without keys.
//!
//! A `TenantStore` is one caller's view, so the suite runs with one view per tenant, each
//! an internal context of its tenant (an external caller's reads are projected: its
//! trials would not read back whole, by design). What the view declares it does not do:
//! - it lists no public run across tenants (the repository's own public reads do that):
//!   it keeps the trait's default, which lists none;
//! - it does not rewrite runs (`Repository::reseal` does, through the raw store): it
//!   keeps the trait's default, which refuses and writes nothing;
//! - it reports a resume with another fingerprint as `Conflict`, not
//!   `FingerprintMismatch`: the repository's error kinds have no mismatch, so the kind is
//!   lost on the way (the message still names the run and says what to do).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::store::{ResultStore, StoreErrorKind};
use tamma_bench_privacy::Repository;
use tamma_bench_testkit::conformance::store::StoreUnderTest;

/// One internal view per tenant over `repo`, with what a tenant store does not do.
fn views(repo: Repository) -> StoreUnderTest {
    StoreUnderTest::per_tenant(move |tenant| {
        let cx = TenantContext::internal(tenant.clone(), "conformance");
        Arc::new(repo.store_for(&cx)) as Arc<dyn ResultStore>
    })
    .without_public_listing()
    .without_rewrites()
    .reporting_fingerprint_mismatch_as(StoreErrorKind::Conflict)
}

mod sqlite_sealed_and_audited {
    use super::*;
    use tamma_bench_privacy::audit::{AuditLog, AuditSigner};
    use tamma_bench_privacy::crypto::Keyset;
    use tamma_bench_sqlite::{SqliteAuditStore, SqliteStore};

    /// The CLI's assembly: results and the signed audit log in one SQLite file, fields
    /// sealed under a keyset.
    fn fresh() -> (tempfile::TempDir, StoreUnderTest) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("results.db");
        let store = SqliteStore::open(&db).unwrap();
        let audit = SqliteAuditStore::open(&db).unwrap();
        let log = AuditLog::new(
            Arc::new(audit),
            AuditSigner::generate("conformance").unwrap(),
        );
        let repo = Repository::new(Arc::new(store))
            .unwrap()
            .with_audit(Arc::new(log))
            .with_keyset(&Keyset::generate("k1").unwrap());
        (dir, views(repo))
    }

    tamma_bench_testkit::store_conformance_tests!(fresh());
}

mod memory {
    use super::*;
    use tamma_bench_core::store::MemoryStore;

    fn fresh() -> ((), StoreUnderTest) {
        let repo = Repository::new(Arc::new(MemoryStore::new())).unwrap();
        ((), views(repo))
    }

    tamma_bench_testkit::store_conformance_tests!(fresh());
}
