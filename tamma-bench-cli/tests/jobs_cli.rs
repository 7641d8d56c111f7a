//! The job queue end to end through the binary: `submit`, `worker` (a child process),
//! `jobs`, `job`, `cancel`. Jobs run and their runs are stored; tenants see only their
//! own jobs; a queued job is cancelled at once and a running one at a trial boundary; a
//! worker stopped by SIGTERM gives its job back and the next worker resumes the run at
//! trial level, no trial run twice; `--watch` re-prints until Ctrl-C; a bad
//! `--queue-config` is located in its file.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde_json::Value;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{ok, tb};

/// A benchmark of `cases` cases, a replay agent, and a second agents file whose agent is
/// limited to 60 requests a minute (the first minute's burst at once, then one a second).
fn world(cases: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mut c, mut rec) = (String::new(), String::new());
    for i in 0..cases {
        writeln!(
            c,
            r#"{{"id": "c{i}", "input": "q{i}", "target": "{}"}}"#,
            i % 3
        )
        .unwrap();
        writeln!(rec, r#"{{"case_id": "c{i}", "output": "{}"}}"#, i % 2).unwrap();
    }
    std::fs::write(d.join("cases.jsonl"), c).unwrap();
    std::fs::write(d.join("rec.jsonl"), rec).unwrap();
    std::fs::write(
        d.join("bench.toml"),
        "id = \"b\"\nname = \"B\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    )
    .unwrap();
    let agent = "[[agent]]\nname = \"a\"\nprovider = \"replay\"\nmodel = \"m\"\nrecording = \"rec.jsonl\"\n";
    std::fs::write(d.join("agents.toml"), agent).unwrap();
    std::fs::write(
        d.join("slow.toml"),
        format!("{agent}[agent.layers.rate_limit]\nrequests_per_minute = 60\n"),
    )
    .unwrap();
    dir
}

fn json(out: std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Submits a run job; returns (job id, run id).
fn submit(d: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec!["submit", "bench.toml", "--agents", "agents.toml", "--json"];
    args.extend_from_slice(extra);
    let v = json(tb(d, &args));
    assert_eq!(v["state"], "queued", "{v}");
    (
        v["id"].as_str().unwrap().to_owned(),
        v["run_id"].as_str().unwrap().to_owned(),
    )
}

fn jobs(d: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["jobs", "--json"];
    args.extend_from_slice(extra);
    json(tb(d, &args)).as_array().unwrap().clone()
}

fn job(d: &Path, id: &str) -> Value {
    json(tb(d, &["job", id, "--json"]))
}

/// A child process, killed if the test fails before it ends it.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn worker(d: &Path) -> Running {
    worker_with(d, &[])
}

/// Starts `tamma-bench worker` (polling every 100 ms, 2 slots) with `extra` arguments.
fn worker_with(d: &Path, extra: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(["worker", "--poll-ms", "100", "--slots", "2", "--id", "w1"])
        .args(extra)
        .arg("--db")
        .arg(d.join("tamma-bench.db"))
        .current_dir(d)
        .stdout(Stdio::piped())
        // A file, not a pipe nobody reads while it runs: logs never block the worker.
        .stderr(std::fs::File::create(d.join("worker.log")).unwrap())
        .spawn()
        .unwrap();
    Running(Some(child))
}

/// Sends SIGTERM to `child` and returns its exit code and standard output.
fn terminate(child: Running) -> (Option<i32>, String) {
    signal(child, "-TERM")
}

/// Sends `sig` (`-TERM`, `-INT`) to `child` and returns its exit code and standard output.
fn signal(mut running: Running, sig: &str) -> (Option<i32>, String) {
    let mut child = running.0.take().unwrap();
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("the worker did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Polls `jobs --json` until `done` holds for the list (at most two minutes).
fn wait_for(d: &Path, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for_as(d, &[], what, done)
}

/// Polls `jobs --json ARGS` until `done` holds for the list (at most two minutes).
fn wait_for_as(d: &Path, args: &[&str], what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let list = jobs(d, args);
        if done(&list) {
            return list;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "waited two minutes for {what}: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the executor has begun run `run` (it is stored, `show` finds it).
fn wait_for_run(d: &Path, run: &str, args: &[&str]) {
    let started = Instant::now();
    let mut show = vec!["show", run];
    show.extend_from_slice(args);
    while tb(d, &show).status.code() != Some(0) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "run {run} never began"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The trials of `run` as exported: (rows, distinct case × epoch keys).
fn exported(d: &Path, run: &str) -> (usize, usize) {
    let text = ok(tb(d, &["export", run, "--format", "jsonl"]));
    let mut keys = HashSet::new();
    let mut rows = 0;
    for line in text.lines() {
        let t: Value = serde_json::from_str(line).unwrap();
        assert!(t["key"].is_object(), "{t}");
        keys.insert(t["key"].to_string());
        rows += 1;
    }
    (rows, keys.len())
}

#[test]
fn a_worker_runs_three_submitted_jobs_and_their_runs_are_stored() {
    let dir = world(5);
    let d = dir.path();
    let submitted: Vec<(String, String)> = (1..=3)
        .map(|epochs| submit(d, &["--epochs", &epochs.to_string()]))
        .collect();
    let list = jobs(d, &["--state", "queued"]);
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|j| j["tier"] == "internal-optimization"));
    assert!(
        list.iter().all(|j| j.get("payload").is_none()),
        "no payloads listed"
    );

    let child = worker(d);
    wait_for(d, "three succeeded jobs", |l| {
        l.len() == 3 && l.iter().all(|j| j["state"] == "succeeded")
    });
    for (i, (id, run)) in submitted.iter().enumerate() {
        let j = job(d, id);
        assert_eq!(j["attempts"], 1, "{j}");
        let events: Vec<&str> = j["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["submitted", "claimed", "succeeded"]);
        let shown = json(tb(d, &["show", run, "--json"]));
        assert_eq!(shown["status"], "completed", "{shown}");
        let trials = 5 * (i + 1);
        assert_eq!(shown["agents"][0]["n_trials"], trials);
        assert_eq!(exported(d, run), (trials, trials));
    }
    let (code, stdout) = terminate(child);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("3 claimed, 3 succeeded, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn a_tenant_sees_and_cancels_only_its_own_jobs() {
    let dir = world(3);
    let d = dir.path();
    let (acme, _) = submit(d, &["--tenant", "acme"]);
    let (beta, _) = submit(d, &["--tenant", "beta", "--tier", "premium"]);
    let (own, _) = submit(d, &[]);
    let (cheap, _) = submit(d, &["--tier", "external-free"]);

    let seen = |tenant: &[&str]| -> Vec<(String, String)> {
        jobs(d, tenant)
            .iter()
            .map(|j| {
                (
                    j["id"].as_str().unwrap().to_owned(),
                    j["tier"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        seen(&["--tenant", "acme"]),
        [(acme.clone(), "external-free".into())]
    );
    assert_eq!(
        seen(&["--tenant", "beta"]),
        [(beta.clone(), "external-premium".into())]
    );
    // Newest first; an internal context picks any tier by name.
    assert_eq!(
        seen(&[]),
        [
            (cheap.clone(), "external-free".into()),
            (own.clone(), "internal-optimization".into())
        ]
    );

    // Another tenant's job does not exist for acme: not shown, not cancelled.
    for args in [
        vec!["job", beta.as_str(), "--tenant", "acme"],
        vec!["jobs", "show", beta.as_str(), "--tenant", "acme"],
        vec!["cancel", beta.as_str(), "--tenant", "acme"],
    ] {
        let out = tb(d, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    let out = tb(d, &["job", &beta]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the local operator is not beta either"
    );
    let beta_view = json(tb(d, &["job", &beta, "--tenant", "beta", "--json"]));
    assert_eq!(beta_view["state"], "queued");

    // An external tenant cannot jump into another tier.
    let out = tb(
        d,
        &[
            "submit",
            "bench.toml",
            "--agents",
            "agents.toml",
            "--tenant",
            "acme",
            "--tier",
            "internal-optimization",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // ... nor queue a study.
    let out = tb(
        d,
        &[
            "submit",
            "bench.toml",
            "--space",
            "agents.toml",
            "--tenant",
            "acme",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("internal context"));
}

#[test]
fn a_queued_job_is_cancelled_and_a_finished_one_cannot_be() {
    let dir = world(3);
    let d = dir.path();
    let (id, _) = submit(d, &[]);
    let out = ok(tb(d, &["cancel", &id]));
    assert!(out.contains("cancelled"), "{out}");
    let j = job(d, &id);
    assert_eq!(j["state"], "cancelled");
    let kinds: Vec<&str> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"submitted"));
    assert_eq!(kinds.last(), Some(&"cancelled"));
    assert_eq!(jobs(d, &["--state", "cancelled"]).len(), 1);
    assert!(jobs(d, &["--state", "queued"]).is_empty());
    let again = tb(d, &["cancel", &id]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a cancelled job stays cancelled"
    );
    // The text views name the job and its history.
    let text = ok(tb(d, &["jobs", "show", &id]));
    assert!(text.contains(&id) && text.contains("cancelled"), "{text}");
    let table = ok(tb(d, &["jobs"]));
    assert!(table.contains(&id), "{table}");
}

#[test]
fn a_bad_queue_configuration_is_located_in_its_file() {
    let dir = world(1);
    let d = dir.path();
    std::fs::write(
        d.join("queue.toml"),
        "aging_ms = 1000\nlease_ms = 1000\nmax_attempts = 3\nretry_backoff_ms = 100\n\n\
         [[tiers]]\nname = \"only\"\npriority = 1\nconcurency = 2\n",
    )
    .unwrap();
    let out = tb(d, &["jobs", "--queue-config", "queue.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("queue.toml:"), "{err}");
    assert!(err.contains("concurency"), "{err}");
}

#[test]
fn a_worker_stopped_by_sigterm_gives_its_job_back_and_the_next_resumes_it() {
    const CASES: usize = 100;
    let dir = world(CASES);
    let d = dir.path();
    let v = json(tb(
        d,
        &[
            "submit",
            "bench.toml",
            "--agents",
            "slow.toml",
            "--concurrency",
            "1",
            "--json",
        ],
    ));
    let (id, run) = (
        v["id"].as_str().unwrap().to_owned(),
        v["run_id"].as_str().unwrap().to_owned(),
    );

    let first = worker(d);
    wait_for(d, "the job to run", |l| l[0]["state"] == "running");
    wait_for_run(d, &run, &[]);
    // A minute's burst goes at once, then a trial a second: well into the run.
    std::thread::sleep(Duration::from_secs(2));
    let (code, stdout) = terminate(first);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("1 claimed") && stdout.contains("1 released"),
        "{stdout}"
    );
    let j = job(d, &id);
    assert_eq!(j["state"], "queued", "{j}");
    assert_eq!(j["attempts"], 0, "the drained attempt is given back: {j}");
    let kept = exported(d, &run);
    assert_eq!(kept.0, kept.1);
    assert!(kept.0 > 0 && kept.0 < CASES, "stopped mid-way: {kept:?}");
    assert_eq!(
        json(tb(d, &["show", &run, "--json"]))["status"],
        "interrupted"
    );

    let second = worker(d);
    wait_for(d, "the resumed job to succeed", |l| {
        l[0]["state"] == "succeeded"
    });
    let (code, _) = terminate(second);
    assert_eq!(code, Some(0));
    assert_eq!(
        exported(d, &run),
        (CASES, CASES),
        "every trial exactly once"
    );
    let shown = json(tb(d, &["show", &run, "--json"]));
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["agents"][0]["n_trials"], CASES);
    let j = job(d, &id);
    assert_eq!(j["attempts"], 1);
    let kinds: Vec<&str> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["submitted", "claimed", "released", "claimed", "succeeded"]
    );
}

#[test]
fn a_running_job_cancelled_by_its_tenant_stops_at_a_trial_boundary() {
    let dir = world(100);
    let d = dir.path();
    // Short leases: heartbeats (a third of a lease) carry the cancellation quickly.
    std::fs::write(
        d.join("queue.toml"),
        "aging_ms = 10000\nlease_ms = 1500\nmax_attempts = 3\nretry_backoff_ms = 100\n\n\
         [[tiers]]\nname = \"external-free\"\npriority = 10\nconcurrency = 1\n",
    )
    .unwrap();
    let acme = ["--tenant", "acme", "--queue-config", "queue.toml"];
    let mut args = vec![
        "submit",
        "bench.toml",
        "--agents",
        "slow.toml",
        "--concurrency",
        "1",
        "--json",
    ];
    args.extend_from_slice(&acme);
    let v = json(tb(d, &args));
    let (id, run) = (
        v["id"].as_str().unwrap().to_owned(),
        v["run_id"].as_str().unwrap().to_owned(),
    );
    let child = worker_with(d, &["--queue-config", "queue.toml"]);
    wait_for_as(d, &acme, "the job to run", |l| l[0]["state"] == "running");
    wait_for_run(d, &run, &["--tenant", "acme"]);
    std::thread::sleep(Duration::from_secs(2));
    let mut args = vec!["cancel", id.as_str()];
    args.extend_from_slice(&acme);
    let out = ok(tb(d, &args));
    assert!(out.contains("cancellation requested"), "{out}");
    let list = wait_for_as(d, &acme, "the job to be cancelled", |l| {
        l[0]["state"] == "cancelled"
    });
    assert!(
        list[0].get("worker").is_none(),
        "an external tenant is not shown the worker"
    );
    let mut args = vec!["job", id.as_str(), "--json"];
    args.extend_from_slice(&acme);
    let j = json(tb(d, &args));
    let kinds: Vec<&str> = j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["submitted", "claimed", "cancel_requested", "cancelled"]
    );
    assert!(
        j["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["worker"].is_null())
    );
    let shown = json(tb(d, &["show", &run, "--json", "--tenant", "acme"]));
    assert_eq!(shown["run"]["status"], "interrupted", "{shown}");
    let kept = shown["results"][0]["metrics"]["n_trials"].as_u64().unwrap();
    assert!(kept > 0 && kept < 100, "what finished is kept: {kept}");
    let (code, stdout) = terminate(child);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("1 cancelled"), "{stdout}");
}

#[test]
fn jobs_watch_reprints_until_interrupted() {
    let dir = world(1);
    let d = dir.path();
    submit(d, &[]);
    let out = std::fs::File::create(d.join("watch.out")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(["jobs", "--watch", "--json", "--db"])
        .arg(d.join("tamma-bench.db"))
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Running(Some(child));
    let started = Instant::now();
    let prints = || {
        std::fs::read_to_string(d.join("watch.out"))
            .unwrap()
            .lines()
            .filter(|l| *l == "[")
            .count()
    };
    while prints() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "printed {} times",
            prints()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _) = signal(child, "-INT");
    assert_eq!(code, Some(0));
}

#[test]
fn a_study_job_runs_on_a_worker_and_stores_its_rounds_as_internal_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/optimize");
    for f in ["benchmark.toml", "space.toml", "cases.jsonl"] {
        std::fs::copy(example.join(f), d.join(f)).unwrap();
    }
    std::fs::create_dir(d.join("recordings")).unwrap();
    for e in std::fs::read_dir(example.join("recordings")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.join("recordings").join(e.file_name())).unwrap();
    }
    let v = json(tb(
        d,
        &[
            "submit",
            "benchmark.toml",
            "--space",
            "space.toml",
            "--budget-usd",
            "1",
            "--json",
        ],
    ));
    assert_eq!(v["kind"], "study");
    let study = v["run_id"].as_str().unwrap().to_owned();
    let child = worker(d);
    wait_for(d, "the study to succeed", |l| l[0]["state"] == "succeeded");
    let (code, _) = terminate(child);
    assert_eq!(code, Some(0));
    let runs = json(tb(d, &["runs", "--json"]));
    let rounds: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| id.starts_with(&format!("{study}-r")))
        .collect();
    assert!(!rounds.is_empty(), "no round of {study} in {runs}");
    // Rounds are internal data: an external tenant sees none.
    let theirs = json(tb(d, &["runs", "--json", "--tenant", "acme"]));
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["id"].as_str().unwrap().starts_with(&study))
    );
    // The study's end is an internal event: the operator sees it, a tenant never.
    let done = events(d, &["--type", "optimization.completed"]);
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["data"]["study_id"], study.as_str());
    assert_eq!(done[0]["visibility"], "internal");
    assert!(events(d, &["--type", "optimization.completed", "--tenant", "acme"]).is_empty());
}

#[test]
fn a_worker_whose_output_is_closed_still_drains_on_sigterm() {
    let dir = world(3);
    let d = dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(["worker", "--poll-ms", "100", "--db"])
        .arg(d.join("tamma-bench.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads its output any more (a detached worker, a closed terminal).
    drop(child.stdout.take());
    drop(child.stderr.take());
    let child = Running(Some(child));
    let (id, _) = submit(d, &[]);
    let started = Instant::now();
    while job(d, &id)["state"] != "succeeded" {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the job never ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _) = signal(child, "-TERM");
    assert_eq!(code, Some(0));
}

/// A deployment configuration whose internal tier runs `concurrency` jobs at once.
fn deployment(concurrency: u32) -> String {
    format!(
        "[queue]\nlease_ms = 30000\n\n[[queue.tiers]]\nname = \"internal-optimization\"\npriority = 100\n\
         concurrency = {concurrency}\n\n[[flag]]\nname = \"fast-path\"\nenabled = true\npercentage = 50\n"
    )
}

#[test]
fn a_tier_limit_changed_in_the_configuration_file_takes_effect_without_a_restart() {
    let dir = world(70);
    let d = dir.path();
    let config = d.join("deploy.toml");
    std::fs::write(&config, deployment(1)).unwrap();
    // Three slow jobs (about ten seconds each), a worker with two slots, one allowed.
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let v = json(tb(
                d,
                &[
                    "submit",
                    "bench.toml",
                    "--agents",
                    "slow.toml",
                    "--concurrency",
                    "1",
                    "--json",
                ],
            ));
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let worker = worker_with(d, &["--config", config.to_str().unwrap()]);
    let running = |list: &[Value]| list.iter().filter(|j| j["state"] == "running").count();
    wait_for(d, "one running job", |l| running(l) == 1);
    // For a while, the limit holds: never more than one.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(300));
        assert!(running(&jobs(d, &[])) <= 1, "{:?}", jobs(d, &[]));
    }
    // An invalid file is refused: the old limit stays.
    std::fs::write(&config, "[queue]\nlease_ms = 0\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(running(&jobs(d, &[])) <= 1);
    // Raise the limit: the worker fills its second slot within seconds, no restart.
    std::fs::write(&config, deployment(2)).unwrap();
    wait_for(d, "two running jobs", |l| running(l) == 2);
    for id in &ids {
        ok(tb(d, &["cancel", id]));
    }
    wait_for(d, "every job cancelled", |l| {
        l.iter().all(|j| j["state"] == "cancelled")
    });
    let (code, _) = terminate(worker);
    assert_eq!(code, Some(0));
    let log = std::fs::read_to_string(d.join("worker.log")).unwrap();
    assert!(log.contains("configuration refused"), "{log}");
    assert!(
        log.contains("lease_ms"),
        "the refusal names the field: {log}"
    );
    // The applied change is in the audit log, with both digests.
    let db = rusqlite::Connection::open(d.join("tamma-bench.db")).unwrap();
    let entries: Vec<String> = db
        .prepare("SELECT CAST(entry AS TEXT) FROM audit_entries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let changes: Vec<&String> = entries
        .iter()
        .filter(|e| e.contains("\"config_change\""))
        .collect();
    assert_eq!(changes.len(), 1, "{entries:?}");
    assert!(changes[0].contains("->sha256:"), "{}", changes[0]);
    assert!(changes[0].contains("file owner uid"), "{}", changes[0]);
    // And in the event log, as an internal, deployment-wide event.
    let changed = events(d, &["--type", "config.changed"]);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["visibility"], "internal");
    assert!(changed[0]["tenant_id"].is_null());
    let fields = changed[0]["data"]["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("queue.tiers")),
        "{fields:?}"
    );
    assert!(events(d, &["--type", "config.changed", "--tenant", "zed"]).is_empty());
}

/// `events --json ARGS` as one JSON value per line.
fn events(d: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["events", "--json"];
    all.extend_from_slice(args);
    ok(tb(d, &all))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_event_log_shows_a_jobs_life_to_its_tenant_only_and_follows_new_events() {
    use std::io::{BufRead, BufReader};
    let dir = world(4);
    let d = dir.path();
    let (id, run) = submit(d, &[]);
    let worker = worker(d);
    wait_for(d, "the job to succeed", |l| {
        l.iter().all(|j| j["state"] == "succeeded")
    });
    let (code, _) = terminate(worker);
    assert_eq!(code, Some(0));

    let mine = events(d, &[]);
    let kinds: Vec<&str> = mine.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "job_queued",
            "job_started",
            "benchmark_completed",
            "job_finished"
        ],
        "{mine:?}"
    );
    assert!(mine.iter().all(|e| e["tenant_id"] == "local"));
    assert_eq!(mine[0]["data"]["job_id"], id.as_str());
    assert_eq!(mine[2]["data"]["run_id"], run.as_str());
    let positions: Vec<u64> = mine
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    // Filters: by type, and after a position.
    let finished = events(d, &["--type", "job.finished"]);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["data"]["state"], "succeeded");
    let after = positions[1].to_string();
    assert_eq!(events(d, &["--after", &after]).len(), 2);
    // Another tenant sees none of it (the run is private).
    assert!(events(d, &["--tenant", "zed"]).is_empty());
    let bad = tb(d, &["events", "--type", "job.exploded"]);
    assert_eq!(bad.status.code(), Some(2));

    // --follow prints an event logged after it started.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args([
            "events",
            "--follow",
            "--json",
            "--type",
            "job.queued",
            "--after",
        ])
        .arg(positions[3].to_string())
        .arg("--db")
        .arg(d.join("tamma-bench.db"))
        .current_dir(d)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (second, _) = submit(d, &[]);
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let _ = follow.kill();
    let _ = follow.wait();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["type"], "job_queued");
    assert_eq!(event["data"]["job_id"], second.as_str());
}

#[test]
fn the_bridge_publishes_the_log_to_nats_once_per_event() {
    use tamma_bench::nats::{Deployment, JetStreamPublisher};
    let dir = world(2);
    let d = dir.path();
    submit(d, &[]);
    submit(d, &[]);
    let name = format!("tb-cli-{}", std::process::id());
    let bridge = |d: &Path| ok(tb(d, &["bridge", "--once", "--deployment", &name]));
    let first = bridge(d);
    assert!(first.contains("published 2 events"), "{first}");
    // The offset is kept: a second pass publishes nothing new.
    let again = bridge(d);
    assert!(again.contains("published 0 events"), "{again}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let publisher =
            JetStreamPublisher::connect("nats://127.0.0.1:4222", Deployment::new(&name).unwrap())
                .await
                .unwrap();
        let js = publisher.jetstream();
        let stream_name = publisher.deployment().stream();
        let mut stream = js.get_stream(&stream_name).await.unwrap();
        let messages = stream.info().await.unwrap().state.messages;
        js.delete_stream(&stream_name).await.unwrap();
        assert_eq!(messages, 2);
    });
    // A bad deployment name is refused before anything is published.
    let bad = tb(d, &["bridge", "--once", "--deployment", "Not Valid"]);
    assert_eq!(bad.status.code(), Some(1));
}
