//! Trials per second through the real `Executor`, into the memory store and into SQLite.
//!
//! The workload is 1 agent × 1,000 cases × 20 epochs = 20,000 trials per run, answered by
//! an in-process provider with no latency and scored by `exact`. Each run gets a fresh,
//! empty store (a new file in a temporary directory for SQLite), so every trial is really
//! executed and written; opening the store is outside the timed region, and everything
//! `Executor::run` does (planning, trials, batched writes, the final summary that streams
//! the trials back) is inside it. See `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench throughput
//! ```

use criterion::{Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{AgentConfig, Benchmark, TenantContext};
use tamma_bench_core::store::{MemoryStore, ResultStore};
use tamma_bench_sqlite::SqliteStore;
use tamma_bench_testkit::benchmarks::arithmetic;
use tamma_bench_testkit::providers::FixedProvider;

const CASES: usize = 1_000;
const EPOCHS: u32 = 20;
const TRIALS: u64 = CASES as u64 * EPOCHS as u64;

/// Answers "4" at once: the executor and the store are all that is measured.
fn zero() -> Arc<FixedProvider> {
    Arc::new(FixedProvider::new("4").named("zero"))
}

/// Runs the benchmark once into `store` and returns how long `Executor::run` took.
async fn timed_run(store: Arc<dyn ResultStore>, benchmark: &Benchmark) -> Duration {
    let executor = Executor::new(store);
    let agent = AgentRuntime::new(AgentConfig::new("a", "zero", "m"), zero());
    let started = Instant::now();
    let report = executor
        .run(
            &TenantContext::local_operator(),
            benchmark,
            vec![agent],
            RunOptions::default(),
        )
        .await
        .expect("the run succeeds");
    let elapsed = started.elapsed();
    assert_eq!(report.written, TRIALS, "every trial is written");
    assert_eq!(report.summary.agents[0].n_trials, TRIALS);
    elapsed
}

fn throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let benchmark = arithmetic("throughput", "Throughput", CASES as u64, EPOCHS);
    let mut group = c.benchmark_group("executor");
    group
        .throughput(Throughput::Elements(TRIALS))
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    group.bench_function("memory_store", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let store = Arc::new(MemoryStore::new());
                total += runtime.block_on(timed_run(store, &benchmark));
            }
            total
        })
    });

    group.bench_function("sqlite_store", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = SqliteStore::open(dir.path().join("bench.db")).expect("opens");
                total += runtime.block_on(timed_run(Arc::new(store), &benchmark));
            }
            total
        })
    });
    group.finish();
}

// What `criterion_group!` + `criterion_main!` expand to, without their undocumented
// public function.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    throughput(&mut criterion);
    criterion.final_summary();
}
