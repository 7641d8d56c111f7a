//! Trials per second over HTTP: the real `Executor` driving the real OpenAI-compatible
//! provider against a loopback server that answers every request after a fixed 20 ms.
//!
//! Each run is 1 agent × 2,000 cases × 1 epoch = 2,000 trials into a fresh `MemoryStore`,
//! at 64 and at 256 trials in flight (`RunOptions::concurrency`). The provider is built
//! the way the CLI builds it (`build_provider` for an `openai` agent with a `base_url`,
//! then `layers::wrap`), so every trial serializes a chat-completions request, sends it
//! over a pooled keep-alive connection, parses the JSON answer and is scored by `exact`.
//!
//! The server is a minimal HTTP/1.1 keep-alive server on its own single-threaded runtime
//! (its own OS thread, as a separate process would be): it reads the headers and the
//! `Content-Length` body, waits 20 ms, and answers a valid chat-completions body. A server
//! framework would add its own overhead to what is measured. The 20 ms are kept by a
//! thread of their own ([`Alarm`]), not by `tokio::time::sleep`: tokio's timer has
//! millisecond ticks and rounds a deadline up to the next one, which made the server
//! answer after 21.3–21.5 ms, 7 % of the time budget spent in the server.
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
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{AgentConfig, Benchmark, TenantContext};
use tamma_bench_core::store::MemoryStore;
use tamma_bench_providers::layers::{self, LayerContext, LimiterRegistry};
use tamma_bench_testkit::benchmarks::arithmetic;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const TRIALS: usize = 2_000;
const DELAY: Duration = Duration::from_millis(20);
const CONCURRENCY: [usize; 2] = [64, 256];

/// A chat-completions answer, as OpenAI sends it.
const BODY: &str = concat!(
    r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"#,
    r#""model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","#,
    r#""content":"4"},"finish_reason":"stop"}],"#,
    r#""usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}"#
);

/// What the loopback server has seen.
#[derive(Default)]
struct ServerLog {
    requests: AtomicU64,
    connections: AtomicU64,
    /// Sum over requests of the time from reading the request to writing the answer.
    answer_ns: AtomicU64,
}

/// Wakes tasks at their deadlines, to within the OS's timer slack (tens of µs).
///
/// One thread sleeps until the earliest deadline (a condition variable waits on a futex
/// with a nanosecond timeout) and is notified only when the queue was empty, so a request
/// costs no thread switch of its own. Deadlines come in order, since every one is
/// `now + DELAY` taken on the single server thread, so a queue keeps them sorted.
#[derive(Clone, Default)]
struct Alarm(Arc<(Mutex<VecDeque<Wakeup>>, Condvar)>);

/// A deadline and the task waiting for it.
type Wakeup = (Instant, oneshot::Sender<()>);

impl Alarm {
    /// An alarm with its thread, which ends when the last handle is dropped.
    fn start() -> Self {
        let alarm = Self::default();
        let shared = Arc::downgrade(&alarm.0);
        std::thread::spawn(move || {
            let mut due = Vec::new();
            while let Some(shared) = shared.upgrade() {
                let (queue, wakeup) = &*shared;
                let mut queue = queue.lock().expect("the alarm queue");
                let now = Instant::now();
                let next = queue.front().map(|(deadline, _)| *deadline);
                match next {
                    None => drop(wakeup.wait_timeout(queue, Duration::from_millis(100))),
                    Some(deadline) if deadline > now => {
                        drop(wakeup.wait_timeout(queue, deadline - now));
                    }
                    Some(_) => {
                        while queue.front().is_some_and(|(deadline, _)| *deadline <= now) {
                            due.extend(queue.pop_front());
                        }
                        drop(queue);
                        for (_, wake) in due.drain(..) {
                            let _ = wake.send(());
                        }
                    }
                }
            }
        });
        alarm
    }

    /// Waits until `deadline`.
    async fn until(&self, deadline: Instant) {
        let (wake, woken) = oneshot::channel();
        {
            let (queue, wakeup) = &*self.0;
            let mut queue = queue.lock().expect("the alarm queue");
            if queue.is_empty() {
                wakeup.notify_one();
            }
            queue.push_back((deadline, wake));
        }
        let _ = woken.await;
    }
}

/// Starts the server on its own thread and runtime; returns its address and its log.
fn start_server() -> (SocketAddr, Arc<ServerLog>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a server runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("binds a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let log = Arc::new(ServerLog::default());
    let server_log = log.clone();
    let alarm = Alarm::start();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                server_log.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(stream, server_log.clone(), alarm.clone()));
            }
        })
    });
    (addr, log)
}

/// Serves one keep-alive connection: one request at a time, each answered after `DELAY`.
async fn serve(mut stream: TcpStream, log: Arc<ServerLog>, alarm: Alarm) {
    let _ = stream.set_nodelay(true);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Headers, then as much body as `Content-Length` says.
        let (head, body_len) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (end + 4, content_length(&buf[..end]));
            }
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        };
        while buf.len() < head + body_len {
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        }
        let received = Instant::now();
        buf.drain(..head + body_len);
        log.requests.fetch_add(1, Ordering::Relaxed);
        alarm.until(received + DELAY).await;
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        let answered = u64::try_from(received.elapsed().as_nanos()).unwrap_or(u64::MAX);
        log.answer_ns.fetch_add(answered, Ordering::Relaxed);
    }
}

/// Reads what has arrived onto `buf`; false when the peer closed or failed.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    buf.reserve(4096);
    matches!(stream.read_buf(buf).await, Ok(n) if n > 0)
}

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

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
    let (addr, log) = start_server();
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

    let requests = log.requests.load(Ordering::Relaxed);
    let connections = log.connections.load(Ordering::Relaxed);
    let answer_ms = log.answer_ns.load(Ordering::Relaxed) as f64 / 1e6 / requests.max(1) as f64;
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
