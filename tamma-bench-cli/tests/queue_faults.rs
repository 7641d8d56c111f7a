//! The job queue under real faults, on Postgres, with worker processes of the binary:
//! workers killed with SIGKILL mid-job (their leases expire, other workers take the jobs
//! over and resume their runs at trial level), an internal job jumping a saturated free
//! tier at the first free slot, and every connection of the application role terminated
//! by the server while jobs run (workers reconnect). Every job ends succeeded with each
//! trial of its run stored exactly once.
//!
//! The model server is the test kit's loopback server (an OpenAI-compatible answer `4`
//! after a fixed delay), so a job takes a second or two; the store is inspected as the
//! server's superuser.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test fixtures: a failure is the test failing

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tamma_bench_testkit::loopback::start_server;
use tamma_bench_testkit::postgres::{Client, TestDb, connect};

/// Cases per benchmark.
const CASES: usize = 10;

/// One test at a time: each runs several worker processes flat out.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A migrated database, a folder with the benchmark and its agent (pointed at a loopback
/// model server answering after `delay`), and a superuser connection for inspection.
struct World {
    rt: tokio::runtime::Runtime,
    admin: Client,
    app_url: String,
    app_role: String,
    dir: tempfile::TempDir,
    // Last: dropped after everything that connects to it.
    _db: TestDb,
}

