//! The OpenAPI documents against the routers: every route is documented (method and
//! path), every documented operation exists, every authenticated operation lists its
//! errors with the error body, and the library views the API returns have exactly the
//! properties their schemas describe.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::*;
use tamma_bench::core::model::Visibility;
use tamma_bench_server::{Door, Server};

/// (METHOD, path) of every operation of a document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn routed(door: Door) -> BTreeSet<(String, String)> {
    Server::routes(door)
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect()
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_exists() {
    let s = TestServer::start().await;
    for (door, base) in [(Door::Public, &s.public), (Door::Internal, &s.internal)] {
        let r = s.get(&format!("{base}/openapi.json"), None).await;
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let routes = routed(door);
        let docs = documented(&doc);
        let undocumented: Vec<_> = routes.difference(&docs).collect();
        let missing: Vec<_> = docs.difference(&routes).collect();
        assert!(
            undocumented.is_empty(),
            "{door:?}: undocumented routes {undocumented:?}"
        );
        assert!(
            missing.is_empty(),
            "{door:?}: documented but not routed {missing:?}"
        );
        // A documented route answers at its path (not the fallback's 404 "no such route").
        for (method, path) in &docs {
            let url = format!(
                "http://{}{}",
                base.split('/').nth(2).unwrap(),
                path.replace("{id}", "x")
            );
            let r = s
                .client
                .request(method.parse().unwrap(), &url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert_ne!(body["error"]["message"], "no such route", "{method} {path}");
        }
        // Every operation behind a token says so and lists the errors it can answer.
        for (method, path) in &docs {
            let op = &doc["paths"][path][method.to_lowercase()];
            if path.ends_with("/healthz")
                || path.ends_with("/readyz")
                || path.ends_with("/openapi.json")
            {
                assert!(op.get("security").is_none(), "{path}");
                continue;
            }
            assert!(op["security"].is_array(), "{method} {path}: no security");
            for status in ["401", "403", "429", "503"] {
                let response = &op["responses"][status];
                assert!(
                    response["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("/ErrorBody")),
                    "{method} {path}: {status}"
                );
            }
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path}"
            );
        }
    }
}

/// The property names of schema `name`.
fn properties(doc: &Value, name: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][name]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {name}"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_library_views_have_the_properties_their_schemas_describe() {
    let s = TestServer::start().await;
    s.seed_run("acme", "acme-run", Visibility::Private, 2).await;
    let doc: Value = s
        .get(&format!("{}/openapi.json", s.public), None)
        .await
        .json()
        .await
        .unwrap();
    let token = user_token("acme", "free");
    let run: Value = s
        .get(&format!("{}/runs/acme-run", s.public), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&run["run"]), properties(&doc, "RunView"));
    assert_eq!(keys(&run["run"]["agents"][0]), properties(&doc, "AgentRef"));
    assert_eq!(keys(&run["results"][0]), properties(&doc, "PublicResult"));
    let page: Value = s
        .get(&format!("{}/runs/acme-run/trials", s.public), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let trial = keys(&page["trials"][0]);
    let schema = properties(&doc, "PublicTrial");
    assert!(trial.is_subset(&schema), "{trial:?} ⊄ {schema:?}");
    // Optional fields are left out when empty; the rest are always there.
    let optional = BTreeSet::from([
        "cluster".to_owned(),
        "error_kind".into(),
        "answer".into(),
        "output".into(),
    ]);
    assert!(
        schema.difference(&trial).all(|k| optional.contains(k)),
        "{trial:?}"
    );
}
