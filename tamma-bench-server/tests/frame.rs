//! The frame: liveness and readiness at both doors, request ids, the JSON error body of
//! unknown routes and methods, a run read end to end (and another tenant's private run
//! answered 404), and a graceful stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::*;
use tamma_bench::core::model::Visibility;

#[tokio::test]
async fn health_and_readiness_answer_at_both_doors_without_a_token() {
    let s = TestServer::start().await;
    for base in [&s.public, &s.internal] {
        let r = s.get(&format!("{base}/healthz"), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
        let r = s.get(&format!("{base}/readyz"), None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
    }
    s.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_json_error() {
    let s = TestServer::start().await;
    let r = s.get(&format!("{}/no-such-thing", s.public), None).await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let r = s
        .client
        .delete(format!("{}/healthz", s.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    // The public API is not served at the internal listener, nor the other way round.
    let internal_host = s.internal.replace("/internal/v1", "/api/v1");
    let r = s.get(&format!("{internal_host}/healthz"), None).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(format!("{}/healthz", s.public))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-123");
    let r = s.get(&format!("{}/healthz", s.public), None).await;
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
}

#[tokio::test]
async fn a_run_is_read_by_its_tenant_and_is_absent_for_another() {
    let s = TestServer::start().await;
    s.seed_run("acme", "acme-run", Visibility::Private, 4).await;
    let r = s
        .get(
            &format!("{}/runs/acme-run", s.public),
            Some(&user_token("acme", "free")),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["run"]["id"], "acme-run");
    assert_eq!(body["run"]["own"], true);
    assert_eq!(body["results"][0]["agent"], "agent-1");
    assert!(!body.to_string().contains("SECRET_KEY_VAR"), "{body}");

    let r = s
        .get(
            &format!("{}/runs/acme-run", s.public),
            Some(&user_token("globex", "free")),
        )
        .await;
    assert_eq!(r.status(), 404);
    let other: Value = r.json().await.unwrap();
    let r = s
        .get(
            &format!("{}/runs/no-such-run", s.public),
            Some(&user_token("globex", "free")),
        )
        .await;
    assert_eq!(r.status(), 404);
    let absent: Value = r.json().await.unwrap();
    assert_eq!(
        other, absent,
        "another tenant's run reads as one that does not exist"
    );

    // The internal door shows the whole record to a service of the tenant.
    let r = s
        .get(
            &format!("{}/runs/acme-run", s.internal),
            Some(&service_token("acme")),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["run"]["agents"][0]["api_key_env"], "SECRET_KEY_VAR",
        "{body}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_listeners_stop_when_the_token_is_cancelled() {
    let s = TestServer::start().await;
    let url = format!("{}/healthz", s.public);
    assert_eq!(s.get(&url, None).await.status(), 200);
    let client = s.client.clone();
    s.stop().await;
    assert!(
        client.get(&url).send().await.is_err(),
        "nothing listens after the stop"
    );
}
