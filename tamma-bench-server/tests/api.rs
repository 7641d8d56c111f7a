//! The public and internal endpoints over a real SQLite file: tenants kept apart in every
//! listing, runs submitted inline and queued in the caller's tenant (and what a
//! submission may not name), limits (requests, submissions, body size), trial paging,
//! studies and insights.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::*;
use tamma_bench::core::events::{EventPayload, NewEvent};
use tamma_bench::core::model::{TenantContext, TenantId, Tier, Visibility};
use tamma_bench::core::queue::{JobId, JobKind};

const MANIFEST: &str = r#"id = "arith"
name = "Arithmetic"
version = "1"
epochs = 1
cases = "cases.jsonl"
"#;
const CASES: &str = "{\"id\": \"c1\", \"input\": \"1+1\", \"target\": \"2\"}\n{\"id\": \"c2\", \"input\": \"2+2\", \"target\": \"4\"}\n";
const AGENTS: &str = r#"[[agent]]
name = "gpt"
provider = "openai"
model = "gpt-4o-mini"
"#;

fn run_request(agents: &str) -> Value {
    json!({"benchmark": {"manifest": MANIFEST, "cases": CASES}, "agents": agents,
           "epochs": 2, "concurrency": 4})
}

#[tokio::test]
async fn listings_show_public_runs_and_the_callers_own_never_another_tenants_private() {
    let s = TestServer::start().await;
    s.seed_run("acme-private", "acme-private-1", Visibility::Private, 3)
        .await;
    s.seed_run("globex", "globex-public-1", Visibility::Public, 3)
        .await;
    let acme = user_token("acme-private", "free");
    let globex = user_token("globex", "free");

    let ids = |v: &Value| -> BTreeSet<String> {
        v["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r: Value = s
        .get(&format!("{}/benchmarks", s.public), Some(&acme))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(&r),
        BTreeSet::from(["bench-acme".into(), "bench-globex".into()]),
        "{r}"
    );
    let r: Value = s
        .get(&format!("{}/benchmarks", s.public), Some(&globex))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&r), BTreeSet::from(["bench-globex".into()]), "{r}");
    assert!(!r.to_string().contains("acme-private-1"));
    assert_eq!(r["benchmarks"][0]["run_count"], 1);
    assert_eq!(r["benchmarks"][0]["latest_run"]["own"], true);

    // The other tenant's private benchmark and run are absent; the public ones are read.
    for path in [
        "benchmarks/bench-acme",
        "benchmarks/bench-acme/results",
        "runs/acme-private-1",
        "runs/acme-private-1/trials",
    ] {
        let r = s.get(&format!("{}/{path}", s.public), Some(&globex)).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = s
        .get(
            &format!("{}/benchmarks/bench-globex/results", s.public),
            Some(&acme),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["runs"][0]["run_id"], "globex-public-1");
    assert_eq!(body["runs"][0]["results"][0]["metrics"]["n_trials"], 3);
    let r: Value = s
        .get(
            &format!("{}/runs/globex-public-1/trials", s.public),
            Some(&acme),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["trials"].as_array().unwrap().len(), 3);
    assert!(
        r["trials"][0].get("output").is_none(),
        "another tenant's outputs stay private: {r}"
    );
    let r: Value = s
        .get(
            &format!("{}/runs/globex-public-1/trials", s.public),
            Some(&globex),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["trials"][0]["output"], "output 0",
        "the owner reads its outputs"
    );
}

