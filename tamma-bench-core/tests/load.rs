//! Loading benchmark manifests, cases and agents files: valid input loads, invalid input
//! is refused with the file, line and field.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::path::Path;
use tamma_bench_core::load::{LoadErrorKind, check_agents_against, load_agents, load_benchmark};
use tamma_bench_core::model::{CaseInput, Target, Visibility};
use tamma_bench_core::provider::{FactoryError, FactoryErrorKind};
use tamma_bench_core::scorer::ScorerSpec;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

const MANIFEST: &str = r#"id = "mini"
name = "Mini"
version = "1.0"
visibility = "public"
system = "You answer with one letter."
prompt = "{{input}}\nHint: {{metadata.hint}}"
cases = "cases.jsonl"
epochs = 2

[[scorer]]
kind = "choice"

[[scorer]]
kind = "exact"
normalize = ["trim", "case"]
"#;

const CASES: &str = r#"{"id": "q1", "input": "2+2? A) 3 B) 4", "target": "B", "tags": ["math"], "cluster": "arith", "metadata": {"hint": "add"}}

{"input": [{"role": "user", "content": "Say hi"}], "target": ["hi", "hello"], "metadata": {"hint": "greet"}}
"#;

#[test]
fn a_valid_benchmark_loads_with_defaults_and_content_ids() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cases.jsonl", CASES);
    let b = load_benchmark(write(dir.path(), "b.toml", MANIFEST)).unwrap();
    assert_eq!(
        (b.id.as_str(), b.epochs, b.visibility),
        ("mini", 2, Visibility::Public)
    );
    assert_eq!(b.cases.len(), 2, "blank lines are skipped");
    assert_eq!(b.cases[0].id, "q1");
    assert!(
        b.cases[1].id.starts_with("h-") && b.cases[1].id.len() == 18,
        "a missing id is a content hash: {}",
        b.cases[1].id
    );
    assert!(matches!(b.cases[1].input, CaseInput::Chat(ref m) if m.len() == 1));
    assert_eq!(
        b.cases[1].target,
        Target::Any(vec!["hi".into(), "hello".into()])
    );
    assert_eq!(b.scorers.len(), 2);
    // The content id is stable across loads.
    let again = load_benchmark(dir.path().join("b.toml")).unwrap();
    assert_eq!(again.cases[1].id, b.cases[1].id);
    assert_eq!(again.fingerprint(), b.fingerprint());
}

#[test]
fn inline_cases_and_the_default_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "b.toml",
        "id = \"x\"\nname = \"X\"\nversion = \"1\"\n\n[[case]]\ninput = \"a\"\ntarget = \"b\"\n",
    );
    let b = load_benchmark(p).unwrap();
    assert_eq!(b.cases.len(), 1);
    assert_eq!(b.scorers, vec![ScorerSpec::default_exact()]);
    assert_eq!(b.prompt, "{{input}}");
}

fn err_of(manifest: &str, cases: &str) -> tamma_bench_core::load::LoadError {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cases.jsonl", cases);
    load_benchmark(write(dir.path(), "b.toml", manifest)).unwrap_err()
}

#[test]
fn a_wrong_type_names_the_file_line_and_field() {
    let e = err_of(&MANIFEST.replace("epochs = 2", "epochs = \"two\""), CASES);
    assert_eq!(e.kind(), LoadErrorKind::Syntax);
    assert_eq!(e.line(), Some(8));
    assert_eq!(e.field(), Some("epochs"));
    let shown = e.to_string();
    assert!(shown.contains("b.toml:8: field `epochs`"), "{shown}");
}

#[test]
fn a_missing_field_and_an_unknown_field_are_named() {
    let e = err_of(&MANIFEST.replace("name = \"Mini\"\n", ""), CASES);
    assert_eq!(e.field(), Some("name"));
    let e = err_of(&MANIFEST.replace("epochs = 2", "epoch = 2"), CASES);
    assert_eq!(e.field(), Some("epoch"), "{e}");
    let e = err_of(
        &MANIFEST.replace("kind = \"choice\"", "kind = \"choise\""),
        CASES,
    );
    assert!(e.to_string().contains("choise"), "{e}");
}

#[test]
fn a_bad_case_line_names_the_line_and_the_field() {
    let cases = format!("{CASES}{{\"id\": \"q3\", \"input\": \"x\", \"target\": 5}}\n");
    let e = err_of(MANIFEST, &cases);
    assert_eq!(e.line(), Some(4));
    assert_eq!(e.field(), Some("target"));
    assert!(e.path().ends_with("cases.jsonl"));
    let e = err_of(
        MANIFEST,
        "{\"id\": \"q\", \"input\": [{\"role\": \"robot\", \"content\": \"x\"}], \"metadata\": {\"hint\": \"h\"}}\n",
    );
    assert_eq!(e.field(), Some("input"), "{e}");
    let e = err_of(MANIFEST, "not json\n");
    assert_eq!((e.kind(), e.line()), (LoadErrorKind::Syntax, Some(1)));
}

#[test]
fn a_duplicated_case_id_is_refused_naming_both_lines() {
    let e = err_of(
        MANIFEST,
        "{\"id\": \"q\", \"input\": \"a\", \"metadata\": {\"hint\": \"h\"}}\n{\"id\": \"q\", \"input\": \"b\", \"metadata\": {\"hint\": \"h\"}}\n",
    );
    assert_eq!(e.kind(), LoadErrorKind::Duplicate);
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("first on line 1"), "{e}");
}

