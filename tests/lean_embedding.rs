//! An embedder compiles no CLI dependency: the facade `tamma-bench` and every library
//! crate of the workspace, with all their features, reach none of clap, indicatif, csv,
//! anyhow or tracing-subscriber through normal or build dependencies. The CLI is a package
//! of its own (`tamma-bench-cli`, the `tamma-bench` binary).
//!
//! The library crates are the published workspace members with a library target, read
//! from `cargo metadata`; what each compiles is read from `cargo tree`, which resolves
//! features as a build of that one package does (the resolve graph of `cargo metadata`
//! unifies the features of the whole workspace, the CLI's and dev-dependencies' included,
//! so it cannot tell an embedder's build apart).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::collections::BTreeSet;
use std::process::Command;

/// The CLI's dependencies, which no embedder should compile.
const CLI_DEPENDENCIES: [&str; 5] = ["clap", "indicatif", "csv", "anyhow", "tracing-subscriber"];

/// The facade package.
const FACADE: &str = "tamma-bench";

/// The CLI's package, whose binary is `tamma-bench`.
const CLI: &str = "tamma-bench-cli";

/// Runs cargo with `args` in the workspace and returns its stdout.
fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// The names of the packages a build of `package` with `features` (cargo's feature flags)
/// compiles for this machine: normal and build dependencies. (`--target all` would need
/// other platforms' crates, which an offline build does not have; the CLI dependencies
/// are not platform-specific.)
fn compiled_packages(package: &str, features: &[&str]) -> BTreeSet<String> {
    let mut args = vec![
        "tree",
        "--offline",
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "-p",
        package,
    ];
    args.extend_from_slice(features);
    cargo(&args)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The CLI dependencies among `packages`.
fn cli_dependencies_in(packages: &BTreeSet<String>) -> Vec<&'static str> {
    CLI_DEPENDENCIES
        .into_iter()
        .filter(|d| packages.contains(*d))
        .collect()
}

/// The published workspace members with a library target, but the facade.
fn library_crates() -> Vec<String> {
    let meta: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))
    .expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    packages
        .iter()
        .filter(|p| p["publish"].is_null() && p["name"] != FACADE)
        .filter(|p| {
            p["targets"].as_array().expect("targets").iter().any(|t| {
                t["kind"]
                    .as_array()
                    .expect("kinds")
                    .iter()
                    .any(|k| k == "lib")
            })
        })
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn the_facade_compiles_no_cli_dependency() {
    let lean = compiled_packages(FACADE, &["--all-features"]);
    assert!(
        lean.contains("tamma-bench-core"),
        "the tree was read: {lean:?}"
    );
    assert_eq!(
        cli_dependencies_in(&lean),
        Vec::<&str>::new(),
        "an embedder of {FACADE} (all features) compiles these"
    );
}

#[test]
fn the_cli_package_is_what_brings_the_cli_dependencies() {
    // The check above can see them: the CLI build does compile every one.
    let cli = compiled_packages(CLI, &[]);
    assert_eq!(cli_dependencies_in(&cli), CLI_DEPENDENCIES.to_vec());
}

#[test]
fn no_library_crate_compiles_a_cli_dependency_with_any_feature() {
    let crates = library_crates();
    for expected in [
        "tamma-bench-core",
        "tamma-bench-providers",
        "tamma-bench-privacy",
        "tamma-bench-optimize",
        "tamma-bench-plugin",
    ] {
        assert!(
            crates.iter().any(|c| c == expected),
            "{expected} is a library crate: {crates:?}"
        );
    }
    for name in &crates {
        let compiled = compiled_packages(name, &["--all-features"]);
        assert_eq!(
            cli_dependencies_in(&compiled),
            Vec::<&str>::new(),
            "{name} (all features) compiles these"
        );
    }
}
