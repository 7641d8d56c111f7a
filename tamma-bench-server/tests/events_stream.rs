//! The live event stream (server-sent events) at both doors, over real listeners and a
//! real SQLite file: what each caller receives (its own events and public ones, never
//! another tenant's private ones, internal ones only at the internal door), resuming with
//! `Last-Event-ID`, the type filter, a stream outliving the request timeout, and a
//! graceful stop that ends open streams.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use std::time::Duration;
use support::*;
use tamma_bench::core::events::{EventPayload, NewEvent, Visibility as EventVisibility};
use tamma_bench::core::model::{TenantId, Visibility};

/// One server-sent message (comments dropped).
#[derive(Debug, Clone, PartialEq)]
struct Message {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

impl Message {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// Reads server-sent messages from a streaming answer.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    async fn open(s: &TestServer, url: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let mut req = s.client.get(url).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next message that is not only comments; `None` when the stream ended.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut m = Message {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                let mut fields = 0;
                for line in block.lines() {
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
                    match name {
                        "" => continue, // a comment: keep-alive
                        "id" => m.id = Some(value),
                        "event" => m.event = Some(value),
                        "data" => m.data.push_str(&value),
                        other => panic!("unexpected field {other:?} in {block:?}"),
                    }
                    fields += 1;
                }
                if fields > 0 {
                    return Some(m);
                }
                continue;
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next message, within 10 s.
    async fn expect(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(10), self.next())
            .await
            .expect("a message within 10 s")
            .expect("the stream is open")
    }