impl World {
    /// Sets up the world; `queue` is the queue configuration's TOML.
    fn new(delay: Duration, queue: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(TestDb::create_empty());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (addr, _log) = start_server(delay);
        let mut cases = String::new();
        for i in 0..CASES {
            writeln!(cases, r#"{{"id": "c{i}", "input": "2+2?", "target": "4"}}"#).unwrap();
        }
        std::fs::write(d.join("cases.jsonl"), cases).unwrap();
        std::fs::write(
            d.join("bench.toml"),
            "id = \"faults\"\nname = \"Faults\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
        )
        .unwrap();
        std::fs::write(
            d.join("agents.toml"),
            format!(
                "[[agent]]\nname = \"a\"\nprovider = \"openai\"\nmodel = \"m\"\n\
                 base_url = \"http://{addr}/v1\"\n"
            ),
        )
        .unwrap();
        std::fs::write(d.join("queue.toml"), queue).unwrap();
        let out = run(
            d,
            &[
                "db",
                "migrate",
                "--owner",
                &db.url_as(&db.owner_role()),
                "--app-role",
                &db.app_role(),
            ],
        );
        ok(&out);
        let admin = rt.block_on(connect(&db.superuser_config()));
        Self {
            app_url: db.url_as(&db.app_role()),
            app_role: db.app_role(),
            rt,
            admin,
            dir,
            _db: db,
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the binary on the database as the application role, with the queue config.
    fn tb(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", &self.app_url, "--queue-config", "queue.toml"]);
        run(self.dir(), &all)
    }

    /// Submits a run job (`extra`: tenant, tier, concurrency); returns its id.
    fn submit(&self, extra: &[&str]) -> String {
        let mut args = vec!["submit", "bench.toml", "--agents", "agents.toml", "--json"];
        args.extend_from_slice(extra);
        let out = self.tb(&args);
        let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
        assert_eq!(v["state"], "queued", "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// `n` jobs submitted by `threads` submitters at once; their ids.
    fn submit_many(&self, n: usize, threads: usize, extra: &[&str]) -> Vec<String> {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..n)
                            .step_by(threads)
                            .map(|_| self.submit(extra))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        })
    }

    fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.rt.block_on(self.admin.query(sql, &[])).unwrap()
    }

    /// Every job: id -> (state, attempts, last error).
    fn jobs(&self) -> BTreeMap<String, (String, i32, Option<String>)> {
        self.query("SELECT id, state, attempts, last_error FROM jobs")
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect()
    }

    /// Each job's history: id -> [(at_ms, kind)] in order.
    fn events(&self) -> HashMap<String, Vec<(i64, String)>> {
        let mut all: HashMap<String, Vec<(i64, String)>> = HashMap::new();
        for r in self.query("SELECT job_id, at_ms, kind FROM job_events ORDER BY job_id, seq") {
            all.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
        }
        all
    }

    /// Every failed attempt that was retried: (job id, error).
    fn retried(&self) -> Vec<(String, String)> {
        self.query("SELECT job_id, coalesce(message, '') FROM job_events WHERE kind = 'retried'")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    /// Each run's trials: run id -> (rows, distinct trial keys).
    fn trials(&self) -> HashMap<String, (i64, i64)> {
        self.query(
            "SELECT run_id, count(*), \
             count(DISTINCT (tenant_id, run_id, agent, case_id, epoch)) FROM trials GROUP BY run_id",
        )
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
    }

    /// Waits (at most `limit`) until every job in `ids` has succeeded; panics with the
    /// jobs' states and the workers' logs otherwise (or when a job ends otherwise).
    fn wait_all_succeeded(&self, ids: &[String], limit: Duration, workers: &Workers) {
        let started = Instant::now();
        loop {
            let jobs = self.jobs();
            let ended_badly: Vec<_> = jobs
                .iter()
                .filter(|(_, (s, _, _))| s == "failed" || s == "cancelled")
                .collect();
            assert!(
                ended_badly.is_empty(),
                "jobs ended badly: {ended_badly:?}\n{}",
                self.diagnose(workers)
            );
            if ids
                .iter()
                .all(|id| jobs.get(id).is_some_and(|(s, _, _)| s == "succeeded"))
            {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "not every job succeeded within {limit:?}\n{}",
                self.diagnose(workers)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The jobs' states (counted, and the unfinished ones listed) and the workers' logs.
    fn diagnose(&self, workers: &Workers) -> String {
        let jobs = self.jobs();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (state, _, _) in jobs.values() {
            *counts.entry(state.as_str()).or_default() += 1;
        }
        let mut out = format!("job states: {counts:?}\n");
        for (id, (state, attempts, error)) in jobs.iter().filter(|(_, j)| j.0 != "succeeded") {
            let _ = writeln!(out, "  {id}: {state}, {attempts} attempts, error {error:?}");
        }
        out.push_str(&workers.describe());
        out
    }

    /// Terminates every server process of the application role (each worker's pooled
    /// connections and its listening one); returns how many.
    fn terminate_app_connections(&self) -> usize {
        let rows = self
            .rt
            .block_on(self.admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE usename = $1 AND pid <> pg_backend_pid()",
                &[&self.app_role],
            ))
            .unwrap();
        rows.iter().filter(|r| r.get::<_, bool>(0)).count()
    }
}

/// Runs the binary in `dir`, ignoring `$TAMMA_BENCH_DATABASE`.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(args)
        .current_dir(dir)
        .env_remove("TAMMA_BENCH_DATABASE")
        .output()
        .expect("run tamma-bench")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The worker processes a test started; every one still running is killed on drop
/// (also when the test panics).
struct Workers {
    dir: PathBuf,
    db: String,
    args: Vec<String>,
    running: Vec<(String, Child)>,
    /// Every worker ever started (for the logs).
    started: Vec<String>,
}

impl Workers {
    fn new(world: &World, args: &[&str]) -> Self {
        Self {
            dir: world.dir().to_owned(),
            db: world.app_url.clone(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            running: Vec::new(),
            started: Vec::new(),
        }
    }

    /// Starts worker `id` (logs at info to `id.log`, its summary to `id.out`).
    fn spawn(&mut self, id: &str) {
        let child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(["worker", "--id", id, "--poll-ms", "200", "--database"])
            .arg(&self.db)
            .args(["--queue-config", "queue.toml"])
            .args(&self.args)
            .current_dir(&self.dir)
            .env_remove("TAMMA_BENCH_DATABASE")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.dir.join(format!("{id}.out"))).unwrap())
            .stderr(std::fs::File::create(self.dir.join(format!("{id}.log"))).unwrap())
            .spawn()
            .unwrap();
        self.running.push((id.to_owned(), child));
        self.started.push(id.to_owned());
    }

    /// Kills the `i`-th running worker with SIGKILL and reaps it; its id.
    fn kill(&mut self, i: usize) -> String {
        let (id, mut child) = self.running.remove(i);
        child.kill().unwrap();
        child.wait().unwrap();
        id
    }

    /// The ids of running workers that have exited on their own, with their status.
    fn exited(&mut self) -> Vec<(String, std::process::ExitStatus)> {
        self.running
            .iter_mut()
            .filter_map(|(id, c)| c.try_wait().unwrap().map(|s| (id.clone(), s)))
            .collect()
    }

    /// Sends SIGTERM to every running worker and waits for them (at most a minute);
    /// their ids, exit codes and summaries.
    fn terminate_all(&mut self) -> Vec<(String, Option<i32>, String)> {
        let mut ended = Vec::new();
        for (id, mut child) in std::mem::take(&mut self.running) {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let started = Instant::now();
            let code = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s.code();
                }
                if started.elapsed() > Duration::from_secs(60) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let summary =
                std::fs::read_to_string(self.dir.join(format!("{id}.out"))).unwrap_or_default();
            ended.push((id, code, summary));
        }
        ended
    }

    /// Which workers run, and the last lines of every worker's log.
    fn describe(&self) -> String {
        let running: Vec<&str> = self.running.iter().map(|(id, _)| id.as_str()).collect();
        let mut out = format!("workers running: {running:?}\n");
        for id in &self.started {
            let log =
                std::fs::read_to_string(self.dir.join(format!("{id}.log"))).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(12)..];
            let _ = writeln!(out, "--- {id}.log (last {} lines)", tail.len());
            for line in tail {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts that `runs` runs have trials, each exactly [`CASES`], none twice.
fn assert_every_trial_once(world: &World, runs: usize, workers: &Workers) {
    let trials = world.trials();
    assert_eq!(
        trials.len(),
        runs,
        "runs with trials\n{}",
        world.diagnose(workers)
    );
    let wrong: Vec<_> = trials
        .iter()
        .filter(|(_, (rows, keys))| *rows != CASES as i64 || rows != keys)
        .collect();
    assert!(
        wrong.is_empty(),
        "runs without exactly {CASES} distinct trials: {wrong:?}"
    );
}

const FAULTS_QUEUE: &str = "aging_ms = 10000\nlease_ms = 1500\nmax_attempts = 30\n\
    retry_backoff_ms = 100\n\n[[tiers]]\nname = \"internal-optimization\"\npriority = 100\n\
    concurrency = 64\n";

#[test]
fn workers_killed_with_sigkill_lose_no_job_and_run_no_trial_twice() {
    let _one = exclusive();
    const JOBS: usize = 200;
    const KILLS: usize = 20;
    let started = Instant::now();
    let world = World::new(Duration::from_millis(200), FAULTS_QUEUE);
    let ids = world.submit_many(JOBS, 4, &["--concurrency", "2"]);
    eprintln!("submitted {JOBS} jobs in {:?}", started.elapsed());

    let mut workers = Workers::new(&world, &["--slots", "2"]);
    for i in 0..3 {
        workers.spawn(&format!("w{i}"));
    }
    let mut kills = 0;
    let mut next = 3;
    while kills < KILLS {
        // 1.5 to 2.5 s apart, varied.
        std::thread::sleep(Duration::from_millis(1500 + (kills as u64 * 617) % 1000));
        let exited = workers.exited();
        assert!(
            exited.is_empty(),
            "workers exited on their own: {exited:?}\n{}",
            world.diagnose(&workers)
        );
        let jobs = world.jobs();
        if jobs.values().all(|(s, _, _)| s == "succeeded") {
            break;
        }
        workers.kill(kills % workers.running.len());
        workers.spawn(&format!("w{next}"));
        next += 1;
        kills += 1;
    }
    eprintln!("{kills} workers killed by {:?}", started.elapsed());
    world.wait_all_succeeded(&ids, Duration::from_secs(240), &workers);
    eprintln!("every job succeeded by {:?}", started.elapsed());

    assert_every_trial_once(&world, JOBS, &workers);
    let jobs = world.jobs();
    let attempts: i32 = jobs.values().map(|(_, a, _)| a).sum();
    let events = world.events();
    let taken_over = events
        .values()
        .filter(|h| h.iter().any(|(_, k)| k == "lease_expired"))
        .count();
    eprintln!(
        "{kills} kills: {taken_over} jobs taken over after an expired lease, {attempts} attempts"
    );
    assert!(
        kills >= 5,
        "only {kills} kills landed before the work ran out"
    );
    assert!(
        taken_over > 0,
        "no kill hit a running job\n{}",
        world.diagnose(&workers)
    );
    assert!(attempts > JOBS as i32, "{attempts} attempts");
    // Kills cost leases, never a failed attempt.
    let retried = world.retried();
    assert!(retried.is_empty(), "attempts failed: {retried:?}");
    let exited = workers.exited();
    assert!(exited.is_empty(), "workers exited on their own: {exited:?}");
    for (id, history) in &events {
        let last = history.last().map(|(_, k)| k.as_str());
        assert_eq!(last, Some("succeeded"), "{id}: {history:?}");
    }
}

#[test]
fn an_internal_job_takes_the_first_free_slot_ahead_of_waiting_free_jobs() {
    let _one = exclusive();
    const FREE: usize = 6;
    let world = World::new(
        Duration::from_millis(250),
        "aging_ms = 10000\nlease_ms = 10000\nmax_attempts = 3\nretry_backoff_ms = 100\n\n\
         [[tiers]]\nname = \"internal-optimization\"\npriority = 100\nconcurrency = 10\n\n\
         [[tiers]]\nname = \"external-free\"\npriority = 10\nconcurrency = 2\n\
         submissions_per_minute = 10\n",
    );
    let mut free = Vec::new();
    for i in 0..FREE {
        let tenant = format!("t{}", i % 2 + 1);
        free.push(world.submit(&["--tenant", &tenant, "--tier", "free", "--concurrency", "1"]));
    }
    let mut workers = Workers::new(&world, &["--slots", "2"]);
    workers.spawn("w0");
    // Both slots busy with free jobs, the others waiting.
    let started = Instant::now();
    loop {
        let jobs = world.jobs();
        let running = jobs.values().filter(|(s, _, _)| s == "running").count();
        if running == 2 {
            let queued = jobs.values().filter(|(s, _, _)| s == "queued").count();
            assert!(queued >= 2, "{jobs:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the free jobs never ran\n{}",
            world.diagnose(&workers)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let internal = world.submit(&["--concurrency", "2"]);
    let waiting: Vec<String> = world
        .jobs()
        .into_iter()
        .filter(|(id, (s, _, _))| *id != internal && s == "queued")
        .map(|(id, _)| id)
        .collect();
    assert!(!waiting.is_empty());
    world.wait_all_succeeded(
        std::slice::from_ref(&internal),
        Duration::from_secs(60),
        &workers,
    );

    let events = world.events();
    let at = |id: &str, kind: &str| -> Option<i64> {
        events[id]
            .iter()
            .find(|(_, k)| k == kind)
            .map(|(at, _)| *at)
    };
    let submitted = at(&internal, "submitted").unwrap();
    let claimed = at(&internal, "claimed").unwrap();
    // The first release of a slot after the internal job came.
    let first_free_end = free
        .iter()
        .filter_map(|id| at(id, "succeeded"))
        .filter(|t| *t >= submitted)
        .min()
        .expect("a free job finished");
    let diagnostics = || format!("{events:#?}\n{}", world.diagnose(&workers));
    assert!(
        claimed >= first_free_end,
        "the internal job was claimed ({claimed}) before a slot was free ({first_free_end})\n{}",
        diagnostics()
    );
    // No free job waiting when it came was claimed before it.
    for id in &waiting {
        if let Some(t) = at(id, "claimed") {
            assert!(
                t >= claimed,
                "free job {id} was claimed at {t}, before the internal job at {claimed}\n{}",
                diagnostics()
            );
        }
    }
    // Nothing else was claimed between the first free end and the internal claim.
    let between: Vec<_> = events
        .iter()
        .filter(|(id, _)| **id != internal)
        .flat_map(|(id, h)| h.iter().map(move |(t, k)| (id, *t, k)))
        .filter(|(_, t, k)| *k == "claimed" && *t >= first_free_end && *t < claimed)
        .collect();
    assert!(between.is_empty(), "{between:?}\n{}", diagnostics());
}

#[test]
fn workers_survive_the_server_terminating_their_connections() {
    let _one = exclusive();
    const JOBS: usize = 60;
    let started = Instant::now();
    let world = World::new(Duration::from_millis(150), FAULTS_QUEUE);
    let ids = world.submit_many(JOBS, 4, &["--concurrency", "1"]);
    eprintln!("submitted {JOBS} jobs in {:?}", started.elapsed());
    let mut workers = Workers::new(&world, &["--slots", "2"]);
    for i in 0..3 {
        workers.spawn(&format!("w{i}"));
    }
    std::thread::sleep(Duration::from_secs(2));
    let mut terminated = 0;
    for round in 0..5 {
        terminated += world.terminate_app_connections();
        std::thread::sleep(Duration::from_millis(1000 + round * 250));
    }
    eprintln!(
        "{terminated} connections terminated by {:?}",
        started.elapsed()
    );
    assert!(terminated >= 5, "{terminated} connections terminated");
    world.wait_all_succeeded(&ids, Duration::from_secs(120), &workers);
    eprintln!("every job succeeded by {:?}", started.elapsed());
    assert_every_trial_once(&world, JOBS, &workers);
    let exited = workers.exited();
    assert!(
        exited.is_empty(),
        "workers exited: {exited:?}\n{}",
        world.diagnose(&workers)
    );
    let jobs = world.jobs();
    let attempts: i32 = jobs.values().map(|(_, a, _)| a).sum();
    eprintln!("{attempts} attempts for {JOBS} jobs");
    // An attempt failed only where its connection was cut (never, say, on writers
    // contending for the audit log's tail).
    let retried = world.retried();
    assert!(
        retried.iter().all(|(_, m)| m.contains("connection")),
        "attempts failed for other reasons: {retried:?}"
    );
    eprintln!("{} attempts failed on a cut connection", retried.len());
    // They drain and exit cleanly on SIGTERM: still working, reconnected.
    for (id, code, summary) in workers.terminate_all() {
        assert_eq!(code, Some(0), "{id}: {summary}");
        assert!(summary.contains("claimed"), "{id}: {summary}");
    }
}
