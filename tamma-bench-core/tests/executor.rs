//! Behaviour of the executor: plans, retries, timeouts, budget, cancellation, resume.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tamma_bench_core::executor::{
    AgentRuntime, Executor, RetryPolicy, RunError, RunEvent, RunOptions,
};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Message, Outcome, Role, RunStatus, Target,
    TenantContext, ToolCall, Visibility,
};
use tamma_bench_core::provider::{
    CallContext, Capabilities, Capability, Completion, CompletionRequest, Provider, ProviderError,
    ProviderErrorKind,
};
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::{MemoryStore, ResultStore, StoreErrorKind};
use tamma_bench_testkit::providers::ScriptedProvider;

/// A provider whose answer is a function of the call, after `delay`, reporting 10 input
/// and 2 output tokens; it records its calls and the peak number in flight.
fn scripted(
    delay: Duration,
    f: impl Fn(&CallContext) -> Result<String, ProviderError> + Send + Sync + 'static,
) -> Arc<ScriptedProvider> {
    let p = ScriptedProvider::from_fn(move |_, cx| f(cx)).named("scripted");
    Arc::new(p.with_delay(delay).with_usage(10, 2))
}

/// Answers the case id's last character, so `target` decides pass or fail.
fn echo(delay: Duration) -> Arc<ScriptedProvider> {
    scripted(delay, |cx| {
        Ok(cx
            .case_id
            .chars()
            .last()
            .map(String::from)
            .unwrap_or_default())
    })
}

fn case(id: &str, target: &str, cluster: Option<&str>) -> Case {
    Case {
        id: id.into(),
        input: CaseInput::Text(format!("question {id}")),
        target: Target::One(target.into()),
        tags: vec![],
        cluster: cluster.map(Into::into),
        metadata: Default::default(),
    }
}

/// `n` cases `c0..`, each targeting the last digit of its id (which the echo provider answers).
fn benchmark(n: usize) -> Benchmark {
    Benchmark {
        id: "b".into(),
        name: "B".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: Some("Be brief.".into()),
        prompt: "Q: {{input}}".into(),
        cases: (0..n)
            .map(|i| case(&format!("c{i}"), &(i % 10).to_string(), None))
            .collect(),
        scorers: vec![ScorerSpec::default_exact()],
        epochs: 1,
    }
}