    /// The next event message (skipping the opening position-only message).
    async fn expect_event(&mut self) -> Message {
        loop {
            let m = self.expect().await;
            if m.event.is_some() {
                return m;
            }
        }
    }
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// An event of `tenant` with `visibility`, appended straight to the log.
async fn append(s: &TestServer, tenant_id: Option<&str>, visibility: EventVisibility, tag: &str) {
    let mut event = NewEvent::new(
        tenant_id.map(tenant),
        EventPayload::InsightGenerated {
            run_id: format!("run-{tag}"),
            text: tag.to_owned(),
        },
    );
    event.visibility = visibility;
    s.state.events().append(vec![event]).await.unwrap();
}

/// The `data.text` (insights) or `data.run_id` (runs) of an event message.
fn tag(m: &Message) -> String {
    let v = m.json();
    v["data"]["text"]
        .as_str()
        .or(v["data"]["run_id"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_tenant_receives_its_own_and_public_events_never_another_tenants_private_ones() {
    let s = TestServer::start().await;
    let url = format!("{}/events", s.public);
    let mut acme = SseReader::open(&s, &url, &user_token("acme", "free"), None).await;
    // The opening message holds the position the stream starts after.
    let opening = acme.expect().await;
    assert_eq!(opening.id.as_deref(), Some("0"));
    assert_eq!(opening.event, None);

    // Runs written through the repository log their events in the same transaction.
    s.seed_run("globex", "globex-private", Visibility::Private, 2)
        .await;
    s.seed_run("acme", "acme-own", Visibility::Private, 2).await;
    s.seed_run("globex", "globex-public", Visibility::Public, 2)
        .await;
    append(&s, Some("acme"), EventVisibility::Internal, "acme-internal").await;
    append(&s, Some("globex"), EventVisibility::Tenant, "globex-tenant").await;
    append(&s, Some("acme"), EventVisibility::Tenant, "acme-last").await;

    let mut got = Vec::new();
    loop {
        let m = acme.expect_event().await;
        let json = m.json();
        assert_eq!(m.id.as_deref().unwrap(), json["position"].to_string());
        assert_eq!(m.event.as_deref().unwrap(), event_type(&json));
        let t = tag(&m);
        got.push((m.event.unwrap(), t.clone()));
        if t == "acme-last" {
            break;
        }
    }
    assert_eq!(
        got,
        vec![
            ("benchmark.completed".into(), "acme-own".into()),
            ("results.published".into(), "globex-public".into()),
            ("insight.generated".into(), "acme-last".into()),
        ],
        "own events and the public one, in log order; nothing of globex's own, nothing internal"
    );

    // The internal door: the service of acme also receives acme's internal events.
    let url = format!("{}/events?after=0", s.internal);
    let mut service = SseReader::open(&s, &url, &service_token("acme"), None).await;
    let mut tags = Vec::new();
    loop {
        let m = service.expect_event().await;
        let t = tag(&m);
        tags.push(t.clone());
        if t == "acme-last" {
            break;
        }
    }
    assert_eq!(
        tags,
        vec!["acme-own", "globex-public", "acme-internal", "acme-last"]
    );
    s.stop().await;
}

#[test]
fn both_streams_are_routes_documented_in_the_openapi_documents() {
    use tamma_bench_server::{Door, Server, openapi};
    for (door, doc, path) in [
        (Door::Public, openapi::public_document(), "/api/v1/events"),
        (
            Door::Internal,
            openapi::internal_document(),
            "/internal/v1/events",
        ),
    ] {
        assert!(
            Server::routes(door)
                .iter()
                .any(|(m, p)| m == "GET" && p == path)
        );
        let doc = serde_json::to_value(doc).unwrap();
        let op = &doc["paths"][path]["get"];
        assert!(
            op["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some(),
            "{op}"
        );
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["Last-Event-ID", "after", "type"]);
    }
}

/// `job.queued` from `{"type": "job_queued", ...}`.
fn event_type(json: &Value) -> String {
    json["type"].as_str().unwrap().replacen('_', ".", 1)
}

#[tokio::test]
async fn resuming_with_last_event_id_skips_what_was_seen_and_types_filter() {
    let s = TestServer::start().await;
    for t in ["one", "two", "three"] {
        append(&s, Some("acme"), EventVisibility::Tenant, t).await;
    }
    let failed = NewEvent::new(
        Some(tenant("acme")),
        EventPayload::JobFailed {
            job_id: "job-1".into(),
            error: "boom".into(),
        },
    );
    s.state.events().append(vec![failed]).await.unwrap();
    let token = user_token("acme", "premium");
    let url = format!("{}/events?after=0", s.public);
    let mut first = SseReader::open(&s, &url, &token, None).await;
    let a = first.expect_event().await;
    let b = first.expect_event().await;
    assert_eq!((tag(&a), tag(&b)), ("one".into(), "two".into()));
    drop(first);

    // Reconnecting with the last id seen (to the same URL, as a client does) goes on after it.
    let mut again = SseReader::open(&s, &url, &token, b.id.as_deref()).await;
    let opening = again.expect().await;
    assert_eq!(opening.id, b.id, "the stream starts after the id given");
    let c = again.expect_event().await;
    assert_eq!(tag(&c), "three");
    let d = again.expect_event().await;
    assert_eq!(d.event.as_deref(), Some("job.failed"));

    // Only the types asked for.
    let url = format!("{}/events?after=0&type=job.failed", s.public);
    let mut only = SseReader::open(&s, &url, &token, None).await;
    let m = only.expect_event().await;
    assert_eq!(m.event.as_deref(), Some("job.failed"));
    assert_eq!(m.id, d.id);

    // Malformed positions and unknown types are refused before any stream opens.
    let r = s
        .get(
            &format!("{}/events?type=job.exploded", s.public),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("job.exploded")
    );
    let r = s
        .client
        .get(format!("{}/events", s.public))
        .bearer_auth(&token)
        .header("last-event-id", "not-a-number")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // No token, no stream.
    let r = s.get(&format!("{}/events", s.public), None).await;
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn a_stream_outlives_the_request_timeout_and_ends_when_the_server_stops() {
    let s = TestServer::start_with(|c| {
        c.request_timeout_ms = 200;
        c.event_stream.keep_alive_secs = 1;
    })
    .await;
    let url = format!("{}/events", s.public);
    let mut stream = SseReader::open(&s, &url, &user_token("acme", "free"), None).await;
    stream.expect().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    append(&s, Some("acme"), EventVisibility::Tenant, "late").await;
    let m = stream.expect_event().await;
    assert_eq!(tag(&m), "late", "the request timeout does not cut a stream");

    tokio::time::timeout(Duration::from_secs(10), s.stop())
        .await
        .expect("the graceful stop completes with a stream open");
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the stream ends");
    assert_eq!(end, None);
}
