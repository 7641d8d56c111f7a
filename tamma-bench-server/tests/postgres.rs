//! The service over the Postgres server (127.0.0.1:5432, a database of its own with an
//! owner and an application role, as `docs/deployment.md` sets it up): readiness, a run
//! read and paged through the row-level-secured store, another tenant kept out, and a
//! submission queued in the caller's tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::*;
use tamma_bench::core::model::Visibility;
use tamma_bench::database::Database;
use tamma_bench_testkit::postgres::TestDb;

#[tokio::test]
async fn the_service_serves_a_postgres_deployment() {
    let db = TestDb::create_empty().await;
    tamma_bench::postgres::migrate(&db.owner_config(), &db.app_role())
        .await
        .unwrap();
    let opened = Database::parse(&db.url_as(&db.app_role()))
        .unwrap()
        .open(true)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unused.db");
    let s = TestServer::start_on(dir, path, opened, |_| {}).await;

    for base in [&s.public, &s.internal] {
        assert_eq!(s.get(&format!("{base}/readyz"), None).await.status(), 200);
    }
    s.seed_run("acme", "acme-pg", Visibility::Private, 1_200)
        .await;
    let token = user_token("acme", "premium");
    let r: Value = s
        .get(&format!("{}/runs/acme-pg", s.public), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["metrics"]["n_trials"], 1_200, "{r}");
    let mut seen = 0;
    let mut url = format!("{}/runs/acme-pg/trials?limit=500", s.public);
    loop {
        let page: Value = s.get(&url, Some(&token)).await.json().await.unwrap();
        let trials = page["trials"].as_array().unwrap();
        assert_eq!(trials[0]["case_id"], format!("case-{seen:06}"));
        seen += trials.len();
        match page["next"].as_str() {
            Some(n) => url = format!("{}/runs/acme-pg/trials?limit=500&after={n}", s.public),
            None => break,
        }
    }
    assert_eq!(seen, 1_200);
    let other = user_token("globex", "premium");
    assert_eq!(
        s.get(&format!("{}/runs/acme-pg", s.public), Some(&other))
            .await
            .status(),
        404
    );

    let body = json!({
        "benchmark": {"manifest": "id = \"b\"\nname = \"b\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
                      "cases": "{\"id\": \"c\", \"input\": \"x\", \"target\": \"y\"}\n"},
        "agents": "[[agent]]\nname = \"a\"\nprovider = \"openai\"\nmodel = \"m\"\n"
    });
    let r = s
        .post(&format!("{}/benchmarks", s.public), &token, &body)
        .await;
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    let id = job["job"]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("{}/jobs/{id}", s.public), Some(&token))
            .await
            .status(),
        200
    );
    assert_eq!(
        s.get(&format!("{}/jobs/{id}", s.public), Some(&other))
            .await
            .status(),
        404
    );
    s.stop().await;
}
