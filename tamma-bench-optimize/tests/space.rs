//! Search spaces: expansion into named configurations and located errors.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use tamma_bench_optimize::{OptimizeError, SearchSpace};

const SPACE: &str = r#"
name = "t"
[base]
provider = "replay"
model = "m"

[[dimension]]
field = "temperature"
values = [0.0, 0.7]

[[dimension]]
field = "max_tokens"
range = { min = 64, max = 1024, count = 3, log = true, integer = true }

[[dimension]]
name = "prompt"
labels = ["zero", "few"]
values = [{ prompt = "{{input}}" }, { prompt = "Q: {{input}}", system = "Be brief." }]
"#;

#[test]
fn a_space_expands_to_the_product_with_stable_names() {
    let space = SearchSpace::parse(SPACE).expect("parses");
    let c = space.candidates().expect("expands");
    assert_eq!(c.len(), 2 * 3 * 2);
    assert_eq!(
        c[0].config.name,
        "t-temperature=0.0-max_tokens=64-prompt=zero"
    );
    assert_eq!(
        c[11].config.name,
        "t-temperature=0.7-max_tokens=1024-prompt=few"
    );
    assert_eq!(c[3].config.max_tokens, Some(256));
    assert_eq!(c[1].config.system.as_deref(), Some("Be brief."));
    assert_eq!(c[11].levels, vec![1, 2, 1]);
    // Same file, same names and order.
    let again = SearchSpace::parse(SPACE)
        .expect("parses")
        .candidates()
        .expect("expands");
    assert_eq!(c, again);
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let err =
        SearchSpace::parse("seed = 1\nbudget = 3\n[base]\nprovider = \"replay\"\nmodel = \"m\"\n")
            .expect_err("unknown field");
    match err {
        OptimizeError::Space { line, message, .. } => {
            assert_eq!(line, Some(2), "{message}");
            assert!(message.contains("budget"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_bad_value_for_an_agent_field_names_the_configuration() {
    let src = "[base]\nprovider = \"replay\"\nmodel = \"m\"\n[[dimension]]\nfield = \"temperature\"\nvalues = [\"hot\"]\n";
    let err = SearchSpace::parse(src)
        .expect("parses")
        .candidates()
        .expect_err("bad value");
    assert!(err.to_string().contains("cfg-temperature=hot"), "{err}");
}

#[test]
fn a_range_needs_step_or_count() {
    let src = "[base]\nprovider = \"replay\"\nmodel = \"m\"\n[[dimension]]\nfield = \"top_p\"\nrange = { min = 0.5, max = 1.0 }\n";
    let err = SearchSpace::parse(src)
        .expect("parses")
        .candidates()
        .expect_err("no step");
    assert!(err.to_string().contains("dimension[0].range"), "{err}");
}

#[test]
fn unknown_agent_fields_in_the_base_are_refused() {
    let space = SearchSpace::parse("[base]\nprovider = \"replay\"\nmodel = \"m\"\nbudget = 3\n")
        .expect("parses");
    let err = space.candidates().expect_err("unknown agent field");
    assert!(err.to_string().contains("budget"), "{err}");
}
