//! The replay provider answers from a recording file.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::path::Path;
use tamma_bench_core::model::{AgentConfig, TenantId};
use tamma_bench_core::provider::{CallContext, CompletionRequest, Provider, ProviderErrorKind};
use tamma_bench_providers::replay::ReplayProvider;
use tamma_bench_providers::{BuildError, build_provider};

fn cx(case: &str, epoch: u32) -> CallContext {
    CallContext {
        run_id: "r".into(),
        tenant_id: TenantId::local(),
        agent: "a".into(),
        case_id: case.into(),
        epoch,
        attempt: 1,
    }
}

fn request() -> CompletionRequest {
    CompletionRequest {
        model: "m".into(),
        messages: vec![],
        temperature: None,
        top_p: None,
        max_tokens: None,
        seed: None,
        stop: vec![],
        tools: vec![],
        response_format: Default::default(),
    }
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("rec.jsonl");
    std::fs::write(&p, text).expect("write recording");
    p
}

#[tokio::test]
async fn answers_by_case_and_epoch_with_epochless_lines_as_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        concat!(
            r#"{"case_id": "a", "output": "any epoch", "usage": {"input_tokens": 5, "output_tokens": 2}, "latency_ms": 12.5}"#,
            "\n",
            r#"{"case_id": "a", "epoch": 1, "output": "epoch one"}"#,
            "\n\n"
        ),
    );
    let replay = ReplayProvider::open(&p).unwrap();
    assert_eq!(replay.len(), 2);
    let c0 = replay.complete(&request(), &cx("a", 0)).await.unwrap();
    assert_eq!(
        (c0.text.as_str(), c0.usage.input_tokens, c0.latency_ms),
        ("any epoch", 5, 12.5)
    );
    assert_eq!(
        replay.complete(&request(), &cx("a", 1)).await.unwrap().text,
        "epoch one"
    );
    assert_eq!(
        replay.complete(&request(), &cx("a", 7)).await.unwrap().text,
        "any epoch"
    );
    let missing = replay.complete(&request(), &cx("b", 0)).await.unwrap_err();
    assert_eq!(missing.kind(), ProviderErrorKind::MissingRecording);
    assert!(!missing.is_retryable());
}

#[test]
fn bad_lines_and_duplicates_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let e = ReplayProvider::open(&write(
        dir.path(),
        "{\"case_id\": \"a\", \"output\": \"x\"}\n{\"case_id\": \"b\", \"output\": 3}\n",
    ))
    .unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("output")));
    let e = ReplayProvider::open(&write(
        dir.path(),
        "{\"case_id\": \"a\", \"output\": \"x\"}\n{\"case_id\": \"a\", \"output\": \"y\"}\n",
    ))
    .unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(e.to_string().contains("rec.jsonl:2"), "{e}");
}

#[test]
fn agents_build_their_provider_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "{\"case_id\": \"a\", \"output\": \"x\"}\n");
    let mut agent = AgentConfig::new("a", "replay", "m");
    agent.recording = Some("rec.jsonl".into());
    assert_eq!(build_provider(&agent, dir.path()).unwrap().name(), "replay");
    agent.recording = None;
    assert!(matches!(
        build_provider(&agent, dir.path()),
        Err(BuildError::Invalid {
            field: "recording",
            ..
        })
    ));
    let unknown = AgentConfig::new("a", "carrier-pigeon", "m");
    let e = build_provider(&unknown, dir.path()).err().unwrap();
    assert!(
        e.to_string().contains("carrier-pigeon") && e.to_string().contains("replay"),
        "{e}"
    );
}
