//! The authentication matrix: each refusal with its status and generic message, tokens of
//! both algorithms, the wrong door both ways, key rotation without a restart, and an
//! audit entry for every decision that never holds the token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::time::Duration;
use support::*;
use tamma_bench::privacy::audit::{AuditAction, AuditEntry, Decision};

/// Every entry of the audit log.
async fn audit_entries(s: &TestServer) -> Vec<AuditEntry> {
    s.opened
        .audit
        .records(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|r| AuditEntry::from_canonical(&r.entry).unwrap())
        .collect()
}

/// The authentication entries, as (door, decision, reason, tenant, principal).
async fn auth_log(s: &TestServer) -> Vec<(String, Decision, String, String, String)> {
    audit_entries(s)
        .await
        .into_iter()
        .filter(|e| e.action == AuditAction::Authenticate)
        .map(|e| {
            (
                e.resource.clone(),
                e.decision,
                e.policies.join(","),
                e.tenant.to_string(),
                e.principal.clone(),
            )
        })
        .collect()
}

/// A token signed with `key` under the header `kid` (another key's).
fn sign_as(key: Key, kid: &str, claims: &Value) -> String {
    let (encoding, alg) = key.encoding();
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

#[tokio::test]
async fn every_refusal_has_its_status_and_a_generic_message() {
    let s = TestServer::start().await;
    s.seed_run(
        "acme",
        "acme-run",
        tamma_bench::core::model::Visibility::Private,
        2,
    )
    .await;
    let url = format!("{}/runs/acme-run", s.public);
    let mut claims = user_claims("acme", "free");
    let with = |key: &str, value: Value| {
        let mut c = user_claims("acme", "free");
        c[key] = value;
        c
    };
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("user-a".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"the public key as a secret").unwrap(),
        )
        .unwrap()
    };
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("missing", None, 401, "missing"),
        ("malformed", Some("not-a-jwt".into()), 401, "malformed"),
        (
            "bad signature",
            Some(sign_as(Key::UserB, "user-a", &claims)),
            401,
            "bad_signature",
        ),
        ("algorithm confusion", Some(hs256), 401, "bad_signature"),
        (
            "expired",
            Some(sign(Key::UserA, &with("exp", json!(now() - 3600)))),
            401,
            "expired",
        ),
        (
            "not yet valid",
            Some(sign(Key::UserA, &with("nbf", json!(now() + 3600)))),
            401,
            "not_yet_valid",
        ),
        (
            "wrong audience",
            Some(sign(Key::UserA, &with("aud", json!("someone-else")))),
            401,
            "wrong_audience",
        ),
        (
            "wrong issuer",
            Some(sign(Key::UserA, &with("iss", json!("https://evil.test/")))),
            401,
            "wrong_issuer",
        ),
        (
            "unknown key",
            Some(sign(Key::UserB, &claims)),
            401,
            "unknown_key",
        ),
        (
            "service token at the public door",
            Some(service_token("acme")),
            403,
            "wrong_door",
        ),
        (
            "unknown tier",
            Some(sign(Key::UserA, &with("tier", json!("gold")))),
            403,
            "invalid_claims",
        ),
        (
            "invalid tenant",
            Some(sign(Key::UserA, &with("tenant", json!("a/b")))),
            403,
            "invalid_claims",
        ),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for (name, token, status, _) in &cases {
        let r = s.get(&url, token.as_deref()).await;
        assert_eq!(r.status().as_u16(), *status, "{name}");
        if *status == 401 {
            assert_eq!(r.headers()["www-authenticate"], "Bearer", "{name}");
        }
        let body: Value = r.json().await.unwrap();
        messages.insert((
            *status,
            body["error"]["message"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(messages.len(), 2, "one message per status: {messages:?}");

    // Both algorithms open the door.
    claims["sub"] = json!("rsa-user");
    let r = s.get(&url, Some(&sign(Key::UserRsa, &claims))).await;
    assert_eq!(r.status(), 200);
    let r = s.get(&url, Some(&user_token("acme", "premium"))).await;
    assert_eq!(r.status(), 200);

    // Every decision is in the audit log, with its reason; no token is.
    let log = auth_log(&s).await;
    let refused: Vec<&str> = log
        .iter()
        .filter(|e| e.1 == Decision::Deny)
        .map(|e| e.2.trim_start_matches("reason:"))
        .collect();
    let expected: Vec<&str> = cases.iter().map(|c| c.3).collect();
    assert_eq!(refused, expected);
    let allowed: Vec<_> = log.iter().filter(|e| e.1 == Decision::Allow).collect();
    assert_eq!(allowed.len(), 2);
    assert!(
        allowed
            .iter()
            .all(|e| e.0 == "door:public" && e.3 == "acme")
    );
    assert!(allowed.iter().any(|e| e.4 == "rsa-user"));
    let wrong_door = log.iter().find(|e| e.2 == "reason:wrong_door").unwrap();
    assert_eq!(
        (wrong_door.3.as_str(), wrong_door.4.as_str()),
        ("acme", "optimizer")
    );
    let raw: Vec<String> = s
        .opened
        .audit
        .records(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.entry).into_owned())
        .collect();
    for (_, token, _, _) in &cases {
        if let Some(t) = token {
            let signature = t.rsplit('.').next().unwrap();
            assert!(
                raw.iter().all(|e| !e.contains(signature)),
                "a token in the log"
            );
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn a_public_token_is_refused_at_the_internal_door() {
    let s = TestServer::start().await;
    let url = format!("{}/runs/x", s.internal);
    let r = s.get(&url, Some(&user_token("acme", "premium"))).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    // A public token with the internal audience, signed by a public key, is still no
    // service token: the internal door knows no public key.
    let mut claims = user_claims("acme", "premium");
    claims["aud"] = json!(INTERNAL_AUD);
    let r = s.get(&url, Some(&sign(Key::UserA, &claims))).await;
    assert_eq!(r.status(), 401);
    let r = s.get(&url, Some(&service_token("acme"))).await;
    assert_eq!(r.status(), 404, "authenticated; the run does not exist");
    let log = auth_log(&s).await;
    assert_eq!(
        log.iter()
            .map(|e| (e.0.as_str(), e.2.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("door:internal", "reason:wrong_door"),
            ("door:internal", "reason:unknown_key"),
            ("door:internal", "reason:ok"),
        ]
    );
}

#[tokio::test]
async fn a_rotated_key_set_is_read_without_a_restart() {
    let s = TestServer::start().await;
    let url = format!("{}/jobs", s.public);
    let old = user_token("acme", "free");
    let new = sign(Key::UserB, &user_claims("acme", "free"));
    assert_eq!(s.get(&url, Some(&old)).await.status(), 200);
    assert_eq!(s.get(&url, Some(&new)).await.status(), 401);
    // The new key is published beside the old one: an unknown kid makes the set re-read.
    std::fs::write(&s.public_jwks, jwks(&[Key::UserA, Key::UserB])).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.get(&url, Some(&new)).await.status(), 200);
    // The old key is withdrawn: the changed file is read at the next look.
    std::fs::write(&s.public_jwks, jwks(&[Key::UserB])).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.get(&url, Some(&old)).await.status(), 401);
    assert_eq!(s.get(&url, Some(&new)).await.status(), 200);
    // A broken file keeps the last good keys.
    std::fs::write(&s.public_jwks, "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.get(&url, Some(&new)).await.status(), 200);
}
