//! Scriptable fake providers for the layer tests.

use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tamma_bench_core::model::{Message, Role, TenantId};
use tamma_bench_core::provider::{
    CallContext, Capabilities, Capability, Completion, CompletionRequest, OnDelta, Provider,
    ProviderError, ProviderErrorKind, Usage,
};

/// Answers from a script of results, then with `answer to CASE epoch N`, streaming word by
/// word; counts calls. (The other layer tests use [`scripted`].)
#[derive(Default)]
pub struct Fake {
    script: Mutex<VecDeque<Result<Completion, ProviderError>>>,
    usage: Usage,
    calls: AtomicUsize,
}

impl Fake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports `usage` on its default answers.
    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.usage = Usage {
            input_tokens,
            output_tokens,
        };
        self
    }

    /// Queues results to return before the default answer.
    pub fn then(
        self,
        results: impl IntoIterator<Item = Result<Completion, ProviderError>>,
    ) -> Self {
        self.script.lock().expect("lock").extend(results);
        self
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

pub fn answer(cx: &CallContext) -> String {
    format!("answer to {} epoch {}", cx.case_id, cx.epoch)
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        "fake"
    }

    async fn complete(
        &self,
        _request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let scripted = self.script.lock().expect("lock").pop_front();
        scripted.unwrap_or_else(|| {
            Ok(Completion {
                text: answer(cx),
                usage: self.usage,
                latency_ms: 12.5,
                ..Default::default()
            })
        })
    }

    /// Streams an answer word by word (`"answer "`, `"to "`, ...); a scripted error
    /// streams nothing.
    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        let completion = self.complete(request, cx).await?;
        for word in completion.text.split_inclusive(' ') {
            on_delta(word);
        }
        Ok(completion)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with(Capability::Streaming)
    }
}

pub fn err(kind: ProviderErrorKind) -> Result<Completion, ProviderError> {
    Err(ProviderError::new(kind, format!("scripted {kind}")))
}

pub fn rate_limited(after: Option<Duration>) -> Result<Completion, ProviderError> {
    Err(ProviderError::new(ProviderErrorKind::RateLimited, "slow down").with_retry_after(after))
}

pub fn request(prompt: &str) -> CompletionRequest {
    CompletionRequest {
        model: "m".into(),
        messages: vec![Message::new(Role::User, prompt)],
        temperature: None,
        top_p: None,
        max_tokens: None,
        seed: None,
        stop: vec![],
        tools: vec![],
        response_format: Default::default(),
    }
}

pub fn cx(case: &str, epoch: u32) -> CallContext {
    CallContext {
        run_id: "run-1".into(),
        tenant_id: TenantId::local(),
        agent: "agent".into(),
        case_id: case.into(),
        epoch,
        attempt: 1,
    }
}

/// A provider that, like an HTTP provider, reads its key from an environment variable and
/// sends it with every call; its `Debug` redacts it, and its errors never quote it.
pub struct Keyed {
    key: String,
}

impl Keyed {
    pub fn from_env(var: &str) -> Self {
        Self {
            key: std::env::var(var).unwrap_or_default(),
        }
    }
}

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyed").field("key", &"<redacted>").finish()
    }
}

#[async_trait]
impl Provider for Keyed {
    fn name(&self) -> &str {
        "openai"
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let authorization = format!("Bearer {}", self.key);
        if authorization.len() <= "Bearer ".len() || cx.case_id == "denied" {
            return Err(ProviderError::new(
                ProviderErrorKind::Auth,
                "401: invalid credentials",
            ));
        }
        Ok(Completion {
            text: format!(
                "{} says hi ({} chars sent)",
                request.model,
                authorization.len()
            ),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
            },
            latency_ms: 3.0,
            ..Default::default()
        })
    }
}

/// The test kit's scripted provider named `fake`, answering [`answer`] in 12.5 ms once its
/// script is spent; it counts calls, tracks calls in flight and when each call arrived
/// (tokio's clock). [`Fake`] is kept for the streaming tests: it streams word by word.
pub fn scripted() -> tamma_bench_testkit::providers::ScriptedProvider {
    tamma_bench_testkit::providers::ScriptedProvider::from_fn(|_, cx| Ok(answer(cx)))
        .named("fake")
        .with_latency_ms(12.5)
}
