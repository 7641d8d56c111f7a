//! 1,000 benchmarks in flight, measured: the durable job queue under a load where every
//! submitted job can run at once, on Postgres (three `tamma-bench worker` processes) and
//! on SQLite (one process), against a loopback model server that answers after 200 ms.
//!
//! Every job is a `RunJob` of the test kit's arithmetic benchmark (10 cases, one epoch,
//! one `openai` agent pointed at the loopback server, one trial in flight per run), so
//! a run takes at least 10 × 200 ms = 2 s and 1,000 of them write 10,000 trials.
//!
//! **Postgres**: a fresh database (the test kit's `TestDb`, dropped at the end), migrated
//! as its owner; three real worker processes (`CARGO_BIN_EXE_tamma-bench worker`, the
//! release build `cargo bench` makes) with 334 slots each, connected as the application
//! role, with a queue configuration whose only tier runs 1,000 jobs at once. First a
//! light-load probe (20 one-case jobs submitted one at a time to the idle workers: the
//! `LISTEN/NOTIFY` wake-up), then 1,000 jobs submitted through `JobQueue::submit` from
//! this process, eight at a time. The bench samples the queue's stats every 100 ms (the
//! most jobs running at once), waits until none is queued or running, reads each
//! worker's peak RSS (`VmHWM`) and stops it with SIGTERM.
//!
//! **SQLite**: a temporary database file, `SqliteQueue` and core's `run_worker` with the
//! CLI's `BenchmarkRunner` in this process with 1,000 slots (the repository audits every
//! access, as the CLI's does); the same probe and load. Its peak RSS is this process's
//! (`VmHWM`, reset before the phase), the loopback server included.
//!
//! Every job must succeed with exactly 10 trials in its run (counted in the database:
//! as the superuser in Postgres). From the job histories (Postgres: server timestamps)
//! the bench reports the queue's own overhead: submitted → claimed, and, per worker, a
//! job's finish → that worker's next claim while jobs were waiting. See
//! `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench queue
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used)] // a bench: a failure is the bench failing

use futures::StreamExt;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench::core::model::{AgentConfig, TenantContext};
use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
use tamma_bench::core::queue::{
    JobEvent, JobEventKind, JobId, JobQueue, JobState, QueueConfig, TierConfig, tiers,
};
use tamma_bench::jobs::{BenchmarkRunner, PAYLOAD_VERSION, RunJob};
use tamma_bench::privacy::Repository;
use tamma_bench::privacy::audit::AuditLog;
use tamma_bench::sqlite::{SqliteAuditStore, SqliteQueue, SqliteStore};
use tamma_bench_testkit::benchmarks::arithmetic;
use tamma_bench_testkit::loopback::start_server;
use tamma_bench_testkit::postgres::{TestDb, connect};
use tokio_util::sync::CancellationToken;

const JOBS: usize = 1_000;
const CASES: u64 = 10;
const DELAY: Duration = Duration::from_millis(200);
const WORKERS: usize = 3;
const SLOTS_PER_WORKER: usize = 334;
/// Each worker's pool of Postgres connections (`worker --pool-size`).
const POOL_SIZE: usize = 8;
const PROBE_JOBS: usize = 20;
/// Submissions in flight at once from this process.
const SUBMITTERS: usize = 8;
/// The longest the load phase may take before the bench gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(240);

/// One phase's numbers.
struct Measured {
    label: String,
    jobs: usize,
    trials: u64,
    /// First submission to last finish, by the queue's clock.
    wall: Duration,
    peak_running: u64,
    submit_to_claim: Vec<i64>,
    finish_to_claim: Vec<i64>,
    peak_rss_kib: Vec<u64>,
}

/// The queue configuration of both backends: one tier that runs every job at once.
fn queue_config() -> QueueConfig {
    QueueConfig {
        tiers: vec![TierConfig {
            name: tiers::INTERNAL.into(),
            priority: 100,
            concurrency: JOBS as u32,
            submissions_per_minute: None,
        }],
        ..QueueConfig::default()
    }
}

fn write_queue_config(path: &Path, c: &QueueConfig) {
    let t = &c.tiers[0];
    let text = format!(
        "aging_ms = {}\nlease_ms = {}\nmax_attempts = {}\nretry_backoff_ms = {}\n\n\
         [[tiers]]\nname = \"{}\"\npriority = {}\nconcurrency = {}\n",
        c.aging_ms,
        c.lease_ms,
        c.max_attempts,
        c.retry_backoff_ms,
        t.name,
        t.priority,
        t.concurrency
    );
    std::fs::write(path, text).expect("write the queue configuration");
}

