//! The audit log: appends, proofs, checkpoints, alerts, and tampering of the SQLite file
//! detected at the first bad index.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use proptest::prelude::*;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tamma_bench_core::model::{TenantContext, TenantId, Tier};
use tamma_bench_core::store::{AuditRecord, AuditStore, StoreErrorKind};
use tamma_bench_privacy::audit::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use tamma_bench_privacy::audit::{
    AuditAction, AuditClass, AuditEntry, AuditLog, AuditSigner, AuditVerifier, Checkpoint,
    Decision, EntryDamage, Tamper, chain_next, verify,
};
use tamma_bench_sqlite::SqliteAuditStore;

const ORIGIN: &str = "tamma-bench.test/audit";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn entry(i: usize) -> AuditEntry {
    let tenant = TenantId::new(format!("tenant-{}", i % 4)).expect("tenant");
    let cx = TenantContext::external(tenant, Tier::Free, format!("user-{i}"));
    let classes = [
        AuditClass::Public,
        AuditClass::Sensitive,
        AuditClass::Internal,
        AuditClass::Restricted,
    ];
    let actions = [
        AuditAction::Read,
        AuditAction::Write,
        AuditAction::Export,
        AuditAction::Compare,
    ];
    let decision = if i.is_multiple_of(3) {
        Decision::Deny
    } else {
        Decision::Allow
    };
    AuditEntry::new(
        &cx,
        actions[i % 4],
        format!("run:r{i}"),
        classes[i % 4],
        decision,
        vec![format!("policy{}", i % 5)],
    )
}

/// A log of `n` entries in a SQLite file, and the key that verifies it.
fn make_log(path: &Path, n: usize) -> AuditVerifier {
    let signer = AuditSigner::generate(ORIGIN).expect("signer");
    let verifier = signer.verifier();
    rt().block_on(async {
        let store = Arc::new(SqliteAuditStore::open(path).expect("open"));
        let log = AuditLog::new(store, signer);
        for i in 0..n {
            assert_eq!(log.append(&entry(i)).await.expect("append").index, i as u64);
        }
    });
    verifier
}

fn verify_file(path: &Path, verifier: &AuditVerifier, trusted: &[String]) -> Option<Tamper> {
    rt().block_on(async {
        let store = SqliteAuditStore::open(path).expect("open");
        let report = verify(&store, verifier, trusted)
            .await
            .expect("verify runs");
        report.tamper
    })
}

fn first_bad(t: Option<Tamper>) -> Option<(u64, EntryDamage)> {
    match t {
        Some(Tamper::Entry { index, damage, .. }) => Some((index, damage)),
        other => panic!("expected an entry problem, got {other:?}"),
    }
}

/// Opens the file as an attacker would: plain SQL, the append-only triggers dropped.
fn attacker(path: &Path) -> Connection {
    let c = Connection::open(path).expect("open");
    c.execute_batch("PRAGMA synchronous = OFF").expect("pragma");
    for t in [
        "audit_entries_no_update",
        "audit_entries_no_delete",
        "audit_checkpoints_no_update",
        "audit_checkpoints_no_delete",
    ] {
        c.execute_batch(&format!("DROP TRIGGER IF EXISTS {t}"))
            .expect("drop trigger");
    }
    c
}

