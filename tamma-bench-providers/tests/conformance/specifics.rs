//! Behaviours only one vendor has: OpenRouter's reported cost, compatible servers' error
//! shapes, Anthropic's required `max_tokens`, Gemini's key errors, retry info, blocked
//! prompts and thoughts, and what each vendor receives for a tool message that answers no
//! call.

use crate::{anthropic, gemini, openai};
use serde_json::{Value, json};
use std::time::Duration;
use tamma_bench_core::model::{Message, Role};
use tamma_bench_core::provider::Provider;
use tamma_bench_core::provider::ProviderErrorKind as K;
use tamma_bench_providers::http::{HttpConfig, OpenAiProvider};
use tamma_bench_testkit::conformance::provider::calls::{
    call, cx, error_of, provider, serve, simple_request, tool_conversation_request,
};
use wiremock::ResponseTemplate;

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn openai_reported_cost_becomes_the_completion_cost() {
    let mut body = (openai().success)();
    body["usage"]["cost"] = json!(0.000_021);
    body["provider"] = json!("OpenAI");
    let c = call(&openai(), ok(body)).await.0.expect("a completion");
    assert_eq!(c.cost_usd, Some(0.000_021));
}

#[tokio::test]
async fn openai_tool_arguments_that_are_not_json_are_kept_as_text() {
    let v = openai();
    let mut body = (v.tool_call.0)();
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] =
        json!("{\"city\": Par");
    let c = call(&v, ok(body)).await.0.expect("a completion");
    assert_eq!(c.tool_calls[0].arguments, json!("{\"city\": Par"));
}

#[tokio::test]
async fn openai_compatible_servers_context_errors_are_context_length() {
    let llama_cpp = json!({"error": {"code": 400, "message":
        "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}});
    let vllm = json!({"object": "error", "message": "This model's maximum context length is \
        2048 tokens. However, you requested 3000 tokens (2000 in the messages, 1000 in the \
        completion). Please reduce the length of the messages or completion.",
        "type": "BadRequestError", "param": null, "code": 400});
    for body in [llama_cpp, vllm] {
        let e = error_of(&openai(), ResponseTemplate::new(400).set_body_json(body)).await;
        assert_eq!(e.kind(), K::ContextLength, "{e}");
    }
}

#[tokio::test]
async fn openai_without_a_key_sends_no_authorization() {
    let v = openai();
    let server = serve(&v, ok((v.success)())).await;
    let p = OpenAiProvider::new(HttpConfig::new(format!("{}/v1", server.uri()))).expect("p");
    p.complete(&simple_request(&v), &cx())
        .await
        .expect("a completion");
    let requests = server.received_requests().await.expect("recording");
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn anthropic_sends_max_tokens_1024_when_the_request_sets_none() {
    let v = anthropic();
    let server = serve(&v, ok((v.success)())).await;
    let p = provider(&v, &server);
    p.complete(&simple_request(&v), &cx())
        .await
        .expect("a completion");
    let requests = server.received_requests().await.expect("recording");
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(body["max_tokens"], json!(1024));
    assert_eq!(
        body.get("system"),
        None,
        "no system message, no system field"
    );
}

#[tokio::test]
async fn anthropic_cache_tokens_count_as_input() {
    let v = anthropic();
    let mut body = (v.success)();
    body["usage"]["cache_read_input_tokens"] = json!(100);
    body["usage"]["cache_creation_input_tokens"] = json!(20);
    let c = call(&v, ok(body)).await.0.expect("a completion");
    assert_eq!(c.usage.input_tokens, 132);
}

#[tokio::test]
async fn gemini_an_invalid_key_answered_with_400_is_auth() {
    let body = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID", "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"}}]}});
    let e = error_of(&gemini(), ResponseTemplate::new(400).set_body_json(body)).await;
    assert_eq!(e.kind(), K::Auth, "{e}");
}

#[tokio::test]
async fn gemini_retry_info_in_the_body_sets_the_wait() {
    let body = json!({"error": {"code": 429, "message": "You exceeded your current quota, please \
        check your plan and billing details.", "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric":
            "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}});
    let e = error_of(&gemini(), ResponseTemplate::new(429).set_body_json(body)).await;
    assert_eq!(e.kind(), K::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(37)));
}

#[tokio::test]
async fn gemini_a_blocked_prompt_is_content_filter() {
    let body = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.0-flash"});
    let e = error_of(&gemini(), ok(body)).await;
    assert_eq!(e.kind(), K::ContentFilter, "{e}");
}

#[tokio::test]
async fn gemini_thoughts_are_not_the_answer_but_are_output_tokens() {
    let body = json!({"candidates": [{"content": {"parts": [
            {"text": "The user asks for a capital.", "thought": true}, {"text": "Paris"}],
            "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3,
            "thoughtsTokenCount": 20, "totalTokenCount": 35}});
    let c = call(&gemini(), ok(body)).await.0.expect("a completion");
    assert_eq!(c.text, "Paris");
    assert_eq!(c.usage.output_tokens, 23);
}

#[tokio::test]
async fn a_tool_message_without_a_call_id_is_sent_as_user_text_by_every_vendor() {
    for v in [openai(), anthropic(), gemini()] {
        let server = serve(&v, ok((v.success)())).await;
        let mut request = simple_request(&v);
        request.messages.push(Message::new(Role::Tool, "21°C"));
        provider(&v, &server)
            .complete(&request, &cx())
            .await
            .expect("a completion");
        let requests = server.received_requests().await.expect("recording");
        let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
        let last = match v.name {
            "gemini" => body["contents"][1].clone(),
            _ => body["messages"][1].clone(),
        };
        let expected = match v.name {
            "gemini" => json!({"role": "user", "parts": [{"text": "21°C"}]}),
            _ => json!({"role": "user", "content": "21°C"}),
        };
        assert_eq!(last, expected, "{}", v.name);
    }
}

#[tokio::test]
async fn gemini_a_tool_result_answering_no_call_is_an_invalid_request_never_sent() {
    let v = gemini();
    let server = serve(&v, ok((v.success)())).await;
    let mut request = tool_conversation_request(&v);
    request
        .messages
        .push(Message::tool_result("call_unknown", "?"));
    let e = provider(&v, &server)
        .complete(&request, &cx())
        .await
        .expect_err("no function name to send");
    assert_eq!(e.kind(), K::InvalidRequest, "{e}");
    assert!(e.message().contains("call_unknown"), "{e}");
    let requests = server.received_requests().await.expect("recording");
    assert!(requests.is_empty(), "nothing is sent");
}
