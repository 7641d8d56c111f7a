//! `tamma-bench serve` as a real process on an SQLite file: it prints both addresses,
//! answers health and readiness at both doors and refuses the API without a token, runs
//! a job submitted to the same file with its embedded worker, and on SIGTERM shuts down
//! gracefully (exit status 0).

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{ok, tb};

const KEYS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tamma-bench-server/tests/keys"
);

/// A benchmark of three cases, a replay agent, and the service's configuration.
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cases = String::new();
    let mut rec = String::new();
    for i in 0..3 {
        cases.push_str(&format!(
            r#"{{"id": "c{i}", "input": "q{i}", "target": "1"}}"#
        ));
        cases.push('\n');
        rec.push_str(&format!(r#"{{"case_id": "c{i}", "output": "1"}}"#));
        rec.push('\n');
    }
    std::fs::write(d.join("cases.jsonl"), cases).unwrap();
    std::fs::write(d.join("rec.jsonl"), rec).unwrap();
    std::fs::write(
        d.join("bench.toml"),
        "id = \"b\"\nname = \"B\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("agents.toml"),
        "[[agent]]\nname = \"a\"\nprovider = \"replay\"\nmodel = \"m\"\nrecording = \"rec.jsonl\"\n",
    )
    .unwrap();
    let jwks = Path::new(KEYS).join("public-jwks.json");
    std::fs::write(
        d.join("server.toml"),
        format!(
            "public_addr = \"127.0.0.1:0\"\ninternal_addr = \"127.0.0.1:0\"\n\n\
             [auth.public]\njwks = {jwks:?}\nissuer = \"https://auth.test/\"\naudience = \"tamma-bench-api\"\n\n\
             [auth.internal]\njwks = {jwks:?}\nissuer = \"https://auth.test/\"\naudience = \"tamma-bench-internal\"\n"
        ),
    )
    .unwrap();
    dir
}

/// One HTTP/1.1 GET on `addr`: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `http://ADDR/prefix` → `ADDR`.
fn addr_of(line: &str) -> String {
    let url = line.split_whitespace().nth(1).unwrap();
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn serve_answers_runs_a_submitted_job_and_stops_on_sigterm() {
    let dir = world();
    let d = dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(["serve", "--config", "server.toml", "--db"])
        .arg(d.join("tamma-bench.db"))
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(d.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let public = lines.next().unwrap().unwrap();
    let internal = lines.next().unwrap().unwrap();
    assert!(
        public.starts_with("public ") && public.ends_with("/api/v1"),
        "{public}"
    );
    assert!(
        internal.starts_with("internal ") && internal.ends_with("/internal/v1"),
        "{internal}"
    );
    let (public, internal) = (addr_of(&public), addr_of(&internal));
    assert_ne!(public, internal, "two listeners");

    for (addr, prefix) in [(&public, "/api/v1"), (&internal, "/internal/v1")] {
        assert_eq!(get(addr, &format!("{prefix}/healthz")).0, 200);
        assert_eq!(get(addr, &format!("{prefix}/readyz")).0, 200);
        let (status, body) = get(addr, &format!("{prefix}/benchmarks"));
        assert_eq!(status, 401, "no token: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"]["code"].is_string(), "{error}");
    }
    // Each listener serves only its own door.
    assert_eq!(get(&public, "/internal/v1/healthz").0, 404);

    // A job submitted to the same file is run by the service's embedded worker.
    let submitted: Value = serde_json::from_str(&ok(tb(
        d,
        &["submit", "bench.toml", "--agents", "agents.toml", "--json"],
    )))
    .unwrap();
    let id = submitted["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let job: Value = serde_json::from_str(&ok(tb(d, &["job", &id, "--json"]))).unwrap();
        let state = job["job"]["state"]
            .as_str()
            .or(job["state"].as_str())
            .unwrap_or("")
            .to_owned();
        if state == "succeeded" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the embedded worker did not run the job: {job}\n{}",
            std::fs::read_to_string(d.join("serve.log")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("serve did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(d.join("serve.log")).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("service stopped"), "{log}");
    assert!(
        TcpStream::connect(&public).is_err(),
        "the listener is closed"
    );
}
