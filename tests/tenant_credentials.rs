//! Keys of queued jobs, through the real worker loop, queue and stores (one SQLite file)
//! and a loopback model server that records every `Authorization` header it receives.
//!
//! An external tenant's job reads its keys from its tenant's credentials only: an agent
//! that names a variable set in the worker's environment (the attack: a key of the
//! platform's, sent to a server of the tenant's choosing) fails before any call, naming
//! the credential, and the variable's value never reaches the server; nor does a vendor's
//! default variable. A stored credential does reach it, as the agent's (and a judge's)
//! key. An internal job reads the environment, as before. No value is left in an error,
//! a stored trial, the database files or the log, even when the server echoes the key.
//!
//! A variable set "in the worker's environment" is set for real: the test runs itself
//! again in a child process of this test binary with the variable in its environment
//! (the workspace denies `unsafe`, which `std::env::set_var` needs).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tamma_bench::core::model::{Outcome, TenantContext, TenantId, Tier};
use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
use tamma_bench::core::queue::{Job, JobQueue, JobState, QueueConfig};
use tamma_bench::core::store::ResultStore;
use tamma_bench::jobs::{BenchmarkRunner, RunJob};
use tamma_bench::privacy::access::MemoryAudit;
use tamma_bench::privacy::crypto::Keyset;
use tamma_bench::privacy::{Credentials, Repository, Secret};
use tamma_bench::sqlite::{SqliteCredentialStore, SqliteQueue, SqliteStore};
use tamma_bench_testkit::loopback::{ServerLog, ServerOptions, start_server_with};
use tokio_util::sync::CancellationToken;

/// Set in a child process to the name of the test it runs.
const CHILD: &str = "TAMMA_BENCH_TEST_CHILD";

/// True in the child that runs `test` with `vars` in its environment. In the parent,
/// runs that child (this test binary, this one test) and checks that it passed; false.
fn in_child_with(test: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        for (name, value) in vars {
            assert_eq!(std::env::var(name).as_deref(), Ok(*value), "{name} is set");
        }
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, test)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran {test}: {stdout}"
    );
    false
}

/// A secret unique to this run.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Everything logged in this process, at every level, from the first test that asks.
fn captured_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn acme() -> TenantContext {
    TenantContext::external(TenantId::new("acme").unwrap(), Tier::Free, "alice")
}

const CASES: usize = 3;

/// What an agent (or the judge) of the benchmark looks like.
struct Agent<'a> {
    provider: &'a str,
    key: Option<&'a str>,
}