fn row(c: &Connection, idx: u64) -> (Vec<u8>, Vec<u8>) {
    c.query_row(
        "SELECT entry, chain_hash FROM audit_entries WHERE idx = ?1",
        [idx as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("row")
}

fn set_row(c: &Connection, idx: u64, entry: &[u8], chain: &[u8]) {
    c.execute(
        "UPDATE audit_entries SET entry = ?2, chain_hash = ?3 WHERE idx = ?1",
        params![idx as i64, entry, chain],
    )
    .expect("update");
}

#[derive(Debug, Clone)]
enum Tampering {
    FlipEntry {
        idx: u64,
        pos: prop::sample::Index,
        bit: u8,
    },
    FlipChain {
        idx: u64,
        pos: prop::sample::Index,
        bit: u8,
    },
    Delete {
        idx: u64,
    },
    DeleteAndRenumber {
        idx: u64,
    },
    Swap {
        a: u64,
        b: u64,
    },
    Truncate {
        len: u64,
    },
    RewriteAndRechain {
        idx: u64,
    },
}

impl Tampering {
    /// Applies the tampering; returns the index `verify` must name first.
    fn apply(&self, c: &Connection, n: u64) -> u64 {
        match *self {
            Self::FlipEntry { idx, pos, bit } => {
                let (mut e, h) = row(c, idx);
                let i = pos.index(e.len());
                e[i] ^= 1 << bit;
                set_row(c, idx, &e, &h);
                idx
            }
            Self::FlipChain { idx, pos, bit } => {
                let (e, mut h) = row(c, idx);
                let i = pos.index(h.len());
                h[i] ^= 1 << bit;
                set_row(c, idx, &e, &h);
                idx
            }
            Self::Delete { idx } => {
                c.execute("DELETE FROM audit_entries WHERE idx = ?1", [idx as i64])
                    .expect("delete");
                idx
            }
            Self::DeleteAndRenumber { idx } => {
                c.execute("DELETE FROM audit_entries WHERE idx = ?1", [idx as i64])
                    .expect("delete");
                for j in idx + 1..n {
                    c.execute(
                        "UPDATE audit_entries SET idx = ?1 WHERE idx = ?2",
                        [j as i64 - 1, j as i64],
                    )
                    .expect("renumber");
                }
                idx
            }
            Self::Swap { a, b } => {
                let (ra, rb) = (row(c, a), row(c, b));
                set_row(c, a, &rb.0, &rb.1);
                set_row(c, b, &ra.0, &ra.1);
                a.min(b)
            }
            Self::Truncate { len } => {
                c.execute("DELETE FROM audit_entries WHERE idx >= ?1", [len as i64])
                    .expect("truncate");
                len
            }
            Self::RewriteAndRechain { idx } => {
                // A careful attacker: a valid, canonical entry, and the chain recomputed.
                let mut chain = if idx == 0 {
                    [0u8; 32]
                } else {
                    row(c, idx - 1).1.try_into().expect("hash")
                };
                for j in idx..n {
                    let (mut e, _) = row(c, j);
                    if j == idx {
                        let mut forged = AuditEntry::from_canonical(&e).expect("entry");
                        forged.decision = if forged.decision == Decision::Allow {
                            Decision::Deny
                        } else {
                            Decision::Allow
                        };
                        e = forged.to_canonical().expect("canonical");
                    }
                    chain = chain_next(&chain, &e);
                    set_row(c, j, &e, &chain);
                }
                idx
            }
        }
    }
}

const N: u64 = 12;

fn tampering() -> impl Strategy<Value = Tampering> {
    let idx = 0..N;
    prop_oneof![
        (idx.clone(), any::<prop::sample::Index>(), 0u8..8)
            .prop_map(|(idx, pos, bit)| Tampering::FlipEntry { idx, pos, bit }),
        (idx.clone(), any::<prop::sample::Index>(), 0u8..8)
            .prop_map(|(idx, pos, bit)| Tampering::FlipChain { idx, pos, bit }),
        idx.clone().prop_map(|idx| Tampering::Delete { idx }),
        idx.clone()
            .prop_map(|idx| Tampering::DeleteAndRenumber { idx }),
        (idx.clone(), idx.clone())
            .prop_filter("distinct", |(a, b)| a != b)
            .prop_map(|(a, b)| Tampering::Swap { a, b }),
        (0..N).prop_map(|len| Tampering::Truncate { len }),
        idx.prop_map(|idx| Tampering::RewriteAndRechain { idx }),
    ]
}

struct Template {
    _dir: tempfile::TempDir,
    path: PathBuf,
    verifier: AuditVerifier,
}

fn template() -> &'static Template {
    static T: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("template.db");
        let verifier = make_log(&path, N as usize);
        Template {
            _dir: dir,
            path,
            verifier,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every tampering of the stored entries is detected, at the first index it touched.
    #[test]
    fn tampering_is_detected_at_the_first_bad_index(t in tampering()) {
        let tpl = template();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.db");
        std::fs::copy(&tpl.path, &path).expect("copy");
        let mut c = attacker(&path);
        let tx = c.transaction().expect("tx");
        let expected = t.apply(&tx, N);
        tx.commit().expect("commit");
        drop(c);
        let found = first_bad(verify_file(&path, &tpl.verifier, &[]));
        prop_assert_eq!(found.map(|f| f.0), Some(expected), "{:?} -> {:?}", t, found);
    }
}

#[test]
fn an_intact_log_verifies_and_every_entry_is_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let verifier = make_log(&path, 5);
    let report = rt().block_on(async {
        verify(
            &SqliteAuditStore::open(&path).expect("open"),
            &verifier,
            &[],
        )
        .await
        .expect("verify")
    });
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(
        (report.entries, report.signed_size, report.checkpoints),
        (5, 5, 5)
    );
    assert_eq!(report.unsigned_entries(), 0);
}

#[test]
fn truncation_with_checkpoints_removed_is_caught_by_a_trusted_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let verifier = make_log(&path, 6);
    let published: String = Connection::open(&path)
        .expect("open")
        .query_row(
            "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("note");
    let c = attacker(&path);
    c.execute_batch(
        "DELETE FROM audit_entries WHERE idx >= 4; DELETE FROM audit_checkpoints WHERE size > 4;",
    )
    .expect("tamper");
    assert_eq!(
        verify_file(&path, &verifier, &[]),
        None,
        "undetectable from inside the file alone"
    );
    assert_eq!(
        first_bad(verify_file(&path, &verifier, &[published])),
        Some((4, EntryDamage::Truncated))
    );
}

#[test]
fn a_modified_checkpoint_fails_its_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let verifier = make_log(&path, 3);
    let c = attacker(&path);
    let note: String = c
        .query_row(
            "SELECT note FROM audit_checkpoints WHERE size = 3",
            [],
            |r| r.get(0),
        )
        .expect("note");
    let forged = note.replacen("\n3\n", "\n2\n", 1);
    assert_ne!(forged, note);
    assert!(Checkpoint::open(&note, &verifier).is_ok());
    assert!(Checkpoint::open(&forged, &verifier).is_err());
    let other = AuditSigner::generate(ORIGIN).expect("signer").verifier();
    assert!(
        Checkpoint::open(&note, &other).is_err(),
        "another key with the same name"
    );
    c.execute(
        "UPDATE audit_checkpoints SET note = ?1 WHERE size = 3",
        [&forged],
    )
    .expect("update");
    assert!(matches!(
        verify_file(&path, &verifier, &[]),
        Some(Tamper::Checkpoint { .. })
    ));
}

