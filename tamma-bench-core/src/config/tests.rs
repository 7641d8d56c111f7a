use super::*;
use crate::error::Remedy;
use crate::flags::{Reason, Subject};
use std::path::PathBuf;

const NO_ENV: [(&str, &str); 0] = [];

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/tamma-bench.toml")
}

fn parse(src: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str("deploy.toml", src, NO_ENV)
}

fn parse_env(src: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_str("deploy.toml", src, env.iter().copied())
}

/// The error's file, line and field.
fn at(e: &ConfigError) -> (Option<&Path>, Option<usize>, Option<&str>) {
    (e.path(), e.line(), e.field())
}

#[test]
fn the_example_file_loads_with_its_values() {
    let c = Config::load(example(), NO_ENV).expect("example loads");
    assert_eq!(c.environment, Environment::Staging);
    assert!(c.modules.optimizer && c.modules.events && !c.modules.public_api);
    assert!(
        c.database
            .url
            .as_ref()
            .is_some_and(DatabaseUrl::is_postgres)
    );
    assert_eq!(c.queue, QueueConfig::default());
    assert_eq!(c.flags.len(), 3);
    assert_eq!(c.flags[0].created.as_deref(), Some("2026-11-02"));
    let flags = c.flag_set().expect("flags");
    let e = flags.evaluate("new-report", &Subject::new(Some("acme"), Some("x")));
    assert_eq!((e.enabled, e.reason), (true, Reason::TenantAllowed));
    let e = flags.evaluate("graphql-api", &Subject::anonymous());
    assert_eq!(e.reason, Reason::Disabled);
    let e = flags.evaluate(
        "fast-racing",
        &Subject::new(Some("regulated-bank"), Some("alice")),
    );
    assert_eq!((e.enabled, e.reason), (true, Reason::UserAllowed));
}

#[test]
fn an_empty_file_and_no_environment_give_the_defaults() {
    assert_eq!(parse("").expect("empty"), Config::default());
    assert_eq!(Config::from_env(NO_ENV).expect("none"), Config::default());
    let d = Config::default();
    assert_eq!(d.environment, Environment::Development);
    assert!(d.flags.is_empty() && d.database.url.is_none());
}

#[test]
fn a_partial_section_keeps_the_other_defaults() {
    let c = parse("[queue]\nlease_ms = 1234\n[modules]\npublic_api = true\n").expect("partial");
    assert_eq!(c.queue.lease_ms, 1234);
    assert_eq!(c.queue.tiers, QueueConfig::default().tiers);
    assert_eq!(c.queue.max_attempts, 3);
    assert!(c.modules.public_api && c.modules.optimizer);
}

#[test]
fn environment_variables_override_single_fields_over_the_file() {
    let env = [
        ("TAMMA_BENCH__QUEUE__LEASE_MS", "5000"),
        ("TAMMA_BENCH__MODULES__PUBLIC_API", "TRUE"),
        ("TAMMA_BENCH__ENVIRONMENT", "production"),
        ("TAMMA_BENCH__FLAG__1__ENABLED", "true"),
        ("TAMMA_BENCH__FLAG__0__TENANTS__ALLOW", "acme, globex"),
        ("TAMMA_BENCH__FLAG__0__OWNER", "123"),
        ("TAMMA_BENCH__QUEUE__TIERS__2__SUBMISSIONS_PER_MINUTE", "20"),
        // Not overrides: other names are ignored.
        ("TAMMA_BENCH_DATABASE", "not a url"),
        ("PATH", "/usr/bin"),
    ];
    let c = Config::load(example(), env).expect("overrides apply");
    assert_eq!(c.queue.lease_ms, 5000);
    assert!(c.modules.public_api);
    assert_eq!(c.environment, Environment::Production);
    assert!(c.flags[1].enabled);
    assert_eq!(c.flags[0].tenants.allow, ["acme", "globex"]);
    assert_eq!(c.flags[0].owner.as_deref(), Some("123"));
    assert_eq!(c.queue.tiers[2].submissions_per_minute, Some(20));
    // Untouched fields keep the file's values.
    assert_eq!(c.queue.aging_ms, 10_000);
    assert_eq!(c.flags[0].percentage, 25.0);
}

