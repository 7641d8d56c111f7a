//! The HTML report of real runs: the real binary writes it, headless Chromium opens it
//! and the page's inline script checks that the leaderboard and every chart rendered.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

const BENCHMARK: &str = r#"id = "arith"
name = "Arithmetic"
version = "1"
cases = "cases.jsonl"
"#;

/// Twelve cases `c0`..`c11` (answer: the number), tagged `add` or `mul` (and `hard`
/// from 8 up), in four clusters of three.
fn cases() -> String {
    (0..12)
        .map(|i| {
            let kind = if i % 2 == 0 { "add" } else { "mul" };
            let hard = if i >= 8 { r#", "hard""# } else { "" };
            format!(
                r#"{{"id": "c{i}", "input": "{i}?", "target": "{i}", "tags": ["{kind}"{hard}], "cluster": "g{}"}}"#,
                i / 3
            ) + "\n"
        })
        .collect()
}

/// A recording that answers cases below `right` correctly, with latencies from `base`.
fn recording(right: u32, base: f64) -> String {
    (0..12u32)
        .map(|i| {
            let out = if i < right { i.to_string() } else { "x".to_owned() };
            format!(
                r#"{{"case_id": "c{i}", "output": "{out}", "usage": {{"input_tokens": 10, "output_tokens": 2}}, "latency_ms": {}}}"#,
                base + 15.0 * f64::from(i)
            ) + "\n"
        })
        .collect()
}

const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha <b>"
recording = "alpha.jsonl"
price_per_mtok_input = 1.0
price_per_mtok_output = 2.0

[[agent]]
name = "beta"
provider = "replay"
model = "m-beta"
recording = "beta.jsonl"
"#;

const GAMMA: &str = r#"[[agent]]
name = "gamma"
provider = "replay"
model = "m-gamma"
recording = "gamma.jsonl"
price_per_mtok_input = 0.5
price_per_mtok_output = 0.5
"#;

/// A folder with the benchmark, two agents files, the recordings and the database.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for (name, contents) in [
            ("benchmark.toml", BENCHMARK.to_owned()),
            ("cases.jsonl", cases()),
            ("agents.toml", AGENTS.to_owned()),
            ("gamma.toml", GAMMA.to_owned()),
            ("alpha.jsonl", recording(10, 100.0)),
            ("beta.jsonl", recording(5, 40.0)),
            ("gamma.jsonl", recording(8, 250.0)),
        ] {
            std::fs::write(f.path(name), contents).expect("write fixture file");
        }
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tb(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(args)
            .arg("--db")
            .arg(self.path("tamma-bench.db"))
            .current_dir(self.dir.path())
            .output()
            .expect("run tamma-bench")
    }

    fn ok(&self, args: &[&str]) {
        let out = self.tb(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "tamma-bench {args:?}: {err}");
    }
}

/// Runs headless Chromium on `page` with `mode` (`--dump-dom` or `--screenshot=...`),
/// in a fresh profile, with networking features off; fails after a minute.
fn chromium(page: &Path, mode: &str) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "headless Chromium is needed at {CHROMIUM} for this test: install it with \
         `scripts/install-chromium` (Debian package `chromium`)"
    );
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for chromium").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium output")
}

#[test]
fn the_report_of_real_runs_renders_in_headless_chromium() {
    let f = Fixture::new();
    f.ok(&[
        "run",
        "benchmark.toml",
        "--agents",
        "agents.toml",
        "--run-id",
        "r1",
    ]);
    f.ok(&[
        "run",
        "benchmark.toml",
        "--agents",
        "gamma.toml",
        "--run-id",
        "r2",
    ]);
    f.ok(&["report", "r1", "r2", "--out", "report.html"]);
    let page = f.path("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");
    assert!(
        html.contains("m-alpha &lt;b&gt;"),
        "the model name is escaped"
    );

    let out = chromium(&page, "--dump-dom");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !dom.is_empty(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = dom
        .split_once("data-rendered=\"")
        .and_then(|(_, rest)| rest.split_once('"'));
    assert_eq!(
        rendered.map(|(v, _)| v),
        Some("ok"),
        "the page's self-check"
    );
    for name in ["alpha", "beta", "gamma"] {
        assert!(
            dom.contains(&format!("<b>{name}</b>")),
            "{name} in the leaderboard"
        );
    }
    // alpha (10/12) leads, then gamma (8/12), then beta (5/12).
    let pos = |s: &str| dom.find(&format!("<b>{s}</b>")).expect("name");
    assert!(pos("alpha") < pos("gamma") && pos("gamma") < pos("beta"));

    let shot = f.path("report.png");
    let out = chromium(&page, &format!("--screenshot={}", shot.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}

#[test]
fn a_report_of_an_unknown_run_fails_and_writes_no_file() {
    let f = Fixture::new();
    f.ok(&[
        "run",
        "benchmark.toml",
        "--agents",
        "agents.toml",
        "--run-id",
        "r1",
    ]);
    let out = f.tb(&["report", "r1", "nope", "--out", "report.html"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\""));
    assert!(!f.path("report.html").exists());
    let out = f.tb(&["report", "r1", "--out", "report.html", "--tenant", "other"]);
    assert_eq!(out.status.code(), Some(1), "another tenant sees no run r1");
}
