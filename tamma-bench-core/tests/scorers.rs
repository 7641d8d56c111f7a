//! The built-in scorers, through the public `ScorerSpec` → `Scorer` path.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use tamma_bench_core::model::{Case, CaseInput, Target};
use tamma_bench_core::provider::Completion;
use tamma_bench_core::scorer::{Normalization, ScorerSpec};

fn case(target: Target) -> Case {
    Case {
        id: "c".into(),
        input: CaseInput::Text("q".into()),
        target,
        tags: vec![],
        cluster: None,
        metadata: Default::default(),
    }
}

async fn score(spec: ScorerSpec, target: Target, output: &str) -> f64 {
    let scorer = spec.build().expect("valid spec");
    let completion = Completion {
        text: output.into(),
        ..Default::default()
    };
    scorer
        .score(&case(target), &completion)
        .await
        .expect("scores")
        .value
}

fn one(s: &str) -> Target {
    Target::One(s.into())
}

#[tokio::test]
async fn exact_applies_the_configured_normalizations() {
    assert_eq!(
        score(ScorerSpec::default_exact(), one("Paris"), " Paris\n").await,
        1.0
    );
    assert_eq!(
        score(ScorerSpec::default_exact(), one("Paris"), "paris").await,
        0.0
    );
    let loose = ScorerSpec::Exact {
        normalize: vec![
            Normalization::Trim,
            Normalization::Case,
            Normalization::Punctuation,
            Normalization::Whitespace,
        ],
    };
    assert_eq!(score(loose, one("New York"), "new   york!").await, 1.0);
}

#[tokio::test]
async fn several_targets_pass_if_any_matches() {
    let t = Target::Any(vec!["colour".into(), "color".into()]);
    assert_eq!(
        score(ScorerSpec::default_exact(), t.clone(), "color").await,
        1.0
    );
    assert_eq!(
        score(
            ScorerSpec::Includes { ignore_case: true },
            t,
            "The COLOUR red"
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn regex_matches_or_compares_a_capture() {
    let capture = ScorerSpec::Regex {
        pattern: Some(r"Answer:\s*(\w+)".into()),
        group: Some(1),
        ignore_case: false,
    };
    assert_eq!(
        score(capture.clone(), one("Paris"), "Answer: Paris").await,
        1.0
    );
    assert_eq!(score(capture, one("Paris"), "Answer: Lyon").await, 0.0);
    let target_as_pattern = ScorerSpec::Regex {
        pattern: None,
        group: None,
        ignore_case: true,
    };
    assert_eq!(score(target_as_pattern, one(r"^\d{3}$"), "123").await, 1.0);
    let bad_group = ScorerSpec::Regex {
        pattern: Some("(a)".into()),
        group: Some(2),
        ignore_case: false,
    };
    assert!(
        bad_group.build().is_err(),
        "a group the pattern lacks is refused"
    );
}

#[tokio::test]
async fn numeric_takes_the_last_number_within_tolerance() {
    let abs = ScorerSpec::Numeric {
        abs_tol: Some(0.01),
        rel_tol: None,
        pattern: None,
    };
    assert_eq!(
        score(abs.clone(), one("3.14"), "first 2, then 3.141").await,
        1.0
    );
    assert_eq!(score(abs, one("3.14"), "3.2").await, 0.0);
    let rel = ScorerSpec::Numeric {
        abs_tol: None,
        rel_tol: Some(0.05),
        pattern: None,
    };
    assert_eq!(score(rel, one("1,000"), "about 1040 units").await, 1.0);
    let pat = ScorerSpec::Numeric {
        abs_tol: None,
        rel_tol: None,
        pattern: Some(r"#### (.+)".into()),
    };
    assert_eq!(score(pat, one("42"), "6*7 = 42 so 42 #### 42").await, 1.0);
}

#[tokio::test]
async fn choice_extracts_the_letter() {
    let spec = ScorerSpec::Choice {
        choices: vec!["A".into(), "B".into(), "C".into(), "D".into()],
    };
    assert_eq!(
        score(spec.clone(), one("C"), "The answer is (C).").await,
        1.0
    );
    assert_eq!(score(spec.clone(), one("C"), "B) because").await, 0.0);
    assert_eq!(score(spec, one("C"), "I do not know").await, 0.0);
}

#[tokio::test]
async fn json_checks_validity_and_schema() {
    assert_eq!(
        score(
            ScorerSpec::Json { schema: None },
            one(""),
            "```json\n{\"a\": 1}\n```"
        )
        .await,
        1.0
    );
    assert_eq!(
        score(ScorerSpec::Json { schema: None }, one(""), "{a: 1}").await,
        0.0
    );
    let schema = serde_json::json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}});
    let spec = ScorerSpec::Json {
        schema: Some(schema),
    };
    assert_eq!(score(spec.clone(), one(""), r#"{"name": "x"}"#).await, 1.0);
    assert_eq!(score(spec, one(""), r#"{"name": 3}"#).await, 0.0);
    assert!(
        ScorerSpec::Json {
            schema: Some(serde_json::json!({"type": 12}))
        }
        .build()
        .is_err()
    );
}

#[tokio::test]
async fn f1_is_continuous_or_thresholded() {
    let v = score(
        ScorerSpec::F1 { threshold: None },
        one("a cat sat down"),
        "the cat sat",
    )
    .await;
    assert!((v - 0.8).abs() < 1e-12);
    assert_eq!(
        score(
            ScorerSpec::F1 {
                threshold: Some(0.9)
            },
            one("a cat sat down"),
            "the cat sat"
        )
        .await,
        0.0
    );
}

#[test]
fn scorer_tables_parse_from_toml_and_refuse_unknown_options() {
    #[derive(serde::Deserialize)]
    struct T {
        scorer: Vec<ScorerSpec>,
    }
    let t: T = toml::from_str(
        "[[scorer]]\nkind = \"numeric\"\nrel_tol = 0.1\n[[scorer]]\nkind = \"exact\"\n",
    )
    .unwrap();
    assert_eq!(
        t.scorer[0],
        ScorerSpec::Numeric {
            abs_tol: None,
            rel_tol: Some(0.1),
            pattern: None
        }
    );
    assert_eq!(t.scorer[1], ScorerSpec::default_exact());
    assert!(toml::from_str::<T>("[[scorer]]\nkind = \"exact\"\nnormalise = []\n").is_err());
}
