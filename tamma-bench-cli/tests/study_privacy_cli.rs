//! End to end: an internal optimization study on a PUBLIC benchmark stores its rounds as
//! internal data. An external tenant reads 0 rounds through every path of the CLI (`runs`,
//! `show`, `export`, `compare`, `report`), while it still sees an ordinary public run of
//! the same benchmark and the study's owner sees every round.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::path::PathBuf;

mod support;
use support::{ok, tb};

fn run_ids(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).expect("runs --json");
    v.as_array()
        .expect("a list of runs")
        .iter()
        .map(|r| r["id"].as_str().expect("run id").to_owned())
        .collect()
}

/// The optimization example's benchmark, made public, its space and recordings.
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/optimize");
    let bench = std::fs::read_to_string(example.join("benchmark.toml")).unwrap();
    let bench = bench.replacen(
        "version = \"1\"",
        "version = \"1\"\nvisibility = \"public\"",
        1,
    );
    std::fs::write(d.join("benchmark.toml"), bench).unwrap();
    for f in ["space.toml", "cases.jsonl"] {
        std::fs::copy(example.join(f), d.join(f)).unwrap();
    }
    std::fs::create_dir(d.join("recordings")).unwrap();
    for e in std::fs::read_dir(example.join("recordings")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.join("recordings").join(e.file_name())).unwrap();
    }
    std::fs::write(
        d.join("agents.toml"),
        "[[agent]]\nname = \"plain\"\nprovider = \"replay\"\nmodel = \"small\"\nrecording = \"recordings/small-terse.jsonl\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn an_internal_study_on_a_public_benchmark_shows_no_round_to_an_external_tenant() {
    let dir = world();
    let d = dir.path();
    // An ordinary public run of the same benchmark: external tenants may read it.
    ok(tb(
        d,
        &[
            "run",
            "benchmark.toml",
            "--agents",
            "agents.toml",
            "--run-id",
            "open",
        ],
    ));
    ok(tb(
        d,
        &[
            "optimize",
            "benchmark.toml",
            "--space",
            "space.toml",
            "--study-id",
            "study",
        ],
    ));
    let own = run_ids(&ok(tb(d, &["runs", "--json"])));
    let rounds: Vec<&String> = own.iter().filter(|id| id.starts_with("study-r")).collect();
    assert!(rounds.len() >= 2, "the study ran rounds: {own:?}");
    assert!(own.contains(&"open".to_owned()));

    let ext = ["--tenant", "zed"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(ext.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let seen = run_ids(&ok(tb(d, &["runs", "--json", "--tenant", "zed"])));
    assert_eq!(
        seen,
        vec!["open".to_owned()],
        "the public run only, 0 rounds"
    );
    // The paths to one run: each refused as absent for every round.
    for round in &rounds {
        let pair = format!("{round}/x");
        for args in [
            with(&["show", round, "--json"]),
            with(&["show", round]),
            with(&["export", round, "--format", "jsonl"]),
            with(&["export", round, "--format", "csv"]),
            with(&["compare", round, "open", "--json"]),
            with(&["compare", &pair, "open/plain"]),
            with(&["report", round, "--out", "r.html"]),
            with(&["report", "open", round, "--out", "r.html"]),
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = tb(d, &args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_ne!(
                out.status.code(),
                Some(0),
                "{args:?} read a round: {stdout}"
            );
            assert!(
                !stdout.contains("terse") && !stdout.contains("-cot"),
                "{args:?} printed the search space: {stdout}"
            );
            assert!(
                stderr.contains("not found") || stderr.contains("no run"),
                "{args:?}: a round is reported as absent: {stderr}"
            );
        }
    }
    // The public run's own paths still work, and show no round.
    let report = tb(
        d,
        &["report", "open", "--out", "open.html", "--tenant", "zed"],
    );
    ok(report);
    let html = std::fs::read_to_string(d.join("open.html")).unwrap();
    assert!(!html.contains("study-r") && !html.contains("-cot"));
}