#[tokio::test]
async fn a_submitted_run_is_queued_in_the_callers_tenant_and_can_be_followed_and_cancelled() {
    let s = TestServer::start().await;
    let token = user_token("acme", "premium");
    let r = s
        .post(
            &format!("{}/benchmarks", s.public),
            &token,
            &run_request(AGENTS),
        )
        .await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let id = body["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/jobs/{id}"));
    assert_eq!(body["job"]["state"], "queued");
    assert_eq!(body["job"]["tier"], "external-premium");

    // In the queue, as the caller's tenant, with the payload as the loaders built it.
    let cx = TenantContext::external(TenantId::new("acme").unwrap(), Tier::Premium, "x");
    let job = s
        .state
        .queue()
        .get(&cx, &JobId::new(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, JobKind::Run);
    assert_eq!(job.context.principal, "user-of-acme");
    let payload = tamma_bench::jobs::RunJob::from_payload(&job.payload).unwrap();
    assert_eq!(payload.benchmark.cases.len(), 2);
    assert_eq!((payload.epochs, payload.concurrency), (Some(2), 4));

    let r = s.get(&format!("{}/jobs", s.public), Some(&token)).await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["jobs"][0]["id"], id.as_str());
    let r: Value = s
        .get(&format!("{}/jobs/{id}", s.public), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["history"][0]["kind"], "submitted");
    // Another tenant neither sees nor cancels it.
    let other = user_token("globex", "premium");
    assert_eq!(
        s.get(&format!("{}/jobs/{id}", s.public), Some(&other))
            .await
            .status(),
        404
    );
    let r: Value = s
        .get(&format!("{}/jobs", s.public), Some(&other))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["jobs"], json!([]));
    let cancel = format!("{}/jobs/{id}/cancel", s.public);
    assert_eq!(s.post(&cancel, &other, &json!({})).await.status(), 404);
    let r = s.post(&cancel, &token, &json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "cancelled");
    assert_eq!(s.post(&cancel, &token, &json!({})).await.status(), 409);
}

#[tokio::test]
async fn a_submission_naming_server_files_or_keys_is_refused_naming_the_field() {
    let s = TestServer::start().await;
    let token = user_token("acme", "free");
    let url = format!("{}/benchmarks", s.public);
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            run_request(
                "[[agent]]\nname = \"r\"\nprovider = \"replay\"\nmodel = \"m\"\nrecording = \"/etc/passwd\"\n",
            ),
            422,
            "field `provider`",
        ),
        (
            run_request(
                "[[agent]]\nname = \"r\"\nprovider = \"openai\"\nmodel = \"m\"\nrecording = \"/etc/passwd\"\n",
            ),
            422,
            "field `recording`",
        ),
        (
            run_request(
                "[[agent]]\nname = \"r\"\nprovider = \"openai\"\nmodel = \"m\"\napi_key_env = \"TAMMA_BENCH_DATA_KEYS\"\n",
            ),
            422,
            "field `api_key_env`",
        ),
        (
            run_request(
                "[[agent]]\nname = \"r\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://169.254.169.254\"\n",
            ),
            422,
            "field `base_url`",
        ),
        (
            run_request(
                "[[agent]]\nname = \"r\"\nprovider = \"openai\"\nmodel = \"m\"\n[agent.layers]\nrecord = \"/tmp/x.jsonl\"\n",
            ),
            422,
            "field `layers.record`",
        ),
        (
            run_request(
                "plugin_dir = \"/usr/lib\"\n[[agent]]\nname = \"r\"\nprovider = \"openai\"\nmodel = \"m\"\n",
            ),
            422,
            "field `plugin_dir`",
        ),
        (
            json!({"benchmark": {"manifest": MANIFEST.replace("cases.jsonl", "../../etc/passwd"), "cases": CASES}, "agents": AGENTS}),
            422,
            "field `cases`",
        ),
        (
            json!({"benchmark": {"manifest": format!("{MANIFEST}\n[[scorer]]\nkind = \"code\"\n"), "cases": CASES}, "agents": AGENTS}),
            422,
            "field `scorer[0]`",
        ),
        (
            run_request("[[agent]]\nname = \"r\"\nprovider = \n"),
            400,
            "agents:3",
        ),
        (
            json!({"benchmark": {"manifest": MANIFEST, "cases": "{\"id\": \"c1\", \"input\": \"x\", \"target\": \"1\"}\nnot json\n"}, "agents": AGENTS}),
            400,
            "benchmark.cases:2",
        ),
        (
            json!({"benchmark": {"manifest": MANIFEST}, "agents": AGENTS}),
            400,
            "benchmark.cases",
        ),
        (
            json!({"benchmark": {"manifest": MANIFEST, "cases": CASES}}),
            400,
            "agents",
        ),
        (
            json!({"benchmark": {"manifest": MANIFEST, "cases": CASES}, "agents": AGENTS, "epochs": 0}),
            400,
            "epochs",
        ),
        (
            json!({"benchmark": {"manifest": MANIFEST, "cases": CASES}, "agents": AGENTS, "concurrency": 1_000_000}),
            400,
            "concurrency",
        ),
    ];
    for (body, status, needle) in cases {
        let r = s.post(&url, &token, &body).await;
        assert_eq!(r.status().as_u16(), status, "{needle}");
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
        assert!(
            !message.contains("/tmp/") && !message.contains("tamma-submit"),
            "{message}"
        );
    }
    let r: Value = s
        .get(&format!("{}/jobs", s.public), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["jobs"], json!([]), "nothing was queued");
    // Garbage is a 400, not a panic.
    let r = s
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"benchmark\": [1, 2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn requests_past_the_tier_limit_get_429_with_retry_after() {
    let s = TestServer::start_with(|c| {
        c.limits.free_per_minute = 3;
        c.limits.premium_per_minute = 6;
    })
    .await;
    let url = format!("{}/jobs", s.public);
    let free = user_token("acme", "free");
    for _ in 0..3 {
        assert_eq!(s.get(&url, Some(&free)).await.status(), 200);
    }
    let r = s.get(&url, Some(&free)).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "rate_limited"
    );
    // Another tenant, and another tier, have their own allowance.
    assert_eq!(
        s.get(&url, Some(&user_token("globex", "free")))
            .await
            .status(),
        200
    );
    let premium = user_token("initech", "premium");
    for _ in 0..6 {
        assert_eq!(s.get(&url, Some(&premium)).await.status(), 200);
    }
    assert_eq!(s.get(&url, Some(&premium)).await.status(), 429);
}

