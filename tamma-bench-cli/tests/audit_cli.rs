//! End to end: every command that reads or writes runs appends to the tamper-evident audit
//! log in the results database (allowed and denied accesses alike); `audit verify` checks
//! it and names the first altered entry; with data keys, sensitive and restricted fields
//! are ciphertext in the file and plaintext through the CLI; secrets in a run's outputs
//! are redacted before they are stored.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use rusqlite::Connection;
use std::path::Path;
use std::process::{Command, Output};

const BENCHMARK: &str =
    "id = \"b\"\nname = \"B\"\nversion = \"1\"\nvisibility = \"VIS\"\ncases = \"cases.jsonl\"\n";

const CASES: &str = r#"{"id": "c1", "input": "1?", "target": "1"}
{"id": "c2", "input": "2?", "target": "2"}
{"id": "c3", "input": "3?", "target": "3"}
"#;

const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha"
recording = "alpha.jsonl"
system = "INTERNAL-SYSTEM-PROMPT"
"#;

/// Outputs holding an e-mail address, an API key and a bearer token.
const ALPHA: &str = r#"{"case_id": "c1", "output": "1 mail ops@corp.example", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c2", "output": "2 sk-ant-api03-SECRETSECRET123", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c3", "output": "3 Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.TOKEN", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
"#;

const SECRETS: &[&str] = &["ops@corp.example", "sk-ant-api03", "eyJhbGciOiJIUzI1NiJ9"];

const SIGNING_KEY_VAR: &str = "TAMMA_BENCH_AUDIT_SIGNING_KEY";
const VERIFIER_KEY_VAR: &str = "TAMMA_BENCH_AUDIT_VERIFIER_KEY";
const DATA_KEYS_VAR: &str = "TAMMA_BENCH_DATA_KEYS";

/// A working directory with the fixtures, and the environment every command gets.
struct Fixture {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("private.toml", BENCHMARK.replace("VIS", "private")),
            ("public.toml", BENCHMARK.replace("VIS", "public")),
            ("cases.jsonl", CASES.into()),
            ("agents.toml", AGENTS.into()),
            ("alpha.jsonl", ALPHA.into()),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Self {
            dir,
            env: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> std::path::PathBuf {
        self.path("tamma-bench.db")
    }

    /// Runs `tamma-bench ARGS` (with `--db` unless `db` is false) in the fixture's
    /// environment only: no key from the test's own environment leaks in.
    fn command(&self, args: &[&str], db: bool) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tamma-bench"));
        c.args(args).current_dir(self.dir.path());
        if db {
            c.arg("--db").arg(self.db());
        }
        for var in [SIGNING_KEY_VAR, VERIFIER_KEY_VAR, DATA_KEYS_VAR] {
            c.env_remove(var);
        }
        c.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        c.output().unwrap()
    }

    fn tb(&self, args: &[&str]) -> Output {
        self.command(args, true)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.tb(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "tamma-bench {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `bench` as `tenant` with run id `run_id`.
    fn run(&self, bench: &str, run_id: &str, tenant: &str) {
        self.ok(&[
            "run",
            bench,
            "--agents",
            "agents.toml",
            "--run-id",
            run_id,
            "--tenant",
            tenant,
            "--json",
        ]);
    }

    /// `audit verify --json` with `extra` arguments: exit status and report.
    fn verify(&self, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
        let mut args = vec!["audit", "verify", "--json"];
        args.extend_from_slice(extra);
        let out = self.tb(&args);
        let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), report, stderr)
    }
}