#[test]
fn proofs_from_the_log_verify_against_signed_checkpoints() {
    rt().block_on(async {
        let store = Arc::new(tamma_bench_core::store::MemoryAuditStore::new());
        let signer = AuditSigner::generate(ORIGIN).expect("signer");
        let verifier = signer.verifier();
        let log = AuditLog::new(store.clone(), signer);
        let mut heads = Vec::new();
        let mut leaves = Vec::new();
        for i in 0..9 {
            let e = entry(i);
            leaves.push(leaf_hash(&e.to_canonical().expect("bytes")));
            let note = log
                .append(&e)
                .await
                .expect("append")
                .checkpoint
                .expect("checkpoint");
            heads.push(Checkpoint::open(&note, &verifier).expect("valid"));
        }
        for new in &heads {
            for i in 0..new.size {
                let p = log.inclusion_proof(i, new.size).await.expect("proof");
                verify_inclusion(i, new.size, &leaves[i as usize], &p.hashes, &new.root)
                    .expect("inclusion");
            }
            for old in &heads[..new.size as usize] {
                let p = log
                    .consistency_proof(old.size, new.size)
                    .await
                    .expect("proof");
                verify_consistency(old.size, new.size, &p.hashes, &old.root, &new.root)
                    .expect("consistency");
            }
        }
        assert!(log.inclusion_proof(9, 9).await.is_err());
    });
}

