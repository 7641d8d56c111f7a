//! One fixture per vendor's wire format (response bodies shaped like each vendor's
//! documented responses, the request it must send), with the provider under test that
//! the caller builds: `vendors::openai(build, debug)` for an in-tree provider or a plugin
//! alike.

use super::Endpoint;
use serde_json::{Value, json};
use std::sync::Arc;
use tamma_bench_core::provider::Provider;
use wiremock::ResponseTemplate;

/// A vendor under test. Every success body answers `Paris` with 12 input and 3 output
/// tokens; every tool-call body calls `get_weather` with `{"city": "Paris"}`.
pub struct Vendor {
    /// The provider kind.
    pub name: &'static str,
    /// The model requests name.
    pub model: &'static str,
    /// What follows the server's address in the base URL.
    pub base_path: &'static str,
    /// The path the provider posts to, for `model`.
    pub path: &'static str,
    /// Builds the provider under test.
    pub build: Build,
    /// `Debug` of the provider built from a configuration.
    pub debug: DebugText,
    /// The header that carries the key, and its value for a key.
    pub key_header: (&'static str, fn(&str) -> String),
    /// The success body.
    pub success: fn() -> Value,
    /// The stop reason of the success body, as the vendor says it.
    pub stop_reason: &'static str,
    /// The tool-call body, and the call id the provider reports.
    pub tool_call: (fn() -> Value, &'static str),
    /// An error body of the vendor's shape for `status` saying `message`.
    pub error: fn(u16, &str) -> Value,
    /// The vendor's answer to a prompt longer than the context window.
    pub context_length: fn() -> ResponseTemplate,
    /// The vendor's answer when its content filter withholds the output.
    pub content_filter: fn() -> ResponseTemplate,
    /// The body the standard request (see `common::standard_request`) must produce.
    pub expected_request: fn() -> Value,
    /// The body the tool conversation (see `common::tool_conversation_request`) must
    /// produce.
    pub expected_tool_conversation: fn() -> Value,
}

/// Builds the provider under test for an endpoint.
pub type Build = fn(Endpoint) -> Arc<dyn Provider>;

/// The `Debug` text of the provider under test built for an endpoint (it must redact the
/// key).
pub type DebugText = fn(Endpoint) -> String;

/// The tool of the standard request.
pub fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

/// The text of the tool conversation's second assistant message.
const CHECKING_BERLIN: &str = "Paris: 21°C, sunny. Rome: 14:05. Checking Berlin.";
/// The result of the tool conversation's first call.
const PARIS_WEATHER: &str = r#"{"temp_c": 21, "sky": "sunny"}"#;

fn json_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// OpenAI's chat completions (and every OpenAI-compatible server), with the provider
/// under test made by `build`.
pub fn openai(build: Build, debug: DebugText) -> Vendor {
    Vendor {
        name: "openai",
        model: "gpt-4.1-mini",
        base_path: "/v1",
        path: "/v1/chat/completions",
        build,
        debug,
        key_header: ("authorization", |k| format!("Bearer {k}")),
        success: || {
            json!({
                "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion",
                "created": 1741569952, "model": "gpt-4.1-mini-2025-04-14",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris",
                    "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                        "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
                "service_tier": "default", "system_fingerprint": "fp_38343a2f8f"
            })
        },
        stop_reason: "stop",
        tool_call: (
            || {
                json!({
                    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1741569952,
                    "model": "gpt-4.1-mini-2025-04-14",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                        "tool_calls": [{"id": "call_12345xyz", "type": "function", "function":
                            {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
                        "refusal": null, "annotations": []},
                        "logprobs": null, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 80, "completion_tokens": 17, "total_tokens": 97}
                })
            },
            "call_12345xyz",
        ),
        error: |status, message| {
            let kind = match status {
                401 | 403 => "invalid_request_error",
                429 => "requests",
                500..=599 => "server_error",
                _ => "invalid_request_error",
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        },
        context_length: || {
            json_reply(
                400,
                json!({"error": {"message": "This model's maximum context length is 128000 tokens. \
                    However, your messages resulted in 130412 tokens. Please reduce the length of \
                    the messages.", "type": "invalid_request_error", "param": "messages",
                    "code": "context_length_exceeded"}}),
            )
        },
        content_filter: || {
            json_reply(
                200,
                json!({"id": "chatcmpl-cf", "object": "chat.completion", "created": 1741569952,
                    "model": "gpt-4.1-mini", "choices": [{"index": 0, "message": {"role": "assistant",
                    "content": "", "refusal": null}, "logprobs": null,
                    "finish_reason": "content_filter"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}),
            )
        },
        expected_request: || {
            json!({
                "model": "gpt-4.1-mini",
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Capital of France?"},
                    {"role": "assistant", "content": "Paris."},
                    {"role": "user", "content": "And of Italy?"}
                ],
                "temperature": 0.25, "top_p": 0.5, "max_tokens": 64, "seed": 7, "stop": ["END"],
                "tools": [{"type": "function", "function": {"name": "get_weather",
                    "description": "Current weather of a city", "parameters": weather_schema()}}],
                "response_format": {"type": "json_object"}
            })
        },
        expected_tool_conversation: || {
            let call = |id: &str, name: &str, arguments: &str| {
                json!({"id": id, "type": "function",
                    "function": {"name": name, "arguments": arguments}})
            };
            json!({
                "model": "gpt-4.1-mini",
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Weather in Paris, time in Rome?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        call("call_paris", "get_weather", "{\"city\":\"Paris\"}"),
                        call("call_rome", "get_time", "{\"city\":\"Rome\"}")]},
                    {"role": "tool", "tool_call_id": "call_paris", "content": PARIS_WEATHER},
                    {"role": "tool", "tool_call_id": "call_rome", "content": "14:05"},
                    {"role": "assistant", "content": CHECKING_BERLIN, "tool_calls": [
                        call("call_berlin", "get_weather", "{\"city\":\"Berlin\"}")]},
                    {"role": "tool", "tool_call_id": "call_berlin", "content": "18"}
                ],
                "tools": [
                    {"type": "function", "function": {"name": "get_weather",
                        "description": "Current weather of a city",
                        "parameters": weather_schema()}},
                    {"type": "function", "function": {"name": "get_time",
                        "description": "Local time of a city",
                        "parameters": weather_schema()}}
                ]
            })
        },
    }
}

/// Anthropic's messages API, with the provider under test made by `build`.
pub fn anthropic(build: Build, debug: DebugText) -> Vendor {
    Vendor {
        name: "anthropic",
        model: "claude-sonnet-4-20250514",
        base_path: "",
        path: "/v1/messages",
        build,
        debug,
        key_header: ("x-api-key", |k| k.to_owned()),
        success: || {
            json!({
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-20250514",
                "content": [{"type": "text", "text": "Paris"}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0, "output_tokens": 3, "service_tier": "standard"}
            })
        },
        stop_reason: "end_turn",
        tool_call: (
            || {
                json!({
                    "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant",
                    "model": "claude-sonnet-4-20250514",
                    "content": [
                        {"type": "text", "text": "I'll check the current weather in Paris."},
                        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                            "name": "get_weather", "input": {"city": "Paris"}}
                    ],
                    "stop_reason": "tool_use", "stop_sequence": null,
                    "usage": {"input_tokens": 384, "output_tokens": 58}
                })
            },
            "toolu_01A09q90qw90lq917835lq9",
        ),
        error: |status, message| {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                500..=599 => "api_error",
                _ => "invalid_request_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message},
                "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
        },
        context_length: || {
            json_reply(
                400,
                json!({"type": "error", "error": {"type": "invalid_request_error",
                    "message": "prompt is too long: 208310 tokens > 200000 maximum"}}),
            )
        },
        content_filter: || {
            json_reply(
                200,
                json!({"id": "msg_01refusal", "type": "message", "role": "assistant",
                    "model": "claude-sonnet-4-20250514", "content": [], "stop_reason": "refusal",
                    "stop_sequence": null, "usage": {"input_tokens": 12, "output_tokens": 0}}),
            )
        },
        expected_request: || {
            json!({
                "model": "claude-sonnet-4-20250514", "max_tokens": 64, "system": "You are terse.",
                "messages": [
                    {"role": "user", "content": "Capital of France?"},
                    {"role": "assistant", "content": "Paris."},
                    {"role": "user", "content": "And of Italy?"}
                ],
                "temperature": 0.25, "top_p": 0.5, "stop_sequences": ["END"],
                "tools": [{"name": "get_weather", "description": "Current weather of a city",
                    "input_schema": weather_schema()}]
            })
        },
        expected_tool_conversation: || {
            let tool_use = |id: &str, name: &str, city: &str| {
                json!({"type": "tool_use", "id": id, "name": name,
                    "input": {"city": city}})
            };
            let result = |id: &str, content: &str| {
                json!({"type": "tool_result", "tool_use_id": id,
                    "content": content})
            };
            json!({
                "model": "claude-sonnet-4-20250514", "max_tokens": 1024,
                "system": "You are terse.",
                "messages": [
                    {"role": "user", "content": "Weather in Paris, time in Rome?"},
                    {"role": "assistant", "content": [
                        tool_use("call_paris", "get_weather", "Paris"),
                        tool_use("call_rome", "get_time", "Rome")]},
                    {"role": "user", "content": [
                        result("call_paris", PARIS_WEATHER), result("call_rome", "14:05")]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": CHECKING_BERLIN},
                        tool_use("call_berlin", "get_weather", "Berlin")]},
                    {"role": "user", "content": [result("call_berlin", "18")]}
                ],
                "tools": [
                    {"name": "get_weather", "description": "Current weather of a city",
                        "input_schema": weather_schema()},
                    {"name": "get_time", "description": "Local time of a city",
                        "input_schema": weather_schema()}
                ]
            })
        },
    }
}

