//! The cost of safety: a repository read against a raw store read of the same rows, and
//! the latency of one authorization decision (p50 / p99 over 100,000 decisions).
//!
//! The rows are one run of 1 agent × 5,000 trials in SQLite (a file in a temporary
//! directory), each trial with an output of ~200 characters. The raw read streams
//! `ResultStore::trials`; the repository read streams `Repository::trials` for the
//! owning external tenant (authorization, audit hook, projection, the check for sealed
//! fields, redaction and the public view). A third measure reads the same rows written
//! through a repository with a keyset (output and answer sealed with
//! XChaCha20-Poly1305, opened on read): the cost of field encryption, which the 1.2×
//! target does not cover. See `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench privacy
//! ```

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;
use std::sync::Arc;
use std::time::Instant;
use tamma_bench_core::model::{
    AgentConfig, Outcome, Run, RunStatus, Score, TenantContext, TenantId, Tier, Trial, TrialKey,
    Visibility,
};
use tamma_bench_core::provider::Usage;
use tamma_bench_core::store::ResultStore;
use tamma_bench_privacy::Repository;
use tamma_bench_privacy::authz::{AccessPolicy, Action, RunResource};
use tamma_bench_privacy::crypto::Keyset;
use tamma_bench_sqlite::SqliteStore;

const TRIALS: u32 = 5_000;

fn fixture(store: &SqliteStore, rt: &tokio::runtime::Runtime, tenant: &TenantId) {
    let (run, trials) = rows(tenant);
    rt.block_on(async {
        store.begin_run(&run).await.expect("begin");
        store.append_trials(trials).await.expect("append");
    });
}

/// The run and its trials.
fn rows(tenant: &TenantId) -> (Run, Vec<Trial>) {
    let run = Run {
        id: "r1".into(),
        tenant_id: tenant.clone(),
        benchmark_id: "b".into(),
        benchmark_version: "1".into(),
        visibility: Visibility::Private,
        fingerprint: "f".into(),
        agents: vec![AgentConfig::new("a", "replay", "m")],
        epochs: 1,
        n_cases: u64::from(TRIALS),
        status: RunStatus::Completed,
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let output = "The answer is 42 because the question, read carefully, asks for the number of \
                  ways to choose; the derivation follows in three steps and ends with a check \
                  of the boundary cases, so B is right.";
    let trials: Vec<Trial> = (0..TRIALS)
        .map(|c| Trial {
            run_id: "r1".into(),
            tenant_id: tenant.clone(),
            key: TrialKey::new("a", format!("case-{c:06}"), 0),
            cluster: None,
            tags: vec!["t".into()],
            outcome: Outcome::Scored {
                scores: vec![Score::pass_fail("exact", c % 2 == 0).with_answer(Some("B".into()))],
            },
            output: Some(output.into()),
            usage: Usage {
                input_tokens: 100,
                output_tokens: 50,
            },
            latency_ms: 100.0,
            cost_usd: 0.001,
            attempts: 1,
            cache_hit: false,
            finished_at_ms: 0,
        })
        .collect();
    (run, trials)
}

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant = TenantId::new("acme").expect("tenant");
    let store = Arc::new(SqliteStore::open(dir.path().join("b.db")).expect("store"));
    fixture(&store, &rt, &tenant);
    let repo = Repository::new(store.clone()).expect("repository");
    let cx = TenantContext::external(tenant.clone(), Tier::Free, "u");
    let mut g = c.benchmark_group("privacy_read");
    g.throughput(Throughput::Elements(u64::from(TRIALS)));
    g.sample_size(20);
    g.bench_function("raw_store_trials", |b| {
        b.iter(|| {
            rt.block_on(async {
                let v: Vec<Trial> = store
                    .trials(&tenant, "r1")
                    .try_collect()
                    .await
                    .expect("read");
                assert_eq!(v.len(), TRIALS as usize);
            })
        })
    });
    g.bench_function("repository_trials", |b| {
        b.iter(|| {
            rt.block_on(async {
                let export = repo.trials(&cx, "r1").await.expect("authorized");
                let v: Vec<_> = export.stream().try_collect().await.expect("read");
                assert_eq!(v.len(), TRIALS as usize);
            })
        })
    });
    // The same rows sealed at write (through a repository with a keyset), opened on read.
    let sealed_store = Arc::new(SqliteStore::open(dir.path().join("sealed.db")).expect("store"));
    let keys = Keyset::generate("k1").expect("keyset");
    let sealed = Repository::new(sealed_store)
        .expect("repository")
        .with_keyset(&keys);
    let (run, trials) = rows(&tenant);
    rt.block_on(async {
        sealed.begin_run(&cx, &run).await.expect("begin");
        sealed.append_trials(&cx, trials).await.expect("append");
    });
    g.bench_function("repository_trials_sealed", |b| {
        b.iter(|| {
            rt.block_on(async {
                let export = sealed.trials(&cx, "r1").await.expect("authorized");
                let v: Vec<_> = export.stream().try_collect().await.expect("read");
                assert_eq!(v.len(), TRIALS as usize);
            })
        })
    });
    g.finish();
}

fn decisions(c: &mut Criterion) {
    let policy = AccessPolicy::shipped().expect("policy");
    let owner = TenantId::new("acme").expect("tenant");
    let cx = TenantContext::external(TenantId::new("zed").expect("tenant"), Tier::Free, "u");
    let run = RunResource {
        id: "r1",
        owner: &owner,
        visibility: Visibility::Public,
    };
    c.bench_function("authorization_decision", |b| {
        b.iter(|| policy.decide(&cx, Action::Read, run))
    });
    // p50 / p99 over 100,000 single decisions.
    let mut lat: Vec<u128> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(policy.decide(&cx, Action::Read, run));
            t.elapsed().as_nanos()
        })
        .collect();
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    eprintln!(
        "authorization decision latency: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        q(0.5),
        q(0.99),
        q(1.0)
    );
}

criterion_group!(benches, reads, decisions);
criterion_main!(benches);
