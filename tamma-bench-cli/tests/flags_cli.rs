//! `tamma-bench flags` and `tamma-bench schema config`: flags evaluated from the example
//! configuration, environment overrides, errors that name the file line or the variable.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tamma_bench::core::flags::rollout_bucket;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/tamma-bench.toml")
}

/// Runs the binary with `args` and the variables `env`, none of the caller's
/// `TAMMA_BENCH*` variables inherited.
fn tb(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tamma-bench"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TAMMA_BENCH") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run tamma-bench")
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn failed(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected a failure");
    String::from_utf8(out.stderr.clone()).expect("utf-8")
}

fn json_flags(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["flags", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&tb(&all, env))).expect("json")
}

/// The (enabled, reason) of flag `name` in a `--json` answer.
fn answer(report: &Value, name: &str) -> (bool, String) {
    let flag = report["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("flag {name} in {report}"));
    (
        flag["enabled"].as_bool().expect("enabled"),
        flag["reason"].as_str().expect("reason").to_owned(),
    )
}

#[test]
fn flags_prints_each_flag_with_its_value_and_reason() {
    let config = example();
    let out = tb(
        &[
            "flags",
            "--config",
            config.to_str().expect("utf-8"),
            "--tenant",
            "acme",
            "--user",
            "bob",
        ],
        &[],
    );
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("FLAG"), "{text}");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(row("new-report"), ["new-report", "yes", "tenant_allowed"]);
    assert_eq!(row("graphql-api"), ["graphql-api", "no", "disabled"]);
    assert_eq!(row("fast-racing"), ["fast-racing", "yes", "in_rollout"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("environment staging"), "{stderr}");
}

#[test]
fn flags_json_follows_the_lists_and_the_rollout() {
    let config = example();
    let config = config.to_str().expect("utf-8");
    let report = json_flags(
        &[
            "--config",
            config,
            "--tenant",
            "regulated-bank",
            "--user",
            "alice",
        ],
        &[],
    );
    assert_eq!(report["environment"], "staging");
    assert_eq!(report["tenant"], "regulated-bank");
    assert_eq!(report["digest"].as_str().map(str::len), Some(64));
    // alice is allowed by name before her tenant's denial.
    assert_eq!(
        answer(&report, "fast-racing"),
        (true, "user_allowed".into())
    );
    let report = json_flags(
        &[
            "--config",
            config,
            "--tenant",
            "regulated-bank",
            "--user",
            "bob",
        ],
        &[],
    );
    assert_eq!(
        answer(&report, "fast-racing"),
        (false, "tenant_denied".into())
    );
    let report = json_flags(&["--config", config, "--user", "load-test-bot"], &[]);
    assert_eq!(answer(&report, "new-report"), (false, "user_denied".into()));
    let report = json_flags(&["--config", config], &[]);
    assert_eq!(answer(&report, "new-report"), (false, "no_user".into()));

    // The 25 % rollout of new-report: the same buckets as the library computes.
    for user in ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"] {
        let report = json_flags(&["--config", config, "--user", user], &[]);
        let inside = rollout_bucket("new-report", user) < 2_500;
        let reason = if inside {
            "in_rollout"
        } else {
            "out_of_rollout"
        };
        assert_eq!(
            answer(&report, "new-report"),
            (inside, reason.into()),
            "{user}"
        );
    }
}

#[test]
fn environment_variables_override_the_file() {
    let config = example();
    let config = config.to_str().expect("utf-8");
    let before = json_flags(&["--config", config], &[]);
    let after = json_flags(
        &["--config", config],
        &[("TAMMA_BENCH__FLAG__1__ENABLED", "true")],
    );
    assert_eq!(answer(&before, "graphql-api"), (false, "disabled".into()));
    assert_eq!(answer(&after, "graphql-api"), (true, "in_rollout".into()));
    assert_ne!(before["digest"], after["digest"]);

    // TAMMA_BENCH_CONFIG names the file when --config is not given.
    let report = json_flags(&[], &[("TAMMA_BENCH_CONFIG", config)]);
    assert_eq!(report["digest"], before["digest"]);
}

#[test]
fn without_a_configuration_there_are_no_flags() {
    let text = ok(&tb(&["flags"], &[]));
    assert_eq!(text.trim(), "no flags defined");
    let report = json_flags(&["--user", "u"], &[]);
    assert_eq!(report["flags"], Value::Array(vec![]));
    assert_eq!(report["environment"], "development");
}

#[test]
fn an_invalid_file_is_named_with_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deploy.toml");
    std::fs::write(&path, "[[flag]]\nname = \"a\"\n\n[[flag]]\nname = \"a\"\n").expect("write");
    let stderr = failed(&tb(
        &["flags", "--config", path.to_str().expect("utf-8")],
        &[],
    ));
    let expected = format!("{}:5: field `flag[1].name`", path.display());
    assert!(stderr.contains(&expected), "{stderr}");

    std::fs::write(&path, "[database]\nurl = \"mysql://app:hunter2@db/x\"\n").expect("write");
    let stderr = failed(&tb(
        &["flags", "--config", path.to_str().expect("utf-8")],
        &[],
    ));
    assert!(stderr.contains(":2: field `database.url`"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn an_override_that_does_not_parse_is_named() {
    let stderr = failed(&tb(&["flags"], &[("TAMMA_BENCH__QUEUE__LEASE_MS", "soon")]));
    assert!(
        stderr
            .contains("environment variable TAMMA_BENCH__QUEUE__LEASE_MS: field `queue.lease_ms`"),
        "{stderr}"
    );
}

#[test]
fn schema_config_prints_the_configuration_schema() {
    let schema: Value =
        serde_json::from_str(&ok(&tb(&["schema", "config"], &[]))).expect("schema is JSON");
    assert_eq!(schema["title"], "Config");
    for key in ["environment", "modules", "database", "queue", "flag"] {
        assert!(schema["properties"].get(key).is_some(), "{key}");
    }
    assert_eq!(
        schema["$defs"]["FlagDefinition"]["required"],
        serde_json::json!(["name"])
    );
}
