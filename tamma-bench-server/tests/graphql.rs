//! The GraphQL endpoint over a real SQLite file: two external tenants and an internal
//! one write public and private runs through the executor (fixed providers) and submit
//! jobs; then each asks through `graphql::execute` as the listener would.

#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use tamma_bench::core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench::core::model::{
    AgentConfig, Permission, TenantContext, TenantId, Tier, Visibility,
};
use tamma_bench::core::queue::{JobKind, JobQueue, NewJob, QueueConfig};
use tamma_bench::database::Database;
use tamma_bench::privacy::classification::CLASSIFICATION;
use tamma_bench::privacy::{Class, Repository};
use tamma_bench_server::graphql::{
    self, GraphqlCaller, GraphqlSchema, Limits, MAX_PAGE_SIZE, Request,
};
use tamma_bench_testkit::benchmarks::arithmetic;
use tamma_bench_testkit::providers::FixedProvider;

fn acme() -> TenantContext {
    TenantContext::external(TenantId::new("acme").unwrap(), Tier::Free, "alice")
}

fn globex() -> TenantContext {
    TenantContext::external(TenantId::new("globex").unwrap(), Tier::Premium, "gus")
}

fn tamma() -> TenantContext {
    TenantContext::internal(TenantId::new("tamma").unwrap(), "optimizer")
}

/// Private runs, by owner.
const PRIVATE: [(&str, &str); 3] = [
    ("acme", "acme-private"),
    ("globex", "globex-private"),
    ("tamma", "tamma-private"),
];
const PUBLIC: [&str; 3] = ["acme-public", "globex-public", "tamma-public"];

struct World {
    _dir: tempfile::TempDir,
    repository: Repository,
    queue: Arc<dyn JobQueue>,
    public: GraphqlSchema,
    internal: GraphqlSchema,
    /// Each tenant's job id.
    jobs: Vec<(String, String)>,
}

/// Runs `id` of `benchmark` (4 arithmetic cases, 1 epoch) as `cx` with two agents
/// answering "4" (right on half the cases), priced and configured with values that
/// only internal views may show.
async fn run(repository: &Repository, cx: &TenantContext, id: &str, benchmark: &str, public: bool) {
    let mut b = arithmetic(benchmark, benchmark, 4, 1);
    b.visibility = if public {
        Visibility::Public
    } else {
        Visibility::Private
    };
    let tenant = cx.tenant_id.as_str();
    let agents = ["a0", "a1"]
        .iter()
        .map(|name| {
            let mut config = AgentConfig::new(*name, "fixed", "m-4");
            config.temperature = Some(0.25);
            config.system = Some(format!("SECRET-SYSTEM-{tenant}"));
            config.api_key_env = Some(format!("SECRET_KEY_ENV_{}", tenant.to_uppercase()));
            config.price_per_mtok_input = Some(3.0);
            config.price_per_mtok_output = Some(15.0);
            AgentRuntime::new(
                config,
                Arc::new(FixedProvider::new("4").with_usage(1000, 10)),
            )
        })
        .collect();
    let options = RunOptions {
        run_id: Some(id.into()),
        concurrency: 4,
        ..Default::default()
    };
    Executor::new(Arc::new(repository.store_for(cx)))
        .run(cx, &b, agents, options)
        .await
        .unwrap();
}

async fn world(limits: Limits) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("results.db").display());
    let opened = Database::parse(&url).unwrap().open(true).await.unwrap();
    let repository = opened.repository().unwrap();
    let queue = opened.queue(QueueConfig::default()).await.unwrap();
    let mut jobs = Vec::new();
    for cx in [acme(), globex(), tamma()] {
        let t = cx.tenant_id.as_str().to_owned();
        run(&repository, &cx, &format!("{t}-public"), "arith-open", true).await;
        run(
            &repository,
            &cx,
            &format!("{t}-private"),
            &format!("{t}-secret-bench"),
            false,
        )
        .await;
        let job = queue
            .submit(&cx, NewJob::new(JobKind::Run, json!({ "owner": t })))
            .await
            .unwrap();
        jobs.push((t, job.id.as_str().to_owned()));
    }
    World {
        _dir: dir,
        repository,
        queue,
        public: GraphqlSchema::public(limits),
        internal: GraphqlSchema::internal(limits),
        jobs,
    }
}

