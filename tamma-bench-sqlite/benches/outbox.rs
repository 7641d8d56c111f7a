//! What the event outbox costs a run: a 100,000-trial run (1 agent × 1,000 cases × 100
//! epochs, an in-process provider with no latency, `exact` scoring) through the real
//! `Executor` into a fresh `SqliteStore`, against the outbox's own work in that run.
//!
//! The outbox writes its events inside the transactions of the changes they report; a
//! run's only such change is its completion (`set_run_status(Completed)`, which appends
//! `benchmark.completed`, and `results.published` for a public run). So the outbox's cost
//! is that transaction's extra: measured as a completion (with its event) against the
//! same status change that logs nothing (`Interrupted`), each on a fresh run in a
//! database of the same size. The bench prints the run's wall time, the extra, and their
//! ratio; `docs/performance.md` keeps the figures.
//!
//! ```text
//! cargo bench -p tamma-bench-sqlite --bench outbox
//! ```

use criterion::Criterion;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::events::{EventFilter, EventLog};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{AgentConfig, RunStatus, TenantContext};
use tamma_bench_core::store::ResultStore;
use tamma_bench_sqlite::{SqliteEventLog, SqliteStore};
use tamma_bench_testkit::benchmarks::arithmetic;
use tamma_bench_testkit::providers::FixedProvider;

const CASES: u64 = 1_000;
const EPOCHS: u32 = 100;
const TRIALS: u64 = CASES * EPOCHS as u64;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cx = TenantContext::local_operator();
    let agent = AgentRuntime::new(
        AgentConfig::new("a", "zero", "m"),
        Arc::new(FixedProvider::new("4").named("zero")),
    );
    let benchmark = arithmetic("outbox", "Outbox", CASES, EPOCHS);

    // The run: 100,000 trials into a fresh file, a few times.
    let mut runs = Vec::new();
    let mut group = criterion.benchmark_group("outbox");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("run_100k_trials_sqlite", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let path = dir.path().join("bench.db");
                let store = Arc::new(SqliteStore::open(&path).expect("opens"));
                let executor = Executor::new(store);
                let started = Instant::now();
                let report = runtime
                    .block_on(executor.run(
                        &cx,
                        &benchmark,
                        vec![agent.clone()],
                        RunOptions::default(),
                    ))
                    .expect("the run succeeds");
                let took = started.elapsed();
                assert_eq!(report.written, TRIALS);
                // The outbox logged the completion, once.
                let log = SqliteEventLog::open(&path).expect("the log opens");
                let events = runtime
                    .block_on(log.read(0, &EventFilter::all(), 10))
                    .expect("reads");
                assert_eq!(events.len(), 1, "{events:?}");
                runs.push(took);
                total += took;
            }
            total
        })
    });

    // The completion transaction with its event, against one without.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(SqliteStore::open(dir.path().join("status.db")).expect("opens"));
    let small = arithmetic("status", "Status", 10, 1);
    let executor = Executor::new(store.clone());
    let mut n = 0u64;
    let mut fresh_run = || {
        n += 1;
        let options = RunOptions {
            run_id: Some(format!("r{n}")),
            ..RunOptions::default()
        };
        let report = runtime
            .block_on(executor.run(&cx, &small, vec![agent.clone()], options))
            .expect("runs");
        report.run.id
    };
    let mut timings: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for (i, (name, status)) in [
        ("complete_with_event", RunStatus::Completed),
        ("interrupt_without_event", RunStatus::Interrupted),
    ]
    .into_iter()
    .enumerate()
    {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = fresh_run();
                    // Back to running, then the change under test.
                    runtime
                        .block_on(store.set_run_status(&cx.tenant_id, &id, RunStatus::Running))
                        .expect("status");
                    let started = Instant::now();
                    runtime
                        .block_on(store.set_run_status(&cx.tenant_id, &id, status))
                        .expect("status");
                    let took = started.elapsed();
                    timings[i].push(took);
                    total += took;
                }
                total
            })
        });
    }
    group.finish();
    criterion.final_summary();

    let run = median(runs);
    let [with, without] = timings.map(median);
    let extra = with.saturating_sub(without);
    println!(
        "\n100,000-trial run into SQLite: median {:.3} s",
        run.as_secs_f64()
    );
    println!(
        "completion with its event {:.1} µs, status change without {:.1} µs: outbox {:.1} µs \
         = {:.5}% of the run",
        with.as_secs_f64() * 1e6,
        without.as_secs_f64() * 1e6,
        extra.as_secs_f64() * 1e6,
        100.0 * extra.as_secs_f64() / run.as_secs_f64()
    );
}
