//! End to end: the CLI acts as an external tenant with `--tenant ID`, internally with
//! `--internal` or no flag, and an external tenant's output holds no internal field and
//! nothing of another tenant's private runs.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

fn benchmark(id: &str, visibility: &str) -> String {
    format!(
        "id = \"{id}\"\nname = \"B\"\nversion = \"1\"\nvisibility = \"{visibility}\"\ncases = \"cases.jsonl\"\n"
    )
}

const CASES: &str = r#"{"id": "c1", "input": "1?", "target": "1"}
{"id": "c2", "input": "2?", "target": "2"}
"#;

/// An agent whose configuration holds internal values: none may reach an external tenant.
const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha"
recording = "alpha.jsonl"
system = "INTERNAL-SYSTEM-PROMPT"
api_key_env = "INTERNAL_KEY_ENV"
price_per_mtok_input = 1.0
price_per_mtok_output = 2.0
"#;

const ALPHA: &str = r#"{"case_id": "c1", "output": "1 mail ops@corp.example", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c2", "output": "x sk-ant-api03-SECRETSECRET123", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
"#;

mod support;
use support::{ok, tb};

/// A database with a private run `secret` of tenant `acme`, a public run `open` of
/// tenant `acme`, and a private run `mine` of tenant `zed`.
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for (name, text) in [
        ("private.toml", benchmark("bench-private", "private")),
        ("public.toml", benchmark("bench-public", "public")),
        ("cases.jsonl", CASES.into()),
        ("agents.toml", AGENTS.into()),
        ("alpha.jsonl", ALPHA.into()),
    ] {
        std::fs::write(d.join(name), text).expect("write fixture");
    }
    for (bench, run_id, tenant) in [
        ("private.toml", "secret", "acme"),
        ("public.toml", "open", "acme"),
        ("private.toml", "mine", "zed"),
    ] {
        ok(tb(
            d,
            &[
                "run",
                bench,
                "--agents",
                "agents.toml",
                "--run-id",
                run_id,
                "--tenant",
                tenant,
                "--json",
            ],
        ));
    }
    dir
}

const INTERNAL: &[&str] = &[
    "INTERNAL-SYSTEM-PROMPT",
    "INTERNAL_KEY_ENV",
    "price_per_mtok",
    "cost_usd",
    "fingerprint",
    "input_tokens",
    "\"attempts\"",
    "cache_hit",
    "sk-ant-",
    "acme",
];

fn assert_external(text: &str) {
    for s in INTERNAL {
        assert!(
            !text.contains(s),
            "{s:?} reached an external tenant: {text}"
        );
    }
    assert!(
        !text.contains("secret"),
        "another tenant's private run leaked: {text}"
    );
}

#[test]
fn an_external_tenant_sees_its_own_and_public_runs_without_internal_fields() {
    let dir = world();
    let d = dir.path();
    let runs = ok(tb(d, &["runs", "--json", "--tenant", "zed"]));
    assert_external(&runs);
    assert!(
        runs.contains("\"mine\"") && runs.contains("\"open\""),
        "{runs}"
    );
    for args in [
        &["show", "mine", "--json", "--tenant", "zed"][..],
        &["show", "open", "--json", "--tenant", "zed"],
        &["show", "open", "--tenant", "zed"],
        &["export", "mine", "--format", "jsonl", "--tenant", "zed"],
        &["export", "open", "--format", "csv", "--tenant", "zed"],
        &["compare", "mine", "open", "--json", "--tenant", "zed"],
    ] {
        assert_external(&ok(tb(d, args)));
    }
    // Its own outputs are there, secrets redacted; a public run of another shows none.
    let own = ok(tb(
        d,
        &["export", "mine", "--format", "jsonl", "--tenant", "zed"],
    ));
    assert!(
        own.contains("[redacted:email]") && own.contains("[redacted:api_key]"),
        "{own}"
    );
    let public = ok(tb(
        d,
        &["export", "open", "--format", "jsonl", "--tenant", "zed"],
    ));
    assert!(!public.contains("\"output\""), "{public}");
}

#[test]
fn an_external_tenants_report_reads_through_the_repository_without_internal_fields() {
    let dir = world();
    let d = dir.path();
    ok(tb(
        d,
        &[
            "report", "mine", "open", "--out", "zed.html", "--tenant", "zed",
        ],
    ));
    let html = std::fs::read_to_string(d.join("zed.html")).unwrap();
    assert_external(&html);
    for internal in ["Score versus cost", "tokens in / out", "Pareto"] {
        assert!(
            !html.contains(internal),
            "{internal:?} in an external report"
        );
    }
    assert!(html.contains("mine") && html.contains("open"));
    // An internal context's report has the cost section.
    ok(tb(
        d,
        &[
            "report",
            "secret",
            "--out",
            "acme.html",
            "--internal",
            "--tenant",
            "acme",
        ],
    ));
    let html = std::fs::read_to_string(d.join("acme.html")).unwrap();
    assert!(html.contains("Score versus cost"));
}

#[test]
fn another_tenants_private_run_reads_as_absent_on_every_command() {
    let dir = world();
    for args in [
        &["show", "secret", "--tenant", "zed"][..],
        &["export", "secret", "--format", "jsonl", "--tenant", "zed"],
        &["compare", "secret", "mine", "--tenant", "zed"],
        &["report", "secret", "--out", "r.html", "--tenant", "zed"],
    ] {
        let out = tb(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no run \"secret\" visible"), "{err}");
        assert!(!err.contains("acme"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn internal_contexts_see_internal_fields_of_their_own_tenant() {
    let dir = world();
    let d = dir.path();
    let shown = ok(tb(
        d,
        &["show", "secret", "--json", "--internal", "--tenant", "acme"],
    ));
    assert!(
        shown.contains("INTERNAL-SYSTEM-PROMPT") && shown.contains("cost_usd"),
        "{shown}"
    );
    // The local operator (no flag) is internal too, on the local tenant: none of these.
    let local = ok(tb(d, &["runs", "--json"]));
    assert_eq!(local.trim(), "[]");
    let out = tb(d, &["show", "secret", "--internal", "--tenant", "zed"]);
    assert_eq!(out.status.code(), Some(1));
}
