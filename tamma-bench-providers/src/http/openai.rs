//! OpenAI-compatible chat completions: `POST {base_url}/chat/completions`.

use super::errors::{VendorError, says_context_length};
use super::{Endpoint, Reply, SecretString, Vendor};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tamma_bench_core::model::{AgentConfig, Message, Role};
use tamma_bench_core::provider::{
    Capabilities, Capability, Completion, CompletionRequest, ProviderError, ProviderErrorKind,
    ResponseFormat, ToolCall, Usage,
};

/// The public OpenAI API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

super::vendor_provider! {
    /// A server speaking OpenAI's Chat Completions API (OpenAI itself, vLLM, Ollama,
    /// llama.cpp, LM Studio, Together, Groq, OpenRouter, ...).
    ///
    /// Sends the key as `Authorization: Bearer`; a local server may need none. The output
    /// limit goes in `max_completion_tokens` to `api.openai.com` and in `max_tokens`
    /// elsewhere. A
    /// `finish_reason` of `content_filter` is a [`ProviderErrorKind::ContentFilter`] error;
    /// `usage.cost` (OpenRouter) becomes the completion's cost. An assistant message's tool
    /// calls go in its `tool_calls` (arguments as a JSON string), and a tool result in a
    /// `tool` message naming the call's `tool_call_id`.
    ///
    /// An agent naming no `api_key_env` reads its key from `OPENAI_API_KEY` when it names
    /// no `base_url` (OpenAI itself), and calls another server without a key.
    OpenAiProvider,
    OpenAi
}

/// OpenAI's Chat Completions wire format.
#[derive(Debug, Default)]
pub(crate) struct OpenAi {
    /// OpenAI itself takes `max_completion_tokens` (its reasoning models refuse
    /// `max_tokens`); compatible servers take `max_tokens`.
    completion_tokens_field: bool,
}

impl OpenAi {
    /// The body sent for `request`.
    pub(super) fn wire<'a>(&self, request: &'a CompletionRequest) -> ChatRequest<'a> {
        let mut wire = ChatRequest::from(request);
        if self.completion_tokens_field {
            wire.max_completion_tokens = wire.max_tokens.take();
        }
        wire
    }
}

impl Vendor for OpenAi {
    const NAME: &'static str = "openai";
    const DEFAULT_BASE_URL: &'static str = DEFAULT_BASE_URL;
    /// A local server may need none.
    const NEEDS_KEY: bool = false;
    const KEY_VARIABLE: &'static str = "OPENAI_API_KEY";
    const KEY_HEADER: HeaderName = AUTHORIZATION;
    type Request<'a> = ChatRequest<'a>;
    type Response = ChatResponse;

    fn key_value(key: &SecretString) -> String {
        format!("Bearer {}", key.expose())
    }

    fn configure(&mut self, endpoint: &Endpoint) {
        self.completion_tokens_field = endpoint.host() == Some("api.openai.com");
    }

    /// Without `api_key_env`, OpenAI itself (no `base_url`) reads `OPENAI_API_KEY`, and
    /// another server is called without a key.
    fn default_key_env(agent: &AgentConfig) -> Option<&'static str> {
        agent.base_url.is_none().then_some(Self::KEY_VARIABLE)
    }

    /// Tools, token usage and a seed travel in the request; answers are not streamed yet.
    fn capabilities() -> Capabilities {
        Capabilities::default()
            .with(Capability::Tools)
            .with(Capability::Usage)
            .with(Capability::Seed)
    }

    fn url(&self, endpoint: &Endpoint, _request: &CompletionRequest) -> Url {
        endpoint.url(&["chat", "completions"])
    }

    fn request<'a>(
        &self,
        request: &'a CompletionRequest,
    ) -> Result<ChatRequest<'a>, ProviderError> {
        Ok(self.wire(request))
    }

    fn error(body: &[u8]) -> VendorError {
        vendor_error(body)
    }

    fn completion(
        endpoint: &Endpoint,
        reply: &Reply,
        response: ChatResponse,
    ) -> Result<Completion, ProviderError> {
        completion(endpoint, reply, response)
    }
}

fn completion(
    endpoint: &Endpoint,
    reply: &Reply,
    response: ChatResponse,
) -> Result<Completion, ProviderError> {
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(endpoint.nonsense("no choices", reply));
    };
    if choice.finish_reason.as_deref() == Some("content_filter") {
        return Err(ProviderError::new(
            ProviderErrorKind::ContentFilter,
            "openai: the output was withheld by the content filter (finish_reason content_filter)",
        ));
    }
    let message = choice.message;
    let tool_calls = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, call)| ToolCall {
            id: call.id.unwrap_or_else(|| format!("call_{i}")),
            name: call.function.name,
            arguments: arguments(call.function.arguments),
        })
        .collect();
    let usage = response.usage.unwrap_or_default();
    Ok(Completion {
        text: message.content.or(message.refusal).unwrap_or_default(),
        tool_calls,
        usage: Usage {
            input_tokens: usage.prompt_tokens.unwrap_or(0),
            output_tokens: usage.completion_tokens.unwrap_or(0),
        },
        latency_ms: reply.latency_ms,
        cost_usd: usage.cost,
        stop_reason: choice.finish_reason,
        cache_hit: false,
    })
}