impl World {
    fn job_of(&self, tenant: &str) -> &str {
        &self.jobs.iter().find(|(t, _)| t == tenant).unwrap().1
    }

    /// The response to `query` on `schema` as `cx`, as JSON.
    async fn ask(
        &self,
        schema: &GraphqlSchema,
        cx: &TenantContext,
        query: &str,
        vars: Value,
    ) -> Value {
        let caller = GraphqlCaller::new(cx.clone(), self.repository.clone(), self.queue.clone());
        let request = Request::new(query).variables(async_graphql::Variables::from_json(vars));
        serde_json::to_value(graphql::execute(schema, caller, request).await).unwrap()
    }

    /// `data` of a response that must have no error.
    async fn data(
        &self,
        schema: &GraphqlSchema,
        cx: &TenantContext,
        query: &str,
        vars: Value,
    ) -> Value {
        let r = self.ask(schema, cx, query, vars).await;
        assert!(r.get("errors").is_none(), "{query}: {r}");
        r["data"].clone()
    }
}

/// The `extensions.code` of each error of a response.
fn codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn ids(edges: &Value) -> Vec<String> {
    edges
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_never_sees_another_tenants_private_run_by_listing_id_or_trials() {
    let w = world(Limits::default()).await;
    for cx in [acme(), globex()] {
        let me = cx.tenant_id.as_str().to_owned();
        let mine = format!("{me}-private");
        let mut transcript = String::new();

        // Listing, two runs a page.
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let d = w
                .data(
                    &w.public,
                    &cx,
                    "query($after: String) { runs(first: 2, after: $after) {
                        edges { node { id own visibility benchmarkId agents { name model } } }
                        pageInfo { hasNextPage endCursor } } }",
                    json!({ "after": after }),
                )
                .await;
            transcript.push_str(&d.to_string());
            seen.extend(ids(&d["runs"]["edges"]));
            if !d["runs"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = d["runs"]["pageInfo"]["endCursor"].clone();
        }
        let expected: BTreeSet<String> = PUBLIC
            .iter()
            .map(|s| s.to_string())
            .chain([mine.clone()])
            .collect();
        assert_eq!(seen.len(), expected.len(), "{me}: no run twice: {seen:?}");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected, "{me}");

        // Benchmarks: the shared public one with its three runs, and only its own secret one.
        let d = w
            .data(
                &w.public,
                &cx,
                "{ benchmarks(first: 10) { edges { node { id version runCount
                    runs(first: 10) { edges { node { id } } } } } } }",
                json!({}),
            )
            .await;
        transcript.push_str(&d.to_string());
        let benchmarks: Vec<(String, u64)> = d["benchmarks"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let n = &e["node"];
                assert_eq!(
                    n["runCount"],
                    json!(n["runs"]["edges"].as_array().unwrap().len())
                );
                (
                    n["id"].as_str().unwrap().to_owned(),
                    n["runCount"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut expected = vec![
            ("arith-open".to_owned(), 3),
            (format!("{me}-secret-bench"), 1),
        ];
        expected.sort();
        assert_eq!(benchmarks, expected, "by id and version");

        // By id and by trials: another's private run is absent, whether asked at the root or
        // through a run.
        for (owner, other) in PRIVATE.iter().filter(|(o, _)| *o != me) {
            let d = w
                .data(
                    &w.public,
                    &cx,
                    "query($id: ID!) { run(id: $id) { id } }",
                    json!({ "id": other }),
                )
                .await;
            assert_eq!(d["run"], Value::Null, "{me} reads {owner}'s {other}");
            let r = w
                .ask(
                    &w.public,
                    &cx,
                    "query($id: ID!) { trials(runId: $id) { edges { node { caseId output } } } }",
                    json!({ "id": other }),
                )
                .await;
            assert_eq!(
                codes(&r),
                vec!["NOT_FOUND"],
                "{me} reads {other}'s trials: {r}"
            );
            assert_eq!(r["data"], Value::Null);
            // The message names the id asked for (the caller's own words), nothing more.
            assert_eq!(
                r["errors"][0]["message"],
                json!(format!("no run {other:?} visible to this tenant")),
                "{me} asking for {owner}'s run"
            );
        }

        // Its own private run: found, with outputs; another's public run: no outputs.
        let q = "query($id: ID!) { run(id: $id) { id own
            trials(first: 100) { edges { node { caseId output answer score } } } } }";
        let d = w.data(&w.public, &cx, q, json!({ "id": mine })).await;
        let trials = d["run"]["trials"]["edges"].as_array().unwrap();
        assert_eq!(trials.len(), 8);
        assert!(
            trials.iter().all(|t| t["node"]["output"] == json!("4")),
            "{d}"
        );
        let other_public = if me == "acme" {
            "globex-public"
        } else {
            "acme-public"
        };
        let d = w
            .data(&w.public, &cx, q, json!({ "id": other_public }))
            .await;
        assert_eq!(d["run"]["own"], json!(false));
        let trials = d["run"]["trials"]["edges"].as_array().unwrap();
        assert_eq!(trials.len(), 8);
        assert!(
            trials
                .iter()
                .all(|t| t["node"]["output"].is_null() && t["node"]["answer"].is_null()),
            "{d}"
        );
        transcript.push_str(&d.to_string());

        // Nothing of another tenant's private data anywhere in what it was sent, and no
        // internal value of anyone.
        for (owner, other) in PRIVATE.iter().filter(|(o, _)| *o != me) {
            assert!(!transcript.contains(other), "{me} saw {other}");
            assert!(!transcript.contains(&format!("{owner}-secret-bench")));
        }
        for secret in ["SECRET-SYSTEM", "SECRET_KEY_ENV", "0.25"] {
            assert!(!transcript.contains(secret), "{me} saw {secret}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_carry_scores_with_intervals_and_the_public_schema_has_no_cost() {
    let w = world(Limits::default()).await;
    let d = w
        .data(
            &w.public,
            &globex(),
            "{ run(id: \"acme-public\") { results { agent model
                score { mean ciLow ciHigh n level method }
                metrics { nTrials nScored latencyMs { p50 } } } } }",
            json!({}),
        )
        .await;
    let results = d["run"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        let s = &r["score"];
        // "4" is right on cases 0 and 2 of the four.
        assert_eq!(s["mean"], json!(0.5));
        assert_eq!(s["n"], json!(4));
        assert_eq!(s["level"], json!(0.95));
        let (lo, hi) = (s["ciLow"].as_f64().unwrap(), s["ciHigh"].as_f64().unwrap());
        assert!(lo < 0.5 && 0.5 < hi, "{s}");
        assert_eq!(r["metrics"]["nTrials"], json!(4));
    }
    // A cost field is not in the public schema: the query is refused at validation.
    for field in ["cost { costUsd }", "agentConfig { name }", "costUsd"] {
        let q = format!("{{ run(id: \"acme-public\") {{ results {{ {field} }} }} }}");
        let r = w.ask(&w.public, &acme(), &q, json!({})).await;
        assert_eq!(r["data"], Value::Null, "{q}: {r}");
        let message = r["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("Unknown field"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trials_page_through_a_run_once_each_and_pages_are_capped() {
    let w = world(Limits::default()).await;
    let q = "query($after: String, $first: Int) {
        trials(runId: \"acme-private\", first: $first, after: $after) {
            edges { cursor node { agent caseId epoch outcome score } }
            pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut keys = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let d = w
            .data(&w.public, &acme(), q, json!({ "after": after, "first": 3 }))
            .await;
        let page = &d["trials"];
        assert_eq!(page["pageInfo"]["hasPreviousPage"], json!(pages > 0));
        for e in page["edges"].as_array().unwrap() {
            let n = &e["node"];
            keys.push(format!("{}/{}/{}", n["agent"], n["caseId"], n["epoch"]));
        }
        pages += 1;
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 8);
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 8, "{keys:?}");

    let over = i32::try_from(MAX_PAGE_SIZE).unwrap() + 1;
    for (vars, why) in [
        (json!({ "first": over }), "over the page cap"),
        (json!({ "first": -1 }), "negative"),
        (json!({ "after": "bm90IGEgY3Vyc29y" }), "not a cursor"),
    ] {
        let r = w.ask(&w.public, &acme(), q, vars).await;
        assert_eq!(codes(&r), vec!["BAD_USER_INPUT"], "{why}: {r}");
    }
    // A cursor of another list names nothing here.
    let d = w
        .data(
            &w.public,
            &acme(),
            "{ runs(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let run_cursor = d["runs"]["pageInfo"]["endCursor"].clone();
    let r = w
        .ask(&w.public, &acme(), q, json!({ "after": run_cursor }))
        .await;
    assert_eq!(codes(&r), vec!["BAD_USER_INPUT"], "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_the_callers_own_and_only_its_own_can_be_cancelled() {
    let w = world(Limits::default()).await;
    let (mine, theirs) = (w.job_of("acme").to_owned(), w.job_of("globex").to_owned());
    let d = w
        .data(
            &w.public,
            &acme(),
            "{ jobs { id kind state tier } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["jobs"],
        json!([{ "id": mine, "kind": "RUN", "state": "QUEUED", "tier": "external-free" }])
    );
    let d = w
        .data(
            &w.public,
            &acme(),
            "query($id: ID!) { job(id: $id) { id } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(d["job"], Value::Null);

    let cancel = "mutation($id: ID!) { cancelJob(id: $id) { id state } }";
    let r = w
        .ask(&w.public, &acme(), cancel, json!({ "id": theirs }))
        .await;
    assert_eq!(codes(&r), vec!["NOT_FOUND"], "{r}");
    let d = w
        .data(
            &w.public,
            &globex(),
            "query($id: ID!) { job(id: $id) { state } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(
        d["job"]["state"],
        json!("QUEUED"),
        "globex's job is untouched"
    );

    // Reading needs read, cancelling needs write.
    let reader = acme().with_permissions([Permission::Read]);
    let r = w
        .ask(&w.public, &reader, cancel, json!({ "id": mine }))
        .await;
    assert_eq!(codes(&r), vec!["FORBIDDEN"], "{r}");
    let nobody = acme().with_permissions([]);
    let r = w
        .ask(&w.public, &nobody, "{ jobs { id } }", json!({}))
        .await;
    assert_eq!(codes(&r), vec!["FORBIDDEN"], "{r}");

    let d = w
        .data(&w.public, &acme(), cancel, json!({ "id": mine }))
        .await;
    assert_eq!(d["cancelJob"], json!({ "id": mine, "state": "CANCELLED" }));
    let d = w
        .data(
            &w.public,
            &acme(),
            "{ jobs(states: [QUEUED]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(d["jobs"], json!([]));
}

/// The standard introspection query (graphql-js `getIntrospectionQuery`).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

/// Every type name and every field, argument, input field and enum value name of an
/// introspection result.
fn names(introspection: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut types = BTreeSet::new();
    let mut fields = BTreeSet::new();
    for t in introspection["__schema"]["types"].as_array().unwrap() {
        types.insert(t["name"].as_str().unwrap().to_owned());
        for list in ["fields", "inputFields", "enumValues"] {
            for f in t[list].as_array().into_iter().flatten() {
                fields.insert(f["name"].as_str().unwrap().to_owned());
                for a in f["args"].as_array().into_iter().flatten() {
                    fields.insert(a["name"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    (types, fields)
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The names privacy's classification gives only to internal or restricted fields
/// (the last segment of each path, in snake and camel case): a name that is public or
/// sensitive somewhere else (`agents`, `epochs`) is left out.
fn internal_only_names() -> BTreeSet<String> {
    let last = |path: &str| path.rsplit('.').next().unwrap().to_owned();
    let visible: BTreeSet<String> = CLASSIFICATION
        .iter()
        .filter(|(_, _, c)| matches!(c, Class::Public | Class::Sensitive))
        .map(|(_, f, _)| last(f))
        .collect();
    CLASSIFICATION
        .iter()
        .filter(|(_, _, c)| matches!(c, Class::Internal | Class::Restricted))
        .map(|(_, f, _)| last(f))
        .filter(|n| !visible.contains(n))
        .flat_map(|n| [camel(&n), n])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_introspection_shows_no_internal_type_or_field() {
    let w = world(Limits::default()).await;
    let internal_names = internal_only_names();
    for expected in [
        "agentConfig",
        "costUsd",
        "cost",
        "fingerprint",
        "apiKeyEnv",
        "usage",
        "attempts",
    ] {
        assert!(
            internal_names.contains(expected),
            "{expected} is internal: {internal_names:?}"
        );
    }
    let internal_types = [
        "InternalResult",
        "AgentConfig",
        "CostAnalysis",
        "InternalMetrics",
        "OptimizationData",
    ];

    let public = w.data(&w.public, &acme(), INTROSPECTION, json!({})).await;
    let (types, fields) = names(&public);
    assert!(
        types.contains("Run") && fields.contains("ciLow"),
        "{types:?}"
    );
    let leaked: Vec<_> = fields.intersection(&internal_names).collect();
    assert!(
        leaked.is_empty(),
        "public schema has internal fields {leaked:?}"
    );
    for t in &types {
        assert!(
            !t.starts_with("Internal") && !internal_types.contains(&t.as_str()),
            "public type {t}"
        );
    }

    // The check can fail: the internal schema, introspected by an internal caller, has them.
    let internal = w
        .data(&w.internal, &tamma(), INTROSPECTION, json!({}))
        .await;
    let (itypes, ifields) = names(&internal);
    for t in internal_types {
        assert!(itypes.contains(t), "internal type {t}");
    }
    for f in [
        "agentConfig",
        "costUsd",
        "fingerprint",
        "apiKeyEnv",
        "temperature",
        "cacheHit",
    ] {
        assert!(ifields.contains(f), "internal field {f}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_schema_refuses_every_caller_but_an_internal_one() {
    let w = world(Limits::default()).await;
    let q = "{ internalRuns { edges { node { id } } } }";
    let refused = [
        acme(),
        // Granting an external context every permission makes it no internal one.
        acme().with_permissions(Permission::ALL),
        // Nor is an internal context without the read_internal grant.
        tamma().with_permissions([Permission::Read, Permission::Write]),
    ];
    for cx in refused {
        for query in [
            q,
            "{ runs { edges { node { id } } } }",
            "{ __schema { types { name } } }",
        ] {
            let r = w.ask(&w.internal, &cx, query, json!({})).await;
            assert_eq!(codes(&r), vec!["FORBIDDEN"], "{cx:?}: {r}");
            assert_eq!(r["data"], Value::Null);
        }
    }

    // The internal caller: its own runs whole, with configuration and cost.
    let d = w
        .data(
            &w.internal,
            &tamma(),
            "{ internalRuns { edges { node { id tenantId fingerprint
                agentConfigs { name temperature system apiKeyEnv pricePerMtokInput }
                internalResults { result { score { mean } } cost { costUsd tokens { input } }
                  agentConfig { name } internalMetrics { nCacheHits } optimization { scorePerUsd } }
                internalTrials(first: 2) { edges { node { costUsd attempts usage { input } } } } } } } }",
            json!({}),
        )
        .await;
    let runs = d["internalRuns"]["edges"].as_array().unwrap();
    let mut got = ids(&d["internalRuns"]["edges"]);
    got.sort();
    assert_eq!(got, vec!["tamma-private", "tamma-public"]);
    for r in runs {
        let n = &r["node"];
        assert_eq!(n["tenantId"], json!("tamma"));
        assert!(!n["fingerprint"].as_str().unwrap().is_empty());
        assert_eq!(n["agentConfigs"][0]["temperature"], json!(0.25));
        assert_eq!(n["agentConfigs"][0]["system"], json!("SECRET-SYSTEM-tamma"));
        assert_eq!(
            n["agentConfigs"][0]["apiKeyEnv"],
            json!("SECRET_KEY_ENV_TAMMA")
        );
        let result = &n["internalResults"][0];
        // 4 trials of 1,000 input tokens at $3/Mtok and 10 output at $15/Mtok.
        let cost = result["cost"]["costUsd"].as_f64().unwrap();
        assert!((cost - 4.0 * (0.003 + 0.000_15)).abs() < 1e-9, "{cost}");
        assert_eq!(result["cost"]["tokens"]["input"], json!(4000));
        for t in n["internalTrials"]["edges"].as_array().unwrap() {
            assert!(t["node"]["costUsd"].as_f64().unwrap() > 0.0);
            assert_eq!(t["node"]["attempts"], json!(1));
        }
    }
    // Another tenant's private run is absent even internally; its public run is whole.
    let one = "query($id: ID!) { internalRun(id: $id) { id agentConfigs { temperature } } }";
    let d = w
        .data(&w.internal, &tamma(), one, json!({ "id": "acme-private" }))
        .await;
    assert_eq!(d["internalRun"], Value::Null);
    let d = w
        .data(&w.internal, &tamma(), one, json!({ "id": "acme-public" }))
        .await;
    assert_eq!(
        d["internalRun"]["agentConfigs"][0]["temperature"],
        json!(0.25)
    );
    // The public queries and the queue's internal fields are there too.
    let d = w
        .data(
            &w.internal,
            &tamma(),
            "{ runs(first: 100) { edges { node { id } } }
               internalJobs { job { id state } attempts maxAttempts history { kind } }
               queueLoad { tier queued } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ids(&d["runs"]["edges"]).len(),
        4,
        "3 public and its own private: {d}"
    );
    let jobs = d["internalJobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["job"]["id"], json!(w.job_of("tamma")));
    assert_eq!(jobs[0]["history"][0]["kind"], json!("submitted"));
    let queued: u64 = d["queueLoad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["queued"].as_u64().unwrap())
        .sum();
    assert_eq!(queued, 3, "every tenant's job counts in the load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_the_depth_or_complexity_limit_are_refused() {
    // A small depth limit, to show a domain query over it refused and one at it served.
    let w = world(Limits {
        max_depth: 5,
        ..Limits::default()
    })
    .await;
    let at = "{ runs { edges { node { results { agent } } } } }";
    let over = "{ runs { edges { node { results { score { mean } } } } } }";
    w.data(&w.public, &acme(), at, json!({})).await;
    let r = w.ask(&w.public, &acme(), over, json!({})).await;
    assert_eq!(r["data"], Value::Null, "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );
    let r = w.ask(&w.internal, &tamma(), over, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );

    // The default limits: standard introspection passes; deeper nesting does not.
    let w = world(Limits::default()).await;
    w.data(&w.public, &acme(), INTROSPECTION, json!({})).await;
    let deep = format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "ofType { ".repeat(15),
        " }".repeat(15)
    );
    let r = w.ask(&w.public, &acme(), &deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );

    // Complexity: a full page of runs is fine, pages of trials within it are not.
    w.data(
        &w.public,
        &acme(),
        "{ runs(first: 100) { edges { node { id status } } } }",
        json!({}),
    )
    .await;
    for query in [
        "{ runs(first: 100) { edges { node { trials(first: 100) { edges { node { caseId } } } } } } }",
        "{ benchmarks(first: 50) { edges { node { runs(first: 50) { edges { node { results { agent } } } } } } } }",
    ] {
        let r = w.ask(&w.public, &acme(), query, json!({})).await;
        assert_eq!(r["data"], Value::Null, "{query}: {r}");
        assert!(
            r["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("too complex"),
            "{r}"
        );
    }
    // Aliases do not get around it: each costs what it selects.
    let aliased: String = (0..60)
        .map(|i| format!("r{i}: trials(runId: \"acme-private\", first: 100) {{ edges {{ node {{ caseId }} }} }} "))
        .collect();
    let r = w
        .ask(&w.public, &acme(), &format!("{{ {aliased} }}"), json!({}))
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{r}"
    );
}
