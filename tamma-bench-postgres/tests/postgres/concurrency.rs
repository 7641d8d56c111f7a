//! Many writers at once on one pool, as several worker processes would be: no trial
//! duplicated or lost, and one unbroken audit chain.

use crate::support::{Migrated, TestDb};
use futures::TryStreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::model::Trial;
use tamma_bench_core::store::{AuditRecord, AuditStore, ResultStore, StoreErrorKind};
use tamma_bench_privacy::audit::{
    AuditAction, AuditClass, AuditEntry, CHAIN_START, Decision, chain_next, verify_chain,
};
use tamma_bench_testkit::conformance::store::{run, trial};

const WRITERS: usize = 8;
const ENTRIES_PER_WRITER: usize = 25;

/// Appends `entry` at the tail of the chain, retrying when another writer got there first.
async fn append_to_chain(audit: &dyn AuditStore, entry: Vec<u8>) -> u32 {
    let mut conflicts = 0;
    loop {
        let last = audit.last().await.unwrap();
        let (index, previous) = match &last {
            Some(r) => (r.index + 1, r.chain_hash.as_slice().try_into().unwrap()),
            None => (0, CHAIN_START),
        };
        let record = AuditRecord {
            index,
            chain_hash: chain_next(&previous, &entry).to_vec(),
            entry: entry.clone(),
        };
        match audit.append(record, None).await {
            Ok(()) => return conflicts,
            Err(e) if e.kind() == StoreErrorKind::Conflict => conflicts += 1,
            Err(e) => panic!("append failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_leave_every_trial_once_and_one_audit_chain() {
    let db = TestDb::create().await;
    let store = db.store(WRITERS).await;
    let audit: Arc<dyn AuditStore> = Arc::new(store.audit_store());
    let r = run("shared", "acme");
    store.begin_run(&r).await.unwrap();
    let store: Arc<dyn ResultStore> = Arc::new(store);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, audit, r) = (store.clone(), audit.clone(), r.clone());
            tokio::spawn(async move {
                let mut inserted = 0;
                let mut conflicts = 0;
                // Each writer's 200 trials overlap the next writer's by half; batches of 20
                // interleave with audit appends.
                let cases: Vec<usize> = (w * 100..w * 100 + 200).collect();
                for (i, chunk) in cases.chunks(200 / ENTRIES_PER_WRITER).enumerate() {
                    let batch: Vec<Trial> = chunk.iter().map(|c| trial(&r, *c, 0)).collect();
                    inserted += store.append_trials(batch).await.unwrap().inserted;
                    let entry = AuditEntry::new(
                        &TenantContext::local_operator(),
                        AuditAction::Read,
                        format!("run:local/writer-{w}-entry-{i}"),
                        AuditClass::Public,
                        Decision::Allow,
                        vec![],
                    )
                    .to_canonical()
                    .unwrap();
                    conflicts += append_to_chain(audit.as_ref(), entry).await;
                }
                (inserted, conflicts)
            })
        })
        .collect();
    let mut inserted = 0;
    for t in tasks {
        inserted += t.await.unwrap().0;
    }
    let distinct = (WRITERS - 1) * 100 + 200;
    assert_eq!(
        inserted, distinct as u64,
        "each distinct trial inserted once"
    );
    let stored: Vec<Trial> = store
        .trials(&r.tenant_id, &r.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), distinct);
    assert_eq!(
        stored.iter().map(|t| &t.key).collect::<HashSet<_>>().len(),
        distinct
    );

    let report = verify_chain(audit.as_ref()).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    let records = audit.records(0, usize::MAX).await.unwrap();
    assert_eq!(records.len(), WRITERS * ENTRIES_PER_WRITER);
    assert!(records.iter().enumerate().all(|(i, r)| r.index == i as u64));
    let entries: HashSet<&Vec<u8>> = records.iter().map(|r| &r.entry).collect();
    assert_eq!(
        entries.len(),
        WRITERS * ENTRIES_PER_WRITER,
        "no entry lost or doubled"
    );
}
