//! Anthropic Messages API: `POST {base_url}/v1/messages`.

use super::errors::{VendorError, says_context_length};
use super::{Endpoint, Reply, Vendor};
use reqwest::Url;
use reqwest::header::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tamma_bench_core::model::{Message, Role};
use tamma_bench_core::provider::{
    Capabilities, Capability, Completion, CompletionRequest, ProviderError, ProviderErrorKind,
    ToolCall, Usage,
};

/// The public Anthropic API.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when the request sets none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

super::vendor_provider! {
    /// Anthropic's Messages API.
    ///
    /// Sends the key as `x-api-key` with `anthropic-version: 2023-06-01`; system messages go
    /// to the top-level `system`; `tool_use` blocks become tool calls, and go back as
    /// `tool_use` blocks of the assistant message, with tool results as `tool_result` blocks
    /// of a user message; input tokens count cache reads and writes. A `refusal` stop reason
    /// is a [`ProviderErrorKind::ContentFilter`] error; 529 "overloaded" is retryable. The API
    /// has no seed and no JSON mode: those request fields are not sent.
    ///
    /// An agent naming no `api_key_env` reads its key from `ANTHROPIC_API_KEY`.
    AnthropicProvider,
    Anthropic
}

/// Anthropic's Messages wire format.
#[derive(Debug, Default)]
pub(crate) struct Anthropic;

impl Vendor for Anthropic {
    const NAME: &'static str = "anthropic";
    const DEFAULT_BASE_URL: &'static str = DEFAULT_BASE_URL;
    const NEEDS_KEY: bool = true;
    const KEY_VARIABLE: &'static str = "ANTHROPIC_API_KEY";
    const FIXED_HEADERS: &'static [(&'static str, &'static str)] =
        &[("anthropic-version", API_VERSION)];
    const KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");
    type Request<'a> = MessagesRequest<'a>;
    type Response = MessagesResponse;

    /// Tools and token usage travel in the request; the Messages API has no seed; answers
    /// are not streamed yet.
    fn capabilities() -> Capabilities {
        Capabilities::default()
            .with(Capability::Tools)
            .with(Capability::Usage)
    }

    fn url(&self, endpoint: &Endpoint, _request: &CompletionRequest) -> Url {
        endpoint.url(&["v1", "messages"])
    }

    fn request<'a>(
        &self,
        request: &'a CompletionRequest,
    ) -> Result<MessagesRequest<'a>, ProviderError> {
        Ok(MessagesRequest::from(request))
    }

    fn error(body: &[u8]) -> VendorError {
        vendor_error(body)
    }

    fn completion(
        _endpoint: &Endpoint,
        reply: &Reply,
        response: MessagesResponse,
    ) -> Result<Completion, ProviderError> {
        completion(reply, response)
    }
}

fn completion(reply: &Reply, response: MessagesResponse) -> Result<Completion, ProviderError> {
    if response.stop_reason.as_deref() == Some("refusal") {
        return Err(ProviderError::new(
            ProviderErrorKind::ContentFilter,
            "anthropic: the model's output was stopped by a safety classifier (stop_reason refusal)",
        ));
    }
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                name,
                arguments: input,
            }),
            Block::Other => {}
        }
    }
    let u = response.usage.unwrap_or_default();
    Ok(Completion {
        text,
        tool_calls,
        usage: Usage {
            input_tokens: u.input_tokens
                + u.cache_creation_input_tokens.unwrap_or(0)
                + u.cache_read_input_tokens.unwrap_or(0),
            output_tokens: u.output_tokens,
        },
        latency_ms: reply.latency_ms,
        cost_usd: None,
        stop_reason: response.stop_reason,
        cache_hit: false,
    })
}

/// Anthropic's error body `{"type": "error", "error": {"type", "message"}}`.
fn vendor_error(body: &[u8]) -> VendorError {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return VendorError::raw(body);
    };
    let error = v.get("error").unwrap_or(&v);
    let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or("");
    let message = match text("message") {
        "" => String::from_utf8_lossy(body).into_owned(),
        m => m.to_owned(),
    };
    let hint = match text("type") {
        _ if says_context_length(&message) => Some(ProviderErrorKind::ContextLength),
        "authentication_error" | "permission_error" => Some(ProviderErrorKind::Auth),
        "rate_limit_error" => Some(ProviderErrorKind::RateLimited),
        "overloaded_error" | "api_error" => Some(ProviderErrorKind::Unavailable),
        _ => None,
    };
    VendorError {
        message,
        hint,
        retry_after: None,
    }
}

#[derive(Serialize)]
pub(crate) struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolSpec<'a>>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: WireContent<'a>,
}

/// A plain message's text, or the content blocks of tool use and tool results.
#[derive(Serialize)]
#[serde(untagged)]
enum WireContent<'a> {
    Text(&'a str),
    Blocks(Vec<BlockSent<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockSent<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: &'a str,
    },
}

/// The conversation without its system messages: an assistant message's tool calls as
/// `tool_use` blocks after its text, and tool results as `tool_result` blocks of a user
/// message (consecutive results in one message, as the alternating roles require).
fn wire_messages(messages: &[Message]) -> Vec<WireMessage<'_>> {
    let mut wire: Vec<WireMessage<'_>> = Vec::new();
    let mut after_tool_result = false;
    for m in messages.iter().filter(|m| m.role != Role::System) {
        if let (Role::Tool, Some(id)) = (m.role, &m.tool_call_id) {
            let result = BlockSent::ToolResult {
                tool_use_id: id,
                content: &m.content,
            };
            match wire.last_mut() {
                Some(WireMessage {
                    content: WireContent::Blocks(blocks),
                    ..
                }) if after_tool_result => blocks.push(result),
                _ => wire.push(WireMessage {
                    role: "user",
                    content: WireContent::Blocks(vec![result]),
                }),
            }
            after_tool_result = true;
            continue;
        }
        after_tool_result = false;
        let content = if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let text = (!m.content.is_empty()).then_some(BlockSent::Text { text: &m.content });
            let calls = m.tool_calls.iter().map(|call| BlockSent::ToolUse {
                id: &call.id,
                name: &call.name,
                input: &call.arguments,
            });
            WireContent::Blocks(text.into_iter().chain(calls).collect())
        } else {
            WireContent::Text(&m.content)
        };
        wire.push(WireMessage {
            role: if m.role == Role::Assistant {
                "assistant"
            } else {
                "user"
            },
            content,
        });
    }
    wire
}

#[derive(Serialize)]
struct ToolSpec<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    input_schema: &'a Value,
}

impl<'a> From<&'a CompletionRequest> for MessagesRequest<'a> {
    fn from(r: &'a CompletionRequest) -> Self {
        let system: Vec<&str> = r
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        Self {
            model: &r.model,
            max_tokens: r.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages: wire_messages(&r.messages),
            temperature: r.temperature,
            top_p: r.top_p,
            stop_sequences: &r.stop,
            tools: r
                .tools
                .iter()
                .map(|t| ToolSpec {
                    name: &t.name,
                    description: &t.description,
                    input_schema: &t.parameters,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct MessagesResponse {
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Thinking, server tool results, and blocks newer than this code.
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}
