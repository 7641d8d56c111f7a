//! The job runner behind `tamma-bench worker`, in process: a run job drained mid-way
//! (its stop fires) is stopped at a trial boundary and released; the next attempt
//! resumes the run at trial level, so the run ends with every trial exactly once. A bad
//! payload fails without a retry. The queue here is a one-job double: the runner and the
//! worker loop are under test, not a backend.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tamma_bench::core::error::Remedy;
use tamma_bench::core::model::{RunStatus, TenantContext, TenantId, now_ms};
use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
use tamma_bench::core::queue::{
    Job, JobEvent, JobFilter, JobId, JobKind, JobOutcome, JobQueue, JobState, Lease, LeaseStatus,
    LiveConfig, NewJob, QueueConfig, QueueError, TierStats,
};
use tamma_bench::core::store::ResultStore;
use tamma_bench::jobs::{BenchmarkRunner, RunJob};
use tamma_bench::privacy::Repository;
use tamma_bench::sqlite::SqliteStore;
use tokio_util::sync::CancellationToken;

/// A queue of one job: claimable while queued, its outcomes recorded.
struct OneJob {
    config: LiveConfig,
    job: Mutex<Job>,
    outcomes: Mutex<Vec<JobOutcome>>,
}

impl OneJob {
    fn new(new: NewJob, cx: TenantContext) -> Self {
        let id = JobId::generate();
        let job = Job {
            run_id: new.run_id.unwrap_or_else(|| id.to_string()),
            id,
            tenant_id: cx.tenant_id.clone(),
            context: cx,
            tier: "internal-optimization".into(),
            priority: 100,
            kind: new.kind,
            payload: new.payload,
            state: JobState::Queued,
            attempts: 0,
            max_attempts: 3,
            cancel_requested: false,
            last_error: None,
            worker: None,
            submitted_at_ms: now_ms(),
            available_at_ms: now_ms(),
            started_at_ms: None,
            lease_until_ms: None,
            finished_at_ms: None,
        };
        Self {
            config: LiveConfig::new(QueueConfig::default()).expect("valid"),
            job: Mutex::new(job),
            outcomes: Mutex::new(Vec::new()),
        }
    }

    fn state(&self) -> JobState {
        self.job.lock().unwrap().state
    }