fn agent(name: &str, provider: Arc<ScriptedProvider>) -> AgentRuntime {
    AgentRuntime::new(AgentConfig::new(name, "scripted", "m"), provider)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

fn cx() -> TenantContext {
    TenantContext::local_operator()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_every_agent_case_epoch_once_and_summarizes() {
    let store = Arc::new(MemoryStore::new());
    let (p1, p2) = (
        echo(Duration::ZERO),
        scripted(Duration::ZERO, |_| Ok("wrong".into())),
    );
    let opts = RunOptions {
        epochs: Some(3),
        run_id: Some("r".into()),
        ..Default::default()
    };
    let report = Executor::new(store.clone())
        .run(
            &cx(),
            &benchmark(20),
            vec![agent("good", p1.clone()), agent("bad", p2)],
            opts,
        )
        .await
        .unwrap();
    assert_eq!(report.run.status, RunStatus::Completed);
    assert_eq!(report.written, 2 * 20 * 3);
    assert_eq!(p1.calls(), 60);
    let good = &report.summary.agents[0];
    assert_eq!(
        (
            good.name.as_str(),
            good.n_cases,
            good.n_trials,
            good.n_scored
        ),
        ("good", 20, 60, 60)
    );
    assert_eq!(good.score.mean, 1.0, "echo answers every target");
    assert_eq!(good.score.k, 3);
    assert_eq!(good.tokens.input, 600);
    let reducers: Vec<_> = good
        .reducers
        .iter()
        .map(|r| (r.reducer.as_str(), r.score.mean))
        .collect();
    assert_eq!(
        reducers,
        vec![
            ("max", 1.0),
            ("majority", 1.0),
            ("pass@1", 1.0),
            ("pass@3", 1.0),
            ("pass^3", 1.0)
        ]
    );
    let bad = &report.summary.agents[1];
    assert_eq!(bad.score.mean, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_globally_and_per_agent() {
    let store = Arc::new(MemoryStore::new());
    let p = echo(Duration::from_millis(5));
    let opts = RunOptions {
        concurrency: 4,
        ..Default::default()
    };
    Executor::new(store.clone())
        .run(&cx(), &benchmark(40), vec![agent("a", p.clone())], opts)
        .await
        .unwrap();
    assert_eq!(
        p.max_in_flight(),
        4,
        "the global cap is reached and never passed"
    );

    let p = echo(Duration::from_millis(5));
    let mut capped = agent("a", p.clone());
    capped.config.concurrency = Some(2);
    Executor::new(store)
        .run(
            &cx(),
            &benchmark(20),
            vec![capped],
            RunOptions {
                concurrency: 8,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        p.max_in_flight(),
        2,
        "an agent's own cap narrows the global one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_are_retried_and_honour_retry_after() {
    let store = Arc::new(MemoryStore::new());
    let tries = Arc::new(AtomicU32::new(0));
    let t = tries.clone();
    let p = scripted(Duration::ZERO, move |cx| {
        t.fetch_add(1, Ordering::SeqCst);
        if cx.attempt < 3 {
            Err(ProviderError::new(ProviderErrorKind::RateLimited, "429")
                .with_retry_after(Some(Duration::from_millis(40))))
        } else {
            Ok("0".into())
        }
    });
    let opts = RunOptions {
        retry: RetryPolicy {
            max_attempts: 5,
            ..fast_retry()
        },
        ..Default::default()
    };
    let report = Executor::new(store.clone())
        .run(&cx(), &benchmark(1), vec![agent("a", p.clone())], opts)
        .await
        .unwrap();
    assert_eq!(tries.load(Ordering::SeqCst), 3);
    assert_eq!(report.summary.agents[0].n_scored, 1);
    let seen = p.arrivals();
    for pair in seen.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(40),
            "waited at least the advertised retry-after"
        );
    }
    let trials: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(store.trials(&cx().tenant_id, &report.run.id))
            .await
            .unwrap();
    assert_eq!(trials[0].attempts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_after_the_last_attempt_are_infra_failures_excluded_from_the_score() {
    let store = Arc::new(MemoryStore::new());
    // Case c3 always answers 503; c4 gets a non-retryable auth error; the rest pass.
    let p = scripted(Duration::ZERO, |cx| match cx.case_id.as_str() {
        "c3" => Err(ProviderError::new(ProviderErrorKind::Unavailable, "503")),
        "c4" => Err(ProviderError::new(ProviderErrorKind::Auth, "401")),
        id => Ok(id[1..].to_owned()),
    });
    let opts = RunOptions {
        retry: fast_retry(),
        ..Default::default()
    };
    let report = Executor::new(store.clone())
        .run(&cx(), &benchmark(10), vec![agent("a", p.clone())], opts)
        .await
        .unwrap();
    let s = &report.summary.agents[0];
    assert_eq!(
        (s.n_trials, s.n_scored, s.n_infra_failures, s.n_cases),
        (10, 8, 2, 8)
    );
    assert_eq!(
        s.score.mean, 1.0,
        "infrastructure failures do not count as wrong answers"
    );
    let trials: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(store.trials(&cx().tenant_id, &report.run.id))
            .await
            .unwrap();
    let by_case = |id: &str| trials.iter().find(|t| t.key.case_id == id).unwrap().clone();
    assert!(matches!(
        by_case("c3").outcome,
        Outcome::InfraFailure {
            error: ProviderErrorKind::Unavailable,
            ..
        }
    ));
    assert_eq!(by_case("c3").attempts, 3, "retried up to max_attempts");
    assert!(matches!(
        by_case("c4").outcome,
        Outcome::InfraFailure {
            error: ProviderErrorKind::Auth,
            ..
        }
    ));
    assert_eq!(by_case("c4").attempts, 1, "auth errors are not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_call_ends_as_a_timeout() {
    let store = Arc::new(MemoryStore::new());
    let p = echo(Duration::from_secs(3600));
    let opts = RunOptions {
        attempt_timeout: Duration::from_millis(30),
        retry: RetryPolicy::none(),
        ..Default::default()
    };
    let report = Executor::new(store)
        .run(&cx(), &benchmark(2), vec![agent("a", p)], opts)
        .await
        .unwrap();
    assert_eq!(report.summary.agents[0].n_infra_failures, 2);
    assert_eq!(report.run.status, RunStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_stops_scheduling_before_it_is_exceeded() {
    let store = Arc::new(MemoryStore::new());
    let p = echo(Duration::ZERO);
    let mut a = agent("a", p.clone());
    // Worst case per trial: (input estimate + 10 output tokens) at $1,000 / Mtok each way.
    a.config.price_per_mtok_input = Some(1000.0);
    a.config.price_per_mtok_output = Some(1000.0);
    a.config.max_tokens = Some(10);
    let opts = RunOptions {
        budget_usd: Some(0.5),
        concurrency: 1,
        ..Default::default()
    };
    let report = Executor::new(store)
        .run(&cx(), &benchmark(100), vec![a], opts)
        .await
        .unwrap();
    assert_eq!(report.run.status, RunStatus::BudgetExhausted);
    let s = &report.summary.agents[0];
    assert!(
        s.n_trials > 0 && s.n_trials < 100,
        "some but not all trials ran: {}",
        s.n_trials
    );
    assert!(s.cost_usd <= 0.5, "spent {} of 0.5", s.cost_usd);
    assert_eq!(
        p.calls() as u64,
        s.n_trials,
        "nothing was called beyond what was stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_writes_in_flight_trials_and_resume_completes_without_duplicates() {
    let store: Arc<dyn ResultStore> = Arc::new(MemoryStore::new());
    let p = echo(Duration::from_millis(2));
    let executor = Executor::new(store.clone());
    let mut events = executor.subscribe();
    let opts = RunOptions {
        run_id: Some("r".into()),
        concurrency: 4,
        batch_size: 7,
        ..Default::default()
    };
    let cancel = opts.cancel.clone();
    let watcher = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if let RunEvent::TrialCompleted { done: 50, .. } = e {
                cancel.cancel();
            }
        }
    });
    let first = executor
        .run(&cx(), &benchmark(200), vec![agent("a", p.clone())], opts)
        .await
        .unwrap();
    watcher.abort();
    assert_eq!(first.run.status, RunStatus::Interrupted);
    let stored_after_cancel = first.summary.agents[0].n_trials;
    assert!(
        (50..200).contains(&stored_after_cancel),
        "in-flight trials were written: {stored_after_cancel}"
    );
    assert_eq!(
        p.calls() as u64,
        stored_after_cancel,
        "every call that finished was stored"
    );

    let second = executor
        .run(
            &cx(),
            &benchmark(200),
            vec![agent("a", p.clone())],
            RunOptions {
                run_id: Some("r".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.run.status, RunStatus::Completed);
    assert_eq!(second.skipped, stored_after_cancel);
    assert_eq!(
        second.written,
        200 - stored_after_cancel,
        "only the missing trials ran"
    );
    assert_eq!(second.summary.agents[0].n_trials, 200);
    assert_eq!(p.calls(), 200, "no trial was executed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_id_reused_with_other_agents_is_refused() {
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(store);
    let opts = || RunOptions {
        run_id: Some("r".into()),
        ..Default::default()
    };
    executor
        .run(
            &cx(),
            &benchmark(3),
            vec![agent("a", echo(Duration::ZERO))],
            opts(),
        )
        .await
        .unwrap();
    let mut changed = agent("a", echo(Duration::ZERO));
    changed.config.temperature = Some(0.7);
    let err = executor
        .run(&cx(), &benchmark(3), vec![changed], opts())
        .await
        .unwrap_err();
    match err {
        tamma_bench_core::executor::RunError::Store(e) => {
            assert_eq!(e.kind(), StoreErrorKind::FingerprintMismatch)
        }
        other => panic!("expected a fingerprint mismatch, got {other}"),
    }
    let mut other_version = benchmark(3);
    other_version.version = "2".into();
    let err = executor
        .run(
            &cx(),
            &other_version,
            vec![agent("a", echo(Duration::ZERO))],
            opts(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"r\""), "names the run: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_announce_start_every_trial_and_the_end() {
    let executor = Executor::new(Arc::new(MemoryStore::new()));
    let mut rx = executor.subscribe();
    executor
        .run(
            &cx(),
            &benchmark(5),
            vec![agent("a", echo(Duration::ZERO))],
            RunOptions::default(),
        )
        .await
        .unwrap();
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert!(matches!(
        events.first(),
        Some(RunEvent::RunStarted {
            planned: 5,
            already_done: 0,
            ..
        })
    ));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, RunEvent::TrialCompleted { .. }))
            .count(),
        5
    );
    assert!(matches!(
        events.last(),
        Some(RunEvent::RunFinished {
            status: RunStatus::Completed,
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scorer_is_recorded_as_a_scorer_error() {
    let mut b = benchmark(3);
    b.scorers = vec![ScorerSpec::Numeric {
        abs_tol: None,
        rel_tol: None,
        pattern: None,
    }];
    b.cases[1].target = Target::One("not a number".into());
    let report = Executor::new(Arc::new(MemoryStore::new()))
        .run(
            &cx(),
            &b,
            vec![agent("a", echo(Duration::ZERO))],
            RunOptions::default(),
        )
        .await
        .unwrap();
    let s = &report.summary.agents[0];
    assert_eq!((s.n_scored, s.n_scorer_errors, s.n_cases), (2, 1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clustered_cases_get_a_clustered_interval() {
    let mut b = benchmark(30);
    for (i, c) in b.cases.iter_mut().enumerate() {
        c.cluster = Some(format!("g{}", i % 5));
    }
    let report = Executor::new(Arc::new(MemoryStore::new()))
        .run(
            &cx(),
            &b,
            vec![agent("a", echo(Duration::ZERO))],
            RunOptions::default(),
        )
        .await
        .unwrap();
    let e = &report.summary.agents[0].score;
    assert_eq!(e.method, tamma_bench_core::stats::Method::Clustered);
    assert_eq!(e.n_clusters, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_other_pacing_or_caching_is_allowed() {
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(store);
    let opts = || RunOptions {
        run_id: Some("r".into()),
        ..Default::default()
    };
    let mut first = agent("a", echo(Duration::ZERO));
    first.config.concurrency = Some(2);
    executor
        .run(&cx(), &benchmark(3), vec![first], opts())
        .await
        .unwrap();
    let mut second = agent("a", echo(Duration::ZERO));
    second.config.layers.timeout_ms = Some(5_000);
    let report = executor
        .run(&cx(), &benchmark(3), vec![second], opts())
        .await
        .unwrap();
    assert_eq!((report.skipped, report.written), (3, 0));
}

/// A provider that claims `caps` and answers like the echo provider.
struct Claiming {
    inner: Arc<ScriptedProvider>,
    caps: Capabilities,
}

#[async_trait]
impl Provider for Claiming {
    fn name(&self) -> &str {
        "claiming"
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn complete(
        &self,
        r: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        self.inner.complete(r, cx).await
    }
}

/// A benchmark whose one case replays a conversation with a tool call.
fn tool_benchmark() -> Benchmark {
    let call = ToolCall {
        id: "call_1".into(),
        name: "weather".into(),
        arguments: serde_json::json!({"city": "Paris"}),
    };
    let mut b = benchmark(1);
    b.cases[0].input = CaseInput::Chat(vec![
        Message::new(Role::User, "weather in Paris?"),
        Message::assistant_calling("", vec![call]),
        Message::tool_result("call_1", "21"),
    ]);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_needing_what_a_provider_lacks_is_refused_before_any_call() {
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(store.clone());
    let p = echo(Duration::ZERO);

    let mut seeded = AgentConfig::new("seeded", "scripted", "m");
    seeded.seed = Some(7);
    let e = executor
        .run(
            &cx(),
            &benchmark(2),
            vec![AgentRuntime::new(seeded.clone(), p.clone())],
            RunOptions::default(),
        )
        .await
        .expect_err("no seed support");
    assert!(
        matches!(&e, RunError::Unsupported { agent, capability: Capability::Seed, .. } if agent == "seeded"),
        "{e}"
    );
    assert!(
        e.to_string().contains("seeded") && e.to_string().contains("seed"),
        "{e}"
    );

    let e = executor
        .run(
            &cx(),
            &tool_benchmark(),
            vec![agent("plain", p.clone())],
            RunOptions::default(),
        )
        .await
        .expect_err("no tool support");
    assert!(
        matches!(
            &e,
            RunError::Unsupported {
                capability: Capability::Tools,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(p.calls(), 0, "refused before any call");
    assert!(
        store.list_runs(&cx().tenant_id).await.unwrap().is_empty(),
        "no run was begun"
    );

    // A provider that claims both runs the same benchmark.
    let capable = Arc::new(Claiming {
        inner: p.clone(),
        caps: Capabilities::default()
            .with(Capability::Seed)
            .with(Capability::Tools),
    });
    let report = executor
        .run(
            &cx(),
            &tool_benchmark(),
            vec![AgentRuntime::new(seeded, capable)],
            RunOptions::default(),
        )
        .await
        .expect("supported");
    assert_eq!(report.summary.agents[0].n_trials, 1);
    assert_eq!(p.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_of_duration_max_are_no_limit_rather_than_a_panic() {
    let store = Arc::new(MemoryStore::new());
    let p = echo(Duration::from_millis(1));
    let opts = RunOptions {
        attempt_timeout: Duration::MAX,
        trial_timeout: Duration::MAX,
        ..Default::default()
    };
    let report = Executor::new(store)
        .run(&cx(), &benchmark(3), vec![agent("a", p)], opts)
        .await
        .unwrap();
    assert_eq!(report.summary.agents[0].n_scored, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advertised_wait_of_centuries_gives_up_at_the_trial_deadline_without_panicking() {
    let store = Arc::new(MemoryStore::new());
    let centuries = Duration::from_secs(u64::MAX);
    let p = scripted(Duration::ZERO, move |_| {
        Err(ProviderError::new(ProviderErrorKind::RateLimited, "429")
            .with_retry_after(Some(centuries)))
    });
    let opts = RunOptions {
        run_id: Some("r".into()),
        trial_timeout: Duration::from_secs(5),
        retry: fast_retry(),
        ..Default::default()
    };
    let started = Instant::now();
    Executor::new(store.clone())
        .run(&cx(), &benchmark(1), vec![agent("a", p.clone())], opts)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up at once"
    );
    let trials = trials_of(&store, "r").await;
    assert_eq!(
        trials[0].attempts, 1,
        "no retry could start before the deadline"
    );
    assert!(matches!(
        trials[0].outcome,
        Outcome::InfraFailure {
            error: ProviderErrorKind::RateLimited,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_waiting_to_retry_is_left_unwritten_when_the_run_is_cancelled() {
    let store = Arc::new(MemoryStore::new());
    // With no deadline, the wait is the clamped maximum: an hour, cut by the cancel.
    let p = scripted(Duration::ZERO, |_| {
        Err(ProviderError::new(ProviderErrorKind::RateLimited, "429")
            .with_retry_after(Some(Duration::MAX)))
    });
    let opts = RunOptions {
        run_id: Some("r".into()),
        trial_timeout: Duration::MAX,
        retry: fast_retry(),
        ..Default::default()
    };
    let cancel = opts.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let report = Executor::new(store.clone())
        .run(&cx(), &benchmark(1), vec![agent("a", p.clone())], opts)
        .await
        .unwrap();
    assert_eq!(report.run.status, RunStatus::Interrupted);
    assert_eq!(p.calls(), 1);
    assert!(
        trials_of(&store, "r").await.is_empty(),
        "left for the resumed run"
    );
}

async fn trials_of(store: &MemoryStore, run: &str) -> Vec<tamma_bench_core::model::Trial> {
    futures::TryStreamExt::try_collect::<Vec<_>>(store.trials(&cx().tenant_id, run))
        .await
        .unwrap()
}
