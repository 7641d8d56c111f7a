//! Every numeric option of the CLI has a range: an absurd value is a usage error (exit
//! status 2) that names the option and its range, never a panic, and nothing runs.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::process::Command;

/// Runs the binary with `args` in an empty folder; returns the exit status and stderr,
/// and checks that nothing was written there (the command never started).
fn tb(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("run tamma-bench");
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(written.is_empty(), "{args:?} wrote {written:?}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `command` with `option value` is refused with status 2, naming the option and `range`.
fn refused(command: &[&str], option: &str, value: &str, range: &str) {
    let mut args = command.to_vec();
    args.extend([option, value]);
    let (code, err) = tb(&args);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        err.contains(&format!("'{option} ")) && err.contains(range),
        "{args:?} names {option} and {range}: {err}"
    );
}

const RUN: &[&str] = &["run", "b.toml", "--agents", "a.toml"];
const OPTIMIZE: &[&str] = &["optimize", "b.toml", "--space", "s.toml"];
const COMPARE: &[&str] = &["compare", "r1/a", "r1/b"];
const PLAN: &[&str] = &["plan"];
const PLAN_EFFECT: &[&str] = &["plan", "--effect", "3"];

#[test]
fn concurrency_past_its_bound_is_a_usage_error_not_a_panic() {
    let range = "from 1 to 65536";
    for command in [RUN, OPTIMIZE] {
        for value in [
            "2305843009213693952",
            "18446744073709551615",
            "18446744073709551616",
            "65537",
            "0",
            "-1",
        ] {
            refused(command, "--concurrency", value, range);
        }
    }
}

#[test]
fn epochs_budgets_and_resamples_past_their_bounds_are_usage_errors() {
    for value in ["0", "10001", "4294967296"] {
        refused(RUN, "--epochs", value, "from 1 to 10000");
    }
    for command in [RUN, OPTIMIZE] {
        for value in ["inf", "NaN", "-1", "1e400", "1e10"] {
            refused(command, "--budget-usd", value, "[0, 1000000000]");
        }
    }
    for value in ["0", "4294967295", "1000001"] {
        refused(COMPARE, "--bootstrap", value, "from 1 to 1000000");
    }
}

#[test]
fn statistical_parameters_outside_their_ranges_are_usage_errors() {
    for value in ["0", "1", "NaN", "-0.1", "7"] {
        refused(COMPARE, "--alpha", value, "(0, 1)");
        refused(PLAN_EFFECT, "--alpha", value, "(0, 1)");
        refused(PLAN_EFFECT, "--power", value, "(0, 1)");
    }
    for value in ["-1", "101", "inf"] {
        refused(COMPARE, "--band", value, "[0, 100]");
    }
    for value in ["0", "1e-300", "inf", "101"] {
        refused(PLAN, "--effect", value, "[0.01, 100]");
    }
    for value in ["0", "18446744073709551615", "1000000001"] {
        refused(PLAN, "--cases", value, "from 1 to 1000000000");
    }
    refused(PLAN_EFFECT, "--baseline", "2", "[0, 1]");
    for value in ["0", "1e308", "inf"] {
        refused(PLAN_EFFECT, "--variance", value, "(0, 0.25]");
    }
    refused(PLAN_EFFECT, "--correlation", "2", "[-1, 1]");
}

#[test]
fn values_at_the_bounds_are_accepted() {
    let (code, err) = tb(&[
        "plan",
        "--cases",
        "1000000000",
        "--power",
        "0.99",
        "--alpha",
        "0.001",
        "--variance",
        "0.25",
        "--correlation",
        "-1",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = tb(&["plan", "--effect", "0.01", "--baseline", "1"]);
    assert_eq!(code, Some(0), "{err}");
}
