//! End-to-end tests of the `tamma-bench` binary: a small benchmark and two `replay` agents
//! in a temporary folder, a SQLite database in the same folder, the real binary.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

const BENCHMARK: &str = r#"id = "arith"
name = "Arithmetic"
version = "1"
cases = "cases.jsonl"
"#;

/// Five cases; the answer to case `cN` is `N`.
const CASES: &str = r#"{"id": "c1", "input": "1?", "target": "1"}
{"id": "c2", "input": "2?", "target": "2"}
{"id": "c3", "input": "3?", "target": "3"}
{"id": "c4", "input": "4?", "target": "4"}
{"id": "c5", "input": "5?", "target": "5"}
"#;

/// `alpha` is priced ($1 / $2 per million input / output tokens); `beta` is free.
const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha"
recording = "alpha.jsonl"
price_per_mtok_input = 1.0
price_per_mtok_output = 2.0

[[agent]]
name = "beta"
provider = "replay"
model = "m-beta"
recording = "beta.jsonl"
"#;

/// `alpha` answers 4 of 5 right, 10 input and 2 output tokens each.
const ALPHA: &str = r#"{"case_id": "c1", "output": "1", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c2", "output": "2", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c3", "output": "3", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c4", "epoch": 0, "output": "4", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c5", "output": "nope", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 300}
"#;

/// `beta` answers 2 of 5 right.
const BETA: &str = r#"{"case_id": "c1", "output": "1", "usage": {"input_tokens": 8, "output_tokens": 1}, "latency_ms": 50}
{"case_id": "c2", "output": "2", "usage": {"input_tokens": 8, "output_tokens": 1}, "latency_ms": 50}
{"case_id": "c3", "output": "x", "usage": {"input_tokens": 8, "output_tokens": 1}, "latency_ms": 70}
{"case_id": "c4", "output": "x", "usage": {"input_tokens": 8, "output_tokens": 1}, "latency_ms": 70}
{"case_id": "c5", "output": "x", "usage": {"input_tokens": 8, "output_tokens": 1}, "latency_ms": 70}
"#;

/// A folder with the benchmark, the agents, their recordings and the database.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        f.write("benchmark.toml", BENCHMARK);
        f.write("cases.jsonl", CASES);
        f.write("agents.toml", AGENTS);
        f.write("alpha.jsonl", ALPHA);
        f.write("beta.jsonl", BETA);
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path(name), contents).expect("write fixture file");
    }

    /// Runs the binary in the folder with `--db` pointing into it.
    fn tb(&self, args: &[&str]) -> Output {
        let db = self.path("tamma-bench.db");
        Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(args)
            .arg("--db")
            .arg(db)
            .current_dir(self.dir.path())
            .output()
            .expect("run tamma-bench")
    }

    /// Runs the binary in the folder without `--db` (for commands that take none).
    fn tb_no_db(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run tamma-bench")
    }

    /// `run benchmark.toml --agents agents.toml --json EXTRA...`, which must succeed.
    fn run_json(&self, extra: &[&str]) -> Value {
        let mut args = vec!["run", "benchmark.toml", "--agents", "agents.toml", "--json"];
        args.extend_from_slice(extra);
        let out = self.tb(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stdout as exactly one JSON document.
fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", stdout(out)))
}

fn agent<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["agents"]
        .as_array()
        .expect("agents array")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no agent {name} in {summary}"))
}

fn approx(value: &Value, expected: f64) {
    let v = value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"));
    assert!((v - expected).abs() < 1e-9, "{v} != {expected}");
}

/// The 95% Wilson interval of `k` successes out of `n`.
fn wilson(k: f64, n: f64) -> (f64, f64) {
    let z = 1.959_963_984_540_054_f64;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (center - half, center + half)
}

#[test]
fn run_json_prints_one_summary_object_with_scores_from_the_recordings() {
    let f = Fixture::new();
    let s = f.run_json(&[]);
    assert!(
        s["run_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("arith-"))
    );
    assert_eq!(s["benchmark"]["id"], "arith");
    assert_eq!(s["benchmark"]["version"], "1");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["agents"].as_array().map(Vec::len), Some(2));

    let a = agent(&s, "alpha");
    assert_eq!(a["provider"], "replay");
    assert_eq!(a["model"], "m-alpha");
    for (field, n) in [("n_cases", 5), ("n_trials", 5), ("n_scored", 5)] {
        assert_eq!(a[field], n, "{field}");
    }
    assert_eq!(a["n_infra_failures"], 0);
    approx(&a["score"]["mean"], 0.8);
    assert_eq!(a["score"]["method"], "wilson");
    let (lo, hi) = wilson(4.0, 5.0);
    approx(&a["score"]["ci_low"], lo);
    approx(&a["score"]["ci_high"], hi);
    assert!(a["score"]["se"].as_f64().is_some());
    assert_eq!(a["tokens"]["input"], 50);
    assert_eq!(a["tokens"]["output"], 10);
    // 5 × (10 × $1 + 2 × $2) per million tokens.
    approx(&a["cost_usd"], 7e-5);
    let p50 = a["latency_ms"]["p50"].as_f64().expect("p50");
    let p95 = a["latency_ms"]["p95"].as_f64().expect("p95");
    assert!((99.0..=101.0).contains(&p50), "{p50}");
    assert!((297.0..=303.0).contains(&p95), "{p95}");

    let b = agent(&s, "beta");
    approx(&b["score"]["mean"], 0.4);
    assert_eq!(b["n_cases"], 5);
    assert_eq!(b["tokens"]["input"], 40);
    approx(&b["cost_usd"], 0.0);
}

