//! The crates depend on each other in one direction only: core at the bottom; providers,
//! privacy, the Postgres backend and optimize on core; the root package on top. The test kit sits beside them:
//! it depends on core only, and any crate may take it as a dev-dependency, none as a
//! normal or build dependency. Read from `cargo metadata`, so a wrong-way dependency
//! fails CI.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const PLUGIN: &str = "tamma-bench-plugin";
const TESTKIT: &str = "tamma-bench-testkit";

/// The workspace crates each crate may depend on (normal, dev or build); the test kit,
/// which every crate may take as a dev-dependency, is ruled by [`TESTKIT`]'s own checks.
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let core = "tamma-bench-core";
    BTreeMap::from([
        (core, BTreeSet::new()),
        // Test support: the suites take the implementation under test as an argument.
        (TESTKIT, BTreeSet::from([core])),
        ("tamma-bench-providers", BTreeSet::from([core])),
        ("tamma-bench-privacy", BTreeSet::from([core])),
        // The Postgres backend: core only (see `dev_only` for its tests).
        ("tamma-bench-postgres", BTreeSet::from([core])),
        (
            "tamma-bench-optimize",
            BTreeSet::from([core, "tamma-bench-privacy"]),
        ),
        // The plugin SDK: core's SDK part.
        ("tamma-bench-plugin", BTreeSet::from([core])),
        // Plugin crates (examples, test fixtures) see the SDK only.
        ("tamma-bench-plugin-openai", BTreeSet::from([PLUGIN])),
        ("tamma-bench-plugin-arith", BTreeSet::from([PLUGIN])),
        (
            "tamma-bench-plugin-edit-similarity",
            BTreeSet::from([PLUGIN]),
        ),
        ("tamma-bench-plugin-behaviours", BTreeSet::from([PLUGIN])),
        ("tamma-bench-plugin-incompatible", BTreeSet::from([PLUGIN])),
        (
            "tamma-bench",
            BTreeSet::from([
                core,
                "tamma-bench-providers",
                "tamma-bench-privacy",
                "tamma-bench-optimize",
                PLUGIN,
            ]),
        ),
    ])
}

/// Workspace crates a crate's tests may use beyond [`allowed`] (dev-dependencies only).
fn dev_only() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    // The Postgres backend's tests verify the stored audit chain with privacy's verifier.
    BTreeMap::from([(
        "tamma-bench-postgres",
        BTreeSet::from(["tamma-bench-privacy"]),
    )])
}

/// `cargo metadata` of the workspace, without dependencies.
fn metadata() -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata is JSON")
}

#[test]
fn workspace_crates_depend_only_downwards() {
    let meta = metadata();
    let allowed = allowed();
    let dev_only = dev_only();
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(
        names,
        allowed.keys().copied().collect(),
        "every workspace crate has a rule"
    );
    for p in packages {
        let name = p["name"].as_str().expect("name");
        for dep in p["dependencies"].as_array().expect("dependencies") {
            let dep_name = dep["name"].as_str().expect("dependency name");
            if !names.contains(dep_name) || dep_name == name {
                continue;
            }
            // `kind` is null for a normal dependency, "dev" or "build" otherwise.
            let kind = dep["kind"].as_str().unwrap_or("normal");
            if dep_name == TESTKIT {
                assert_eq!(
                    kind, "dev",
                    "{name} may take the test kit as a dev-dependency only, not {kind}"
                );
                continue;
            }
            let dev_ok = kind == "dev" && dev_only.get(name).is_some_and(|d| d.contains(dep_name));
            assert!(
                allowed[name].contains(dep_name) || dev_ok,
                "{name} must not depend on {dep_name}"
            );
        }
    }
}

#[test]
fn the_test_kit_is_not_published() {
    let meta = metadata();
    let kit = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == TESTKIT)
        .expect("the test kit is a workspace member");
    assert_eq!(
        kit["publish"],
        serde_json::json!([]),
        "the test kit has `publish = false`"
    );
}
