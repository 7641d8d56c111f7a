//! What every behaviour needs: the key, a server answering one response, the provider
//! pointed at it, the requests it is called with.

use super::Endpoint;
use super::vendors::{Vendor, weather_schema};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::model::{Message, Role, TenantId};
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ResponseFormat, ToolCall,
    ToolDefinition,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond};

/// The key every provider is built with; it must never show up anywhere but its header.
pub const KEY: &str = "sk-conformance-5e1f0a9c7d3b41aa";

/// A server answering every POST to the vendor's path with `response`.
pub async fn serve(v: &Vendor, response: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(v.path))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// The endpoint of a provider of `v` pointed at `server`, with [`KEY`].
pub fn endpoint(v: &Vendor, server: &str) -> Endpoint {
    Endpoint::new(format!("{server}{}", v.base_path))
        .with_api_key(KEY)
        .with_timeout(Duration::from_secs(10))
}

/// A provider of `v` pointed at `server`.
pub fn provider(v: &Vendor, server: &MockServer) -> Arc<dyn Provider> {
    (v.build)(endpoint(v, &server.uri()))
}

/// Serves `response` and makes the simple request once.
pub async fn call(
    v: &Vendor,
    response: impl Respond + 'static,
) -> (Result<Completion, ProviderError>, MockServer) {
    let server = serve(v, response).await;
    let result = provider(v, &server)
        .complete(&simple_request(v), &cx())
        .await;
    (result, server)
}

/// The error of one call answered with `response`.
pub async fn error_of(v: &Vendor, response: impl Respond + 'static) -> ProviderError {
    match call(v, response).await.0 {
        Ok(c) => panic!("{}: expected an error, got {c:?}", v.name),
        Err(e) => e,
    }
}

/// One user message.
pub fn simple_request(v: &Vendor) -> CompletionRequest {
    CompletionRequest {
        model: v.model.into(),
        messages: vec![Message::new(Role::User, "Capital of France?")],
        temperature: None,
        top_p: None,
        max_tokens: None,
        seed: None,
        stop: Vec::new(),
        tools: Vec::new(),
        response_format: ResponseFormat::Text,
    }
}

/// A system message, a short conversation, every sampling parameter, a tool, JSON output.
pub fn standard_request(v: &Vendor) -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, "Capital of France?"),
            Message::new(Role::Assistant, "Paris."),
            Message::new(Role::User, "And of Italy?"),
        ],
        temperature: Some(0.25),
        top_p: Some(0.5),
        max_tokens: Some(64),
        seed: Some(7),
        stop: vec!["END".into()],
        tools: vec![ToolDefinition {
            name: "get_weather".into(),
            description: "Current weather of a city".into(),
            parameters: weather_schema(),
        }],
        response_format: ResponseFormat::Json,
        ..simple_request(v)
    }
}

/// Two rounds of tool use: the model calls two tools at once without saying anything, gets
/// both results (a JSON object, plain text), then says something and calls one more (whose
/// result is a JSON number).
pub fn tool_conversation_request(v: &Vendor) -> CompletionRequest {
    let call = |id: &str, name: &str, city: &str| ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: json!({ "city": city }),
    };
    CompletionRequest {
        messages: vec![
            Message::new(Role::System, "You are terse."),
            Message::new(Role::User, "Weather in Paris, time in Rome?"),
            Message::assistant_calling(
                "",
                vec![
                    call("call_paris", "get_weather", "Paris"),
                    call("call_rome", "get_time", "Rome"),
                ],
            ),
            Message::tool_result("call_paris", r#"{"temp_c": 21, "sky": "sunny"}"#),
            Message::tool_result("call_rome", "14:05"),
            Message::assistant_calling(
                "Paris: 21°C, sunny. Rome: 14:05. Checking Berlin.",
                vec![call("call_berlin", "get_weather", "Berlin")],
            ),
            Message::tool_result("call_berlin", "18"),
        ],
        tools: vec![
            ToolDefinition {
                name: "get_weather".into(),
                description: "Current weather of a city".into(),
                parameters: weather_schema(),
            },
            ToolDefinition {
                name: "get_time".into(),
                description: "Local time of a city".into(),
                parameters: weather_schema(),
            },
        ],
        ..simple_request(v)
    }
}

/// A call context.
pub fn cx() -> CallContext {
    CallContext {
        run_id: "run".into(),
        tenant_id: TenantId::local(),
        agent: "agent".into(),
        case_id: "case".into(),
        epoch: 0,
        attempt: 1,
    }
}
