//! The chat-completions wire format: the request body, the answer, and the vendor's
//! errors mapped onto provider error kinds the way the in-tree OpenAI provider does.

use crate::http::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::SystemTime;
use tamma_bench_plugin::core::model::{Message, Role};
use tamma_bench_plugin::core::provider::{
    Completion, CompletionRequest, ProviderError, ProviderErrorKind as K, ResponseFormat, ToolCall,
    Usage, classify,
};

/// Longest vendor message kept in an error, in characters.
const MAX_MESSAGE: usize = 500;

/// The request body.
pub fn request_body(r: &CompletionRequest) -> Value {
    let messages: Vec<Value> = r.messages.iter().map(message).collect();
    let mut body = serde_json::json!({"model": r.model, "messages": messages});
    let mut set = |key: &str, value: Value| {
        body[key] = value;
    };
    if let Some(t) = r.temperature {
        set("temperature", t.into());
    }
    if let Some(p) = r.top_p {
        set("top_p", p.into());
    }
    if let Some(n) = r.max_tokens {
        set("max_tokens", n.into());
    }
    if let Some(s) = r.seed {
        set("seed", s.into());
    }
    if !r.stop.is_empty() {
        set("stop", r.stop.clone().into());
    }
    if !r.tools.is_empty() {
        let tools = r.tools.iter().map(|t| {
            let mut function = serde_json::json!({"name": t.name, "parameters": t.parameters});
            if !t.description.is_empty() {
                function["description"] = t.description.clone().into();
            }
            serde_json::json!({"type": "function", "function": function})
        });
        set("tools", tools.collect::<Vec<_>>().into());
    }
    if r.response_format == ResponseFormat::Json {
        set(
            "response_format",
            serde_json::json!({"type": "json_object"}),
        );
    }
    body
}

/// One message: an assistant message's tool calls in `tool_calls` (arguments as a JSON
/// string, `content` null when it says nothing), a tool result as a `tool` message naming
/// the call it answers. A tool result answering no call goes as user text.
fn message(m: &Message) -> Value {
    match (m.role, &m.tool_call_id) {
        (Role::Tool, Some(id)) => {
            serde_json::json!({"role": "tool", "tool_call_id": id, "content": m.content})
        }
        (Role::Assistant, _) if !m.tool_calls.is_empty() => {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|call| {
                    let arguments = match &call.arguments {
                        Value::String(text) => text.clone(),
                        json => json.to_string(),
                    };
                    serde_json::json!({"id": call.id, "type": "function",
                        "function": {"name": call.name, "arguments": arguments}})
                })
                .collect();
            let content = (!m.content.is_empty()).then(|| m.content.clone());
            serde_json::json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        (role, _) => {
            let role = match role {
                Role::System => "system",
                Role::Assistant => "assistant",
                Role::User | Role::Tool => "user",
            };
            serde_json::json!({"role": role, "content": m.content})
        }
    }
}

#[derive(Deserialize)]
struct ChatResponse {
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
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize, Serialize, Default)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    cost: Option<f64>,
}

fn decode(why: &str) -> ProviderError {
    ProviderError::new(K::Decode, format!("openai: unreadable answer: {why}"))
}

/// The completion of a 2xx answer.
pub fn completion(response: &Response, latency_ms: f64) -> Result<Completion, ProviderError> {
    let parsed: ChatResponse =
        serde_json::from_slice(&response.body).map_err(|e| decode(&e.to_string()))?;
    let Some(choice) = parsed.choices.into_iter().next() else {
        return Err(decode("no choices"));
    };
    if choice.finish_reason.as_deref() == Some("content_filter") {
        return Err(ProviderError::new(
            K::ContentFilter,
            "openai: the output was withheld by the content filter (finish_reason content_filter)",
        ));
    }
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, call)| ToolCall {
            id: call.id.unwrap_or_else(|| format!("call_{i}")),
            name: call.function.name,
            arguments: match call.function.arguments {
                Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
                Some(other) => other,
                None => Value::Object(Default::default()),
            },
        })
        .collect();
    let usage = parsed.usage.unwrap_or_default();
    Ok(Completion {
        text: choice
            .message
            .content
            .or(choice.message.refusal)
            .unwrap_or_default(),
        tool_calls,
        usage: Usage {
            input_tokens: usage.prompt_tokens.unwrap_or(0),
            output_tokens: usage.completion_tokens.unwrap_or(0),
        },
        latency_ms,
        cost_usd: usage.cost,
        stop_reason: choice.finish_reason,
        cache_hit: false,
    })
}

/// The error of a non-2xx answer.
pub fn failure(response: &Response) -> ProviderError {
    let (message, hint) = vendor_error(&response.body);
    let kind = classify::kind_of_status(response.status, hint, &message);
    let message = message.trim();
    let detail = match message.char_indices().nth(MAX_MESSAGE) {
        _ if message.is_empty() => String::new(),
        Some((at, _)) => format!(": {}…", &message[..at]),
        None => format!(": {message}"),
    };
    // The same wait rules as the in-tree providers: core's parser, no HTTP client needed.
    let wait = tamma_bench_plugin::core::provider::wait::advertised_wait(
        |name| response.header(name),
        SystemTime::now(),
    );
    ProviderError::new(
        kind,
        format!(
            "openai answered {} {}{detail}",
            response.status, response.reason
        ),
    )
    .with_retry_after(wait.filter(|_| kind.is_retryable()))
}

/// The vendor's message and what it hints at.
fn vendor_error(body: &[u8]) -> (String, Option<K>) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (String::from_utf8_lossy(body).into_owned(), None);
    };
    let error = v.get("error").unwrap_or(&v);
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    let message = text("message")
        .or(error.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let (code, kind) = (text("code").unwrap_or(""), text("type").unwrap_or(""));
    let hint = if code == "context_length_exceeded" || classify::says_context_length(&message) {
        Some(K::ContextLength)
    } else if matches!(code, "content_filter" | "content_policy_violation") {
        Some(K::ContentFilter)
    } else if code == "insufficient_quota" || kind == "insufficient_quota" {
        Some(K::QuotaExhausted)
    } else if code == "invalid_api_key" {
        Some(K::Auth)
    } else {
        None
    };
    (message, hint)
}