#[tokio::test]
async fn submissions_past_the_queues_tier_rate_get_429_with_retry_after() {
    let s = TestServer::start().await;
    let token = user_token("acme", "free");
    let url = format!("{}/benchmarks", s.public);
    // The default queue lets a free tenant submit 10 a minute.
    for _ in 0..10 {
        assert_eq!(
            s.post(&url, &token, &run_request(AGENTS)).await.status(),
            202
        );
    }
    let r = s.post(&url, &token, &run_request(AGENTS)).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let s = TestServer::start_with(|c| c.body_limit_bytes = 1024).await;
    let token = user_token("acme", "free");
    let big = json!({"benchmark": {"manifest": "x".repeat(4096)}, "agents": ""});
    let r = s
        .post(&format!("{}/benchmarks", s.public), &token, &big)
        .await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn trials_page_in_key_order_with_a_stable_cursor() {
    let s = TestServer::start().await;
    s.seed_run("acme", "acme-big", Visibility::Private, 2_500)
        .await;
    let token = user_token("acme", "premium");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{}/runs/acme-big/trials?limit=1000", s.public);
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = s.get(&url, Some(&token)).await.json().await.unwrap();
        pages += 1;
        for t in page["trials"].as_array().unwrap() {
            seen.push(t["case_id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..2_500).map(|c| format!("case-{c:06}")).collect();
    assert_eq!(seen, expected, "every trial once, in key order");
    for bad in ["limit=0", "limit=1001", "after=%21%21", "after=WzEsMl0"] {
        let r = s
            .get(
                &format!("{}/runs/acme-big/trials?{bad}", s.public),
                Some(&token),
            )
            .await;
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn the_internal_door_serves_whole_results_studies_and_insights() {
    let s = TestServer::start().await;
    s.seed_run("tamma", "tamma-run", Visibility::Private, 4)
        .await;
    let service = service_token("tamma");
    let r: Value = s
        .get(&format!("{}/benchmarks", s.internal), Some(&service))
        .await
        .json()
        .await
        .unwrap();
    let bench = &r["benchmarks"][0];
    assert_eq!(bench["id"], "bench-tamma");
    assert_eq!(
        bench["runs"][0]["agents"][0]["api_key_env"],
        "SECRET_KEY_VAR"
    );
    assert!(
        bench["latest_results"][0]["cost"]["cost_usd"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{bench}"
    );

    let space = "[base]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n[[dimension]]\nfield = \"temperature\"\nvalues = [0.0, 0.5]\n";
    let body = json!({"benchmark": {"manifest": MANIFEST, "cases": CASES}, "space": space, "budget_usd": 5.0});
    let r = s
        .post(&format!("{}/optimizations", s.internal), &service, &body)
        .await;
    let status = r.status();
    let job: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["job"]["kind"], "study");
    assert_eq!(job["job"]["tier"], "internal-optimization");
    let id = job["job"]["id"].as_str().unwrap();
    let r = s
        .get(&format!("{}/jobs/{id}", s.internal), Some(&service))
        .await;
    assert_eq!(r.status(), 200);

    // Insights of the tenant, newest first; another tenant's stay out.
    let log = s.state.events();
    for (tenant, text) in [
        ("tamma", "first"),
        ("other", "not yours"),
        ("tamma", "second"),
    ] {
        log.append(vec![NewEvent::new(
            Some(TenantId::new(tenant).unwrap()),
            EventPayload::InsightGenerated {
                run_id: "tamma-run".into(),
                text: text.into(),
            },
        )])
        .await
        .unwrap();
    }
    let r: Value = s
        .get(
            &format!("{}/analytics/insights?limit=5", s.internal),
            Some(&service),
        )
        .await
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = r["insights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["second", "first"]);
    // Not at the public door.
    let r = s
        .get(
            &format!("{}/analytics/insights", s.public),
            Some(&user_token("tamma", "premium")),
        )
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn odd_inputs_are_answered_without_a_fault() {
    let s = TestServer::start().await;
    s.seed_run("acme", "acme-run", Visibility::Private, 2).await;
    let token = user_token("acme", "free");
    let huge_kid = {
        let header = format!("{{\"alg\":\"EdDSA\",\"kid\":\"{}\"}}", "k".repeat(5000));
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            b64.encode(header),
            b64.encode("{}"),
            b64.encode("sig")
        )
    };
    let gets = [
        (format!("{}/runs/%00", s.public), Some(token.clone())),
        (
            format!("{}/runs/{}", s.public, "x".repeat(10_000)),
            Some(token.clone()),
        ),
        (
            format!(
                "{}/runs/acme-run/trials?limit=99999999999999999999999",
                s.public
            ),
            Some(token.clone()),
        ),
        (
            format!("{}/runs/acme-run/trials?limit=-1&after=", s.public),
            Some(token.clone()),
        ),
        (
            format!("{}/jobs?state=%F0%9F%92%A9", s.public),
            Some(token.clone()),
        ),
        (
            format!("{}/jobs/..%2F..%2Fetc", s.public),
            Some(token.clone()),
        ),
        (
            format!("{}/benchmarks/%2e%2e", s.public),
            Some(token.clone()),
        ),
        (
            format!("{}/analytics/insights?limit=abc", s.internal),
            Some(service_token("acme")),
        ),
        (format!("{}/runs/acme-run", s.public), Some(huge_kid)),
        (format!("{}/runs/acme-run", s.public), Some("a.b.c".into())),
        (format!("{}/runs/acme-run", s.public), Some("....".into())),
    ];
    for (url, token) in gets {
        let r = s.get(&url, token.as_deref()).await;
        let status = r.status();
        assert!(status.is_client_error(), "{url}: {status}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{url}: {body}");
    }
    let r = s
        .client
        .get(format!("{}/runs/acme-run", s.public))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
