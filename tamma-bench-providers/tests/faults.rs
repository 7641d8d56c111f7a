//! Faults lose nothing: 2,000 trials (1,000 cases × 2 epochs) run through the
//! OpenAI-compatible provider and the core executor against a loopback server that
//! answers about 30% of requests with a 429, a 500, a malformed body or a stall. Every
//! trial ends exactly once, scored or as an infrastructure failure after its last
//! attempt, and the store reconciles with the server's log request by request.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tamma_bench_core::executor::{AgentRuntime, Executor, RetryPolicy, RunOptions};
use tamma_bench_core::model::{
    AgentConfig, Benchmark, Case, CaseInput, Outcome, Target, TenantContext, Visibility,
};
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ProviderErrorKind,
};
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::{MemoryStore, ResultStore};
use tamma_bench_providers::http::{HttpConfig, OpenAiProvider};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CASES: usize = 1_000;
const EPOCHS: u32 = 2;
const SEED: u64 = 0x7a33_ba5e;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
const STALL: Duration = Duration::from_secs(3);

/// What the server answered one request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Served {
    Answer,
    RateLimited,
    ServerError,
    Malformed,
    Stall,
}

impl Served {
    /// 7.5% each of the four faults, seeded by the trial and the request's rank in it,
    /// so the run is the same whatever order requests arrive in.
    fn draw(case: &str, epoch: u32, rank: usize) -> Self {
        let mut h = SEED ^ 0xcbf2_9ce4_8422_2325;
        for b in case
            .bytes()
            .chain(epoch.to_le_bytes())
            .chain(rank.to_le_bytes())
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        match splitmix(h) % 1000 {
            0..75 => Self::RateLimited,
            75..150 => Self::ServerError,
            150..225 => Self::Malformed,
            225..300 => Self::Stall,
            _ => Self::Answer,
        }
    }

    /// The error kind a trial ends with when this was its last response.
    fn final_kind(self) -> Option<ProviderErrorKind> {
        match self {
            Self::Answer => None,
            Self::RateLimited => Some(ProviderErrorKind::RateLimited),
            Self::ServerError => Some(ProviderErrorKind::Unavailable),
            Self::Malformed => Some(ProviderErrorKind::Decode),
            Self::Stall => Some(ProviderErrorKind::Timeout),
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

type Log = HashMap<(String, u32), Vec<Served>>;

/// Speaks OpenAI chat completions, faulty on purpose, and logs every request by the case
/// and epoch named in its prompt (`case c0042 [epoch 1]`).
#[derive(Clone, Default)]
struct FaultyServer {
    log: Arc<Mutex<Log>>,
    unidentified: Arc<Mutex<Vec<String>>>,
}

fn identify(body: &[u8]) -> Option<(String, u32)> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let prompt = body["messages"].as_array()?.last()?["content"].as_str()?;
    let rest = prompt.strip_prefix("case ")?;
    let (case, epoch) = rest.split_once(" [epoch ")?;
    Some((case.to_owned(), epoch.strip_suffix(']')?.parse().ok()?))
}

impl Respond for FaultyServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Some((case, epoch)) = identify(&request.body) else {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            self.unidentified.lock().expect("log").push(body);
            return ResponseTemplate::new(400);
        };
        let served = {
            let mut log = self.log.lock().expect("log");
            let trial = log.entry((case.clone(), epoch)).or_default();
            let served = Served::draw(&case, epoch, trial.len());
            trial.push(served);
            served
        };
        let error = |status, message: &str| {
            ResponseTemplate::new(status).set_body_json(json!({"error": {"message": message,
                "type": "server_error", "param": null, "code": null}}))
        };
        let answer = || {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "chatcmpl-f", "object": "chat.completion", "created": 1741569952,
                "model": "m", "choices": [{"index": 0, "message": {"role": "assistant",
                    "content": format!("ok-{case}")}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}))
        };
        match served {
            Served::Answer => answer(),
            Served::RateLimited if epoch == 0 => {
                error(429, "Rate limit reached").insert_header("retry-after", "0")
            }
            Served::RateLimited => {
                error(429, "Rate limit reached").insert_header("retry-after-ms", "5")
            }
            Served::ServerError => error(500, "The server had an error"),
            Served::Malformed => ResponseTemplate::new(200).set_body_raw(
                r#"{"id": "chatcmpl-f", "choices": [{"index": 0, "mess"#,
                "application/json",
            ),
            Served::Stall => answer().set_delay(STALL),
        }
    }
}

/// Appends the epoch to the prompt, so the server can tell the epochs of a case apart.
struct EpochTag(Arc<dyn Provider>);