#[test]
fn the_alert_fires_for_sensitive_and_restricted_entries_only() {
    rt().block_on(async {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let log = AuditLog::new(
            Arc::new(tamma_bench_core::store::MemoryAuditStore::new()),
            AuditSigner::generate(ORIGIN).expect("signer"),
        )
        .with_alert(Arc::new(move |i: u64, e: &AuditEntry| {
            sink.lock().expect("lock").push((i, e.classification))
        }));
        for i in 0..8 {
            log.append(&entry(i)).await.expect("append");
        }
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(
            seen,
            vec![
                (1, AuditClass::Sensitive),
                (3, AuditClass::Restricted),
                (5, AuditClass::Sensitive),
                (7, AuditClass::Restricted)
            ]
        );
    });
}

#[test]
fn the_store_refuses_overwrites_updates_and_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let verifier = make_log(&path, 2);
    rt().block_on(async {
        let store = SqliteAuditStore::open(&path).expect("open");
        let stale = AuditRecord {
            index: 1,
            entry: b"{}".to_vec(),
            chain_hash: vec![0; 32],
        };
        assert_eq!(
            store
                .append(stale, None)
                .await
                .expect_err("stale index")
                .kind(),
            StoreErrorKind::Conflict
        );
    });
    let c = Connection::open(&path).expect("open");
    assert!(
        c.execute("UPDATE audit_entries SET entry = x'00' WHERE idx = 0", [])
            .is_err()
    );
    assert!(
        c.execute("DELETE FROM audit_entries WHERE idx = 1", [])
            .is_err()
    );
    assert!(c.execute("DELETE FROM audit_checkpoints", []).is_err());
    assert_eq!(verify_file(&path, &verifier, &[]), None);
}

#[test]
fn two_writers_on_one_database_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let signer = AuditSigner::generate(ORIGIN).expect("signer");
    let verifier = signer.verifier();
    let secret = signer.to_secret_string();
    rt().block_on(async {
        let a = AuditLog::new(
            Arc::new(SqliteAuditStore::open(&path).expect("open")),
            signer,
        );
        let b = AuditLog::new(
            Arc::new(SqliteAuditStore::open(&path).expect("open")),
            AuditSigner::parse(&secret).expect("parse"),
        );
        for i in 0..6 {
            let log = if i % 2 == 0 { &a } else { &b };
            assert_eq!(log.append(&entry(i)).await.expect("append").index, i as u64);
        }
    });
    assert_eq!(verify_file(&path, &verifier, &[]), None);
}

#[test]
fn writers_of_several_processes_appending_at_once_all_land_in_one_chain() {
    // One log per process, each appending as fast as it can: every append that another
    // writer beats catches up and lands; none gives up.
    const WRITERS: usize = 4;
    const EACH: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let signer = AuditSigner::generate(ORIGIN).expect("signer");
    let verifier = signer.verifier();
    let secret = signer.to_secret_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WRITERS)
        .enable_all()
        .build()
        .expect("runtime");
    let mut indices: Vec<u64> = rt.block_on(async {
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let log = AuditLog::new(
                    Arc::new(SqliteAuditStore::open(&path).expect("open")),
                    AuditSigner::parse(&secret).expect("parse"),
                );
                tokio::spawn(async move {
                    let mut indices = Vec::new();
                    for i in 0..EACH {
                        let receipt = log.append(&entry(w * EACH + i)).await.expect("append");
                        indices.push(receipt.index);
                    }
                    indices
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("writer"));
        }
        all
    });
    indices.sort_unstable();
    let expected: Vec<u64> = (0..(WRITERS * EACH) as u64).collect();
    assert_eq!(indices, expected);
    assert_eq!(verify_file(&path, &verifier, &[]), None);
}