/// A benchmark of `CASES` cases answered `4`, optionally graded by a judge, and one
/// agent, both at the loopback server `addr`.
fn write_job(dir: &Path, addr: SocketAddr, agent: &Agent<'_>, judge: Option<&str>) -> RunJob {
    let mut cases = std::fs::File::create(dir.join("cases.jsonl")).unwrap();
    for i in 0..CASES {
        writeln!(cases, r#"{{"id": "c{i}", "input": "2+2", "target": "4"}}"#).unwrap();
    }
    let base_url = format!("http://{addr}/v1");
    let mut benchmark = String::from(
        "id = \"keys\"\nname = \"keys\"\nversion = \"1\"\nvisibility = \"private\"\n\
         cases = \"cases.jsonl\"\n\n[[scorer]]\nkind = \"exact\"\n",
    );
    if let Some(judge_key) = judge {
        benchmark.push_str(&format!(
            "\n[[scorer]]\nkind = \"model_graded\"\n\n[[scorer.judges]]\nname = \"judge\"\n\
             provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{base_url}\"\n\
             api_key_env = \"{judge_key}\"\n"
        ));
    }
    std::fs::write(dir.join("benchmark.toml"), benchmark).unwrap();
    let mut agents = format!(
        "[[agent]]\nname = \"model\"\nprovider = \"{}\"\nmodel = \"m\"\nbase_url = \"{base_url}\"\n",
        agent.provider
    );
    if let Some(key) = agent.key {
        agents.push_str(&format!("api_key_env = \"{key}\"\n"));
    }
    std::fs::write(dir.join("agents.toml"), agents).unwrap();
    let mut job =
        RunJob::from_files(&dir.join("benchmark.toml"), &dir.join("agents.toml"), &[]).unwrap();
    job.concurrency = 2;
    job
}

/// One SQLite file holding results, credentials and the queue; a worker's runner over it.
struct World {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    queue: Arc<SqliteQueue>,
    credentials: Credentials,
    runner: BenchmarkRunner,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tamma-bench.db");
    let keys = Keyset::generate("k1").unwrap();
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let repo = Repository::new(store.clone()).unwrap().with_keyset(&keys);
    let credentials = Credentials::new(Arc::new(SqliteCredentialStore::open(&db).unwrap()))
        .with_keyset(&keys)
        .with_audit(Arc::new(MemoryAudit::default()));
    let queue = Arc::new(SqliteQueue::open(&db, QueueConfig::default()).unwrap());
    let runner = BenchmarkRunner::new(repo).with_credentials(credentials.clone());
    World {
        dir,
        store,
        queue,
        credentials,
        runner,
    }
}

impl World {
    /// Submits `job` as `cx`, runs a worker until it ends, and returns it.
    async fn run(&self, cx: &TenantContext, job: &RunJob) -> Job {
        let submitted = self
            .queue
            .submit(cx, job.to_new_job().unwrap())
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let mut options = WorkerOptions::new("w1");
        options.idle_poll = Duration::from_millis(50);
        let worker = tokio::spawn(run_worker(
            self.queue.clone() as Arc<dyn JobQueue>,
            Arc::new(self.runner.clone()),
            options,
            shutdown.clone(),
        ));
        let started = Instant::now();
        let done = loop {
            let job = self.queue.get(cx, &submitted.id).await.unwrap().unwrap();
            if job.state.is_terminal() {
                break job;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{job:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        shutdown.cancel();
        worker.await.unwrap();
        done
    }

    /// Every byte of the database's files.
    fn bytes_at_rest(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml" && e != "jsonl") {
                all.extend(std::fs::read(path).unwrap());
            }
        }
        all
    }
}

/// Asserts the job failed at once (one attempt, no retry) for want of credential `name`,
/// and that nothing reached the server.
async fn assert_failed_for_credential(w: &World, job: &Job, name: &str, server: &ServerLog) {
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    assert_eq!(job.attempts, 1, "no retry: {job:?}");
    let error = job.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("no credential {name:?} is stored for this tenant")),
        "{error}"
    );
    let history = w.queue.history(&job.context, &job.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.message.as_deref().is_some_and(|m| m.contains(name))),
        "{history:?}"
    );
    assert_eq!(server.requests(), 0, "no call was made");
    assert!(server.authorizations().is_empty());
    let runs = w.store.list_runs(&job.context.tenant_id).await.unwrap();
    assert!(runs.is_empty(), "no run started: {runs:?}");
}

/// A loopback server answering `status`, recording `Authorization` headers (started
/// outside the test's runtime: it runs its own).
fn recording_server(status: u16) -> (SocketAddr, Arc<ServerLog>) {
    start_server_with(ServerOptions {
        status,
        record_authorization: true,
        ..ServerOptions::new(Duration::ZERO)
    })
}

const PLATFORM_VAR: &str = "TAMMA_BENCH_TEST_PLATFORM_KEY";

#[test]
fn an_external_job_never_reads_the_variable_its_agent_names() {
    let secret = std::env::var(PLATFORM_VAR)
        .ok()
        .filter(|_| std::env::var(CHILD).is_ok())
        .unwrap_or_else(|| unique("sk-platform"));
    if !in_child_with(
        "an_external_job_never_reads_the_variable_its_agent_names",
        &[(PLATFORM_VAR, &secret)],
    ) {
        return;
    }
    let log = captured_log();
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let agent = Agent {
            provider: "openai",
            key: Some(PLATFORM_VAR),
        };
        let job = w
            .run(&acme(), &write_job(w.dir.path(), addr, &agent, None))
            .await;
        assert_failed_for_credential(&w, &job, PLATFORM_VAR, &server).await;
        let error = job.last_error.unwrap_or_default();
        assert!(error.contains("agent \"model\""), "{error}");
        assert!(
            error.contains("never from the worker's environment"),
            "{error}"
        );
        assert!(!error.contains(&secret), "{error}");
        assert!(!contains(&w.bytes_at_rest(), &secret));
    });
    let log = log.lock().unwrap();
    assert!(!log.is_empty(), "the worker logged");
    assert!(
        !contains(&log, &secret),
        "the log holds the variable's value"
    );
}

