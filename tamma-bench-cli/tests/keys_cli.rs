//! End to end: with data keys, plaintext in a sealed column of the results file is refused
//! unless `TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT=1`; `keys reseal` seals data written
//! before keys were configured and moves values of older keys onto the primary key.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tamma_bench::privacy::crypto::Envelope;

const BENCHMARK: &str = "id = \"b\"\nname = \"B\"\nversion = \"1\"\nvisibility = \"private\"\ncases = \"cases.jsonl\"\n";

const CASES: &str = r#"{"id": "c1", "input": "1?", "target": "1"}
{"id": "c2", "input": "2?", "target": "2"}
"#;

const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha"
recording = "alpha.jsonl"
system = "INTERNAL-SYSTEM-PROMPT"
"#;

const ALPHA: &str = r#"{"case_id": "c1", "output": "1 LEGACY-OUTPUT", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
{"case_id": "c2", "output": "2 LEGACY-OUTPUT", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 100}
"#;

const DATA_KEYS_VAR: &str = "TAMMA_BENCH_DATA_KEYS";
const ALLOW_VAR: &str = "TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT";
const K1: &str = "k1=hex:abababababababababababababababababababababababababababababababab";
const K2: &str = "k2=hex:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("bench.toml", BENCHMARK),
            ("cases.jsonl", CASES),
            ("agents.toml", AGENTS),
            ("alpha.jsonl", ALPHA),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Self { dir }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("tamma-bench.db")
    }

    /// `tamma-bench ARGS --db DB` with exactly `env` of the key variables set.
    fn tb(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tamma-bench"));
        c.args(args).arg("--db").arg(self.db());
        c.current_dir(self.dir.path());
        for var in [DATA_KEYS_VAR, ALLOW_VAR, "TAMMA_BENCH_AUDIT_SIGNING_KEY"] {
            c.env_remove(var);
        }
        c.envs(env.iter().copied());
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self.tb(args, env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "tamma-bench {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `tamma-bench ARGS` fails; its stderr.
    fn fails(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.tb(args, env);
        assert_eq!(out.status.code(), Some(1), "tamma-bench {args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    }
}

/// Every stored trial output and agent system prompt, as stored.
fn sealed_values(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut values: Vec<String> = conn
        .prepare("SELECT output FROM trials")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let agents: Vec<String> = conn
        .prepare("SELECT agents_json FROM runs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for a in agents {
        let a: serde_json::Value = serde_json::from_str(&a).unwrap();
        values.extend(a[0]["system"].as_str().map(str::to_owned));
    }
    values
}

fn key_ids(db: &Path) -> Vec<String> {
    sealed_values(db)
        .iter()
        .map(|v| Envelope::from_text(v).unwrap().key_id.to_string())
        .collect()
}

#[test]
fn plaintext_is_refused_under_keys_until_keys_reseal_seals_it_and_reseal_follows_rotation() {
    let f = Fixture::new();
    let run = [
        "run",
        "bench.toml",
        "--agents",
        "agents.toml",
        "--run-id",
        "r1",
        "--json",
    ];
    let export = ["export", "r1", "--format", "jsonl"];
    // Written before keys were configured: plaintext at rest.
    f.ok(&run, &[]);
    assert!(
        sealed_values(&f.db())
            .iter()
            .all(|v| !v.starts_with("tbenc1."))
    );

    // With keys: refused, naming run, trial and column.
    let k1 = [(DATA_KEYS_VAR, K1)];
    let err = f.fails(&export, &k1);
    // (The run record is opened first: its agent's system prompt.)
    for part in [
        "\"r1\"",
        "agent \"alpha\"",
        "runs.agents.system",
        "not encrypted",
        "keys reseal",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    assert!(!err.contains("LEGACY-OUTPUT"), "{err}");
    // With the legacy opt-in: read as it is, with a warning.
    let legacy = [(DATA_KEYS_VAR, K1), (ALLOW_VAR, "1")];
    let out = f.ok(&export, &legacy);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 LEGACY-OUTPUT"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("legacy"));
    assert!(
        f.fails(&export, &[(DATA_KEYS_VAR, K1), (ALLOW_VAR, "maybe")])
            .contains(ALLOW_VAR)
    );

    // Re-sealing needs an internal context and the keys.
    assert!(
        f.fails(&["keys", "reseal", "--tenant", "acme"], &k1)
            .contains("internal")
    );
    assert!(f.fails(&["keys", "reseal"], &[]).contains(DATA_KEYS_VAR));
    let out = f.ok(&["keys", "reseal", "--json"], &k1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs_changed"], 1, "{report}");
    assert_eq!(report["sealed"], 3, "{report}"); // two outputs, one system prompt
    let ids = key_ids(&f.db());
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|k| k == "k1"), "{ids:?}");
    // Strict reads work now, and the rewrite is in the audit log as a write.
    let out = f.ok(&export, &k1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 LEGACY-OUTPUT"));
    let conn = Connection::open(f.db()).unwrap();
    let writes: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_entries WHERE CAST(entry AS TEXT) LIKE '%\"action\":\"write\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(writes > 0);

    // Rotation: k2 primary; reseal moves every value onto it, and k1 can go.
    let rotated = format!("primary=k2;{K1};{K2}");
    let out = f.ok(
        &["keys", "reseal", "--json"],
        &[(DATA_KEYS_VAR, rotated.as_str())],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["primary_key"], "k2", "{report}");
    assert_eq!(report["rekeyed"], 3, "{report}");
    assert_eq!(report["sealed"], 0, "{report}");
    assert!(key_ids(&f.db()).iter().all(|k| k == "k2"));
    let out = f.ok(&export, &[(DATA_KEYS_VAR, K2)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 LEGACY-OUTPUT"));
    let shown = f.ok(&["show", "r1", "--json"], &[(DATA_KEYS_VAR, K2)]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("INTERNAL-SYSTEM-PROMPT"));

    // Plaintext swapped in afterwards is refused again.
    conn.execute(
        "UPDATE trials SET output = 'FORGED' WHERE case_id = 'c2'",
        [],
    )
    .unwrap();
    let err = f.fails(&export, &[(DATA_KEYS_VAR, K2)]);
    assert!(
        err.contains("trial alpha/c2/0, column trials.output"),
        "{err}"
    );
    assert!(!err.contains("FORGED"), "{err}");
}