/// Gemini's `generateContent`, with the provider under test made by `build`.
pub fn gemini(build: Build, debug: DebugText) -> Vendor {
    Vendor {
        name: "gemini",
        model: "gemini-2.0-flash",
        base_path: "",
        path: "/v1beta/models/gemini-2.0-flash:generateContent",
        build,
        debug,
        key_header: ("x-goog-api-key", |k| k.to_owned()),
        success: || {
            json!({
                "candidates": [{"content": {"parts": [{"text": "Paris"}], "role": "model"},
                    "finishReason": "STOP", "avgLogprobs": -0.0123}],
                "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3,
                    "totalTokenCount": 15,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
                    "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]},
                "modelVersion": "gemini-2.0-flash", "responseId": "8Dp9aJ2dKpeFm9IPz4W2qQ4"
            })
        },
        stop_reason: "STOP",
        tool_call: (
            || {
                json!({
                    "candidates": [{"content": {"parts": [{"functionCall":
                        {"name": "get_weather", "args": {"city": "Paris"}}}], "role": "model"},
                        "finishReason": "STOP", "avgLogprobs": -0.0021}],
                    "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 6,
                        "totalTokenCount": 46},
                    "modelVersion": "gemini-2.0-flash"
                })
            },
            "call_0",
        ),
        error: |status, message| {
            let name = match status {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                500..=599 => "INTERNAL",
                _ => "FAILED_PRECONDITION",
            };
            json!({"error": {"code": status, "message": message, "status": name}})
        },
        context_length: || {
            json_reply(
                400,
                json!({"error": {"code": 400, "message": "The input token count (1048577) exceeds \
                    the maximum number of tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}}),
            )
        },
        content_filter: || {
            json_reply(
                200,
                json!({"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH",
                        "blocked": true}]}],
                    "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
                    "modelVersion": "gemini-2.0-flash"}),
            )
        },
        expected_request: || {
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "Capital of France?"}]},
                    {"role": "model", "parts": [{"text": "Paris."}]},
                    {"role": "user", "parts": [{"text": "And of Italy?"}]}
                ],
                "systemInstruction": {"parts": [{"text": "You are terse."}]},
                "tools": [{"functionDeclarations": [{"name": "get_weather",
                    "description": "Current weather of a city", "parameters": weather_schema()}]}],
                "generationConfig": {"temperature": 0.25, "topP": 0.5, "maxOutputTokens": 64,
                    "seed": 7, "stopSequences": ["END"], "responseMimeType": "application/json"}
            })
        },
        expected_tool_conversation: || {
            let call = |name: &str, city: &str| {
                json!({"functionCall":
                    {"name": name, "args": {"city": city}}})
            };
            let response = |name: &str, response: Value| {
                json!({"functionResponse":
                    {"name": name, "response": response}})
            };
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "Weather in Paris, time in Rome?"}]},
                    {"role": "model", "parts": [
                        call("get_weather", "Paris"), call("get_time", "Rome")]},
                    {"role": "user", "parts": [
                        response("get_weather", json!({"temp_c": 21, "sky": "sunny"})),
                        response("get_time", json!({"result": "14:05"}))]},
                    {"role": "model", "parts": [
                        {"text": CHECKING_BERLIN}, call("get_weather", "Berlin")]},
                    {"role": "user", "parts": [
                        response("get_weather", json!({"result": 18}))]}
                ],
                "systemInstruction": {"parts": [{"text": "You are terse."}]},
                "tools": [{"functionDeclarations": [
                    {"name": "get_weather", "description": "Current weather of a city",
                        "parameters": weather_schema()},
                    {"name": "get_time", "description": "Local time of a city",
                        "parameters": weather_schema()}
                ]}]
            })
        },
    }
}
