//! The `Provider` extension point: one async call from a request to a completion.
//!
//! Cross-cutting behaviour (retry, rate limits, caching, cost) is a [`layer::Layer`]
//! around an `Arc<dyn Provider>`, itself a `Provider` through [`layer::Layered`]. What a
//! provider supports is data: [`Provider::capabilities`]. Core knows no HTTP client;
//! implementations live in `tamma-bench-providers` or in plugins.

/// A call of a tool by the model; defined with [`Message`], which carries it back in a
/// multi-turn conversation.
pub use crate::model::ToolCall;

mod capabilities;
pub mod classify;
pub mod layer;
pub mod wait;

pub use capabilities::{Capabilities, Capability};

use crate::error::{Cause, Remedy};
use crate::model::{Message, TenantId};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolDefinition {
    /// Function name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of its arguments.
    #[schemars(with = "serde_json::Value")]
    pub parameters: serde_json::Value,
}

/// The shape of output requested.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// A JSON object.
    Json,
}

/// What is sent to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model name.
    pub model: String,
    /// The conversation, system message first when there is one.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Maximum output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// Output shape.
    #[serde(default)]
    pub response_format: ResponseFormat,
}

/// Token use of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// What a model answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The text output.
    pub text: String,
    /// Tool calls the model made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Token use.
    pub usage: Usage,
    /// Wall-clock latency, ms (as measured by the provider or recorded).
    pub latency_ms: f64,
    /// Cost the provider reported, USD (wins over computed prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Why generation stopped, as the provider said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Whether this came from a response cache.
    #[serde(default)]
    pub cache_hit: bool,
}

/// Where a call comes from: run, case, epoch, attempt, tenant.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Run id.
    pub run_id: String,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Agent name.
    pub agent: String,
    /// Case id.
    pub case_id: String,
    /// Epoch, from 0.
    pub epoch: u32,
    /// Attempt number, from 1.
    pub attempt: u32,
}

/// What went wrong in a provider call; decides whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// 429 or a quota signal; retry after the advertised wait.
    RateLimited,
    /// No answer in time.
    Timeout,
    /// 401/403: the key is missing or wrong.
    Auth,
    /// The request is malformed for this provider.
    InvalidRequest,
    /// The prompt exceeds the model's context window.
    ContextLength,
    /// The provider refused the content.
    ContentFilter,
    /// 5xx, 529 "overloaded": the service is down for now.
    Unavailable,
    /// Connection reset, DNS, TLS.
    Transport,
    /// The body could not be decoded.
    Decode,
    /// A plugin failed (panicked, refused, misbehaved).
    Plugin,
    /// The call was cancelled.
    Cancelled,
    /// The replay provider has no recording for this case and epoch.
    MissingRecording,
    /// The account's quota or credit is spent (a 429 that waiting will not fix).
    QuotaExhausted,
}

impl ProviderErrorKind {
    /// What a caller can do: retry a rate limit, a timeout, an unavailable service or a
    /// transport failure; fix the key, the request, the prompt or the recording; give up
    /// on an undecodable answer, a failed plugin, a cancelled call or a spent quota.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::RateLimited | Self::Timeout | Self::Unavailable | Self::Transport => {
                Remedy::Retry
            }
            Self::Auth
            | Self::InvalidRequest
            | Self::ContextLength
            | Self::ContentFilter
            | Self::MissingRecording => Remedy::FixInput,
            Self::Decode | Self::Plugin | Self::Cancelled | Self::QuotaExhausted => Remedy::GiveUp,
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(self) -> bool {
        self.remedy().is_retryable()
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::Auth => "auth",
            Self::InvalidRequest => "invalid_request",
            Self::ContextLength => "context_length",
            Self::ContentFilter => "content_filter",
            Self::Unavailable => "unavailable",
            Self::Transport => "transport",
            Self::Decode => "decode",
            Self::Plugin => "plugin",
            Self::Cancelled => "cancelled",
            Self::MissingRecording => "missing_recording",
            Self::QuotaExhausted => "quota_exhausted",
        }
    }

    /// Whether an outcome of this kind is the infrastructure's fault rather than the
    /// model's. Content filtering and context length are the model's (or the prompt's)
    /// and are still not scored: every provider error is recorded as an infrastructure
    /// failure, and this tells the report which ones to call out.
    pub fn is_infrastructure(self) -> bool {
        !matches!(
            self,
            Self::ContentFilter | Self::ContextLength | Self::InvalidRequest
        )
    }
}

impl fmt::Display for ProviderErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed provider call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderError {
    kind: ProviderErrorKind,
    message: String,
    retry_after: Option<Duration>,
    source: Option<Cause>,
}

impl ProviderError {
    /// An error of `kind`.
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Sets the advertised wait before a retry, clamped to
    /// [`wait::MAX_ADVERTISED_WAIT`].
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait.map(wait::clamp_wait);
        self
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(crate::error::cause(cause));
        self
    }

    /// The same error with `message` (a layer adding context, a provider scrubbing a key
    /// a server echoed).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ProviderErrorKind {
        self.kind
    }

    /// Details for humans. Never contains an API key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long the provider asked us to wait before retrying (at most
    /// [`wait::MAX_ADVERTISED_WAIT`]).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }

    /// Whether retrying may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// What kept a [`ProviderFactory`] from building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FactoryErrorKind {
    /// The agent's or scorer's configuration is wrong (a missing field, a bad value, an
    /// unset key variable): fix it.
    Invalid,
    /// This host knows no provider kind or plugin of that name: fix the name, or load
    /// the plugin.
    NotFound,
    /// Building failed for another reason (a plugin library that does not load, a TLS
    /// set-up that fails): report it.
    Failed,
}

