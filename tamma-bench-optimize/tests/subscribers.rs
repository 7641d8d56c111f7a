//! The engine's subscribers: a study submitted when a benchmark with a rule completes, an
//! insight logged per completed run; both once per completion, whatever the redeliveries.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::subscribe::EventHandler;
use tamma_bench_core::events::{
    Event, EventFilter, EventLog, EventPayload, EventType, MemoryEventLog, NewEvent, Visibility,
};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Target, TenantContext, TenantId, now_ms,
};
use tamma_bench_core::provider::Provider;
use tamma_bench_core::queue::{
    Job, JobEvent, JobFilter, JobId, JobKind, JobOutcome, JobQueue, JobState, Lease, LeaseStatus,
    LiveConfig, NewJob, QueueError, QueueErrorKind, TierStats, tiers,
};
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::MemoryStore;
use tamma_bench_optimize::OptimizeError;
use tamma_bench_optimize::source::{RepositorySource, ResultSource};
use tamma_bench_optimize::subscribers::{InsightGenerator, StudyTrigger, TriggerRule};
use tamma_bench_privacy::Repository;
use tamma_bench_testkit::providers::ScriptedProvider;

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// A queue that keeps submitted jobs in memory (submit and list only), failing the next
/// submission when told to.
#[derive(Default)]
struct Submissions {
    config: LiveConfig,
    jobs: Mutex<Vec<Job>>,
    fail_next: AtomicBool,
}

impl Submissions {
    fn jobs(&self) -> Vec<Job> {
        self.jobs.lock().unwrap().clone()
    }
}

fn unused() -> QueueError {
    QueueError::invalid("not used by the trigger")
}

#[async_trait]
impl JobQueue for Submissions {
    fn live_config(&self) -> &LiveConfig {
        &self.config
    }
    async fn submit(&self, cx: &TenantContext, job: NewJob) -> Result<Job, QueueError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(QueueError::new(
                QueueErrorKind::Backend,
                "database is locked",
            ));
        }
        let id = JobId::generate();
        let job = Job {
            run_id: job.run_id.unwrap_or_else(|| id.to_string()),
            id,
            tenant_id: cx.tenant_id.clone(),
            context: cx.clone(),
            tier: job.tier.unwrap_or_else(|| tiers::INTERNAL.into()),
            priority: 100,
            kind: job.kind,
            payload: job.payload,
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
        self.jobs.lock().unwrap().push(job.clone());
        Ok(job)
    }
    async fn claim(&self, _: &str, _: Option<&[String]>) -> Result<Option<Lease>, QueueError> {
        Err(unused())
    }
    async fn heartbeat(&self, _: &Lease) -> Result<LeaseStatus, QueueError> {
        Err(unused())
    }
    async fn finish(&self, _: &Lease, _: JobOutcome) -> Result<Job, QueueError> {
        Err(unused())
    }
    async fn cancel(&self, _: &TenantContext, _: &JobId) -> Result<Job, QueueError> {
        Err(unused())
    }
    async fn get(&self, _: &TenantContext, _: &JobId) -> Result<Option<Job>, QueueError> {
        Err(unused())
    }
    async fn list(&self, cx: &TenantContext, _: &JobFilter) -> Result<Vec<Job>, QueueError> {
        let jobs = self.jobs.lock().unwrap();
        Ok(jobs
            .iter()
            .filter(|j| j.tenant_id == cx.tenant_id)
            .cloned()
            .collect())
    }
    async fn history(&self, _: &TenantContext, _: &JobId) -> Result<Vec<JobEvent>, QueueError> {
        Err(unused())
    }
    async fn stats(&self) -> Result<Vec<TierStats>, QueueError> {
        Err(unused())
    }
    async fn wait_for_work(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }
}

fn completed(tenant_id: &str, benchmark: &str, run: &str) -> NewEvent {
    NewEvent::new(
        Some(tenant(tenant_id)),
        EventPayload::BenchmarkCompleted {
            run_id: run.into(),
            benchmark_id: benchmark.into(),
            benchmark_version: "1".into(),
            public: false,
        },
    )
}

async fn logged_of(log: &MemoryEventLog, t: EventType) -> Vec<Event> {
    let filter = EventFilter {
        types: vec![t],
        tenant: None,
    };
    log.read(0, &filter, 1000).await.unwrap()
}