#[test]
fn an_external_job_never_falls_back_to_a_vendors_default_variable() {
    const DEFAULT_VAR: &str = "ANTHROPIC_API_KEY";
    let secret = std::env::var(DEFAULT_VAR)
        .ok()
        .filter(|_| std::env::var(CHILD).is_ok())
        .unwrap_or_else(|| unique("sk-ant-platform"));
    if !in_child_with(
        "an_external_job_never_falls_back_to_a_vendors_default_variable",
        &[(DEFAULT_VAR, &secret)],
    ) {
        return;
    }
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let agent = Agent {
            provider: "anthropic",
            key: None,
        };
        let job = w
            .run(&acme(), &write_job(w.dir.path(), addr, &agent, None))
            .await;
        assert_failed_for_credential(&w, &job, DEFAULT_VAR, &server).await;
        let error = job.last_error.unwrap_or_default();
        assert!(
            error.contains("the anthropic provider's default key name"),
            "{error}"
        );
        assert!(!error.contains(&secret), "{error}");
    });
}

#[test]
fn an_internal_job_reads_the_environment_and_no_credential() {
    let secret = std::env::var(PLATFORM_VAR)
        .ok()
        .filter(|_| std::env::var(CHILD).is_ok())
        .unwrap_or_else(|| unique("sk-platform"));
    if !in_child_with(
        "an_internal_job_reads_the_environment_and_no_credential",
        &[(PLATFORM_VAR, &secret)],
    ) {
        return;
    }
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let internal = TenantContext::internal(TenantId::new("acme").unwrap(), "operator");
        // A credential of the same name: an internal job does not read it.
        w.credentials
            .put(&internal, PLATFORM_VAR, &Secret::new("sk-stored"))
            .await
            .unwrap();
        let agent = Agent {
            provider: "openai",
            key: Some(PLATFORM_VAR),
        };
        let job = w
            .run(&internal, &write_job(w.dir.path(), addr, &agent, None))
            .await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        let bearer = format!("Bearer {secret}");
        assert_eq!(server.authorizations(), vec![Some(bearer); CASES]);
    });
}

#[test]
fn a_stored_credential_reaches_the_server_for_the_agent_and_the_judge() {
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let (agent_key, judge_key) = (unique("sk-acme-agent"), unique("sk-acme-judge"));
        let cx = acme();
        w.credentials
            .put(&cx, "MODEL_KEY", &Secret::new(agent_key.clone()))
            .await
            .unwrap();
        w.credentials
            .put(&cx, "JUDGE_KEY", &Secret::new(judge_key.clone()))
            .await
            .unwrap();
        // Another tenant's credential of the same name is not acme's.
        let globex = TenantContext::external(TenantId::new("globex").unwrap(), Tier::Free, "g");
        w.credentials
            .put(&globex, "MODEL_KEY", &Secret::new("sk-globex"))
            .await
            .unwrap();
        let agent = Agent {
            provider: "openai",
            key: Some("MODEL_KEY"),
        };
        let job = w
            .run(
                &cx,
                &write_job(w.dir.path(), addr, &agent, Some("JUDGE_KEY")),
            )
            .await;
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        let seen = server.authorizations();
        let count = |key: &str| {
            seen.iter()
                .filter(|a| a.as_deref() == Some(&format!("Bearer {key}")))
                .count()
        };
        assert_eq!(count(&agent_key), CASES, "{seen:?}");
        assert!(
            count(&judge_key) >= CASES,
            "the judge graded each answer: {seen:?}"
        );
        assert_eq!(
            count(&agent_key) + count(&judge_key),
            seen.len(),
            "{seen:?}"
        );
        assert!(!contains(&w.bytes_at_rest(), &agent_key), "a key at rest");
        assert!(!contains(&w.bytes_at_rest(), &judge_key), "a key at rest");
    });
}