impl FactoryErrorKind {
    /// What a caller can do about it.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::Invalid | Self::NotFound => Remedy::FixInput,
            Self::Failed => Remedy::GiveUp,
        }
    }
}

/// Why a [`ProviderFactory`] could not build a provider or a scorer plugin.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FactoryError {
    kind: FactoryErrorKind,
    message: String,
    source: Option<Cause>,
}

impl FactoryError {
    /// An error of `kind`.
    pub fn new(kind: FactoryErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A wrong configuration; its message is `cause`'s, and `cause` its source.
    pub fn invalid(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(FactoryErrorKind::Invalid, cause.to_string()).with_source(cause)
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(crate::error::cause(cause));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> FactoryErrorKind {
        self.kind
    }

    /// Details for humans.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }
}

impl fmt::Display for FactoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FactoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Builds providers from agent configurations: how scorers that call models (judges)
/// get their provider without core knowing any provider. `tamma-bench-providers`
/// implements it for the built-in kinds.
pub trait ProviderFactory: Send + Sync {
    /// The provider of `agent`, or why it cannot be built.
    fn build(
        &self,
        agent: &crate::model::AgentConfig,
    ) -> Result<std::sync::Arc<dyn Provider>, FactoryError>;

    /// The scorer plugin `id` configured by `config` (a `[[scorer]]` table of kind
    /// `plugin`), or why it cannot be built. A host that loads no plugins keeps this.
    fn scorer_plugin(
        &self,
        id: &str,
        _config: &serde_json::Value,
    ) -> Result<std::sync::Arc<dyn crate::scorer::Scorer>, FactoryError> {
        Err(FactoryError::new(
            FactoryErrorKind::NotFound,
            format!("scorer plugin {id:?}: this host loads no plugins"),
        ))
    }
}

/// The receiver of the text deltas of [`Provider::complete_streaming`], called once per
/// delta, in order; it may borrow what lives for `'a`.
pub type OnDelta<'a> = dyn Fn(&str) + Send + Sync + 'a;

/// A model provider: turns a request into a completion.
#[async_trait]
pub trait Provider: Send + Sync {
    /// A short name for logs and summaries (`openai`, `replay`, ...).
    fn name(&self) -> &str;

    /// What this provider supports. The default claims nothing
    /// ([`Capabilities::default`]); a layer reports its inner provider's.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Calls the model once. Dropping the future cancels the call.
    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError>;

    /// Calls the model once like [`Provider::complete`], handing the text to `on_delta`
    /// piece by piece as it is generated. The deltas, in the order given, concatenate to
    /// the returned completion's `text`; a call that fails may have emitted some before
    /// its error. Dropping the future cancels the call.
    ///
    /// The default calls [`Provider::complete`] and emits its whole text as one delta (none
    /// when the text is empty). A provider that streams overrides it (and says so in its
    /// [`Capabilities::streaming`]); a [`layer::Layered`] provider forwards it to the
    /// inner provider's `complete_streaming`.
    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        let completion = self.complete(request, cx).await?;
        if !completion.text.is_empty() {
            on_delta(&completion.text);
        }
        Ok(completion)
    }
}

#[cfg(all(test, feature = "runtime"))]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Fixed(&'static str);

    #[async_trait]
    impl Provider for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }

        async fn complete(
            &self,
            _request: &CompletionRequest,
            _cx: &CallContext,
        ) -> Result<Completion, ProviderError> {
            Ok(Completion {
                text: self.0.into(),
                ..Default::default()
            })
        }
    }

    fn streamed(p: &dyn Provider) -> (Vec<String>, Completion) {
        let request = CompletionRequest {
            model: "m".into(),
            messages: Vec::new(),
            temperature: None,
            top_p: None,
            max_tokens: None,
            seed: None,
            stop: Vec::new(),
            tools: Vec::new(),
            response_format: ResponseFormat::Text,
        };
        let cx = CallContext {
            run_id: "r".into(),
            tenant_id: TenantId::local(),
            agent: "a".into(),
            case_id: "c".into(),
            epoch: 0,
            attempt: 1,
        };
        let deltas = Mutex::new(Vec::new());
        let on_delta = |d: &str| deltas.lock().expect("lock").push(d.to_owned());
        let c = futures::executor::block_on(p.complete_streaming(&request, &cx, &on_delta))
            .expect("completes");
        (deltas.into_inner().expect("lock"), c)
    }

    #[test]
    fn the_default_streams_the_whole_text_as_one_delta() {
        let (deltas, c) = streamed(&Fixed("hello"));
        assert_eq!(deltas, vec!["hello".to_owned()]);
        assert_eq!(c.text, "hello");
        let (deltas, c) = streamed(&Fixed(""));
        assert!(deltas.is_empty(), "an empty text emits no delta");
        assert_eq!(c.text, "");
    }
}
