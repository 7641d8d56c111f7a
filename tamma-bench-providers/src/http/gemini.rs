//! Google Gemini: `POST {base_url}/v1beta/models/{model}:generateContent`.

use super::errors::{VendorError, says_context_length};
use super::{Endpoint, Reply, Vendor};
use reqwest::Url;
use reqwest::header::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use tamma_bench_core::model::{Message, Role};
use tamma_bench_core::provider::{
    Capabilities, Capability, Completion, CompletionRequest, ProviderError, ProviderErrorKind,
    ResponseFormat, ToolCall, Usage,
};

/// The public Gemini API.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Finish and block reasons that mean the content was filtered.
const FILTERED: [&str; 7] = [
    "SAFETY",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
    "OTHER_BLOCK",
];

super::vendor_provider! {
    /// Google's Gemini API (`generateContent`).
    ///
    /// Sends the key in `x-goog-api-key` (never in the URL); system messages become
    /// `systemInstruction`; sampling goes in `generationConfig`; `functionCall` parts become
    /// tool calls, and go back as `functionCall` parts of the `model` turn, with tool results
    /// as `functionResponse` parts of a `user` turn named after the called function (a tool
    /// result answering no call of the conversation is an
    /// [`ProviderErrorKind::InvalidRequest`] error); output tokens include thinking tokens. A
    /// filtered candidate (`SAFETY`, `RECITATION`, ...) or a blocked prompt is a
    /// [`ProviderErrorKind::ContentFilter`] error.
    ///
    /// An agent naming no `api_key_env` reads its key from `GEMINI_API_KEY`.
    GeminiProvider,
    Gemini
}

/// Gemini's `generateContent` wire format.
#[derive(Debug, Default)]
pub(crate) struct Gemini;

impl Vendor for Gemini {
    const NAME: &'static str = "gemini";
    const DEFAULT_BASE_URL: &'static str = DEFAULT_BASE_URL;
    const NEEDS_KEY: bool = true;
    const KEY_VARIABLE: &'static str = "GEMINI_API_KEY";
    const KEY_HEADER: HeaderName = HeaderName::from_static("x-goog-api-key");
    type Request<'a> = GenerateRequest<'a>;
    type Response = GenerateResponse;

    /// Tools, token usage and a seed (`generationConfig.seed`) travel in the request;
    /// answers are not streamed yet.
    fn capabilities() -> Capabilities {
        Capabilities::default()
            .with(Capability::Tools)
            .with(Capability::Usage)
            .with(Capability::Seed)
    }

    fn url(&self, endpoint: &Endpoint, request: &CompletionRequest) -> Url {
        let model = request.model.trim_start_matches("models/");
        let method = format!("{model}:generateContent");
        endpoint.url(&["v1beta", "models", &method])
    }

    fn request<'a>(
        &self,
        request: &'a CompletionRequest,
    ) -> Result<GenerateRequest<'a>, ProviderError> {
        GenerateRequest::try_from(request)
    }

    fn error(body: &[u8]) -> VendorError {
        vendor_error(body)
    }

    fn completion(
        endpoint: &Endpoint,
        reply: &Reply,
        response: GenerateResponse,
    ) -> Result<Completion, ProviderError> {
        completion(endpoint, reply, response)
    }
}

fn completion(
    endpoint: &Endpoint,
    reply: &Reply,
    response: GenerateResponse,
) -> Result<Completion, ProviderError> {
    let filtered = |what: &str, reason: &str| {
        ProviderError::new(
            ProviderErrorKind::ContentFilter,
            format!("gemini: the {what} was blocked ({reason})"),
        )
    };
    let Some(candidate) = response.candidates.into_iter().next() else {
        return match response.prompt_feedback.and_then(|f| f.block_reason) {
            Some(reason) => Err(filtered("prompt", &reason)),
            None => Err(endpoint.nonsense("no candidates", reply)),
        };
    };
    if let Some(reason) = candidate
        .finish_reason
        .as_deref()
        .filter(|r| FILTERED.contains(r))
    {
        return Err(filtered("output", reason));
    }
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let parts = candidate.content.map(|c| c.parts).unwrap_or_default();
    for (i, part) in parts.into_iter().enumerate() {
        if let Some(call) = part.function_call {
            tool_calls.push(ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{i}")),
                name: call.name,
                arguments: match call.args {
                    Value::Null => Value::Object(Default::default()),
                    args => args,
                },
            });
        } else if let Some(t) = part.text.filter(|_| !part.thought) {
            text.push_str(&t);
        }
    }
    let u = response.usage_metadata.unwrap_or_default();
    Ok(Completion {
        text,
        tool_calls,
        usage: Usage {
            input_tokens: u.prompt_token_count,
            output_tokens: u.candidates_token_count + u.thoughts_token_count,
        },
        latency_ms: reply.latency_ms,
        cost_usd: None,
        stop_reason: candidate.finish_reason,
        cache_hit: false,
    })
}