#[test]
fn a_missing_judge_credential_fails_the_job_naming_the_judge() {
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let cx = acme();
        w.credentials
            .put(&cx, "MODEL_KEY", &Secret::new(unique("sk-acme")))
            .await
            .unwrap();
        let agent = Agent {
            provider: "openai",
            key: Some("MODEL_KEY"),
        };
        let job = w
            .run(
                &cx,
                &write_job(w.dir.path(), addr, &agent, Some("JUDGE_KEY")),
            )
            .await;
        assert_failed_for_credential(&w, &job, "JUDGE_KEY", &server).await;
        let error = job.last_error.unwrap_or_default();
        assert!(error.contains("agent \"judge\""), "{error}");
    });
}

#[test]
fn a_provider_plugin_is_refused_for_an_external_job() {
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let agent = Agent {
            provider: "plugin:openai-provider",
            key: None,
        };
        let job = w
            .run(&acme(), &write_job(w.dir.path(), addr, &agent, None))
            .await;
        assert_eq!(job.state, JobState::Failed, "{job:?}");
        assert_eq!(job.attempts, 1, "no retry: {job:?}");
        let error = job.last_error.unwrap_or_default();
        assert!(
            error
                .contains("provider plugin \"openai-provider\" is not available to a tenant's job"),
            "{error}"
        );
        assert_eq!(server.requests(), 0);
    });
}

#[test]
fn a_key_a_failing_server_echoes_is_in_no_error_trial_file_or_log() {
    let log = captured_log();
    let secret = unique("sk-acme-echoed");
    // Every answer is a 401 whose message quotes the Authorization header.
    let (addr, server) = recording_server(401);
    tamma_bench_testkit::block_on(async {
        let w = world();
        let cx = acme();
        w.credentials
            .put(&cx, "MODEL_KEY", &Secret::new(secret.clone()))
            .await
            .unwrap();
        let agent = Agent {
            provider: "openai",
            key: Some("MODEL_KEY"),
        };
        let job = w
            .run(&cx, &write_job(w.dir.path(), addr, &agent, None))
            .await;
        // The key reached the server (it answered with it), and nowhere else.
        assert!(server.requests() >= CASES as u64);
        let bearer = format!("Bearer {secret}");
        assert!(
            server
                .authorizations()
                .iter()
                .all(|a| a.as_deref() == Some(bearer.as_str()))
        );
        assert!(!format!("{job:?}").contains(&secret), "{job:?}");
        let runs = w.store.list_runs(&cx.tenant_id).await.unwrap();
        assert_eq!(runs.len(), 1, "{job:?}");
        use futures::TryStreamExt;
        let trials: Vec<_> = w
            .store
            .trials(&cx.tenant_id, &runs[0].id)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(trials.len(), CASES);
        for t in &trials {
            let Outcome::InfraFailure { message, .. } = &t.outcome else {
                panic!("an infrastructure failure: {t:?}");
            };
            assert!(
                message.contains("<redacted>"),
                "the echo was scrubbed: {message}"
            );
            assert!(!message.contains(&secret), "{message}");
            assert!(!format!("{t:?}").contains(&secret));
        }
        assert!(!contains(&w.bytes_at_rest(), &secret), "the key at rest");
    });
    let log = log.lock().unwrap();
    assert!(!log.is_empty(), "the worker logged");
    assert!(!contains(&log, &secret), "the log holds the key");
}

#[test]
fn a_worker_without_credentials_fails_an_external_job_that_needs_a_key() {
    let (addr, server) = recording_server(200);
    tamma_bench_testkit::block_on(async {
        let mut w = world();
        let repo = Repository::new(w.store.clone()).unwrap();
        w.runner = BenchmarkRunner::new(repo);
        let agent = Agent {
            provider: "openai",
            key: Some("PATH"),
        };
        let job = w
            .run(&acme(), &write_job(w.dir.path(), addr, &agent, None))
            .await;
        assert_eq!(job.state, JobState::Failed, "{job:?}");
        assert_eq!(job.attempts, 1, "no retry: {job:?}");
        let error = job.last_error.unwrap_or_default();
        assert!(
            error.contains("this worker has no credential store"),
            "{error}"
        );
        assert_eq!(server.requests(), 0);
    });
}
