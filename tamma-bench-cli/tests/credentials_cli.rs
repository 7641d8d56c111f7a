//! `tamma-bench worker` (a child process) takes an external tenant's keys from the
//! tenant's credentials in its database, sealed with `$TAMMA_BENCH_DATA_KEYS`, and never
//! from its own environment: a loopback model server records every `Authorization`
//! header it receives.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench::core::model::{TenantContext, TenantId, Tier};
use tamma_bench::privacy::crypto::Keyset;
use tamma_bench::privacy::{Credentials, Secret};
use tamma_bench::sqlite::SqliteCredentialStore;
use tamma_bench_testkit::loopback::{ServerOptions, start_server_with};

mod support;
use support::{ok, tb_with_env};

const KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const STORED: &str = "sk-acme-stored-credential-7731";
const PLATFORM: &str = "sk-platform-worker-environment-9902";

/// The variables every command of the test runs with: the data keys.
fn keys_env() -> String {
    format!("primary=k1;k1={KEY_HEX}")
}

/// Runs the binary in `d` on its database, with the data keys.
fn tb(d: &Path, args: &[&str]) -> std::process::Output {
    let db = d.join("tamma-bench.db");
    let mut all = args.to_vec();
    all.extend(["--db", db.to_str().unwrap()]);
    tb_with_env(d, &all, &[("TAMMA_BENCH_DATA_KEYS", &keys_env())])
}

/// A child process, killed if the test fails before it ends it.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn the_worker_sends_the_tenants_credential_and_never_its_own_variable() {
    let (addr, server) = start_server_with(ServerOptions {
        record_authorization: true,
        ..ServerOptions::new(Duration::ZERO)
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("cases.jsonl"),
        "{\"id\": \"c1\", \"input\": \"2+2\", \"target\": \"4\"}\n\
         {\"id\": \"c2\", \"input\": \"2+2\", \"target\": \"4\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bench.toml"),
        "id = \"b\"\nname = \"B\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    )
    .unwrap();
    for (file, key) in [("stored.toml", "MODEL_KEY"), ("env.toml", "PLATFORM_KEY")] {
        std::fs::write(
            d.join(file),
            format!(
                "[[agent]]\nname = \"a\"\nprovider = \"openai\"\nmodel = \"m\"\n\
                 base_url = \"http://{addr}/v1\"\napi_key_env = \"{key}\"\n"
            ),
        )
        .unwrap();
    }
    // The tenant stores its key (what the service's endpoint will do).
    let keyset = Keyset::parse(&format!("primary = k1\nk1 = {KEY_HEX}"), "test").unwrap();
    let db = d.join("tamma-bench.db");
    tamma_bench_testkit::block_on(async {
        let acme = TenantContext::external(TenantId::new("acme").unwrap(), Tier::Free, "alice");
        Credentials::new(Arc::new(SqliteCredentialStore::open(&db).unwrap()))
            .with_keyset(&keyset)
            .put(&acme, "MODEL_KEY", &Secret::new(STORED))
            .await
            .unwrap();
    });
    let submit = |agents: &str| -> String {
        let v: Value = serde_json::from_str(&ok(tb(
            d,
            &[
                "submit",
                "bench.toml",
                "--agents",
                agents,
                "--tenant",
                "acme",
                "--json",
            ],
        )))
        .unwrap();
        v["id"].as_str().unwrap().to_owned()
    };
    let (stored_job, env_job) = (submit("stored.toml"), submit("env.toml"));

    // The worker's environment holds the platform's key under both names.
    let child = Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
        .args(["worker", "--poll-ms", "100", "--id", "w1", "--db"])
        .arg(&db)
        .current_dir(d)
        .env("TAMMA_BENCH_DATA_KEYS", keys_env())
        .env("PLATFORM_KEY", PLATFORM)
        .env("MODEL_KEY", PLATFORM)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(d.join("worker.log")).unwrap())
        .spawn()
        .unwrap();
    let _running = Running(Some(child));
    let state = |id: &str| -> Value {
        serde_json::from_str(&ok(tb(d, &["job", id, "--tenant", "acme", "--json"]))).unwrap()
    };
    let started = Instant::now();
    let (stored, env) = loop {
        let (s, e) = (state(&stored_job), state(&env_job));
        if ["succeeded", "failed"].contains(&s["state"].as_str().unwrap())
            && ["succeeded", "failed"].contains(&e["state"].as_str().unwrap())
        {
            break (s, e);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{s} {e}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(stored["state"], "succeeded", "{stored}");
    assert_eq!(env["state"], "failed", "{env}");
    assert_eq!(env["attempts"], 1, "no retry: {env}");
    let error = env["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("no credential \"PLATFORM_KEY\" is stored for this tenant"),
        "{error}"
    );
    let bearer = format!("Bearer {STORED}");
    assert_eq!(
        server.authorizations(),
        vec![Some(bearer.clone()), Some(bearer)]
    );
    let log = std::fs::read_to_string(d.join("worker.log")).unwrap();
    assert!(!log.contains(PLATFORM) && !log.contains(STORED), "{log}");
}
