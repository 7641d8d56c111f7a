//! Test providers: answers without a model or a network.
//!
//! - [`FixedProvider`] always answers the same completion, and keeps no record (cheap
//!   enough for the benches);
//! - [`EchoProvider`] answers the text of the request's last message;
//! - [`ScriptedProvider`] answers from a script of results, then with a function of the
//!   call; it can wait before answering, and records every call (how many, how many at
//!   once, when, with which context).
//!
//! ```
//! use tamma_bench_core::provider::{Provider, ProviderErrorKind};
//! use tamma_bench_testkit::providers::{FixedProvider, ScriptedProvider, call_context, request};
//!
//! # tamma_bench_testkit::block_on(async {
//! let fixed = FixedProvider::new("4").with_usage(10, 1);
//! let c = fixed.complete(&request("2 + 2?"), &call_context()).await.unwrap();
//! assert_eq!((c.text.as_str(), c.usage.output_tokens), ("4", 1));
//!
//! // Unavailable twice, then the answer.
//! let flaky = ScriptedProvider::answering("Paris").failing(ProviderErrorKind::Unavailable, 2);
//! assert!(flaky.complete(&request("?"), &call_context()).await.is_err());
//! assert!(flaky.complete(&request("?"), &call_context()).await.is_err());
//! assert_eq!(flaky.complete(&request("?"), &call_context()).await.unwrap().text, "Paris");
//! assert_eq!(flaky.calls(), 3);
//! # });
//! ```

use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tamma_bench_core::model::{Message, Role, TenantId};
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ProviderErrorKind, Usage,
};
use tokio::time::Instant;

/// A request named `m` of one system and one user message, the user saying `said`.
pub fn request(said: &str) -> CompletionRequest {
    CompletionRequest {
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

/// The context of a first attempt at epoch 0 of case `case` by agent `agent` in run
/// `run`, for the local tenant.
pub fn call_context() -> CallContext {
    CallContext {
        run_id: "run".into(),
        tenant_id: TenantId::local(),
        agent: "agent".into(),
        case_id: "case".into(),
        epoch: 0,
        attempt: 1,
    }
}

/// Always answers the same completion.
#[derive(Debug, Clone)]
pub struct FixedProvider {
    name: String,
    completion: Completion,
}

impl FixedProvider {
    /// Answers `text`, named `fixed`, with no usage.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            name: "fixed".into(),
            completion: Completion {
                text: text.into(),
                ..Default::default()
            },
        }
    }

    /// Named `name` (what [`Provider::name`] says).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reports `input_tokens` and `output_tokens` on every answer.
    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.completion.usage = Usage {
            input_tokens,
            output_tokens,
        };
        self
    }
}

#[async_trait]
impl Provider for FixedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(
        &self,
        _: &CompletionRequest,
        _: &CallContext,
    ) -> Result<Completion, ProviderError> {
        Ok(self.completion.clone())
    }
}

/// Answers the text of the request's last message (nothing for a request without one).
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoProvider;

#[async_trait]
impl Provider for EchoProvider {
    fn name(&self) -> &str {
        "echo"
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        _: &CallContext,
    ) -> Result<Completion, ProviderError> {
        Ok(Completion {
            text: request
                .messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default(),
            ..Default::default()
        })
    }
}

/// A function of the call making its answer's text.
type TextFn =
    dyn Fn(&CompletionRequest, &CallContext) -> Result<String, ProviderError> + Send + Sync;

/// A function of the call making its whole completion.
type CompletionFn =
    dyn Fn(&CompletionRequest, &CallContext) -> Result<Completion, ProviderError> + Send + Sync;

/// The answer of a [`ScriptedProvider`] once its script is spent.
enum Answer {
    /// A text, with the provider's usage and latency.
    Text(Box<TextFn>),
    /// A whole completion.
    Completion(Box<CompletionFn>),
}

/// A call a [`ScriptedProvider`] received.
#[derive(Debug, Clone)]
pub struct SeenCall {
    /// Its context (case, epoch, attempt...).
    pub context: CallContext,
    /// When it arrived (tokio's clock: virtual under a paused clock).
    pub at: Instant,
}

