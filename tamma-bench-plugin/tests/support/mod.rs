//! Builds the plugin crates of the workspace (the examples and the fixtures) with the
//! same cargo and target directory as the test, and finds their libraries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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

/// The library of `package`, built once per test process.
pub fn library(package: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = profile_dir();
    BUILT.get_or_init(|| {
        let target = dir.parent().expect("target");
        let workspace = workspace_root();
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(&workspace)
            .arg("build")
            .arg("--target-dir")
            .arg(target);
        if dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        for p in PACKAGES {
            cargo.args(["-p", p]);
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "building the plugin crates failed");
    });
    let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = dir.join(format!("{prefix}{}{suffix}", package.replace('-', "_")));
    assert!(path.is_file(), "{} was built", path.display());
    path
}

/// A request of one system and one user message, the user saying `said`.
#[allow(dead_code)] // not every test binary calls every helper
pub fn request(said: &str) -> tamma_bench_core::provider::CompletionRequest {
    use tamma_bench_core::model::{Message, Role};
    tamma_bench_core::provider::CompletionRequest {
        model: "m".into(),
        messages: vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, said),
        ],
        temperature: None,
        top_p: None,
        max_tokens: None,
        seed: None,
        stop: Vec::new(),
        tools: Vec::new(),
        response_format: Default::default(),
    }
}

/// A call context.
#[allow(dead_code)] // not every test binary calls every helper
pub fn cx() -> tamma_bench_core::provider::CallContext {
    tamma_bench_core::provider::CallContext {
        run_id: "run".into(),
        tenant_id: tamma_bench_core::model::TenantId::local(),
        agent: "agent".into(),
        case_id: "case".into(),
        epoch: 0,
        attempt: 1,
    }
}