/// A run job of `cases` arithmetic cases for the agent at `base_url`, one trial in flight.
fn run_job(dir: &Path, base_url: &str, cases: u64) -> RunJob {
    let mut agent = AgentConfig::new("a", "openai", "bench-model");
    agent.base_url = Some(base_url.to_owned());
    RunJob {
        version: PAYLOAD_VERSION,
        benchmark: arithmetic("queue-bench", "Queue bench", cases, 1),
        benchmark_dir: dir.to_owned(),
        agents_file: dir.join("agents.toml"),
        agents: vec![agent],
        base_dir: dir.to_owned(),
        plugin_dirs: Vec::new(),
        epochs: None,
        concurrency: 1,
        budget_usd: None,
    }
}

/// Submits `n` copies of `job`, `SUBMITTERS` at a time; returns their ids.
async fn submit_all(queue: &dyn JobQueue, job: &RunJob, n: usize) -> Vec<JobId> {
    let cx = TenantContext::local_operator();
    let new = job.to_new_job().expect("a payload");
    futures::stream::iter(0..n)
        .map(|_| {
            let (cx, new) = (&cx, new.clone());
            async move { queue.submit(cx, new).await.expect("submitted").id }
        })
        .buffer_unordered(SUBMITTERS)
        .collect()
        .await
}

