//! A run killed mid-way (SIGKILL, no chance to clean up) leaves a consistent SQLite
//! store, and resuming it executes exactly the missing trials.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tamma_bench::core::model::{RunStatus, TenantId};
use tamma_bench::core::store::ResultStore;
use tamma_bench::sqlite::SqliteStore;

const CASES: usize = 100_000;

fn write_benchmark(dir: &Path) {
    let mut cases = String::new();
    let mut recording = String::new();
    for i in 0..CASES {
        writeln!(
            cases,
            r#"{{"id": "c{i}", "input": "q{i}", "target": "{}"}}"#,
            i % 7
        )
        .unwrap();
        writeln!(recording, r#"{{"case_id": "c{i}", "output": "{}"}}"#, i % 5).unwrap();
    }
    std::fs::write(dir.join("cases.jsonl"), cases).unwrap();
    std::fs::write(dir.join("rec.jsonl"), recording).unwrap();
    std::fs::write(
        dir.join("bench.toml"),
        "id = \"big\"\nname = \"Big\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("agents.toml"), "[[agent]]\nname = \"a\"\nprovider = \"replay\"\nmodel = \"m\"\nrecording = \"rec.jsonl\"\n").unwrap();
}

fn run_command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tamma-bench"));
    c.current_dir(dir).args([
        "run",
        "bench.toml",
        "--agents",
        "agents.toml",
        "--db",
        "r.db",
        "--run-id",
        "crash",
        "--concurrency",
        "1",
        "--json",
    ]);
    c
}

async fn stored(dir: &Path) -> (usize, RunStatus) {
    let store = SqliteStore::open(dir.join("r.db")).unwrap();
    let t = TenantId::local();
    let keys = store
        .completed_keys(&t, "crash")
        .await
        .map(|k| k.len())
        .unwrap_or(0);
    let status = store
        .get_run(&t, "crash")
        .await
        .unwrap()
        .map_or(RunStatus::Running, |r| r.status);
    (keys, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    write_benchmark(dir.path());
    let mut child = run_command(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Wait until some batches are committed, then kill without warning.
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if dir.path().join("r.db").exists() && stored(dir.path()).await.0 >= 2_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never wrote 2,000 trials"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (kept, status) = stored(dir.path()).await;
    assert!(
        kept > 0 && kept < CASES,
        "killed mid-way: {kept} of {CASES} stored"
    );
    assert_eq!(status, RunStatus::Running, "nobody marked the killed run");
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM trials WHERE run_id = 'crash'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows as usize, kept, "only whole batches were committed");

    let out = run_command(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "completed");
    assert_eq!(
        json["execution"]["skipped"].as_u64().unwrap() as usize,
        kept
    );
    assert_eq!(
        json["execution"]["written"].as_u64().unwrap() as usize,
        CASES - kept,
        "exactly the missing trials ran"
    );
    assert_eq!(
        json["agents"][0]["n_trials"].as_u64().unwrap() as usize,
        CASES
    );
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(DISTINCT case_id) FROM trials WHERE run_id = 'crash'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows as usize, CASES);
}