#[test]
fn run_without_json_prints_an_aligned_table_with_run_id_and_status() {
    let f = Fixture::new();
    let out = f.tb(&["run", "benchmark.toml", "--agents", "agents.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("status     completed"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("agent "))
        .unwrap_or_else(|| panic!("no table header in:\n{text}"));
    let rows = &lines[header..];
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[1].starts_with("alpha ") && rows[1].contains("80.0%"),
        "{text}"
    );
    assert!(
        rows[2].starts_with("beta ") && rows[2].contains("40.0%"),
        "{text}"
    );
    // Columns align: every row has the `replay/` cell at the same offset.
    let col = rows[0].find("provider/model");
    assert!(rows[1..].iter().all(|r| r.find("replay/") == col), "{text}");
}

#[test]
fn resuming_a_run_writes_nothing_new_and_other_agents_are_refused() {
    let f = Fixture::new();
    let first = f.run_json(&["--run-id", "r1"]);
    assert_eq!(first["run_id"], "r1");
    let again = f.run_json(&["--run-id", "r1"]);
    assert_eq!(again["run_id"], "r1");
    assert_eq!(again["execution"]["written"], 0);
    assert_eq!(again["execution"]["skipped"], 10);
    for name in ["alpha", "beta"] {
        assert_eq!(agent(&again, name)["n_trials"], 5, "{name}");
    }

    f.write("agents.toml", &AGENTS.replace("m-beta", "m-gamma"));
    let out = f.tb(&[
        "run",
        "benchmark.toml",
        "--agents",
        "agents.toml",
        "--run-id",
        "r1",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("\"r1\""), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_recording_is_an_infra_failure_left_out_of_the_cases() {
    let f = Fixture::new();
    let without_c3: String = BETA
        .lines()
        .filter(|l| !l.contains("\"c3\""))
        .collect::<Vec<_>>()
        .join("\n");
    f.write("beta.jsonl", &without_c3);
    let s = f.run_json(&[]);
    let b = agent(&s, "beta");
    assert_eq!(b["n_infra_failures"], 1);
    assert_eq!(b["n_trials"], 5);
    assert_eq!(b["n_scored"], 4);
    assert_eq!(b["n_cases"], 4);
    approx(&b["score"]["mean"], 0.5);
    assert_eq!(agent(&s, "alpha")["n_infra_failures"], 0);
}

#[test]
fn a_bad_benchmark_value_is_reported_with_file_line_and_field() {
    let f = Fixture::new();
    f.write(
        "benchmark.toml",
        "id = \"arith\"\nname = \"Arithmetic\"\nepochs = \"x\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    );
    let out = f.tb(&["run", "benchmark.toml", "--agents", "agents.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("benchmark.toml:3"), "{err}");
    assert!(err.contains("`epochs`"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        !f.path("tamma-bench.db").exists(),
        "no database for invalid input"
    );
}

#[test]
fn a_duplicated_case_id_is_reported_with_file_line_and_id() {
    let f = Fixture::new();
    f.write(
        "cases.jsonl",
        &format!("{CASES}{{\"id\": \"c2\", \"input\": \"again\", \"target\": \"2\"}}\n"),
    );
    let out = f.tb(&["run", "benchmark.toml", "--agents", "agents.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cases.jsonl:6"), "{err}");
    assert!(err.contains("`id`"), "{err}");
    assert!(err.contains("c2"), "{err}");
}

#[test]
fn an_exhausted_budget_stops_the_run_with_exit_status_4() {
    let f = Fixture::new();
    // alpha's worst case (4,096 output tokens at $2 per million) exceeds any budget below.
    let out = f.tb(&[
        "run",
        "benchmark.toml",
        "--agents",
        "agents.toml",
        "--json",
        "--budget-usd",
        "0.001",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "budget_exhausted");
    assert!(stderr(&out).contains("--budget-usd"), "{}", stderr(&out));
}

#[test]
fn runs_json_lists_the_runs_of_the_tenant() {
    let f = Fixture::new();
    let s = f.run_json(&["--run-id", "r1"]);
    let out = f.tb(&["runs", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs = json(&out);
    let runs = runs.as_array().expect("array of runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], s["run_id"]);
    assert_eq!(runs[0]["benchmark_id"], "arith");
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["epochs"], 1);
    assert_eq!(runs[0]["n_cases"], 5);
    assert!(
        runs[0]["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[test]
fn show_json_prints_the_same_summary_as_run() {
    let f = Fixture::new();
    let s = f.run_json(&["--run-id", "r1"]);
    let out = f.tb(&["show", "r1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = json(&out);
    for field in ["run_id", "benchmark", "status", "agents"] {
        assert_eq!(shown[field], s[field], "{field}");
    }
    assert_eq!(shown["run"]["tenant_id"], "local");
}

#[test]
fn export_csv_has_the_header_and_one_row_per_trial() {
    let f = Fixture::new();
    f.run_json(&["--run-id", "r1"]);
    let out = f.tb(&["export", "r1", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "run_id",
            "agent",
            "case_id",
            "epoch",
            "outcome",
            "score",
            "error_kind",
            "output",
            "input_tokens",
            "output_tokens",
            "latency_ms",
            "cost_usd",
            "attempts",
            "cache_hit",
            "cluster",
            "tags",
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 10);
    let passed = rows.iter().filter(|r| &r[5] == "1").count();
    assert_eq!(passed, 6, "4 by alpha, 2 by beta");
}

#[test]
fn export_csv_to_a_file_writes_the_whole_file() {
    let f = Fixture::new();
    f.run_json(&["--run-id", "r1"]);
    let out = f.tb(&["export", "r1", "--format", "csv", "--out", "trials.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(f.path("trials.csv")).expect("trials.csv");
    assert_eq!(text.lines().count(), 11);
    let leftovers = std::fs::read_dir(f.dir.path())
        .expect("list dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn export_jsonl_prints_one_trial_a_line() {
    let f = Fixture::new();
    f.run_json(&["--run-id", "r1"]);
    let out = f.tb(&["export", "r1", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let trials: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(trials.len(), 10);
    assert!(trials.iter().all(|t| t["run_id"] == "r1"));
    assert!(trials.iter().all(|t| t["key"]["case_id"].is_string()));
}

#[test]
fn schema_prints_a_json_schema_for_each_input_file() {
    for kind in ["benchmark", "cases", "agents"] {
        let out = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(["schema", kind])
            .output()
            .expect("run tamma-bench");
        assert_eq!(out.status.code(), Some(0), "{kind}: {}", stderr(&out));
        let schema = json(&out);
        assert!(schema["properties"].is_object(), "{kind}: {schema}");
    }
}

#[test]
fn another_tenant_cannot_show_or_export_a_run() {
    let f = Fixture::new();
    f.run_json(&["--run-id", "r1"]);
    for args in [
        &["show", "r1", "--tenant", "other"][..],
        &["export", "r1", "--format", "jsonl", "--tenant", "other"],
    ] {
        let out = f.tb(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("no run"), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = f.tb(&["runs", "--json", "--tenant", "other"]);
    assert_eq!(json(&out), serde_json::json!([]));
}

#[test]
fn an_invalid_tenant_id_is_a_usage_error() {
    let f = Fixture::new();
    let out = f.tb(&["runs", "--tenant", "not a tenant"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid tenant id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn compare_prints_the_paired_comparison_as_json_and_as_a_table() {
    let f = Fixture::new();
    let run = f.run_json(&["--run-id", "r1"]);
    assert_eq!(run["run_id"], "r1");
    let out = f.tb(&["compare", "r1/alpha", "r1/beta", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let c = json(&out);
    assert_eq!(c["n_pairs"], 5);
    // alpha 4/5, beta 2/5 on the same cases: A − B = +0.4; discordant pairs 2 vs 0.
    assert!((c["mean_diff"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    assert_eq!(c["test"]["name"], "mcnemar_exact");
    assert!((c["test"]["p_value"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    for field in ["se", "ci_low", "ci_high", "correlation", "verdict"] {
        assert!(c.get(field).is_some(), "{field}");
    }
    assert_eq!(c["verdict"], "inconclusive", "five cases decide nothing");
    let table = f.tb(&["compare", "r1/alpha", "r1/beta"]);
    assert_eq!(table.status.code(), Some(0));
    assert!(
        stdout(&table).contains("overall") && stdout(&table).contains("+40.0"),
        "{}",
        stdout(&table)
    );
    let ambiguous = f.tb(&["compare", "r1", "r1/beta"]);
    assert_ne!(ambiguous.status.code(), Some(0));
    assert!(
        stderr(&ambiguous).contains("r1/AGENT"),
        "{}",
        stderr(&ambiguous)
    );
}

#[test]
fn plan_reproduces_millers_969_questions() {
    let f = Fixture::new();
    let out = f.tb_no_db(&[
        "plan",
        "--effect",
        "3",
        "--variance",
        "0.1111111111111111",
        "--correlation",
        "0.5",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["n"], 969);
    let out = f.tb_no_db(&[
        "plan",
        "--cases",
        "969",
        "--variance",
        "0.1111111111111111",
        "--json",
    ]);
    assert!((json(&out)["effect_points"].as_f64().unwrap() - 3.0).abs() < 0.01);
    assert_ne!(
        f.tb_no_db(&["plan", "--effect", "-1"]).status.code(),
        Some(0)
    );
}
