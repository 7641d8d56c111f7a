//! Behaviours of a successful call: the completion read from the vendor's answer, and the
//! request the vendor receives.
//!
//! Each behaviour is named after what it checks.

#![allow(missing_docs, clippy::unwrap_used)]

use super::calls::{KEY, call, cx, provider, serve, standard_request, tool_conversation_request};
use super::vendors::Vendor;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

pub async fn success_returns_text_usage_and_stop_reason(v: &Vendor) {
    let (result, _server) = call(v, ResponseTemplate::new(200).set_body_json((v.success)())).await;
    let c = result.expect("a completion");
    assert_eq!(c.text, "Paris");
    assert_eq!((c.usage.input_tokens, c.usage.output_tokens), (12, 3));
    assert_eq!(c.stop_reason.as_deref(), Some(v.stop_reason));
    assert!(c.tool_calls.is_empty());
    assert!(c.latency_ms > 0.0, "latency measured: {}", c.latency_ms);
    assert_eq!(c.cost_usd, None, "no vendor-reported cost in this answer");
    assert!(!c.cache_hit);
}

pub async fn tool_calls_are_returned_with_parsed_arguments(v: &Vendor) {
    let (body, id) = v.tool_call;
    let (result, _server) = call(v, ResponseTemplate::new(200).set_body_json(body())).await;
    let c = result.expect("a completion");
    assert_eq!(c.tool_calls.len(), 1, "{c:?}");
    let call = &c.tool_calls[0];
    assert_eq!(call.id, id);
    assert_eq!(call.name, "get_weather");
    assert_eq!(call.arguments, json!({"city": "Paris"}));
}

pub async fn request_carries_model_messages_parameters_tools_and_key(v: &Vendor) {
    let server = serve(v, ResponseTemplate::new(200).set_body_json((v.success)())).await;
    provider(v, &server)
        .complete(&standard_request(v), &cx())
        .await
        .expect("a completion");
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), v.path);
    assert_eq!(r.url.query(), None, "nothing (no key) travels in the URL");
    let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
    assert_eq!(body, (v.expected_request)(), "{}", v.name);
    let header = |name: &str| r.headers.get(name).and_then(|h| h.to_str().ok());
    let (key_header, key_value) = v.key_header;
    assert_eq!(header(key_header), Some(key_value(KEY).as_str()));
    assert_eq!(header("content-type"), Some("application/json"));
    if v.name == "anthropic" {
        assert_eq!(header("anthropic-version"), Some("2023-06-01"));
    }
    for (name, value) in &r.headers {
        if name.as_str() != key_header {
            let value = value.to_str().unwrap_or("");
            assert!(!value.contains(KEY), "the key leaks into header {name}");
        }
    }
}

pub async fn a_multi_turn_tool_conversation_is_sent_in_the_vendor_wire_format(v: &Vendor) {
    let server = serve(v, ResponseTemplate::new(200).set_body_json((v.success)())).await;
    provider(v, &server)
        .complete(&tool_conversation_request(v), &cx())
        .await
        .expect("a completion");
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).expect("a JSON body");
    assert_eq!(body, (v.expected_tool_conversation)(), "{}", v.name);
}