#[test]
fn an_override_of_an_unset_field_reads_json_strings_and_plain_text() {
    let src = "[[flag]]\nname = \"a\"\n";
    let c = parse_env(src, &[("TAMMA_BENCH__FLAG__0__OWNER", "\"123\"")]).expect("quoted");
    assert_eq!(c.flags[0].owner.as_deref(), Some("123"));
    let c = parse_env(src, &[("TAMMA_BENCH__FLAG__0__OWNER", "ops team")]).expect("text");
    assert_eq!(c.flags[0].owner.as_deref(), Some("ops team"));
    // Unquoted, a number is a number: the field wants text, and the error says which
    // variable to quote.
    let e = parse_env(src, &[("TAMMA_BENCH__FLAG__0__OWNER", "123")]).expect_err("number");
    assert_eq!(e.variable(), Some("TAMMA_BENCH__FLAG__0__OWNER"));
    assert_eq!(e.field(), Some("flag[0].owner"));
}

#[test]
fn an_environment_only_configuration_sets_optional_fields() {
    let env = [
        ("TAMMA_BENCH__DATABASE__URL", "postgres://app:pw@db/tamma"),
        ("TAMMA_BENCH__QUEUE__LEASE_MS", "5000"),
    ];
    let c = Config::from_env(env).expect("env only");
    assert_eq!(
        c.database.url.as_ref().map(DatabaseUrl::expose),
        Some("postgres://app:pw@db/tamma")
    );
    assert_eq!(c.queue.lease_ms, 5000);
}

#[test]
fn an_override_that_does_not_parse_names_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("TAMMA_BENCH__QUEUE__LEASE_MS", "soon", "queue.lease_ms"),
        ("TAMMA_BENCH__QUEUE__LEASE_MS", "-5", "queue.lease_ms"),
        (
            "TAMMA_BENCH__QUEUE__MAX_ATTEMPTS",
            "2.5",
            "queue.max_attempts",
        ),
        ("TAMMA_BENCH__MODULES__EVENTS", "yes", "modules.events"),
        ("TAMMA_BENCH__ENVIRONMENT", "prod", "environment"),
        ("TAMMA_BENCH__QEUEU__LEASE_MS", "5", "qeueu"),
        ("TAMMA_BENCH__QUEUE__LEASE", "5", "queue.lease"),
        ("TAMMA_BENCH__QUEUE__LEASE_MS__X", "5", "queue.lease_ms"),
        ("TAMMA_BENCH__FLAG__7__ENABLED", "true", "flag"),
        ("TAMMA_BENCH__FLAG__ONE__ENABLED", "true", "flag"),
    ];
    for &(var, value, field) in cases {
        let e = Config::load(example(), [(var, value)]).expect_err(var);
        assert_eq!(e.kind(), ConfigErrorKind::Environment, "{var}: {e}");
        assert_eq!(e.variable(), Some(var), "{e}");
        assert_eq!(e.field(), Some(field), "{var}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("environment variable {var}: ")),
            "{e}"
        );
        assert_eq!(e.remedy(), Remedy::FixInput);
    }
    let e = Config::from_env([("TAMMA_BENCH____X", "1")]).expect_err("empty name");
    assert_eq!(e.variable(), Some("TAMMA_BENCH____X"));
}

#[test]
fn an_override_that_breaks_a_rule_names_the_variable() {
    let e = Config::load(example(), [("TAMMA_BENCH__QUEUE__LEASE_MS", "0")]).expect_err("zero");
    assert_eq!(e.kind(), ConfigErrorKind::Invalid);
    assert_eq!(e.variable(), Some("TAMMA_BENCH__QUEUE__LEASE_MS"));
    assert_eq!(e.field(), Some("queue.lease_ms"));
    let e =
        Config::load(example(), [("TAMMA_BENCH__FLAG__2__PERCENTAGE", "101")]).expect_err("pct");
    assert_eq!(e.variable(), Some("TAMMA_BENCH__FLAG__2__PERCENTAGE"));
    assert_eq!(e.field(), Some("flag[2].percentage"));
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let e = parse("environment = \"staging\"\n[queue\nlease_ms = 5\n").expect_err("syntax");
    assert_eq!(e.kind(), ConfigErrorKind::Syntax);
    assert_eq!(
        (e.path(), e.line()),
        (Some(Path::new("deploy.toml")), Some(2))
    );
    assert!(e.to_string().starts_with("deploy.toml:2: "), "{e}");
}