    fn outcomes(&self) -> Vec<JobOutcome> {
        self.outcomes.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobQueue for OneJob {
    fn live_config(&self) -> &LiveConfig {
        &self.config
    }
    async fn submit(&self, _: &TenantContext, _: NewJob) -> Result<Job, QueueError> {
        Err(QueueError::invalid("one job only"))
    }
    async fn claim(&self, worker: &str, _: Option<&[String]>) -> Result<Option<Lease>, QueueError> {
        let mut job = self.job.lock().unwrap();
        if job.state != JobState::Queued {
            return Ok(None);
        }
        job.state = JobState::Running;
        job.attempts += 1;
        job.worker = Some(worker.to_owned());
        Ok(Some(Lease {
            job: job.clone(),
            worker: worker.to_owned(),
            token: format!("t{}", job.attempts),
        }))
    }
    async fn heartbeat(&self, _: &Lease) -> Result<LeaseStatus, QueueError> {
        Ok(LeaseStatus::Held {
            cancel_requested: false,
        })
    }
    async fn finish(&self, _: &Lease, outcome: JobOutcome) -> Result<Job, QueueError> {
        let mut job = self.job.lock().unwrap();
        match &outcome {
            JobOutcome::Succeeded => job.state = JobState::Succeeded,
            JobOutcome::Failed { error, .. } => {
                job.state = JobState::Failed;
                job.last_error = Some(error.clone());
            }
            JobOutcome::Cancelled => job.state = JobState::Cancelled,
            JobOutcome::Released => {
                job.state = JobState::Queued;
                job.attempts -= 1;
            }
        }
        self.outcomes.lock().unwrap().push(outcome);
        Ok(job.clone())
    }
    async fn cancel(&self, _: &TenantContext, id: &JobId) -> Result<Job, QueueError> {
        Err(QueueError::not_found(id))
    }
    async fn get(&self, _: &TenantContext, _: &JobId) -> Result<Option<Job>, QueueError> {
        Ok(Some(self.job.lock().unwrap().clone()))
    }
    async fn list(&self, _: &TenantContext, _: &JobFilter) -> Result<Vec<Job>, QueueError> {
        Ok(vec![self.job.lock().unwrap().clone()])
    }
    async fn history(&self, _: &TenantContext, _: &JobId) -> Result<Vec<JobEvent>, QueueError> {
        Ok(Vec::new())
    }
    async fn stats(&self) -> Result<Vec<TierStats>, QueueError> {
        Ok(Vec::new())
    }
    async fn wait_for_work(&self, timeout: Duration) {
        tokio::time::sleep(timeout.min(Duration::from_millis(50))).await;
    }
}

const CASES: usize = 100;

/// A benchmark of `CASES` cases and a replay agent limited to 60 requests a minute: the
/// first minute's burst (60 trials) goes at once, then one trial a second.
fn write_inputs(dir: &Path) {
    let (mut cases, mut recording) = (String::new(), String::new());
    for i in 0..CASES {
        writeln!(
            cases,
            r#"{{"id": "c{i}", "input": "q{i}", "target": "{}"}}"#,
            i % 3
        )
        .unwrap();
        writeln!(recording, r#"{{"case_id": "c{i}", "output": "{}"}}"#, i % 2).unwrap();
    }
    std::fs::write(dir.join("cases.jsonl"), cases).unwrap();
    std::fs::write(dir.join("rec.jsonl"), recording).unwrap();
    std::fs::write(
        dir.join("bench.toml"),
        "id = \"slow\"\nname = \"Slow\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("agents.toml"),
        "[[agent]]\nname = \"a\"\nprovider = \"replay\"\nmodel = \"m\"\nrecording = \"rec.jsonl\"\n\
         [agent.layers.rate_limit]\nrequests_per_minute = 60\n",
    )
    .unwrap();
}

fn options() -> WorkerOptions {
    WorkerOptions {
        idle_poll: Duration::from_millis(50),
        slots: 1,
        ..WorkerOptions::new("w-test")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_run_job_is_released_and_the_next_attempt_resumes_it_at_trial_level() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let store = Arc::new(SqliteStore::open(dir.path().join("r.db")).unwrap());
    let repo = Repository::new(store.clone()).unwrap();
    let mut payload = RunJob::from_files(
        &dir.path().join("bench.toml"),
        &dir.path().join("agents.toml"),
        &[],
    )
    .unwrap();
    payload.concurrency = 1;
    let cx = TenantContext::local_operator();
    let queue = Arc::new(OneJob::new(payload.to_new_job().unwrap(), cx.clone()));
    let run_id = queue.job.lock().unwrap().run_id.clone();
    let runner = Arc::new(BenchmarkRunner::new(repo));

    // First worker: drained two seconds into the run, mid-way through the rate-limited
    // trials.
    let shutdown = CancellationToken::new();
    let first = tokio::spawn(run_worker(
        queue.clone(),
        runner.clone(),
        options(),
        shutdown.clone(),
    ));
    let (tenant, started) = (TenantId::local(), std::time::Instant::now());
    while store.get_run(&tenant, &run_id).await.unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    shutdown.cancel();
    let report = first.await.unwrap();
    assert_eq!((report.claimed, report.released), (1, 1), "{report:?}");
    assert_eq!(queue.outcomes(), [JobOutcome::Released]);
    assert_eq!(queue.state(), JobState::Queued);
    assert_eq!(
        queue.job.lock().unwrap().attempts,
        0,
        "the attempt is given back"
    );
    let kept = store.completed_keys(&tenant, &run_id).await.unwrap().len();
    assert!(
        kept > 0 && kept < CASES,
        "drained mid-way: {kept} of {CASES}"
    );
    let run = store.get_run(&tenant, &run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);

    // Second worker: resumes the same run and finishes it.
    let shutdown = CancellationToken::new();
    let second = tokio::spawn(run_worker(
        queue.clone(),
        runner.clone(),
        options(),
        shutdown.clone(),
    ));
    let started = std::time::Instant::now();
    while queue.state() != JobState::Succeeded {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{:?}",
            queue.outcomes()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    let report = second.await.unwrap();
    assert_eq!((report.claimed, report.succeeded), (1, 1), "{report:?}");
    let run = store.get_run(&tenant, &run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    let keys = store.completed_keys(&tenant, &run_id).await.unwrap();
    assert_eq!(keys.len(), CASES);
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT case_id) FROM trials WHERE run_id = ?1",
            [&run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (rows as usize, distinct as usize),
        (CASES, CASES),
        "no trial twice"
    );
}

#[tokio::test]
async fn a_payload_of_another_version_fails_without_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("r.db")).unwrap());
    let runner = Arc::new(BenchmarkRunner::new(Repository::new(store).unwrap()));
    let job = NewJob::new(JobKind::Run, serde_json::json!({"version": 99}));
    let queue = Arc::new(OneJob::new(job, TenantContext::local_operator()));
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        runner,
        options(),
        shutdown.clone(),
    ));
    let started = std::time::Instant::now();
    while queue.outcomes().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
    match &queue.outcomes()[..] {
        [JobOutcome::Failed { error, remedy }] => {
            assert_eq!(*remedy, Remedy::FixInput);
            assert!(error.contains("version 99"), "{error}");
        }
        other => panic!("expected one failure, got {other:?}"),
    }
}