#[async_trait]
impl Provider for EpochTag {
    fn name(&self) -> &str {
        self.0.name()
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let mut request = request.clone();
        if let Some(last) = request.messages.last_mut() {
            last.content.push_str(&format!(" [epoch {}]", cx.epoch));
        }
        self.0.complete(&request, cx).await
    }
}

fn benchmark() -> Benchmark {
    let case = |i: usize| Case {
        id: format!("c{i:04}"),
        input: CaseInput::Text(format!("c{i:04}")),
        target: Target::One(format!("ok-c{i:04}")),
        tags: vec![],
        cluster: None,
        metadata: Default::default(),
    };
    Benchmark {
        id: "faults".into(),
        name: "Faults".into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "case {{input}}".into(),
        cases: (0..CASES).map(case).collect(),
        scorers: vec![ScorerSpec::default_exact()],
        epochs: EPOCHS,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_nothing_and_reconcile_with_the_server_log() {
    let server = MockServer::start().await;
    let faulty = FaultyServer::default();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(faulty.clone())
        .mount(&server)
        .await;
    let config = HttpConfig::new(format!("{}/v1", server.uri())).with_timeout(STALL * 10);
    let openai = OpenAiProvider::new(config).expect("provider");
    let agent = AgentRuntime::new(
        AgentConfig::new("local", "openai", "m"),
        Arc::new(EpochTag(Arc::new(openai))),
    );
    let options = RunOptions {
        run_id: Some("faults".into()),
        concurrency: 32,
        attempt_timeout: ATTEMPT_TIMEOUT,
        trial_timeout: Duration::from_secs(60),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
        },
        ..RunOptions::default()
    };
    let store = Arc::new(MemoryStore::new());
    let cx = TenantContext::local_operator();
    let started = Instant::now();
    let report = Executor::new(store.clone())
        .run(&cx, &benchmark(), vec![agent], options)
        .await
        .expect("the run");
    let elapsed = started.elapsed();

    let trials: Vec<_> = store
        .trials(&cx.tenant_id, "faults")
        .map(|t| t.expect("a stored trial"))
        .collect()
        .await;
    let log = faulty.log.lock().expect("log").clone();
    assert!(faulty.unidentified.lock().expect("log").is_empty());

    // Every (case, epoch) ends exactly once.
    let total = CASES * EPOCHS as usize;
    let keys: HashSet<(String, u32)> = trials
        .iter()
        .map(|t| (t.key.case_id.clone(), t.key.epoch))
        .collect();
    assert_eq!(trials.len(), total, "one record per trial");
    assert_eq!(keys.len(), total, "no trial duplicated");
    assert_eq!(log.len(), total, "every trial reached the server");

    // The summary counts them all, scored or infrastructure failures.
    let s = &report.summary.agents[0];
    assert_eq!(s.n_trials, total as u64);
    assert_eq!(s.n_scored + s.n_infra_failures, total as u64);
    assert_eq!(s.n_scorer_errors, 0);

    // Each record agrees with what the server served for it, request by request.
    let mut final_kinds: HashMap<ProviderErrorKind, u64> = HashMap::new();
    for t in &trials {
        let served = &log[&(t.key.case_id.clone(), t.key.epoch)];
        assert_eq!(t.attempts as usize, served.len(), "{:?}: {served:?}", t.key);
        let last = *served.last().expect("a request");
        match (&t.outcome, last.final_kind()) {
            (Outcome::Scored { .. }, None) => assert_eq!(t.outcome.headline(), Some(1.0)),
            (Outcome::InfraFailure { error, .. }, Some(kind)) => {
                assert_eq!(*error, kind, "{:?}: {served:?}", t.key);
                *final_kinds.entry(kind).or_default() += 1;
            }
            (outcome, _) => panic!("{:?} ended {outcome:?} after {served:?}", t.key),
        }
    }
    let requests: Vec<Served> = log.values().flatten().copied().collect();
    let answers = requests.iter().filter(|s| **s == Served::Answer).count();
    assert_eq!(
        s.n_scored, answers as u64,
        "one scored trial per answer served"
    );
    let attempts: u64 = trials.iter().map(|t| u64::from(t.attempts)).sum();
    assert_eq!(
        attempts,
        requests.len() as u64,
        "one attempt per request served"
    );

    // The faults were real: about 30% of requests, and every kind ended some trial.
    let fault_rate = 1.0 - answers as f64 / requests.len() as f64;
    assert!(
        (0.25..0.35).contains(&fault_rate),
        "fault rate {fault_rate}"
    );
    assert_eq!(final_kinds.len(), 4, "{final_kinds:?}");
    println!(
        "{total} trials, {} requests, {:.1}% faults, {} scored, infra failures {final_kinds:?}, {elapsed:.1?}",
        requests.len(),
        fault_rate * 100.0,
        s.n_scored
    );
}