#[test]
fn unknown_and_mistyped_fields_name_file_line_and_field() {
    let file = Some(Path::new("deploy.toml"));
    let e = parse("environment = \"staging\"\nmodulez = 1\n").expect_err("unknown");
    assert_eq!(at(&e), (file, Some(2), Some("modulez")));
    assert_eq!(e.kind(), ConfigErrorKind::Syntax);

    let e = parse("[queue]\naging_ms = 5\nlease = 7\n").expect_err("unknown in queue");
    assert_eq!(at(&e), (file, Some(3), Some("queue.lease")));

    let e = parse("[modules]\n\noptimizer = \"yes\"\n").expect_err("type");
    assert_eq!(at(&e), (file, Some(3), Some("modules.optimizer")));

    let e = parse("environment = \"prod\"\n").expect_err("variant");
    assert_eq!(at(&e), (file, Some(1), Some("environment")));

    let src = "[[flag]]\nname = \"a\"\n\n[[flag]]\nname = \"b\"\ncolour = \"red\"\n";
    let e = parse(src).expect_err("unknown in flag");
    assert_eq!(at(&e), (file, Some(6), Some("flag[1].colour")));

    let e = parse("[[flag]]\nname = \"a\"\n[[flag]]\nenabled = true\n").expect_err("no name");
    assert_eq!(e.field(), Some("flag[1].name"));
    assert_eq!(e.line(), Some(3), "{e}");

    let e = parse("[[queue.tiers]]\nname = \"x\"\npriority = 1\nconcurrency = -1\n")
        .expect_err("negative");
    assert_eq!(at(&e), (file, Some(4), Some("queue.tiers[0].concurrency")));

    let e = parse("[[flag]]\nname = \"a\"\npercentage = nan\n").expect_err("nan");
    assert_eq!(at(&e), (file, Some(3), Some("flag[0].percentage")));
}

#[test]
fn broken_rules_name_file_line_and_field() {
    let file = Some(Path::new("deploy.toml"));
    let src = "[[flag]]\nname = \"a\"\n\n[[flag]]\nname = \"b\"\npercentage = 150\n";
    let e = parse(src).expect_err("percentage");
    assert_eq!(e.kind(), ConfigErrorKind::Invalid);
    assert_eq!(at(&e), (file, Some(6), Some("flag[1].percentage")));

    let src = "[[flag]]\nname = \"a\"\n[[flag]]\nname = \"b\"\n[[flag]]\nname = \"a\"\n";
    let e = parse(src).expect_err("duplicate");
    assert_eq!(e.kind(), ConfigErrorKind::Duplicate);
    assert_eq!(at(&e), (file, Some(6), Some("flag[2].name")));

    let src = "[[flag]]\nname = \"a\"\ncreated = \"last week\"\n";
    let e = parse(src).expect_err("date");
    assert_eq!(at(&e), (file, Some(3), Some("flag[0].created")));

    let src = "[[flag]]\nname = \"a\"\nusers.allow = [\"u\"]\nusers.deny = [\"u\"]\n";
    let e = parse(src).expect_err("both lists");
    assert_eq!(e.field(), Some("flag[0].users.deny"));
    assert_eq!(e.line(), Some(4), "{e}");

    let e = parse("[queue]\nmax_attempts = 3\nlease_ms = 0\n").expect_err("lease");
    assert_eq!(at(&e), (file, Some(3), Some("queue.lease_ms")));

    let src = "[[queue.tiers]]\nname = \"a\"\npriority = 1\nconcurrency = 1\n\n\
               [[queue.tiers]]\nname = \"b\"\npriority = 1\nconcurrency = 0\n";
    let e = parse(src).expect_err("concurrency");
    assert_eq!(at(&e), (file, Some(9), Some("queue.tiers[1].concurrency")));

    let e = parse("[queue]\ntiers = []\n").expect_err("no tiers");
    assert_eq!(at(&e), (file, Some(2), Some("queue.tiers")));

    let e = parse("environment = \"production\"\n").expect_err("production");
    assert_eq!(e.field(), Some("database.url"));
    assert_eq!(e.path(), file);

    let e = parse("[database]\nurl = \"mysql://u:hunter2@h/db\"\n").expect_err("scheme");
    assert_eq!(at(&e), (file, Some(2), Some("database.url")));
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(e.to_string().contains("mysql://u:***@h/db"), "{e}");
}