/// Google's error body `{"error": {"code", "message", "status", "details": [...]}}`, with
/// the wait of a `RetryInfo` detail and the reason of an `ErrorInfo` detail.
fn vendor_error(body: &[u8]) -> VendorError {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return VendorError::raw(body);
    };
    let error = v.get("error").unwrap_or(&v);
    let message = match error.get("message").and_then(Value::as_str) {
        Some(m) => m.to_owned(),
        None => String::from_utf8_lossy(body).into_owned(),
    };
    let details = error.get("details").and_then(Value::as_array);
    let detail = |key: &str| {
        details
            .into_iter()
            .flatten()
            .find_map(|d| d.get(key).and_then(Value::as_str))
    };
    let status = error.get("status").and_then(Value::as_str).unwrap_or("");
    let hint = if says_context_length(&message) {
        Some(ProviderErrorKind::ContextLength)
    } else if detail("reason") == Some("API_KEY_INVALID")
        || matches!(status, "UNAUTHENTICATED" | "PERMISSION_DENIED")
    {
        Some(ProviderErrorKind::Auth)
    } else if status == "RESOURCE_EXHAUSTED" {
        Some(ProviderErrorKind::RateLimited)
    } else {
        None
    };
    VendorError {
        message,
        hint,
        retry_after: detail("retryDelay").and_then(super::wait::parse_go_duration),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateRequest<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolSpec<'a>>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    generation_config: GenerationConfig<'a>,
}

#[derive(Serialize)]
struct Content<'a> {
    role: &'static str,
    parts: Vec<PartSent<'a>>,
}

/// A part of a turn as sent: `{"text"}`, `{"functionCall"}` or `{"functionResponse"}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum PartSent<'a> {
    Text(&'a str),
    FunctionCall(CallSent<'a>),
    FunctionResponse(ResponseSent<'a>),
}

#[derive(Serialize)]
struct CallSent<'a> {
    name: &'a str,
    args: &'a Value,
}

#[derive(Serialize)]
struct ResponseSent<'a> {
    name: &'a str,
    response: Value,
}

/// A tool's result as a `functionResponse`'s `response`, which must be an object: a JSON
/// object as it is, anything else (other JSON, plain text) as `{"result": ...}`.
fn function_response(content: &str) -> Value {
    match serde_json::from_str::<Value>(content) {
        Ok(object @ Value::Object(_)) => object,
        Ok(other) => serde_json::json!({ "result": other }),
        Err(_) => serde_json::json!({ "result": content }),
    }
}

/// The turns of the conversation without its system messages: an assistant message's
/// tool calls as `functionCall` parts of its `model` turn, and tool results as
/// `functionResponse` parts of a `user` turn (consecutive results in one turn), each
/// named after the function of the call it answers — Gemini matches them by name.
fn contents(messages: &[Message]) -> Result<Vec<Content<'_>>, ProviderError> {
    let called: HashMap<&str, &str> = messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .flat_map(|m| &m.tool_calls)
        .map(|call| (call.id.as_str(), call.name.as_str()))
        .collect();
    let mut turns: Vec<Content<'_>> = Vec::new();
    let mut after_tool_result = false;
    for m in messages.iter().filter(|m| m.role != Role::System) {
        if let (Role::Tool, Some(id)) = (m.role, &m.tool_call_id) {
            let Some(&name) = called.get(id.as_str()) else {
                return Err(ProviderError::new(
                    ProviderErrorKind::InvalidRequest,
                    format!(
                        "gemini: a tool message answers the call {id:?}, which no assistant \
                         message made (Gemini needs the called function's name)"
                    ),
                ));
            };
            let part = PartSent::FunctionResponse(ResponseSent {
                name,
                response: function_response(&m.content),
            });
            match turns.last_mut() {
                Some(turn) if after_tool_result => turn.parts.push(part),
                _ => turns.push(Content {
                    role: "user",
                    parts: vec![part],
                }),
            }
            after_tool_result = true;
            continue;
        }
        after_tool_result = false;
        let assistant = m.role == Role::Assistant;
        let calls: &[ToolCall] = if assistant { &m.tool_calls } else { &[] };
        let text =
            (calls.is_empty() || !m.content.is_empty()).then_some(PartSent::Text(&m.content));
        let calls = calls.iter().map(|call| {
            PartSent::FunctionCall(CallSent {
                name: &call.name,
                args: &call.arguments,
            })
        });
        turns.push(Content {
            role: if assistant { "model" } else { "user" },
            parts: text.into_iter().chain(calls).collect(),
        });
    }
    Ok(turns)
}

#[derive(Serialize)]
struct SystemInstruction {
    parts: [JoinedText; 1],
}

#[derive(Serialize)]
struct JoinedText {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolSpec<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    parameters: &'a Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
}

impl GenerationConfig<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.max_output_tokens.is_none()
            && self.seed.is_none()
            && self.stop_sequences.is_empty()
            && self.response_mime_type.is_none()
    }
}

impl<'a> TryFrom<&'a CompletionRequest> for GenerateRequest<'a> {
    type Error = ProviderError;

    fn try_from(r: &'a CompletionRequest) -> Result<Self, ProviderError> {
        let system: Vec<&str> = r
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let declarations: Vec<FunctionDeclaration<'a>> = r
            .tools
            .iter()
            .map(|t| FunctionDeclaration {
                name: &t.name,
                description: &t.description,
                parameters: &t.parameters,
            })
            .collect();
        Ok(Self {
            contents: contents(&r.messages)?,
            system_instruction: (!system.is_empty()).then(|| SystemInstruction {
                parts: [JoinedText {
                    text: system.join("\n\n"),
                }],
            }),
            tools: if declarations.is_empty() {
                Vec::new()
            } else {
                vec![ToolSpec {
                    function_declarations: declarations,
                }]
            },
            generation_config: GenerationConfig {
                temperature: r.temperature,
                top_p: r.top_p,
                max_output_tokens: r.max_tokens,
                seed: r.seed,
                stop_sequences: &r.stop,
                response_mime_type: (r.response_format == ResponseFormat::Json)
                    .then_some("application/json"),
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    /// A thought summary, not the answer.
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Deserialize)]
struct FunctionCall {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}
