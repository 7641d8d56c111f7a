//! The plugin commands of the binary: `plugin inspect`, and a run whose cases come from a
//! benchmark-source plugin, whose agent is a provider plugin (`plugin:ID`) against a
//! loopback OpenAI-compatible server that answers arithmetic, and whose headline scorer
//! is a scorer plugin.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Output};
use tamma_bench_testkit::plugins;

fn tb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A folder with copies of the example plugins (and nothing else).
fn plugin_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for package in [
        "tamma-bench-plugin-openai",
        "tamma-bench-plugin-arith",
        "tamma-bench-plugin-edit-similarity",
    ] {
        let lib = plugins::library(package);
        std::fs::copy(&lib, dir.join(lib.file_name().unwrap())).unwrap();
    }
    dir
}

/// The answer to "What is A op B? ..." (the arith plugin's questions).
fn solve(question: &str) -> String {
    let words: Vec<&str> = question.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "is").unwrap();
    let a: u64 = words[at + 1].parse().unwrap();
    let b: u64 = words[at + 3].trim_end_matches('?').parse().unwrap();
    match words[at + 2] {
        "+" => (a + b).to_string(),
        _ => (a * b).to_string(),
    }
}

/// A loopback server answering chat completions with the right sum or product.
fn arithmetic_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let body = loop {
                    let n = socket.read(&mut buf).unwrap();
                    assert!(n > 0, "the request ended early");
                    seen.extend_from_slice(&buf[..n]);
                    let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = text(&seen[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    if seen.len() >= end + 4 + length {
                        break seen[end + 4..end + 4 + length].to_vec();
                    }
                };
                let request: Value = serde_json::from_slice(&body).unwrap();
                let question = request["messages"][0]["content"].as_str().unwrap();
                let answer = serde_json::json!({
                    "choices": [{"message": {"role": "assistant", "content": solve(question)},
                        "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 2}
                })
                .to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                socket.write_all(reply.as_bytes()).unwrap();
            });
        }
    });
    addr
}

#[test]
fn plugin_inspect_prints_the_manifest_and_checks_compatibility() {
    let dir = tempfile::tempdir().unwrap();
    let lib = plugins::library("tamma-bench-plugin-openai");
    let out = tb(dir.path(), &["plugin", "inspect", lib.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["id"], "openai-compatible");
    assert_eq!(manifest["kind"], "provider");
    assert_eq!(
        manifest["protocol"],
        serde_json::json!({"major": 1, "minor": 1})
    );
    assert_eq!(manifest["config_schema"]["required"][0], "base_url");
    assert!(
        text(&out.stderr).contains("compatible"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plugin_inspect_refuses_an_incompatible_library_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let lib = plugins::library("tamma-bench-plugin-incompatible");
    let out = tb(dir.path(), &["plugin", "inspect", lib.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("protocol 2.0") && err.contains("protocol 1.1"),
        "{err}"
    );
}

#[test]
fn a_run_with_a_plugin_provider_and_scorer_on_plugin_generated_cases_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(dir.path());
    let server = arithmetic_server();
    std::fs::write(
        dir.path().join("benchmark.toml"),
        "id = \"arith\"\nname = \"Arithmetic\"\nversion = \"1\"\nsource = \"plugin:arith\"\n\n\
         [source_config]\nseed = 7\ncount = 6\n\n[[scorer]]\nkind = \"plugin\"\n\
         id = \"edit-similarity\"\nconfig = { ignore_case = true }\n\n[[scorer]]\nkind = \"exact\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("agents.toml"),
        format!(
            "[[agent]]\nname = \"local\"\nprovider = \"plugin:openai-compatible\"\n\
             model = \"m\"\nbase_url = \"http://{server}/v1\"\n"
        ),
    )
    .unwrap();
    let out = tb(
        dir.path(),
        &[
            "run",
            "benchmark.toml",
            "--agents",
            "agents.toml",
            "--json",
            "--db",
            "t.db",
            "--plugin-dir",
            plugins.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let agent = &summary["agents"][0];
    assert_eq!(agent["n_scored"], 6, "{summary}");
    assert_eq!(agent["score"]["mean"], 1.0, "{summary}");
    // The headline is the scorer plugin's: every stored trial carries its score.
    let run_id = summary["run_id"].as_str().unwrap();
    let out = tb(
        dir.path(),
        &["export", run_id, "--format", "jsonl", "--db", "t.db"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let trials = text(&out.stdout);
    assert_eq!(trials.lines().count(), 6);
    assert!(
        trials.lines().all(|l| l.contains("edit-similarity")),
        "{trials}"
    );
}

#[test]
fn the_agents_file_plugin_dir_is_searched_and_an_unknown_plugin_is_named() {
    let dir = tempfile::tempdir().unwrap();
    plugin_dir(dir.path());
    std::fs::write(
        dir.path().join("benchmark.toml"),
        "id = \"arith\"\nname = \"Arithmetic\"\nversion = \"1\"\nsource = \"plugin:arith\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("agents.toml"),
        "plugin_dir = \"plugins\"\n\n[[agent]]\nname = \"x\"\nprovider = \"plugin:nope\"\n\
         model = \"m\"\n",
    )
    .unwrap();
    let out = tb(
        dir.path(),
        &[
            "run",
            "benchmark.toml",
            "--agents",
            "agents.toml",
            "--db",
            "t.db",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("agents.toml") && err.contains("no plugin \"nope\""),
        "{err}"
    );
}