/// Every stored audit entry, parsed, by index.
fn audit_entries(db: &Path) -> Vec<(i64, serde_json::Value)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT idx, entry FROM audit_entries ORDER BY idx")
        .unwrap();
    stmt.query_map([], |r| {
        let bytes: Vec<u8> = r.get(1)?;
        Ok((r.get(0)?, serde_json::from_slice(&bytes).unwrap()))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// Changes entry `idx` in place the way an attacker with the file would: the
/// append-only trigger dropped first.
fn alter_entry(db: &Path, idx: i64, from: &str, to: &str) {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_entries_no_update")
        .unwrap();
    let changed = conn
        .execute(
            "UPDATE audit_entries SET entry = CAST(replace(CAST(entry AS TEXT), ?2, ?3) AS BLOB) WHERE idx = ?1",
            rusqlite::params![idx, from, to],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

/// Every `output` value of the trials table, as stored.
fn stored_outputs(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT output FROM trials").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn every_access_is_in_the_signed_log_and_verify_finds_the_first_altered_entry() {
    let mut f = Fixture::new();
    let keygen = f.command(
        &[
            "audit",
            "keygen",
            "--name",
            "test.example/audit",
            "--out",
            "signer.key",
        ],
        false,
    );
    assert_eq!(keygen.status.code(), Some(0));
    let verifier = String::from_utf8(keygen.stdout).unwrap().trim().to_owned();
    // The signing key by path (as keygen wrote it); data keys inline.
    f.env = vec![
        (SIGNING_KEY_VAR, f.path("signer.key").display().to_string()),
        (DATA_KEYS_VAR, format!("k1={}", "ab".repeat(32))),
    ];
    f.run("private.toml", "secret", "acme");
    f.run("public.toml", "open", "acme");
    f.run("private.toml", "mine", "zed");
    f.ok(&["runs", "--tenant", "zed"]);
    f.ok(&["show", "mine", "--tenant", "zed"]);
    let export = f.ok(&["export", "mine", "--format", "jsonl", "--tenant", "zed"]);
    f.ok(&["compare", "mine", "open", "--tenant", "zed"]);
    f.ok(&[
        "report", "mine", "open", "--out", "r.html", "--tenant", "zed",
    ]);
    let shown = f.ok(&["show", "secret", "--json", "--internal", "--tenant", "acme"]);
    let denied = f.tb(&["show", "secret", "--tenant", "zed"]);
    assert_eq!(denied.status.code(), Some(1));

    // Sealed at rest, plaintext (redacted) through the CLI.
    let outputs = stored_outputs(&f.db());
    assert_eq!(outputs.len(), 9);
    assert!(
        outputs.iter().all(|o| o.starts_with("tbenc1.")),
        "{outputs:?}"
    );
    let conn = Connection::open(f.db()).unwrap();
    let agents: Vec<String> = conn
        .prepare("SELECT agents_json FROM runs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(agents.iter().all(|a| !a.contains("INTERNAL-SYSTEM-PROMPT")));
    assert!(shown.contains("INTERNAL-SYSTEM-PROMPT"), "{shown}");
    assert!(
        export.contains("[redacted:email]") && export.contains("[redacted:bearer_token]"),
        "{export}"
    );

    // Every access is logged: writes, reads, exports, comparisons, internal reads, and
    // the denied one.
    let entries = audit_entries(&f.db());
    let has = |action: &str, decision: &str| {
        entries
            .iter()
            .any(|(_, e)| e["action"] == action && e["decision"] == decision)
    };
    for action in ["write", "read", "export", "compare", "read_internal"] {
        assert!(has(action, "allow"), "no {action} in {entries:?}");
    }
    assert!(
        entries.iter().any(|(_, e)| e["decision"] == "deny"
            && e["tenant"] == "zed"
            && e["resource"] == "run:secret"),
        "{entries:?}"
    );

    // Intact, every entry covered by a signed checkpoint.
    let (code, report, stderr) = f.verify(&["--key", &verifier]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["intact"], true);
    assert_eq!(report["signatures_checked"], true);
    assert_eq!(report["entries"], entries.len());
    assert_eq!(report["unsigned_entries"], 0);

    // One of zed's entries altered: verify fails and names it.
    let (idx, _) = entries
        .iter()
        .find(|(i, e)| *i > 3 && e["tenant"] == "zed")
        .unwrap();
    alter_entry(&f.db(), *idx, "\"zed\"", "\"zee\"");
    let (code, report, _) = f.verify(&["--key", &verifier]);
    assert_eq!(code, Some(1));
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_bad_index"], *idx, "{report}");
}

#[test]
fn without_keys_outputs_are_redacted_in_the_file_and_the_unsigned_chain_still_catches_tampering() {
    let f = Fixture::new();
    f.run("private.toml", "r1", "acme");
    f.ok(&["export", "r1", "--format", "csv", "--tenant", "acme"]);

    // Redacted before it was stored, in clear (no keys).
    let outputs = stored_outputs(&f.db()).concat();
    for secret in SECRETS {
        assert!(!outputs.contains(secret), "{secret:?} stored: {outputs}");
    }
    for marker in [
        "[redacted:email]",
        "[redacted:api_key]",
        "Bearer [redacted:bearer_token]",
    ] {
        assert!(outputs.contains(marker), "{marker:?} missing: {outputs}");
    }

    // Chained, no checkpoints: verify checks the chain and says what it did not check.
    let (code, report, stderr) = f.verify(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["intact"], true);
    assert_eq!(report["signatures_checked"], false);
    assert_eq!(report["checkpoints"], 0);
    assert!(stderr.contains("hash chain only"), "{stderr}");
    let n = audit_entries(&f.db()).len() as i64;
    assert!(n >= 5, "{n} entries");

    alter_entry(&f.db(), 2, "\"acme\"", "\"acmf\"");
    let (code, report, _) = f.verify(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(report["first_bad_index"], 2, "{report}");
}
