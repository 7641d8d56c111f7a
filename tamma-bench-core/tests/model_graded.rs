//! The model-graded scorer: rubric, grade pattern, partial credit, majority of judges,
//! and reliability from re-judgements.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::{Arc, Mutex};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions, SharedFactory};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Target, TenantContext, Visibility,
};
use tamma_bench_core::provider::{
    Completion, FactoryError, FactoryErrorKind, Provider, ProviderError, ProviderErrorKind,
    ProviderFactory,
};
use tamma_bench_core::scorer::{ScoreError, ScorerSpec};
use tamma_bench_core::store::MemoryStore;
use tamma_bench_testkit::providers::{FixedProvider, ScriptedProvider};

/// A judge that answers `answers[epoch]` (cycling), failing on `DOWN`, and records the
/// prompts it saw in `prompts`.
fn scripted_judge(
    answers: Vec<&'static str>,
    prompts: Arc<Mutex<Vec<String>>>,
) -> Arc<ScriptedProvider> {
    Arc::new(
        ScriptedProvider::from_fn(move |r, cx| {
            prompts.lock().expect("lock").push(
                r.messages
                    .last()
                    .map(|m| m.content.clone())
                    .unwrap_or_default(),
            );
            match answers[cx.epoch as usize % answers.len()] {
                "DOWN" => Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    "judge down",
                )),
                text => Ok(text.into()),
            }
        })
        .named("judge"),
    )
}

/// Judges' answers by model name: "c" always correct, "i" always incorrect, "flaky"
/// alternates, "p" partial, "mute" never grades, "down" fails.
struct Judges(Arc<Mutex<Vec<String>>>);

impl ProviderFactory for Judges {
    fn build(&self, agent: &AgentConfig) -> Result<Arc<dyn Provider>, FactoryError> {
        let answers = match agent.model.as_str() {
            "c" => vec!["The submission matches. GRADE: C"],
            "i" => vec!["GRADE: I"],
            "flaky" => vec!["GRADE: C", "GRADE: I", "GRADE: C"],
            "p" => vec!["Half right. GRADE: P"],
            "mute" => vec!["I will not grade this."],
            "down" => vec!["DOWN"],
            other => {
                return Err(FactoryError::new(
                    FactoryErrorKind::NotFound,
                    format!("no judge model {other}"),
                ));
            }
        };
        Ok(scripted_judge(answers, self.0.clone()))
    }
}

fn judge(model: &str) -> AgentConfig {
    AgentConfig::new(format!("judge-{model}"), "scripted", model)
}

fn spec(models: &[&str], rejudge: u32) -> ScorerSpec {
    ScorerSpec::ModelGraded {
        judges: models.iter().map(|m| judge(m)).collect(),
        rubric: None,
        grade_pattern: None,
        grades: None,
        rejudge,
        threshold: 0.5,
    }
}

fn case() -> Case {
    Case {
        id: "c1".into(),
        input: CaseInput::Text("Capital of France?".into()),
        target: Target::One("Paris".into()),
        tags: vec![],
        cluster: None,
        metadata: Default::default(),
    }
}

async fn score(
    models: &[&str],
    rejudge: u32,
) -> (
    Result<tamma_bench_core::model::Score, ScoreError>,
    Vec<String>,
) {
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let factory = Judges(prompts.clone());
    let scorer = spec(models, rejudge)
        .build_with(Some(&factory))
        .expect("builds");
    let out = scorer
        .score(
            &case(),
            &Completion {
                text: "It is Paris.".into(),
                ..Default::default()
            },
        )
        .await;
    let seen = prompts.lock().expect("lock").clone();
    (out, seen)
}

#[tokio::test]
async fn the_rubric_carries_task_submission_and_reference() {
    let (s, prompts) = score(&["c"], 1).await;
    assert_eq!(s.unwrap().value, 1.0);
    assert_eq!(prompts.len(), 1);
    for part in ["Capital of France?", "It is Paris.", "Paris", "GRADE: C"] {
        assert!(
            prompts[0].contains(part),
            "rubric lacks {part:?}: {}",
            prompts[0]
        );
    }
}

