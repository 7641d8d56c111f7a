//! Running the `tamma-bench` binary in the CLI tests that share these helpers.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary in `dir` with `args`, on the results database `dir/tamma-bench.db`.
#[allow(dead_code)] // not every test file that shares these helpers needs this one
pub fn tb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(args)
        .arg("--db")
        .arg(dir.join("tamma-bench.db"))
        .current_dir(dir)
        .output()
        .expect("run tamma-bench")
}

/// The standard output of a run that must have succeeded (its standard error otherwise).
pub fn ok(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs the binary in `dir` with `args` and the variables `env`, without a database
/// option of its own (and without `$TAMMA_BENCH_DATABASE` from the caller's environment).
#[allow(dead_code)] // not every test file that shares these helpers needs this one
pub fn tb_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tamma-bench"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("TAMMA_BENCH_DATABASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tamma-bench")
}