/// Tool arguments arrive as a JSON string; a model may write invalid JSON, which is kept
/// as a string for the scorer to judge rather than failing the call.
fn arguments(raw: Option<Value>) -> Value {
    match raw {
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Some(other) => other,
        None => Value::Object(Default::default()),
    }
}

/// OpenAI's error body `{"error": {"message", "type", "code"}}`, and the shapes of
/// compatible servers (`{"error": "..."}`, FastAPI's `{"detail": ...}`).
fn vendor_error(body: &[u8]) -> VendorError {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return VendorError::raw(body);
    };
    let error = v.get("error").unwrap_or(&v);
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    let message = text("message")
        .or(error.as_str())
        .map(str::to_owned)
        .or_else(|| {
            v.get("detail")
                .map(|d| d.as_str().map_or(d.to_string(), str::to_owned))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let (code, kind) = (text("code").unwrap_or(""), text("type").unwrap_or(""));
    let hint = if code == "context_length_exceeded"
        || kind == "exceed_context_size_error"
        || says_context_length(&message)
    {
        Some(ProviderErrorKind::ContextLength)
    } else if matches!(code, "content_filter" | "content_policy_violation") {
        Some(ProviderErrorKind::ContentFilter)
    } else if code == "insufficient_quota" || kind == "insufficient_quota" {
        Some(ProviderErrorKind::QuotaExhausted)
    } else if code == "invalid_api_key" {
        Some(ProviderErrorKind::Auth)
    } else {
        None
    };
    VendorError {
        message,
        hint,
        retry_after: None,
    }
}

#[derive(Serialize)]
pub(crate) struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<ChatMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolSpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<TypeTag>,
}

/// A message as sent: `content` is `null` only for an assistant message that calls tools
/// and says nothing; `tool_call_id` marks a `tool` message answering a call.
#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<CallSent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

impl<'a> From<&'a Message> for ChatMessage<'a> {
    fn from(m: &'a Message) -> Self {
        let role = match (m.role, &m.tool_call_id) {
            (Role::System, _) => "system",
            (Role::Assistant, _) => "assistant",
            (Role::Tool, Some(_)) => "tool",
            // A tool result answering no call can only be shown to the model as user text.
            (Role::User, _) | (Role::Tool, None) => "user",
        };
        let calls = if m.role == Role::Assistant {
            m.tool_calls.iter().map(CallSent::from).collect()
        } else {
            Vec::new()
        };
        Self {
            role,
            content: (calls.is_empty() || !m.content.is_empty()).then_some(m.content.as_str()),
            tool_calls: calls,
            tool_call_id: m.tool_call_id.as_deref().filter(|_| role == "tool"),
        }
    }
}

/// A tool call of an earlier assistant message, sent back as OpenAI returned it.
#[derive(Serialize)]
struct CallSent<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCalled<'a>,
}

#[derive(Serialize)]
struct FunctionCalled<'a> {
    name: &'a str,
    /// The arguments as a JSON string; arguments kept as text (invalid JSON the model
    /// wrote) go back as that text.
    arguments: String,
}

impl<'a> From<&'a ToolCall> for CallSent<'a> {
    fn from(call: &'a ToolCall) -> Self {
        Self {
            id: &call.id,
            kind: "function",
            function: FunctionCalled {
                name: &call.name,
                arguments: match &call.arguments {
                    Value::String(text) => text.clone(),
                    json => json.to_string(),
                },
            },
        }
    }
}

#[derive(Serialize)]
struct ToolSpec<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionSpec<'a>,
}

#[derive(Serialize)]
struct FunctionSpec<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    parameters: &'a Value,
}

#[derive(Serialize)]
struct TypeTag {
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'a> From<&'a CompletionRequest> for ChatRequest<'a> {
    fn from(r: &'a CompletionRequest) -> Self {
        Self {
            model: &r.model,
            messages: r.messages.iter().map(ChatMessage::from).collect(),
            temperature: r.temperature,
            top_p: r.top_p,
            max_tokens: r.max_tokens,
            max_completion_tokens: None,
            seed: r.seed,
            stop: &r.stop,
            tools: r
                .tools
                .iter()
                .map(|t| ToolSpec {
                    kind: "function",
                    function: FunctionSpec {
                        name: &t.name,
                        description: &t.description,
                        parameters: &t.parameters,
                    },
                })
                .collect(),
            response_format: (r.response_format == ResponseFormat::Json).then_some(TypeTag {
                kind: "json_object",
            }),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: AssistantMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunctionCall,
}

#[derive(Deserialize)]
struct WireFunctionCall {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize, Default)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    /// OpenRouter's cost of the call, USD.
    #[serde(default)]
    cost: Option<f64>,
}
