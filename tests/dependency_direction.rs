//! The crates depend on each other in one direction only: core at the bottom; the storage
//! backends (SQLite, Postgres), the NATS bridge, providers, privacy and optimize on core;
//! the facade (the root package) over them, and its hosts on top: the CLI and the service. A library crate that needs SQLite only in its tests has the
//! backend as a dev-dependency, never a normal one. The test kit sits beside them: it
//! depends on core only, and any crate may take it as a dev-dependency, none as a normal
//! or build dependency. Read from `cargo metadata`, so a wrong-way dependency fails CI.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The crates that must not have SQLite among their normal dependencies: only the
/// backend, the facade (the CLI's default store) and its hosts have it.
const NO_SQLITE: &[&str] = &[
    "tamma-bench-core",
    "tamma-bench-providers",
    "tamma-bench-privacy",
    "tamma-bench-optimize",
    "tamma-bench-plugin",
    "tamma-bench-postgres",
    "tamma-bench-nats",
];

/// `cargo metadata` of the workspace, with `args` (e.g. `--no-deps`).
fn metadata(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(args)
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

const PLUGIN: &str = "tamma-bench-plugin";
const SQLITE: &str = "tamma-bench-sqlite";
const POSTGRES: &str = "tamma-bench-postgres";
const TESTKIT: &str = "tamma-bench-testkit";

/// The workspace crates each crate may depend on (normal, dev or build); the test kit,
/// which every crate may take as a dev-dependency, is ruled by [`TESTKIT`]'s own checks.
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let core = "tamma-bench-core";
    BTreeMap::from([
        (core, BTreeSet::new()),
        // The storage backend: core's contracts (its tests check a previous release's
        // audit log and sealed fields with privacy).
        (SQLITE, BTreeSet::from([core, "tamma-bench-privacy"])),
        // The shared backend: core's contracts (its tests verify the stored audit chain
        // with privacy's verifier).
        (POSTGRES, BTreeSet::from([core, "tamma-bench-privacy"])),
        // Test support: the suites take the implementation under test as an argument.
        (TESTKIT, BTreeSet::from([core])),
        // Their tests use the SQLite backend (a real file).
        ("tamma-bench-providers", BTreeSet::from([core, SQLITE])),
        ("tamma-bench-privacy", BTreeSet::from([core, SQLITE])),
        (
            "tamma-bench-optimize",
            BTreeSet::from([core, "tamma-bench-privacy"]),
        ),
        // The message-bus bridge: core's event log and subscriptions.
        ("tamma-bench-nats", BTreeSet::from([core])),
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
                SQLITE,
                POSTGRES,
                "tamma-bench-nats",
                "tamma-bench-providers",
                "tamma-bench-privacy",
                "tamma-bench-optimize",
                PLUGIN,
            ]),
        ),
        // The command line: the facade (its tests use the test kit only).
        ("tamma-bench-cli", BTreeSet::from(["tamma-bench"])),
        // The HTTP service: the facade (its tests use the test kit only).
        ("tamma-bench-server", BTreeSet::from(["tamma-bench"])),
    ])
}

/// (crate, dependency) pairs allowed only as dev-dependencies: tests, not the product.
fn dev_only() -> BTreeSet<(&'static str, &'static str)> {
    BTreeSet::from([
        (SQLITE, "tamma-bench-privacy"),
        (POSTGRES, "tamma-bench-privacy"),
        ("tamma-bench-providers", SQLITE),
        ("tamma-bench-privacy", SQLITE),
    ])
}

#[test]
fn workspace_crates_depend_only_downwards() {
    let meta = metadata(&["--no-deps"]);
    let allowed = allowed();
    let all_pairs = allowed
        .iter()
        .flat_map(|(k, deps)| deps.iter().map(move |d| (*k, *d)))
        .collect::<BTreeSet<_>>();
    assert!(
        dev_only().is_subset(&all_pairs),
        "every dev-only pair is allowed"
    );
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
            if dep_name == TESTKIT {
                assert_eq!(
                    dep["kind"].as_str(),
                    Some("dev"),
                    "{name} may take the test kit as a dev-dependency only"
                );
                continue;
            }
            if names.contains(dep_name) && dep_name != name {
                assert!(
                    allowed[name].contains(dep_name),
                    "{name} must not depend on {dep_name}"
                );
                if dev_only().contains(&(name, dep_name)) {
                    assert_eq!(
                        dep["kind"].as_str(),
                        Some("dev"),
                        "{name} may depend on {dep_name} in its tests only"
                    );
                }
            }
        }
    }
}

#[test]
fn only_backends_and_the_cli_have_sqlite_among_their_normal_dependencies() {
    // The dependencies built on this machine (other platforms' are not downloaded).
    let version = Command::new(env!("CARGO"))
        .arg("-vV")
        .output()
        .expect("cargo -vV runs");
    let version = String::from_utf8_lossy(&version.stdout);
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("cargo names its host");
    let meta = metadata(&["--filter-platform", host]);
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    // The packages a package needs to build and run: normal edges (and the build
    // dependencies on the way), never dev ones.
    let normal_closure = |start: &str| -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![
            *names
                .iter()
                .find(|(_, n)| **n == start)
                .map(|(id, _)| id)
                .unwrap(),
        ];
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            for dep in nodes[id]["deps"].as_array().unwrap() {
                let normal = dep["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].as_str() != Some("dev"));
                if normal {
                    todo.push(dep["pkg"].as_str().unwrap());
                }
            }
        }
        seen.into_iter().map(|id| names[id]).collect()
    };
    for krate in NO_SQLITE {
        let closure = normal_closure(krate);
        for sqlite in ["rusqlite", "libsqlite3-sys", "tamma-bench-sqlite"] {
            assert!(
                !closure.contains(sqlite),
                "{krate} has {sqlite} in its normal dependency tree"
            );
        }
    }
    // The check sees SQLite where it is: the backend and the CLI's default.
    for krate in ["tamma-bench-sqlite", "tamma-bench"] {
        assert!(normal_closure(krate).contains("libsqlite3-sys"), "{krate}");
    }
}

#[test]
fn the_test_kit_is_not_published() {
    let meta = metadata(&["--no-deps"]);
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
