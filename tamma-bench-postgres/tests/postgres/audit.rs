//! The audit log: append-only, one chain, verified by tamma-bench-privacy's verifier.

use crate::support::{Migrated, TestDb};
use std::sync::Arc;
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::store::{AuditRecord, AuditStore, StoreErrorKind, StoredCheckpoint};
use tamma_bench_privacy::audit::{
    AuditAction, AuditClass, AuditEntry, AuditLog, AuditSigner, Decision, verify,
};

#[tokio::test]
async fn appends_check_the_index_and_read_back_in_order() {
    let db = TestDb::create().await;
    let audit = db.store(2).await.audit_store();
    assert_eq!(audit.last().await.unwrap(), None);
    let rec = |i: u64| AuditRecord {
        index: i,
        entry: vec![i as u8; 3],
        chain_hash: vec![i as u8; 32],
    };
    audit.append(rec(0), None).await.unwrap();
    let checkpoint = StoredCheckpoint {
        size: 2,
        note: "note".into(),
    };
    audit
        .append(rec(1), Some(checkpoint.clone()))
        .await
        .unwrap();
    for stale in [0, 1, 3] {
        let e = audit.append(rec(stale), None).await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Conflict, "index {stale}");
    }
    assert_eq!(audit.last().await.unwrap(), Some(rec(1)));
    assert_eq!(audit.records(1, 10).await.unwrap(), vec![rec(1)]);
    assert_eq!(audit.records(0, 1).await.unwrap(), vec![rec(0)]);
    assert_eq!(audit.checkpoints().await.unwrap(), vec![checkpoint]);
}

#[tokio::test]
async fn a_writer_behind_catches_up_and_appends_in_one_step() {
    let db = TestDb::create().await;
    let audit = db.store(2).await.audit_store();
    let rec = |i: u64| AuditRecord {
        index: i,
        entry: vec![i as u8; 3],
        chain_hash: vec![i as u8; 32],
    };
    for i in 0..3 {
        audit.append(rec(i), None).await.unwrap();
    }
    // A writer that last saw one record: it is given the two after it, and its record
    // goes after them.
    let seen = audit
        .append_next(
            1,
            Box::new(move |seen: &[AuditRecord]| (rec(1 + seen.len() as u64), None)),
        )
        .await
        .unwrap();
    assert_eq!(seen, vec![rec(1), rec(2)]);
    assert_eq!(audit.last().await.unwrap(), Some(rec(3)));
    // A record that ignores what it was given still conflicts.
    let e = audit
        .append_next(0, Box::new(move |_: &[AuditRecord]| (rec(2), None)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Conflict);
    assert_eq!(audit.records(0, 10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_signed_log_in_postgres_verifies() {
    let db = TestDb::create().await;
    let store: Arc<dyn AuditStore> = Arc::new(db.store(2).await.audit_store());
    let signer = AuditSigner::generate("example.com/audit").unwrap();
    let verifier = signer.verifier();
    let log = AuditLog::new(store.clone(), signer).with_checkpoint_every(4);
    let cx = TenantContext::local_operator();
    for i in 0..10 {
        let entry = AuditEntry::new(
            &cx,
            AuditAction::Read,
            format!("run:local/r{i}"),
            AuditClass::Public,
            Decision::Allow,
            vec![],
        );
        assert_eq!(log.append(&entry).await.unwrap().index, i);
    }
    let report = verify(store.as_ref(), &verifier, &[]).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(store.checkpoints().await.unwrap().len(), 2);
}
