//! Trials per second over HTTP: the real `Executor` driving the real OpenAI-compatible
//! provider against a loopback server that answers every request after a fixed 20 ms.
//!
//! Each run is 1 agent × 2,000 cases × 1 epoch = 2,000 trials into a fresh `MemoryStore`,
//! at 64 and at 256 trials in flight (`RunOptions::concurrency`). The provider is built
//! the way the CLI builds it (`build_provider` for an `openai` agent with a `base_url`,
//! then `layers::wrap`), so every trial serializes a chat-completions request, sends it
//! over a pooled keep-alive connection, parses the JSON answer and is scored by `exact`.
//!
//! The server is the test kit's loopback OpenAI server
//! (`tamma_bench_testkit::loopback`): a minimal HTTP/1.1 keep-alive server on its own
//! thread that answers a valid chat-completions body 20 ms after reading each request.
//!
//! The ideal time is 2,000 × 20 ms / concurrency. After criterion's report the bench
//! prints, per concurrency, the ideal and the median, best and worst run (warm-up runs
//! included) with their ratio to the ideal, and how long the server really took to answer.
//! See `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench http_throughput
//! ```

use criterion::{Criterion, Throughput};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{AgentConfig, Benchmark, TenantContext};
use tamma_bench_core::store::MemoryStore;
use tamma_bench_providers::layers::{self, LayerContext, LimiterRegistry};
use tamma_bench_testkit::benchmarks::arithmetic;
use tamma_bench_testkit::loopback::start_server;

const TRIALS: usize = 2_000;
const DELAY: Duration = Duration::from_millis(20);
const CONCURRENCY: [usize; 2] = [64, 256];

/// The `openai` agent pointed at the loopback server, with its provider built and
/// layered as the CLI does it. One provider (one connection pool) serves every run.
fn agent(addr: SocketAddr) -> AgentRuntime {
    let mut config = AgentConfig::new("a", "openai", "bench-model");
    config.base_url = Some(format!("http://{addr}/v1"));
    let provider =
        tamma_bench_providers::build_provider(&config, Path::new(".")).expect("an openai provider");
    let limiters = LimiterRegistry::from_agents([&config]);
    let cx = LayerContext {
        base_dir: Path::new("."),
        cache: None,
        limiters: &limiters,
    };
    let layered = layers::wrap(provider, &config, &cx).expect("layers");
    AgentRuntime::new(config, layered.provider)
}

/// Runs the benchmark once at `concurrency` and returns how long `Executor::run` took.
async fn timed_run(agent: &AgentRuntime, benchmark: &Benchmark, concurrency: usize) -> Duration {
    let executor = Executor::new(Arc::new(MemoryStore::new()));
    let options = RunOptions {
        concurrency,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let report = executor
        .run(
            &TenantContext::local_operator(),
            benchmark,
            vec![agent.clone()],
            options,
        )
        .await
        .expect("the run succeeds");
    let elapsed = started.elapsed();
    let summary = &report.summary.agents[0];
    assert_eq!(report.written, TRIALS as u64, "every trial is written");
    assert_eq!(
        summary.n_infra_failures, 0,
        "no call failed: {:?}",
        report.summary
    );
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (addr, log) = start_server(DELAY);
    let agent = agent(addr);
    let benchmark = arithmetic("http-throughput", "HTTP throughput", TRIALS as u64, 1);

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("http");
    group
        .throughput(Throughput::Elements(TRIALS as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    let mut timings: Vec<(usize, Vec<Duration>)> = Vec::new();
    for concurrency in CONCURRENCY {
        let mut runs = Vec::new();
        group.bench_function(format!("openai_20ms_c{concurrency}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = runtime.block_on(timed_run(&agent, &benchmark, concurrency));
                    runs.push(t);
                    total += t;
                }
                total
            })
        });
        timings.push((concurrency, runs));
    }
    group.finish();
    criterion.final_summary();

    let (requests, connections, answer_ms) =
        (log.requests(), log.connections(), log.mean_answer_ms());
    println!(
        "\n{TRIALS} trials a run, server delay {} ms",
        DELAY.as_millis()
    );
    println!(
        "{:>11}  {:>8}  {:>9} {:>5}  {:>9} {:>5}  {:>9} {:>5}  {:>4}",
        "concurrency",
        "ideal ms",
        "median ms",
        "ratio",
        "best ms",
        "ratio",
        "worst ms",
        "ratio",
        "runs"
    );
    for (concurrency, mut runs) in timings {
        if runs.is_empty() {
            continue;
        }
        runs.sort();
        let ideal = DELAY.as_secs_f64() * 1e3 * TRIALS as f64 / concurrency as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (median, best, worst) = (
            ms(runs[runs.len() / 2]),
            ms(runs[0]),
            ms(runs[runs.len() - 1]),
        );
        println!(
            "{concurrency:>11}  {ideal:>8.2}  {median:>9.1} {:>5.3}  {best:>9.1} {:>5.3}  {worst:>9.1} {:>5.3}  {:>4}",
            median / ideal,
            best / ideal,
            worst / ideal,
            runs.len(),
        );
    }
    println!(
        "(runs include criterion's warm-up) server: {requests} requests over {connections} \
         connections, answered {answer_ms:.2} ms after they were read, on average"
    );
}