/// Samples the number of jobs running every 100 ms until `done` is cancelled; returns the
/// highest.
async fn sample_running(queue: Arc<dyn JobQueue>, done: CancellationToken) -> u64 {
    let mut peak = 0;
    while !done.is_cancelled() {
        if let Ok(stats) = queue.stats().await {
            peak = peak.max(stats.iter().map(|s| s.running).sum());
        }
        tokio::select! {
            _ = done.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    peak
}

/// Waits until nothing is queued or running.
async fn wait_until_idle(queue: &dyn JobQueue, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let stats = queue.stats().await.expect("stats");
        if stats.iter().all(|s| s.queued == 0 && s.running == 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs did not finish: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until job `id` reaches a terminal state.
async fn wait_for(queue: &dyn JobQueue, id: &JobId) {
    let cx = TenantContext::local_operator();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = queue.get(&cx, id).await.expect("get").expect("the job");
        if job.state.is_terminal() {
            assert_eq!(job.state, JobState::Succeeded, "{job:?}");
            return;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The light-load probe: `PROBE_JOBS` one-case jobs, each submitted once the previous one
/// finished; returns their histories.
async fn probe(queue: &dyn JobQueue, job: &RunJob) -> Vec<Vec<JobEvent>> {
    let mut ids = Vec::new();
    for _ in 0..PROBE_JOBS {
        // A pause, so that the workers are idle in their wait when the job arrives.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let id = submit_all(queue, job, 1).await.remove(0);
        wait_for(queue, &id).await;
        ids.push(id);
    }
    histories(queue, &ids).await
}

/// Every job's history, checking that each succeeded.
async fn histories(queue: &dyn JobQueue, ids: &[JobId]) -> Vec<Vec<JobEvent>> {
    let cx = TenantContext::local_operator();
    let all: Vec<Vec<JobEvent>> = futures::stream::iter(ids)
        .map(|id| {
            let cx = &cx;
            async move { queue.history(cx, id).await.expect("history") }
        })
        .buffered(SUBMITTERS)
        .collect()
        .await;
    for h in &all {
        let last = h.last().expect("an event");
        assert_eq!(last.state, JobState::Succeeded, "{h:?}");
    }
    all
}

/// Submitted → first claim, ms, per job.
fn submit_to_claim(histories: &[Vec<JobEvent>]) -> Vec<i64> {
    histories
        .iter()
        .filter_map(|h| {
            let at = |k| h.iter().find(|e| e.kind == k).map(|e| e.at_ms);
            Some(at(JobEventKind::Claimed)? - at(JobEventKind::Submitted)?)
        })
        .collect()
}

/// Per worker: a job's finish → that worker's next claim, ms, for the finishes when some
/// job was waiting (submitted and not yet claimed).
fn finish_to_next_claim(histories: &[Vec<JobEvent>]) -> Vec<i64> {
    let mut submitted = Vec::new();
    let mut first_claims = Vec::new();
    let mut claims: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut finishes = Vec::new();
    for h in histories {
        let mut claimed_once = false;
        for e in h {
            let worker = e.worker.as_deref().unwrap_or("");
            match e.kind {
                JobEventKind::Submitted => submitted.push(e.at_ms),
                JobEventKind::Claimed => {
                    if !claimed_once {
                        first_claims.push(e.at_ms);
                        claimed_once = true;
                    }
                    claims.entry(worker).or_default().push(e.at_ms);
                }
                JobEventKind::Succeeded => finishes.push((worker, e.at_ms)),
                _ => {}
            }
        }
    }
    submitted.sort_unstable();
    first_claims.sort_unstable();
    for c in claims.values_mut() {
        c.sort_unstable();
    }
    let at_or_before = |v: &[i64], t: i64| v.partition_point(|&x| x <= t);
    finishes
        .into_iter()
        .filter_map(|(worker, at)| {
            // Jobs waiting just after this finish: submitted by then, first claimed later.
            let waiting = at_or_before(&submitted, at) > at_or_before(&first_claims, at);
            if !waiting {
                return None;
            }
            let mine = claims.get(worker)?;
            let next = mine.get(mine.partition_point(|&c| c < at))?;
            Some(next - at)
        })
        .collect()
}

/// Failed attempts that were retried, by message.
fn retried(histories: &[Vec<JobEvent>]) -> Vec<(usize, String)> {
    let mut by: HashMap<String, usize> = HashMap::new();
    for e in histories.iter().flatten() {
        if e.kind == JobEventKind::Retried {
            *by.entry(e.message.clone().unwrap_or_default()).or_default() += 1;
        }
    }
    let mut v: Vec<_> = by.into_iter().map(|(m, n)| (n, m)).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v
}

/// The queue's clock: first submission to last finish.
fn queue_wall(histories: &[Vec<JobEvent>]) -> Duration {
    let events = histories.iter().flatten();
    let first = events.clone().map(|e| e.at_ms).min().unwrap_or(0);
    let last = events.map(|e| e.at_ms).max().unwrap_or(0);
    Duration::from_millis((last - first).max(0) as u64)
}

fn measured(label: &str, histories: &[Vec<JobEvent>], trials: u64) -> Measured {
    Measured {
        label: label.into(),
        jobs: histories.len(),
        trials,
        wall: queue_wall(histories),
        peak_running: 0,
        submit_to_claim: submit_to_claim(histories),
        finish_to_claim: finish_to_next_claim(histories),
        peak_rss_kib: Vec::new(),
    }
}

/// `VmHWM` of process `pid`, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets this process's `VmHWM` to its current RSS (Linux `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A worker process and where its standard error goes.
struct Worker {
    child: Child,
    stderr: PathBuf,
}

impl Worker {
    fn start(dir: &Path, n: usize, url: &str, queue_config: &Path) -> Self {
        let stderr = dir.join(format!("worker-{n}.stderr"));
        let child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(["worker", "--slots", &SLOTS_PER_WORKER.to_string()])
            .args(["--id", &format!("w{n}"), "--poll-ms", "1000"])
            .args(["--pool-size", &POOL_SIZE.to_string()])
            .arg("--database")
            .arg(url)
            .arg("--queue-config")
            .arg(queue_config)
            .current_dir(dir)
            .env_remove("TAMMA_BENCH_DATABASE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("a stderr file"))
            .spawn()
            .expect("the tamma-bench binary starts");
        Self { child, stderr }
    }

    /// Waits until the worker says it is working.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            if text.contains("slots") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the worker exited {status}: {text}");
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak RSS, then SIGTERM; returns (peak RSS KiB, the worker's summary line).
    fn stop(mut self) -> (u64, String) {
        let rss = peak_rss_kib(self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut line = String::new();
        if let Some(out) = self.child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let _ = self.child.wait();
        (rss, line.trim().to_owned())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn postgres(rt: &tokio::runtime::Runtime, base_url: &str) -> (Measured, Measured) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let d = dir.path();
    let db = rt.block_on(TestDb::create_empty());
    rt.block_on(tamma_bench::postgres::migrate(
        &db.owner_config(),
        &db.app_role(),
    ))
    .expect("migrated");
    let config = queue_config();
    let config_path = d.join("queue.toml");
    write_queue_config(&config_path, &config);
    let app = db.url_as(&db.app_role());

    let store = rt
        .block_on(tamma_bench::postgres::PostgresStore::open(&app))
        .expect("the store");
    let queue: Arc<dyn JobQueue> =
        Arc::new(rt.block_on(store.queue(config.clone())).expect("the queue"));

    let mut workers: Vec<Worker> = (1..=WORKERS)
        .map(|n| Worker::start(d, n, &app, &config_path))
        .collect();
    for w in &mut workers {
        w.wait_ready();
    }

    let probe_histories = rt.block_on(probe(queue.as_ref(), &run_job(d, base_url, 1)));
    let mut light = measured("postgres, light load", &probe_histories, PROBE_JOBS as u64);

    let job = run_job(d, base_url, CASES);
    let done = CancellationToken::new();
    let sampler = rt.spawn(sample_running(queue.clone(), done.clone()));
    let started = Instant::now();
    let ids = rt.block_on(submit_all(queue.as_ref(), &job, JOBS));
    let submitted_in = started.elapsed();
    rt.block_on(wait_until_idle(queue.as_ref(), PHASE_LIMIT));
    let bench_wall = started.elapsed();
    done.cancel();
    let peak_running = rt.block_on(sampler).expect("the sampler");

    let mut rss = Vec::new();
    for w in workers {
        let (kib, summary) = w.stop();
        println!("  {summary} (peak RSS {:.1} MiB)", kib as f64 / 1024.0);
        rss.push(kib);
    }
    let load_histories = rt.block_on(histories(queue.as_ref(), &ids));
    for (n, message) in retried(&load_histories) {
        println!("  postgres: {n} attempts failed and were retried: {message}");
    }

    // Exact trial counts, as the superuser (row-level security does not hide rows).
    let trials = rt.block_on(async {
        let su = connect(&db.superuser_config()).await;
        let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        let rows = su
            .query(
                "SELECT t.run_id::text, count(*) FROM trials t \
                 WHERE t.run_id::text = ANY($1) GROUP BY t.run_id",
                &[&ids],
            )
            .await
            .expect("count trials");
        let completed: i64 = su
            .query_one(
                "SELECT count(*) FROM runs WHERE id::text = ANY($1) AND status = 'completed'",
                &[&ids],
            )
            .await
            .expect("count runs")
            .get(0);
        assert_eq!(completed, JOBS as i64, "every run completed");
        check_trials(rows.iter().map(|r| r.get::<_, i64>(1)).collect())
    });
    let mut load = measured("postgres, 3 workers", &load_histories, trials);
    load.peak_running = peak_running;
    load.peak_rss_kib = rss;
    light.peak_running = 1;
    println!(
        "  postgres: {JOBS} submitted in {:.2} s; all finished {:.2} s after the first \
         submission (bench clock)",
        submitted_in.as_secs_f64(),
        bench_wall.as_secs_f64()
    );
    drop(queue);
    drop(store);
    drop(db);
    (load, light)
}

/// Every run has exactly `CASES` trials; returns the total.
fn check_trials(per_run: Vec<i64>) -> u64 {
    assert_eq!(per_run.len(), JOBS, "every run has trials");
    assert!(
        per_run.iter().all(|&n| n == CASES as i64),
        "every run has exactly {CASES} trials"
    );
    let total: i64 = per_run.iter().sum();
    assert_eq!(total, (JOBS as u64 * CASES) as i64);
    total as u64
}

fn sqlite(rt: &tokio::runtime::Runtime, base_url: &str) -> (Measured, Measured) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let d = dir.path();
    let path = d.join("tamma-bench.db");
    let config = queue_config();
    let queue: Arc<dyn JobQueue> =
        Arc::new(SqliteQueue::open(&path, config.clone()).expect("the queue"));
    let store = Arc::new(SqliteStore::open(&path).expect("the store"));
    let audit = Arc::new(SqliteAuditStore::open(&path).expect("the audit log"));
    let repo = Repository::new(store)
        .expect("a repository")
        .with_audit(Arc::new(AuditLog::with_signer(audit, None)));
    let runner = Arc::new(BenchmarkRunner::new(repo));
    let shutdown = CancellationToken::new();
    let options = WorkerOptions {
        slots: JOBS,
        idle_poll: Duration::from_secs(1),
        ..WorkerOptions::new("sqlite-1")
    };
    reset_peak_rss();
    let worker = rt.spawn(run_worker(queue.clone(), runner, options, shutdown.clone()));

    let probe_histories = rt.block_on(probe(queue.as_ref(), &run_job(d, base_url, 1)));
    let mut light = measured("sqlite, light load", &probe_histories, PROBE_JOBS as u64);
    light.peak_running = 1;

    let job = run_job(d, base_url, CASES);
    let done = CancellationToken::new();
    let sampler = rt.spawn(sample_running(queue.clone(), done.clone()));
    let started = Instant::now();
    let ids = rt.block_on(submit_all(queue.as_ref(), &job, JOBS));
    let submitted_in = started.elapsed();
    rt.block_on(wait_until_idle(queue.as_ref(), PHASE_LIMIT));
    let bench_wall = started.elapsed();
    done.cancel();
    let peak_running = rt.block_on(sampler).expect("the sampler");
    let rss = peak_rss_kib(std::process::id());
    shutdown.cancel();
    let report = rt.block_on(worker).expect("the worker");
    println!(
        "  sqlite worker: {} claimed, {} succeeded, {} failed (peak RSS {:.1} MiB)",
        report.claimed,
        report.succeeded,
        report.failed,
        rss as f64 / 1024.0
    );
    println!(
        "  sqlite: {JOBS} submitted in {:.2} s; all finished {:.2} s after the first \
         submission (bench clock)",
        submitted_in.as_secs_f64(),
        bench_wall.as_secs_f64()
    );
    let load_histories = rt.block_on(histories(queue.as_ref(), &ids));
    for (n, message) in retried(&load_histories) {
        println!("  sqlite: {n} attempts failed and were retried: {message}");
    }

    let conn = rusqlite::Connection::open(&path).expect("the database");
    let wanted: std::collections::HashSet<String> = ids.iter().map(|i| i.to_string()).collect();
    let mut stmt = conn
        .prepare("SELECT run_id, count(*) FROM trials GROUP BY run_id")
        .expect("a query");
    let per_run: Vec<i64> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .expect("count trials")
        .filter_map(Result::ok)
        .filter(|(run, _)| wanted.contains(run))
        .map(|(_, n)| n)
        .collect();
    let trials = check_trials(per_run);
    let mut load = measured("sqlite, 1 process", &load_histories, trials);
    load.peak_running = peak_running;
    load.peak_rss_kib = vec![rss];
    (load, light)
}

/// The nearest-rank percentile `p` (0-100) of `v`, ms.
fn pct(v: &[i64], p: f64) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1].to_string()
}

fn print_table(rows: &[Measured]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n{JOBS} jobs × {CASES} cases, server delay {} ms (light load: {PROBE_JOBS} one-case \
         jobs, one at a time); times in ms, by the queue's clock",
        DELAY.as_millis()
    );
    let _ = writeln!(
        out,
        "{:<22} {:>5} {:>6} {:>8} {:>7} {:>9} {:>7} | {:>15} {:>5} {:>5} | {:>14} {:>5} | peak RSS MiB (n finishes)",
        "phase",
        "jobs",
        "trials",
        "wall s",
        "jobs/s",
        "trials/s",
        "peak run",
        "submit→claim p50",
        "p95",
        "max",
        "finish→claim p50",
        "p95"
    );
    for r in rows {
        let wall = r.wall.as_secs_f64();
        let rss = r
            .peak_rss_kib
            .iter()
            .map(|k| format!("{:.0}", *k as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join("/");
        // The probe's jobs run one at a time with pauses: its throughput means nothing.
        let light = r.label.contains("light");
        let rate = |n: f64, digits: usize| {
            if light {
                "-".to_owned()
            } else {
                format!("{:.*}", digits, n / wall)
            }
        };
        let _ = writeln!(
            out,
            "{:<22} {:>5} {:>6} {:>8.2} {:>7} {:>9} {:>7} | {:>16} {:>5} {:>5} | {:>16} {:>5} | {} (n={})",
            r.label,
            r.jobs,
            r.trials,
            wall,
            rate(r.jobs as f64, 1),
            rate(r.trials as f64, 0),
            r.peak_running,
            pct(&r.submit_to_claim, 50.0),
            pct(&r.submit_to_claim, 95.0),
            pct(&r.submit_to_claim, 100.0),
            pct(&r.finish_to_claim, 50.0),
            pct(&r.finish_to_claim, 95.0),
            if rss.is_empty() { "-".into() } else { rss },
            r.finish_to_claim.len(),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is configurable.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (addr, log) = start_server(DELAY);
    let base_url = format!("http://{addr}/v1");
    let before = log.requests();
    println!(
        "worker binary: {} (a release build: {})",
        env!("CARGO_BIN_EXE_tamma-bench"),
        Path::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .components()
            .any(|c| c.as_os_str() == "release")
    );
    println!(
        "postgres: {WORKERS} worker processes × {SLOTS_PER_WORKER} slots, {POOL_SIZE} pooled \
         connections each"
    );
    let (pg_load, pg_light) = postgres(&rt, &base_url);
    println!("sqlite: run_worker in this process, {JOBS} slots");
    let (sq_load, sq_light) = sqlite(&rt, &base_url);
    let requests = log.requests() - before;
    print_table(&[pg_load, pg_light, sq_load, sq_light]);
    println!(
        "server: {requests} requests over {} connections, answered {:.1} ms after they were \
         read, on average",
        log.connections(),
        log.mean_answer_ms()
    );
}