#[tokio::test]
async fn partial_credit_and_majority_of_judges() {
    assert_eq!(score(&["p"], 1).await.0.unwrap().value, 0.5);
    let majority = score(&["c", "c", "i"], 1).await.0.unwrap();
    assert_eq!(majority.value, 1.0);
    assert!(majority.uncertain, "one judge disagreed");
    let unanimous = score(&["i", "i", "i"], 2).await.0.unwrap();
    assert_eq!((unanimous.value, unanimous.uncertain), (0.0, false));
}

#[tokio::test]
async fn disagreeing_rejudgements_are_marked_uncertain_not_flipped() {
    let (s, prompts) = score(&["flaky"], 3).await;
    let s = s.unwrap();
    assert_eq!(prompts.len(), 3, "three re-judgements");
    assert!(
        (s.value - 2.0 / 3.0).abs() < 1e-12,
        "the mean credit is kept: {}",
        s.value
    );
    assert!(s.uncertain);
    assert!(s.explanation.unwrap().contains("agreement 0.67"));
}

#[tokio::test]
async fn ungraded_or_failing_judges_are_scorer_errors() {
    assert!(matches!(
        score(&["mute"], 2).await.0,
        Err(ScoreError::Failed { .. })
    ));
    assert!(matches!(
        score(&["down"], 1).await.0,
        Err(ScoreError::Failed { .. })
    ));
    // A mute judge beside a grading one: the grading one decides.
    assert_eq!(score(&["mute", "c"], 1).await.0.unwrap().value, 1.0);
}

#[test]
fn options_are_validated_without_building_judges() {
    assert!(spec(&["c"], 1).validate().is_ok());
    assert!(spec(&[], 1).validate().is_err());
    assert!(spec(&["c"], 0).validate().is_err());
    let bad = ScorerSpec::ModelGraded {
        judges: vec![judge("c")],
        rubric: Some("{{nonsense}}".into()),
        grade_pattern: None,
        grades: None,
        rejudge: 1,
        threshold: 0.5,
    };
    assert!(bad.validate().is_err());
    let no_group = ScorerSpec::ModelGraded {
        judges: vec![judge("c")],
        rubric: None,
        grade_pattern: Some("GRADE".into()),
        grades: None,
        rejudge: 1,
        threshold: 0.5,
    };
    assert!(no_group.validate().is_err());
    assert!(
        spec(&["c"], 1).build().is_err(),
        "judges need a provider factory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_count_uncertain_judgements() {
    let benchmark = Benchmark {
        id: "b".into(),
        name: "B".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases: vec![case()],
        scorers: vec![spec(&["flaky"], 3)],
        epochs: 2,
    };
    let options = RunOptions {
        providers: Some(SharedFactory(Arc::new(Judges(Arc::default())))),
        ..Default::default()
    };
    let report = Executor::new(Arc::new(MemoryStore::new()))
        .run(
            &TenantContext::local_operator(),
            &benchmark,
            vec![AgentRuntime::new(
                AgentConfig::new("a", "echo", "m"),
                Arc::new(FixedProvider::new("Paris").named("echo")),
            )],
            options,
        )
        .await
        .unwrap();
    let a = &report.summary.agents[0];
    assert_eq!((a.n_scored, a.n_uncertain), (2, 2));
    let no_factory = Executor::new(Arc::new(MemoryStore::new()))
        .run(
            &TenantContext::local_operator(),
            &benchmark,
            vec![AgentRuntime::new(
                AgentConfig::new("a", "echo", "m"),
                Arc::new(FixedProvider::new("Paris").named("echo")),
            )],
            RunOptions::default(),
        )
        .await;
    assert!(
        no_factory.is_err(),
        "a judge scorer without a factory is refused before any call"
    );
}