#[tokio::test]
async fn a_completion_with_a_rule_submits_one_study_and_logs_it_whatever_the_redeliveries() {
    let log = Arc::new(MemoryEventLog::new());
    let completions = log
        .append(vec![
            completed("acme", "b", "r1"),
            completed("acme", "other", "r2"),
            completed("zed", "b", "r9"),
        ])
        .await
        .unwrap();
    let queue = Arc::new(Submissions::default());
    let payload = serde_json::json!({"space": "spaces/b.toml", "budget_usd": 5});
    let trigger = StudyTrigger::new(
        queue.clone(),
        log.clone(),
        vec![TriggerRule {
            benchmark_id: "b".into(),
            payload: payload.clone(),
            tier: None,
        }],
    );
    // The first submission fails: the page is not committed and comes again.
    queue.fail_next.store(true, Ordering::SeqCst);
    let subscription = trigger.subscription().unwrap();
    let err = subscription.catch_up(&trigger).await.unwrap_err();
    assert_eq!(err.remedy(), Remedy::Retry, "{err}");
    assert_eq!(log.offset(StudyTrigger::CONSUMER).await.unwrap(), 0);
    subscription.catch_up(&trigger).await.unwrap();
    assert_eq!(log.offset(StudyTrigger::CONSUMER).await.unwrap(), 3);

    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 2, "one study per completion of b: {jobs:?}");
    for (job, event) in jobs.iter().zip([&completions[0], &completions[2]]) {
        assert_eq!(job.kind, JobKind::Study);
        assert_eq!(job.payload, payload);
        assert_eq!(Some(&job.tenant_id), event.tenant_id.as_ref());
        assert!(job.context.is_internal());
        assert_eq!(job.run_id, StudyTrigger::study_id(event));
    }
    let triggered = logged_of(&log, EventType::OptimizationTriggered).await;
    assert_eq!(triggered.len(), 2);
    for (e, job) in triggered.iter().zip(&jobs) {
        assert_eq!(e.visibility, Visibility::Internal);
        assert_eq!(e.tenant_id.as_ref(), Some(&job.tenant_id));
        let EventPayload::OptimizationTriggered {
            study_id,
            benchmark_id,
            reason,
        } = &e.payload
        else {
            panic!("{e:?}")
        };
        assert_eq!((study_id, benchmark_id.as_str()), (&job.run_id, "b"));
        assert!(reason.contains("completed"), "{reason}");
    }

    // Delivered again (a crash before the commit): nothing new in the queue or the log.
    for e in &completions {
        trigger.handle(e).await.unwrap();
    }
    assert_eq!(queue.jobs().len(), 2);
    assert_eq!(
        logged_of(&log, EventType::OptimizationTriggered)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn a_study_submitted_before_a_crash_is_not_submitted_again_and_its_event_is_logged() {
    let log = Arc::new(MemoryEventLog::new());
    let event = log
        .append(vec![completed("acme", "b", "r1")])
        .await
        .unwrap()
        .remove(0);
    let queue = Arc::new(Submissions::default());
    // The previous process submitted the study, then died before logging it.
    let cx = TenantContext::internal(tenant("acme"), StudyTrigger::CONSUMER);
    let job = NewJob {
        run_id: Some(StudyTrigger::study_id(&event)),
        ..NewJob::new(JobKind::Study, serde_json::Value::Null)
    };
    queue.submit(&cx, job).await.unwrap();
    let rule = TriggerRule {
        benchmark_id: "b".into(),
        payload: serde_json::Value::Null,
        tier: Some(tiers::INTERNAL.into()),
    };
    let trigger = StudyTrigger::new(queue.clone(), log.clone(), vec![rule]);
    trigger
        .subscription()
        .unwrap()
        .catch_up(&trigger)
        .await
        .unwrap();
    assert_eq!(queue.jobs().len(), 1);
    assert_eq!(
        logged_of(&log, EventType::OptimizationTriggered)
            .await
            .len(),
        1
    );
}

/// Cases `c00`..`c09` tagged `easy`, `c10`..`c19` tagged `hard`.
fn benchmark() -> Benchmark {
    let cases = (0..20)
        .map(|i| Case {
            id: format!("c{i:02}"),
            input: CaseInput::Text(format!("case {i}")),
            target: Target::One("yes".into()),
            tags: vec![if i < 10 { "easy" } else { "hard" }.into()],
            cluster: None,
            metadata: Default::default(),
        })
        .collect();
    Benchmark {
        id: "b".into(),
        name: "B".into(),
        version: "1".into(),
        description: String::new(),
        visibility: tamma_bench_core::model::Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases,
        scorers: vec![ScorerSpec::default_exact()],
        epochs: 1,
    }
}

/// A run of agent `a` answering right on the cases below `right_up_to` (by number).
async fn run(store: Arc<MemoryStore>, cx: &TenantContext, run_id: &str, right_up_to: usize) {
    let provider = ScriptedProvider::from_fn(move |_, call| {
        let n: usize = call.case_id[1..].parse().unwrap();
        Ok(if n < right_up_to { "yes" } else { "no" }.into())
    });
    let agent = AgentRuntime::new(
        AgentConfig::new("a", "inproc", "m"),
        Arc::new(provider) as Arc<dyn Provider>,
    );
    let options = RunOptions {
        run_id: Some(run_id.into()),
        ..RunOptions::default()
    };
    Executor::new(store)
        .run(cx, &benchmark(), vec![agent], options)
        .await
        .unwrap();
}

fn insight_text(e: &Event) -> (&str, &str) {
    match &e.payload {
        EventPayload::InsightGenerated { run_id, text } => (run_id, text),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn each_completed_run_gets_an_insight_with_its_weakest_tag_and_its_change() {
    let log = Arc::new(MemoryEventLog::new());
    let store = Arc::new(MemoryStore::with_events(log.clone()));
    let cx = TenantContext::internal(tenant("acme"), "runner");
    // r1: every easy case and eight of the ten hard ones; r2: the easy ones only.
    run(store.clone(), &cx, "r1", 18).await;
    run(store.clone(), &cx, "r2", 10).await;
    let completions = logged_of(&log, EventType::BenchmarkCompleted).await;
    assert_eq!(completions.len(), 2);

    let repo = Repository::new(store.clone()).unwrap();
    let sources = move |t: &TenantId| -> Result<Arc<dyn ResultSource>, OptimizeError> {
        let cx = TenantContext::internal(t.clone(), InsightGenerator::CONSUMER);
        Ok(Arc::new(RepositorySource::for_context(repo.clone(), cx)?))
    };
    let generator = InsightGenerator::new(Arc::new(sources), log.clone());
    let stats = generator
        .subscription()
        .unwrap()
        .catch_up(&generator)
        .await
        .unwrap();
    assert_eq!(stats.delivered, 2);

    let insights = logged_of(&log, EventType::InsightGenerated).await;
    assert_eq!(insights.len(), 2);
    for e in &insights {
        assert_eq!(e.visibility, Visibility::Internal);
        assert_eq!(e.tenant_id, Some(tenant("acme")));
    }
    let (run1, first) = insight_text(&insights[0]);
    assert_eq!(run1, "r1");
    assert!(first.contains("mean 90.0% over 20 scored cases"), "{first}");
    assert!(first.contains("weakest tag \"hard\": 80.0%"), "{first}");
    assert!(
        !first.contains("since run"),
        "r1 has no predecessor: {first}"
    );
    let (run2, second) = insight_text(&insights[1]);
    assert_eq!(run2, "r2");
    assert!(second.contains("mean 50.0%"), "{second}");
    assert!(second.contains("since run r1: -40.0 points"), "{second}");
    assert!(second.contains("a significant drop"), "{second}");

    // Delivered again: the log keeps one insight per run and agent.
    for e in &completions {
        generator.handle(e).await.unwrap();
    }
    assert_eq!(logged_of(&log, EventType::InsightGenerated).await.len(), 2);
}

#[tokio::test]
async fn a_studys_own_rounds_trigger_no_study() {
    let log = Arc::new(MemoryEventLog::new());
    log.append(vec![
        completed("acme", "b", "study-0123abcd-r0001-g00"),
        completed("acme", "b", "study-0123abcd-r0002-g01"),
    ])
    .await
    .unwrap();
    let queue = Arc::new(Submissions::default());
    let trigger = StudyTrigger::new(
        queue.clone(),
        log.clone(),
        vec![TriggerRule {
            benchmark_id: "b".into(),
            payload: serde_json::json!({}),
            tier: None,
        }],
    );
    trigger
        .subscription()
        .unwrap()
        .catch_up(&trigger)
        .await
        .unwrap();
    assert!(queue.jobs().is_empty(), "{:?}", queue.jobs());
    assert!(
        logged_of(&log, EventType::OptimizationTriggered)
            .await
            .is_empty()
    );
    assert_eq!(log.offset(StudyTrigger::CONSUMER).await.unwrap(), 2);
}
