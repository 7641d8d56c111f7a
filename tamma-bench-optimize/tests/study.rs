//! Studies: resumable with the same decisions, never over budget, and the A/B test.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use tamma_bench_optimize::ab::{AbVerdict, ab_test};
use tamma_bench_optimize::log::{LogEntry, StudyLog};
use tamma_bench_optimize::sim::{SimEvaluator, SimInstance};
use tamma_bench_optimize::strategy::StopReason;
use tamma_bench_optimize::{Guarantee, StrategyKind, Study, StudyOptions};

fn options(budget_usd: Option<f64>) -> StudyOptions {
    StudyOptions {
        id: "s1".into(),
        strategy: StrategyKind::Lucb,
        guarantee: Guarantee::default(),
        seed: 42,
        budget_usd,
    }
}

fn study(instance: &SimInstance, budget: Option<f64>) -> Study {
    let names = (0..instance.n_arms()).map(|i| format!("c{i}")).collect();
    Study::new(options(budget), names, instance.n_cases()).expect("study")
}

#[tokio::test]
async fn a_resumed_study_makes_the_same_decisions_without_reevaluating() {
    let instance = SimInstance::generate(7, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let full_path = dir.path().join("full.jsonl");
    let eval = SimEvaluator::new(instance.clone(), 0.0);
    let full = study(&instance, None)
        .run(&eval, Some(StudyLog::open(&full_path).expect("log")))
        .await
        .expect("study");
    let text = std::fs::read_to_string(&full_path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 6, "several rounds");

    // Crash after the header and four batches (plus a torn line).
    let cut_path = dir.path().join("cut.jsonl");
    std::fs::write(
        &cut_path,
        format!("{}\n{{\"kind\":\"bat", lines[..5].join("\n")),
    )
    .expect("write");
    let resumed_eval = SimEvaluator::new(instance.clone(), 0.0);
    let resumed = study(&instance, None)
        .run(&resumed_eval, Some(StudyLog::open(&cut_path).expect("log")))
        .await
        .expect("resumed");
    assert_eq!(resumed.decision, full.decision);
    assert_eq!(resumed.observations, full.observations);
    assert_eq!(resumed.rounds, full.rounds);
    let calls = resumed_eval.calls.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        calls,
        full.rounds - 4,
        "replayed batches are not evaluated again"
    );
    let (_, entries) = StudyLog::open(&cut_path).expect("reopen");
    assert!(matches!(entries.last(), Some(LogEntry::Decided { .. })));
}

#[tokio::test]
async fn a_log_of_another_study_is_refused() {
    let instance = SimInstance::generate(7, 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.jsonl");
    let eval = SimEvaluator::new(instance.clone(), 0.0);
    study(&instance, None)
        .run(&eval, Some(StudyLog::open(&path).expect("log")))
        .await
        .expect("study");
    let names = (0..instance.n_arms()).map(|i| format!("c{i}")).collect();
    let other = Study::new(
        StudyOptions {
            seed: 1,
            ..options(None)
        },
        names,
        instance.n_cases(),
    )
    .expect("study");
    let err = other
        .run(&eval, Some(StudyLog::open(&path).expect("log")))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("another study"), "{err}");
}

#[tokio::test]
async fn the_budget_is_never_exceeded() {
    let instance = SimInstance::generate(7, 5);
    let eval = SimEvaluator::new(instance.clone(), 0.001);
    let budget = 1.234;
    let out = study(&instance, Some(budget))
        .run(&eval, None)
        .await
        .expect("study");
    assert!(out.spent_usd <= budget + 1e-9, "{}", out.spent_usd);
    assert_eq!(out.decision.reason, StopReason::Budget);
}

#[tokio::test]
async fn the_ab_test_stops_as_soon_as_decided() {
    // Configurations 0 and 1 of a generated instance differ; the test decides early.
    let mut instance = SimInstance::generate(9, 0);
    let n = instance.n_cases();
    instance.scores = vec![
        (0..n).map(|j| f64::from(u8::from(j % 10 < 8))).collect(),
        (0..n).map(|j| f64::from(u8::from(j % 10 < 5))).collect(),
    ];
    let eval = SimEvaluator::new(instance, 0.0);
    let result = ab_test(&eval, n, 3, 10, 0.05).await.expect("ab");
    assert_eq!(result.verdict, AbVerdict::A);
    assert!(result.n_cases < n as u64 / 2, "{}", result.n_cases);
}
