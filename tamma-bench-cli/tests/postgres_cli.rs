//! End to end on Postgres: `db migrate` as the owner, then every command with
//! `--database postgres://APP@...` (or `$TAMMA_BENCH_DATABASE`) as the application role:
//! runs land in the shared database, tenants stay apart, the audit log verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test fixtures: a failure is the test failing

use std::process::Command;
use tamma_bench_testkit::postgres::TestDb;

const BENCHMARK: &str =
    "id = \"pg-bench\"\nname = \"B\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n";

const CASES: &str = r#"{"id": "c1", "input": "1?", "target": "1"}
{"id": "c2", "input": "2?", "target": "2"}
{"id": "c3", "input": "3?", "target": "3"}
"#;

const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha"
recording = "alpha.jsonl"
system = "INTERNAL-SYSTEM-PROMPT"
"#;

const ALPHA: &str = r#"{"case_id": "c1", "output": "1", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c2", "output": "2", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c3", "output": "x", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
"#;

mod support;
use support::{ok, tb_with_env as tb};

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in [
        ("bench.toml", BENCHMARK),
        ("cases.jsonl", CASES),
        ("agents.toml", AGENTS),
        ("alpha.jsonl", ALPHA),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn every_command_works_on_postgres_and_tenants_stay_apart() {
    let rt = runtime();
    let db = rt.block_on(TestDb::create_empty());
    let dir = fixtures();
    let d = dir.path();
    let owner = db.url_as(&db.owner_role());
    let app = db.url_as(&db.app_role());

    let out = ok(tb(
        d,
        &[
            "db",
            "migrate",
            "--owner",
            &owner,
            "--app-role",
            &db.app_role(),
            "--json",
        ],
        &[],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(!report["applied"].as_array().unwrap().is_empty(), "{out}");
    // Migrating again applies nothing.
    let again: serde_json::Value = serde_json::from_str(&ok(tb(
        d,
        &[
            "db",
            "migrate",
            "--owner",
            &owner,
            "--app-role",
            &db.app_role(),
            "--json",
        ],
        &[],
    )))
    .unwrap();
    assert_eq!(again["applied"].as_array().unwrap().len(), 0);

    // A run of tenant acme through --database; one of tenant zed through the variable.
    let run = |tenant: &str, run_id: &str, env: &[(&str, &str)], db_arg: bool| {
        let mut args = vec![
            "run",
            "bench.toml",
            "--agents",
            "agents.toml",
            "--tenant",
            tenant,
            "--internal",
            "--run-id",
            run_id,
            "--json",
        ];
        if db_arg {
            args.extend(["--database", app.as_str()]);
        }
        let out = ok(tb(d, &args, env));
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let acme = run("acme", "acme-run", &[], true);
    assert_eq!(acme["execution"]["written"], 3);
    let zed = run(
        "zed",
        "zed-run",
        &[("TAMMA_BENCH_DATABASE", app.as_str())],
        false,
    );
    assert_eq!(zed["execution"]["written"], 3);
    // Running the same id again resumes: nothing left to write.
    let resumed = run("acme", "acme-run", &[], true);
    assert_eq!(resumed["execution"]["written"], 0);
    assert_eq!(resumed["execution"]["skipped"], 3);

    // No SQLite file was made: everything went to Postgres.
    assert!(!d.join("tamma-bench.db").exists());

    // Each tenant lists its own run only.
    let runs = |tenant: &str| -> Vec<String> {
        let out = ok(tb(
            d,
            &["runs", "--tenant", tenant, "--json", "--database", &app],
            &[],
        ));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(runs("acme"), ["acme-run"]);
    assert_eq!(runs("zed"), ["zed-run"]);
    // zed cannot show or export acme's private run.
    let out = tb(
        d,
        &["show", "acme-run", "--tenant", "zed", "--database", &app],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = ok(tb(
        d,
        &[
            "export",
            "acme-run",
            "--format",
            "jsonl",
            "--tenant",
            "acme",
            "--internal",
            "--database",
            &app,
        ],
        &[],
    ));
    assert_eq!(out.lines().count(), 3, "{out}");

    // Every access above was audited in the same database, and the chain is intact.
    let out = ok(tb(
        d,
        &["audit", "verify", "--json", "--database", &app],
        &[],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["intact"], true, "{out}");
    assert!(v["entries"].as_u64().unwrap() >= 6, "{out}");
}

#[test]
fn database_options_are_checked() {
    let dir = fixtures();
    let d = dir.path();
    // --db and --database together are refused, as is a URL of another scheme.
    let out = tb(
        d,
        &[
            "runs",
            "--db",
            "x.db",
            "--database",
            "postgres://a@127.0.0.1/b",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tb(d, &["runs", "--database", "mysql://a@b/c"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
    // sqlite:PATH is the file.
    ok(tb(
        d,
        &[
            "run",
            "bench.toml",
            "--agents",
            "agents.toml",
            "--database",
            "sqlite:other.db",
        ],
        &[],
    ));
    assert!(d.join("other.db").exists());
    // A server that refuses names the database without its password.
    let out = tb(
        d,
        &[
            "runs",
            "--database",
            "postgres://u:hunter2@127.0.0.1:1/none",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("u:***@127.0.0.1:1/none"), "{err}");
}

#[test]
fn a_worker_with_a_pool_of_its_own_size_runs_a_queued_job_on_postgres() {
    let rt = runtime();
    let db = rt.block_on(TestDb::create_empty());
    let dir = fixtures();
    let d = dir.path();
    let app = db.url_as(&db.app_role());
    ok(tb(
        d,
        &[
            "db",
            "migrate",
            "--owner",
            &db.url_as(&db.owner_role()),
            "--app-role",
            &db.app_role(),
        ],
        &[],
    ));
    let submitted: serde_json::Value = serde_json::from_str(&ok(tb(
        d,
        &[
            "submit",
            "bench.toml",
            "--agents",
            "agents.toml",
            "--json",
            "--database",
            &app,
        ],
        &[],
    )))
    .unwrap();
    let id = submitted["id"].as_str().unwrap().to_owned();

    // Two pooled connections (and the listening one) are enough for a worker to claim,
    // run and report the job.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args([
            "worker",
            "--slots",
            "2",
            "--pool-size",
            "2",
            "--poll-ms",
            "100",
        ])
        .args(["--database", &app])
        .current_dir(d)
        .env_remove("TAMMA_BENCH_DATABASE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let state = loop {
        let job: serde_json::Value =
            serde_json::from_str(&ok(tb(d, &["job", &id, "--json", "--database", &app], &[])))
                .unwrap();
        let state = job["state"].as_str().unwrap_or("").to_owned();
        if state == "succeeded" || state == "failed" || started.elapsed().as_secs() > 60 {
            break state;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(state, "succeeded");

    // A pool of 0 connections is a usage error.
    let out = tb(d, &["worker", "--pool-size", "0", "--database", &app], &[]);
    assert_eq!(out.status.code(), Some(2));
}
