//! Behaviours in time: a silent server times out, an absent one is a transport failure,
//! dropping a call aborts its request and closes its connection, and the executor waits
//! at least as long as a 429 asked before retrying.
//!
//! Each behaviour is named after what it checks.

#![allow(missing_docs, clippy::unwrap_used)]

use super::Endpoint;
use super::calls::{KEY, cx, endpoint, provider, serve, simple_request};
use super::server::{Script, closed_port, silent_server};
use super::vendors::Vendor;
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::executor::{AgentRuntime, Executor, RetryPolicy, RunOptions};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Outcome, Target, TenantContext, Visibility,
};
use tamma_bench_core::provider::ProviderErrorKind as K;
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::{MemoryStore, ResultStore};
use wiremock::ResponseTemplate;

pub async fn a_server_that_never_answers_times_out(v: &Vendor) {
    let stall = ResponseTemplate::new(200)
        .set_body_json((v.success)())
        .set_delay(Duration::from_secs(30));
    let server = serve(v, stall).await;
    let p = (v.build)(endpoint(v, &server.uri()).with_timeout(Duration::from_millis(300)));
    let started = Instant::now();
    let e = p
        .complete(&simple_request(v), &cx())
        .await
        .expect_err("no answer");
    assert_eq!(e.kind(), K::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up promptly"
    );
}

pub async fn an_unreachable_server_is_a_transport_failure(v: &Vendor) {
    let p = (v.build)(endpoint(v, &format!("http://{}", closed_port())));
    let e = p
        .complete(&simple_request(v), &cx())
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), K::Transport, "{e}");
    assert!(e.is_retryable());
    assert!(!e.message().contains(KEY));
}

pub async fn dropping_the_call_aborts_the_request(v: &Vendor) {
    let stall = ResponseTemplate::new(200)
        .set_body_json((v.success)())
        .set_delay(Duration::from_secs(60));
    let server = serve(v, stall).await;
    let p = provider(v, &server);
    let request = simple_request(v);
    let call = tokio::spawn(async move { p.complete(&request, &cx()).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.received_requests().await.map_or(0, |r| r.len()) == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dropped = Instant::now();
    call.abort();
    let joined = call.await;
    assert!(
        joined.is_err_and(|e| e.is_cancelled()),
        "the call was dropped"
    );
    assert!(dropped.elapsed() < Duration::from_secs(1));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

pub async fn dropping_the_call_closes_its_connection(v: &Vendor) {
    let silent = silent_server();
    let base = format!("http://{}{}", silent.addr, v.base_path);
    let p = (v.build)(Endpoint::new(base).with_api_key(KEY));
    let request = simple_request(v);
    let context = cx();
    let call = p.complete(&request, &context);
    // The executor's attempt timeout drops the call future just like this.
    let raced = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::select! {
            _ = call => panic!("the silent server answered"),
            arrived = silent.request_arrived => arrived.expect("the request arrived"),
        }
    })
    .await;
    assert!(raced.is_ok(), "the request reached the server");
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.closed)
        .await
        .expect("the server learns the fate of the connection within 5 s")
        .expect("the server reports");
    assert!(
        closed,
        "the connection was closed when the call was dropped"
    );
}

/// One case whose target is the vendor's success answer.
fn capitals() -> Benchmark {
    Benchmark {
        id: "capitals".into(),
        name: "Capitals".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases: vec![Case {
            id: "france".into(),
            input: CaseInput::Text("Capital of France?".into()),
            target: Target::One("Paris".into()),
            tags: vec![],
            cluster: None,
            metadata: Default::default(),
        }],
        scorers: vec![ScorerSpec::default_exact()],
        epochs: 1,
    }
}

pub async fn retry_after_is_honoured_by_the_executor(v: &Vendor) {
    let script = Script::new(vec![
        ResponseTemplate::new(429)
            .insert_header("retry-after", "1")
            .set_body_json((v.error)(429, "Rate limit reached")),
        ResponseTemplate::new(200).set_body_json((v.success)()),
    ]);
    let server = serve(v, script.clone()).await;
    let agent = AgentRuntime::new(AgentConfig::new("a", v.name, v.model), provider(v, &server));
    let options = RunOptions {
        run_id: Some("retry-after".into()),
        attempt_timeout: Duration::from_secs(10),
        // Backoff alone would wait at most 5 ms: only the advertised wait explains 1 s.
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        ..RunOptions::default()
    };
    let store = Arc::new(MemoryStore::new());
    let cx = TenantContext::local_operator();
    let report = Executor::new(store.clone())
        .run(&cx, &capitals(), vec![agent], options)
        .await
        .expect("the run");
    let arrivals = script.arrivals();
    assert_eq!(arrivals.len(), 2, "one 429, one success");
    let gap = arrivals[1] - arrivals[0];
    assert!(gap >= Duration::from_secs(1), "waited only {gap:?}");
    assert!(gap < Duration::from_secs(5), "waited {gap:?}");
    assert_eq!(report.summary.agents[0].n_scored, 1);
    let trials: Vec<_> = store.trials(&cx.tenant_id, "retry-after").collect().await;
    assert_eq!(trials.len(), 1);
    let trial = trials[0].as_ref().expect("a trial");
    assert_eq!(trial.attempts, 2);
    assert!(matches!(trial.outcome, Outcome::Scored { .. }));
    assert_eq!(trial.outcome.headline(), Some(1.0));
}
