//! The agent configuration registry at the internal door: versions with optimistic
//! concurrency (If-Match), every write audited, customers refused.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

mod support;

use serde_json::{Value, json};
use support::{TestServer, service_token, user_token};

async fn put(s: &TestServer, id: &str, if_match: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = s
        .client
        .put(format!("{}/agent-configs/{id}", s.internal))
        .bearer_auth(service_token("tamma"))
        .json(body);
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    req.send().await.unwrap()
}

fn agent(model: &str) -> Value {
    json!({"name": "summarizer", "provider": "openai", "model": model, "system": "Be brief."})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_written_with_if_match_and_stale_writes_refused() {
    let s = TestServer::start().await;
    let created = put(&s, "summarizer", None, &agent("gpt-4o")).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let v1: Value = created.json().await.unwrap();
    assert_eq!(
        (v1["version"].as_u64(), v1["config"]["model"].as_str()),
        (Some(1), Some("gpt-4o"))
    );

    let again = put(&s, "summarizer", None, &agent("o3")).await;
    assert_eq!(again.status(), 409, "creating twice");

    let updated = put(&s, "summarizer", Some("\"1\""), &agent("o3")).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.headers()["etag"], "\"2\"");

    let stale = put(&s, "summarizer", Some("\"1\""), &agent("o4")).await;
    assert_eq!(stale.status(), 412);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["error"]["code"], "precondition_failed");

    let read = s
        .get(
            &format!("{}/agent-configs/summarizer", s.internal),
            Some(&service_token("tamma")),
        )
        .await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], "\"2\"");
    let latest: Value = read.json().await.unwrap();
    assert_eq!(
        latest["config"]["model"], "o3",
        "the stale write stored nothing"
    );

    let list: Value = s
        .get(
            &format!("{}/agent-configs", s.internal),
            Some(&service_token("tamma")),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["agent_configs"].as_array().unwrap().len(), 1);

    // Bad input is a 400 naming what is wrong; an unknown id is 404.
    let bad = put(&s, "summarizer", Some("latest"), &agent("x")).await;
    assert_eq!(bad.status(), 400);
    let bad = put(&s, "summarizer", Some("\"2\""), &json!({"name": "x"})).await;
    assert_eq!(bad.status(), 400);
    let missing = s
        .get(
            &format!("{}/agent-configs/nope", s.internal),
            Some(&service_token("tamma")),
        )
        .await;
    assert_eq!(missing.status(), 404);

    // A customer's token is refused at the internal door, and the public door has no
    // such route.
    let customer = s
        .get(
            &format!("{}/agent-configs", s.internal),
            Some(&user_token("acme", "premium")),
        )
        .await;
    assert_eq!(customer.status(), 403);
    let public = s
        .get(
            &format!("{}/agent-configs", s.public),
            Some(&user_token("acme", "premium")),
        )
        .await;
    assert_eq!(public.status(), 404);

    // Every write, stored or refused, is in the audit log.
    let audit = s.opened.audit.records(0, 10_000).await.unwrap();
    let writes = audit
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.entry).contains("agent_config_write"))
        .count();
    assert_eq!(
        writes, 4,
        "two stored, the second create and the stale write refused"
    );
    s.stop().await;
}
