//! Builds the plugin crates of the workspace (the examples and the fixtures) with the
//! same cargo, profile and target directory as the running test or bench, and finds
//! their libraries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Every plugin crate the tests load, built in one cargo invocation.
const PACKAGES: &[&str] = &[
    "tamma-bench-plugin-behaviours",
    "tamma-bench-plugin-incompatible",
    "tamma-bench-plugin-openai",
    "tamma-bench-plugin-arith",
    "tamma-bench-plugin-edit-similarity",
];

/// The profile folder the test binary runs from (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    // target/<profile>/deps/<test>
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned()
}

/// The workspace's root folder: the nearest folder above the package with a
/// `[workspace]` manifest.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|m| m.contains("[workspace]"))
        })
        .expect("a workspace root")
        .to_owned()
}

/// Runs `cargo build` of `packages` (with `features`, if any) from the workspace root into
/// `target`, in the test binary's profile.
fn build(target: &Path, packages: &[&str], features: Option<&str>) {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(workspace_root())
        .arg("build")
        .arg("--target-dir")
        .arg(target);
    if profile_dir().file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    for p in packages {
        cargo.args(["-p", p]);
    }
    if let Some(features) = features {
        cargo.args(["--features", features]);
    }
    let status = cargo.status().expect("cargo runs");
    assert!(
        status.success(),
        "building {packages:?} (features {features:?}) failed"
    );
}

/// The file name of `package`'s library (`libname.so`, `name.dll`, ...).
fn library_file(package: &str) -> String {
    let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    format!("{prefix}{}{suffix}", package.replace('-', "_"))
}

/// The library of `package`, built once per test process.
pub fn library(package: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = profile_dir();
    BUILT.get_or_init(|| build(dir.parent().expect("target"), PACKAGES, None));
    let path = dir.join(library_file(package));
    assert!(path.is_file(), "{} was built", path.display());
    path
}

/// The library of `package` built with `features` (comma-separated), once per test
/// process. A feature set changes the library under the same file name, so each one has
/// a target directory of its own, `target/plugin-fixtures/<features>`: the default build
/// of [`library`] and concurrent test processes never see another variant's file.
pub fn library_with_features(package: &str, features: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{package} {features}");
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let dir = profile_dir();
    let target = dir
        .parent()
        .expect("target")
        .join("plugin-fixtures")
        .join(features.replace(',', "+"));
    build(&target, &[package], Some(features));
    let path = target
        .join(dir.file_name().expect("a profile"))
        .join(library_file(package));
    assert!(path.is_file(), "{} was built", path.display());
    built.insert(key, path.clone());
    path
}