#[test]
fn templates_are_checked_against_every_case() {
    let e = err_of(MANIFEST, "{\"id\": \"q\", \"input\": \"a\"}\n");
    assert_eq!(e.line(), Some(1));
    assert!(e.to_string().contains("hint"), "{e}");
    let e = err_of(&MANIFEST.replace("{{input}}", "{{question}}"), CASES);
    assert_eq!(e.field(), Some("prompt"));
}

#[test]
fn invalid_scorer_options_are_refused_at_load() {
    let e = err_of(
        &format!("{MANIFEST}\n[[scorer]]\nkind = \"regex\"\npattern = \"(unclosed\"\n"),
        CASES,
    );
    assert_eq!(e.field(), Some("scorer[2]"));
    assert_eq!(e.line(), Some(17), "the line of the third [[scorer]]");
}

const AGENTS: &str = r#"[[agent]]
name = "zero-shot"
provider = "replay"
model = "m"
recording = "rec.jsonl"
temperature = 0.0

[[agent]]
name = "few-shot"
provider = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
prompt = "Examples...\n{{input}}"
price_per_mtok_input = 0.15
price_per_mtok_output = 0.6
"#;

#[test]
fn agents_load_and_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let a = load_agents(write(dir.path(), "agents.toml", AGENTS)).unwrap();
    assert_eq!(a.agents.len(), 2);
    assert_eq!(a.lines, vec![1, 8]);
    assert_eq!(a.base_dir, dir.path());

    let bad = |text: &str| load_agents(write(dir.path(), "bad.toml", text)).unwrap_err();
    let e = bad(&AGENTS.replace("temperature = 0.0", "temperature = 7.0"));
    assert_eq!((e.line(), e.field()), (Some(1), Some("temperature")));
    let e = bad(&AGENTS.replace("OPENAI_API_KEY", "sk-live-123"));
    assert_eq!((e.line(), e.field()), (Some(8), Some("api_key_env")));
    assert!(
        !e.to_string().contains("sk-live"),
        "a key given by mistake is not echoed: {e}"
    );
    let e = bad(&AGENTS.replace("few-shot", "zero-shot"));
    assert_eq!((e.kind(), e.line()), (LoadErrorKind::Duplicate, Some(8)));
    let e = bad(&AGENTS.replace("temperature = 0.0", "temprature = 0.0"));
    assert_eq!(e.field(), Some("temprature"));
}

#[test]
fn agent_template_overrides_must_fit_the_cases() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cases.jsonl", CASES);
    let b = load_benchmark(write(dir.path(), "b.toml", MANIFEST)).unwrap();
    let a = load_agents(write(
        dir.path(),
        "agents.toml",
        &AGENTS.replace("Examples...", "{{metadata.shots}}"),
    ))
    .unwrap();
    let e = check_agents_against(&a, &b).unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(8), Some("prompt")));
    assert!(e.to_string().contains("shots"));
}

/// A case source that answers `plugin:twice` with two cases (the second without an id),
/// `plugin:dup` with a duplicated id, and refuses anything else.
struct Sources;

impl tamma_bench_core::load::CaseSource for Sources {
    fn cases(
        &self,
        source: &str,
        config: &serde_json::Value,
    ) -> Result<Vec<tamma_bench_core::model::Case>, FactoryError> {
        let case = |id: &str, input: &str| {
            serde_json::from_value(serde_json::json!({"id": id, "input": input, "target": "x"}))
                .unwrap()
        };
        match source {
            "plugin:twice" => Ok(vec![
                case("a", &config["word"].to_string()),
                case("", "no id"),
            ]),
            "plugin:dup" => Ok(vec![case("a", "1"), case("a", "2")]),
            other => Err(FactoryError::new(
                FactoryErrorKind::NotFound,
                format!("no source {other}"),
            )),
        }
    }
}

#[test]
fn a_source_generates_the_cases_from_its_config() {
    use tamma_bench_core::load::load_benchmark_with;
    let dir = tempfile::tempdir().unwrap();
    let manifest = "id = \"gen\"\nname = \"G\"\nversion = \"1\"\nsource = \"plugin:twice\"\n\n\
                    [source_config]\nword = \"hello\"\n";
    let path = write(dir.path(), "b.toml", manifest);
    let b = load_benchmark_with(&path, Some(&Sources)).unwrap();
    assert_eq!(b.cases.len(), 2);
    assert_eq!(b.cases[0].input, CaseInput::Text("\"hello\"".into()));
    assert!(
        b.cases[1].id.starts_with("h-"),
        "content id: {}",
        b.cases[1].id
    );

    let e = load_benchmark(&path).unwrap_err();
    assert_eq!(e.field(), Some("source"));
    assert_eq!(e.line(), Some(4));
    assert!(e.message().contains("--plugin-dir"), "{e}");

    let dup = write(dir.path(), "d.toml", &manifest.replace("twice", "dup"));
    let e = load_benchmark_with(&dup, Some(&Sources)).unwrap_err();
    assert!(
        e.to_string().contains("generated the case id \"a\" twice"),
        "{e}"
    );

    let both = write(
        dir.path(),
        "x.toml",
        &format!("{manifest}\n[[case]]\ninput = \"q\"\n"),
    );
    let e = load_benchmark_with(&both, Some(&Sources)).unwrap_err();
    assert!(e.to_string().contains("give one of `source`"), "{e}");
}