#[test]
fn an_unreadable_file_is_an_io_error_naming_it() {
    let e = Config::load("/nonexistent/tamma-bench.toml", NO_ENV).expect_err("missing");
    assert_eq!(e.kind(), ConfigErrorKind::Io);
    assert_eq!(e.path(), Some(Path::new("/nonexistent/tamma-bench.toml")));
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn validate_checks_a_configuration_built_in_code() {
    let mut c = Config::default();
    assert!(c.validate().is_ok());
    c.queue.max_attempts = 0;
    let e = c.validate().expect_err("attempts");
    assert_eq!(e.origin(), &Origin::Value);
    assert_eq!(e.field(), Some("queue.max_attempts"));
}

#[test]
fn database_passwords_never_show() {
    let url = DatabaseUrl::new("postgres://app:hunter2@db.internal:5432/tamma?sslmode=require");
    assert_eq!(
        url.to_string(),
        "postgres://app:***@db.internal:5432/tamma?sslmode=require"
    );
    assert!(!format!("{url:?}").contains("hunter2"));
    assert!(url.expose().contains("hunter2"));
    let other = DatabaseUrl::new("postgres://db/tamma?user=app&password=hunter2&x=1");
    assert_eq!(
        other.to_string(),
        "postgres://db/tamma?user=app&password=***&x=1"
    );

    let c = Config::load(
        example(),
        [(
            "TAMMA_BENCH__DATABASE__QUEUE_URL",
            "postgres://q:hunter2@h/j",
        )],
    )
    .expect("loads");
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("change-me") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert!(
        debug.contains("postgres://tamma:***@127.0.0.1:5432/tamma"),
        "{debug}"
    );

    // A mistyped section quotes the value in serde's message: masked too.
    let e = parse("database = \"postgres://app:hunter2@h/db\"\n").expect_err("type");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    // A syntax error on the URL's line: the message and its (absent) source hide it.
    let e = parse("[database]\nurl = \"postgres://app:hunter2@h/db\n").expect_err("syntax");
    assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    assert!(std::error::Error::source(&e).is_none());
}

#[test]
fn redaction_leaves_other_text_alone() {
    assert_eq!(
        redact_secrets("sqlite:/var/lib/tamma.db"),
        "sqlite:/var/lib/tamma.db"
    );
    assert_eq!(redact_secrets("postgres://app@h/db"), "postgres://app@h/db");
    assert_eq!(
        redact_secrets("a \"postgres://u:p@h\" and postgresql://v:q@i/x"),
        "a \"postgres://u:***@h\" and postgresql://v:***@i/x"
    );
}

#[test]
fn equal_configurations_have_equal_digests() {
    let a = Config::load(example(), NO_ENV).expect("a");
    let b = Config::load(example(), NO_ENV).expect("b");
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.digest().len(), 64);
    assert!(a.changed_fields(&b).is_empty());

    let c = Config::load(example(), [("TAMMA_BENCH__QUEUE__LEASE_MS", "5000")]).expect("c");
    assert_ne!(a.digest(), c.digest());
    assert_eq!(a.changed_fields(&c), ["queue.lease_ms"]);

    let d = Config::load(example(), [("TAMMA_BENCH__FLAG__0__PERCENTAGE", "30")]).expect("d");
    assert_eq!(a.changed_fields(&d), ["flag[0].percentage"]);
    // The canonical form sorts keys: the digest does not depend on field order.
    assert!(a.canonical_json().starts_with("{\"database\":"));
}

#[test]
fn the_schema_describes_the_file() {
    let schema = serde_json::to_value(Config::json_schema()).expect("json");
    let props = &schema["properties"];
    for key in ["environment", "modules", "database", "queue", "flag"] {
        assert!(props.get(key).is_some(), "{key} in {props}");
    }
    assert!(schema["$defs"]["QueueConfig"].get("required").is_none());
    assert!(schema["$defs"]["TierConfig"].get("required").is_some());
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
}