/// Answers from a script of results, then with a function of the call; waits `delay`
/// before answering (tokio's clock); records every call.
///
/// [`ScriptedProvider::new`] answers `answer to CASE epoch N`, which tells calls apart.
pub struct ScriptedProvider {
    name: String,
    script: Mutex<VecDeque<Result<Completion, ProviderError>>>,
    answer: Answer,
    usage: Usage,
    latency_ms: f64,
    delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<SeenCall>>,
}

impl std::fmt::Debug for ScriptedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedProvider")
            .field("name", &self.name)
            .field("delay", &self.delay)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl Default for ScriptedProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedProvider {
    /// Answers `answer to CASE epoch N` for the call's case and epoch.
    pub fn new() -> Self {
        Self::from_fn(|_, cx| Ok(format!("answer to {} epoch {}", cx.case_id, cx.epoch)))
    }

    /// Answers `text`.
    pub fn answering(text: impl Into<String>) -> Self {
        let text = text.into();
        Self::from_fn(move |_, _| Ok(text.clone()))
    }

    /// Answers the text `answer` makes of the call (or its error), with the usage and
    /// latency set by [`Self::with_usage`] and [`Self::with_latency_ms`].
    pub fn from_fn(
        answer: impl Fn(&CompletionRequest, &CallContext) -> Result<String, ProviderError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self::answered_by(Answer::Text(Box::new(answer)))
    }

    /// Answers the whole completion `answer` makes of the call (or its error).
    pub fn completing(
        answer: impl Fn(&CompletionRequest, &CallContext) -> Result<Completion, ProviderError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self::answered_by(Answer::Completion(Box::new(answer)))
    }

    fn answered_by(answer: Answer) -> Self {
        Self {
            name: "scripted".into(),
            script: Mutex::default(),
            answer,
            usage: Usage::default(),
            latency_ms: 0.0,
            delay: Duration::ZERO,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            seen: Mutex::default(),
        }
    }

    /// Named `name` (what [`Provider::name`] says).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reports `input_tokens` and `output_tokens` on the answers of [`Self::from_fn`].
    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage = Usage {
            input_tokens,
            output_tokens,
        };
        self
    }

    /// Reports a latency of `ms` on the answers of [`Self::from_fn`].
    pub fn with_latency_ms(mut self, ms: f64) -> Self {
        self.latency_ms = ms;
        self
    }

    /// Waits `delay` (tokio's clock) before answering each call.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Answers with `results`, in order, before its own answer.
    pub fn then(
        self,
        results: impl IntoIterator<Item = Result<Completion, ProviderError>>,
    ) -> Self {
        self.lock_script().extend(results);
        self
    }

    /// Fails `times` times with an error of `kind` before its own answer.
    pub fn failing(self, kind: ProviderErrorKind, times: usize) -> Self {
        self.then((0..times).map(|_| Err(ProviderError::new(kind, format!("scripted {kind}")))))
    }

    /// Queues one more result (after those already queued).
    pub fn push(&self, result: Result<Completion, ProviderError>) {
        self.lock_script().push_back(result);
    }

    /// How many calls arrived.
    pub fn calls(&self) -> usize {
        self.lock_seen().len()
    }

    /// The most calls that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// When each call arrived, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.lock_seen().iter().map(|c| c.at).collect()
    }

    /// Every call that arrived, in order.
    pub fn seen(&self) -> Vec<SeenCall> {
        self.lock_seen().clone()
    }

    fn lock_script(
        &self,
    ) -> std::sync::MutexGuard<'_, VecDeque<Result<Completion, ProviderError>>> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_seen(&self) -> std::sync::MutexGuard<'_, Vec<SeenCall>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        self.lock_seen().push(SeenCall {
            context: cx.clone(),
            at: Instant::now(),
        });
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let scripted = self.lock_script().pop_front();
        scripted.unwrap_or_else(|| match &self.answer {
            Answer::Text(answer) => answer(request, cx).map(|text| Completion {
                text,
                usage: self.usage,
                latency_ms: self.latency_ms,
                ..Default::default()
            }),
            Answer::Completion(answer) => answer(request, cx),
        })
    }
}