#[test]
fn keys_round_trip_through_their_text_forms() {
    let signer = AuditSigner::generate(ORIGIN).expect("signer");
    let text = signer.verifier().to_string();
    assert!(text.starts_with("tamma-bench.test/audit+"));
    assert_eq!(
        AuditVerifier::parse(&text).expect("parse"),
        signer.verifier()
    );
    let secret = signer.to_secret_string();
    assert!(secret.starts_with("PRIVATE+KEY+"));
    assert_eq!(
        AuditSigner::parse(&secret).expect("parse").verifier(),
        signer.verifier()
    );
    assert!(!format!("{signer:?}").contains(&secret[secret.len() - 20..]));
    assert!(AuditVerifier::parse("name+00000000+AQ==").is_err());
}

/// An audit store that counts the records it hands out.
struct CountingStore {
    inner: SqliteAuditStore,
    read: Mutex<u64>,
}

#[async_trait::async_trait]
impl AuditStore for CountingStore {
    async fn append(
        &self,
        record: AuditRecord,
        checkpoint: Option<tamma_bench_core::store::StoredCheckpoint>,
    ) -> Result<(), tamma_bench_core::store::StoreError> {
        self.inner.append(record, checkpoint).await
    }
    async fn last(&self) -> Result<Option<AuditRecord>, tamma_bench_core::store::StoreError> {
        self.inner.last().await
    }
    async fn records(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, tamma_bench_core::store::StoreError> {
        let page = self.inner.records(from, limit).await?;
        *self.read.lock().unwrap() += page.len() as u64;
        Ok(page)
    }
    async fn checkpoints(
        &self,
    ) -> Result<Vec<tamma_bench_core::store::StoredCheckpoint>, tamma_bench_core::store::StoreError>
    {
        self.inner.checkpoints().await
    }
}

#[test]
fn a_writer_that_lost_the_race_reads_only_the_entries_it_missed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let signer = AuditSigner::generate(ORIGIN).expect("signer");
    let verifier = signer.verifier();
    let secret = signer.to_secret_string();
    rt().block_on(async {
        let counting = Arc::new(CountingStore {
            inner: SqliteAuditStore::open(&path).expect("open"),
            read: Mutex::new(0),
        });
        let a = AuditLog::new(counting.clone(), signer);
        let b = AuditLog::new(
            Arc::new(SqliteAuditStore::open(&path).expect("open")),
            AuditSigner::parse(&secret).expect("parse"),
        );
        assert_eq!(a.append(&entry(0)).await.expect("append").index, 0);
        for i in 1..=50 {
            assert_eq!(b.append(&entry(i)).await.expect("append").index, i as u64);
        }
        // A's tail ends at 1; the log at 51: A reads the 50 entries B appended, not all 51.
        assert_eq!(a.append(&entry(51)).await.expect("append").index, 51);
        assert_eq!(*counting.read.lock().unwrap(), 50);
    });
    assert_eq!(verify_file(&path, &verifier, &[]), None);
}

#[test]
fn three_writers_appending_at_once_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.db");
    let signer = AuditSigner::generate(ORIGIN).expect("signer");
    let verifier = signer.verifier();
    let secret = signer.to_secret_string();
    let logs: Vec<Arc<AuditLog>> = (0..3)
        .map(|_| {
            Arc::new(AuditLog::new(
                Arc::new(SqliteAuditStore::open(&path).expect("open")),
                AuditSigner::parse(&secret).expect("parse"),
            ))
        })
        .collect();
    let mut indexes: Vec<u64> = rt().block_on(async {
        let tasks: Vec<_> = logs
            .iter()
            .enumerate()
            .map(|(w, log)| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for i in 0..40 {
                        got.push(log.append(&entry(w * 40 + i)).await.expect("append").index);
                    }
                    got
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("a writer"));
        }
        all
    });
    indexes.sort_unstable();
    assert_eq!(indexes, (0..120).collect::<Vec<u64>>());
    assert_eq!(verify_file(&path, &verifier, &[]), None);
}
