//! The HTML report as a library (no CLI feature needed): what `collect` computes through
//! the tenant-aware repository (on runs written through it by hand), what it lets each
//! caller see, and what `render` writes (self-contained, every user string escaped, rows
//! in order). `tests/report_cli.rs` opens the real page of a real run in headless Chromium.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::sync::Arc;
use tamma_bench::core::compare::{ResultRef, compare_results};
use tamma_bench::core::model::{
    AgentConfig, Outcome, Run, RunStatus, Score, TenantContext, TenantId, Tier, Trial, TrialKey,
    Visibility, now_ms,
};
use tamma_bench::core::provider::{ProviderErrorKind, Usage};
use tamma_bench::core::stats::{CompareOptions, Observation, estimate_mean};
use tamma_bench::core::store::{MemoryStore, ResultStore};
use tamma_bench::core::summary::summarize;
use tamma_bench::privacy::{ErrorKind, Repository};
use tamma_bench::report::{Audience, ReportData, collect, render};

const EVIL_AGENT: &str = "<script>alert(1)</script>";
const EVIL_TAG: &str = "<img src=x onerror=alert(2)>";
const EVIL_MODEL: &str = "m\" onmouseover=\"alert(3)";

fn tenant() -> TenantId {
    TenantId::local()
}

/// The store (for the test's own reference computations) and the repository over it.
struct Fixture {
    store: Arc<MemoryStore>,
    repo: Repository,
}

/// Run `r1` of `cx`'s tenant, written through the repository, with three agents over 20
/// cases: the first passes 15, `beta` 10 (and is the cheapest), `gamma` 5 (and one
/// infrastructure failure). Even cases carry two tags.
async fn filled_repository(cx: &TenantContext) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let repo = Repository::new(store.clone()).expect("repository");
    let agents = [
        (EVIL_AGENT, 15, 0.015),
        ("beta", 10, 0.005),
        ("gamma", 5, 0.01),
    ];
    let run = Run {
        id: "r1".into(),
        tenant_id: cx.tenant_id.clone(),
        benchmark_id: "bench".into(),
        benchmark_version: "1".into(),
        visibility: Visibility::Private,
        fingerprint: "f".into(),
        agents: agents
            .iter()
            .map(|(name, _, _)| AgentConfig::new(*name, "replay", EVIL_MODEL))
            .collect(),
        epochs: 1,
        n_cases: 20,
        status: RunStatus::Completed,
        created_at_ms: now_ms(),
        updated_at_ms: now_ms(),
    };
    repo.begin_run(cx, &run).await.expect("begin run");
    let mut trials = Vec::new();
    for (name, passes, cost) in agents {
        for case in 0..20u32 {
            let failed = name == "gamma" && case == 19;
            let outcome = if failed {
                Outcome::InfraFailure {
                    error: ProviderErrorKind::RateLimited,
                    message: "429".into(),
                }
            } else {
                Outcome::Scored {
                    scores: vec![Score::pass_fail("exact", case < passes)],
                }
            };
            let mut tags = vec!["all".to_owned()];
            if case % 2 == 0 {
                tags.extend(["even".to_owned(), EVIL_TAG.to_owned()]);
            }
            trials.push(Trial {
                run_id: "r1".into(),
                tenant_id: cx.tenant_id.clone(),
                key: TrialKey::new(name, format!("c{case:02}"), 0),
                cluster: None,
                tags,
                outcome,
                output: (!failed).then(|| "answer".to_owned()),
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 2,
                },
                latency_ms: 100.0 + 10.0 * f64::from(case),
                cost_usd: cost,
                attempts: 1,
                cache_hit: false,
                finished_at_ms: now_ms(),
            });
        }
    }
    repo.append_trials(cx, trials).await.expect("append trials");
    Fixture { store, repo }
}

/// The local operator's report of `r1` (asked for twice).
async fn report_of_r1() -> (Arc<MemoryStore>, ReportData) {
    let cx = TenantContext::local_operator();
    let f = filled_repository(&cx).await;
    let data = collect(&f.repo, &cx, &["r1", "r1"]).await.expect("collect");
    (f.store, data)
}

#[tokio::test]
async fn collect_orders_results_by_score_and_agrees_with_summary_and_compare() {
    let (store, data) = report_of_r1().await;
    assert_eq!(data.audience, Audience::Internal);
    assert_eq!(data.runs.len(), 1, "a run asked for twice is shown once");
    let names: Vec<&str> = data
        .results
        .iter()
        .map(|r| r.summary.name.as_str())
        .collect();
    assert_eq!(names, [EVIL_AGENT, "beta", "gamma"]);

    let run = store
        .get_run(&tenant(), "r1")
        .await
        .expect("get")
        .expect("run");
    let summary = summarize(store.as_ref(), &run).await.expect("summarize");
    for r in &data.results {
        let same = summary.agents.iter().find(|a| a.name == r.summary.name);
        assert_eq!(Some(&r.summary), same, "{}", r.summary.name);
    }

    // Pareto: the best (highest score) and beta (cheapest); gamma is dominated by beta.
    assert_eq!(data.pareto, [0, 1]);

    // Every other result against the best, equal to the library's comparison.
    assert_eq!(data.comparisons.len(), 2);
    let expected = compare_results(
        store.as_ref(),
        &tenant(),
        &ResultRef::parse(&format!("r1/{EVIL_AGENT}")),
        &ResultRef::parse("r1/beta"),
        &CompareOptions::default(),
    )
    .await
    .expect("compare");
    assert_eq!(data.comparisons[0].comparison, expected);
    assert_eq!(data.comparisons[0].other, 1);
    let p: Vec<f64> = data
        .comparisons
        .iter()
        .map(|c| c.comparison.overall.test.p_value)
        .collect();
    let holm = tamma_bench::core::stats::holm(&p);
    assert_eq!(
        data.comparisons
            .iter()
            .map(|c| c.p_holm)
            .collect::<Vec<_>>(),
        holm
    );

    // Per tag: the estimate over the tag's cases. Beta passes cases 0..10: even ones 0,2,..,8.
    let beta = &data.results[1];
    let tags: Vec<&str> = beta.by_tag.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(tags, [EVIL_TAG, "all", "even"]);
    let even = &beta.by_tag[2].score;
    let obs: Vec<Observation<'_>> = (0..10)
        .map(|i| Observation {
            value: if i < 5 { 1.0 } else { 0.0 },
            cluster: None,
        })
        .collect();
    assert_eq!(*even, estimate_mean(&obs, 1, 0.95));

    // Latency: only trials with an output (gamma's failure has none).
    let gamma = &data.results[2];
    assert_eq!(gamma.latency.n, 19);
    assert!(
        (gamma.latency.min - 100.0).abs() < 1.0,
        "{:?}",
        gamma.latency
    );
    assert!(
        (gamma.latency.max - 280.0).abs() < 2.0,
        "{:?}",
        gamma.latency
    );
    assert!(gamma.latency.p25 <= gamma.latency.p50 && gamma.latency.p50 <= gamma.latency.p75);
}

#[tokio::test]
async fn collect_reports_another_tenants_private_run_as_absent() {
    let f = filled_repository(&TenantContext::local_operator()).await;
    let other =
        TenantContext::external(TenantId::new("other").expect("tenant id"), Tier::Free, "t");
    let err = collect(&f.repo, &other, &["r1"])
        .await
        .expect_err("not found");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.to_string().contains("\"r1\""), "{err}");
    let err = collect(&f.repo, &TenantContext::local_operator(), &["r1", "nope"])
        .await
        .expect_err("an unknown run");
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(err.to_string().contains("\"nope\""), "{err}");
}

#[tokio::test]
async fn an_external_tenants_report_of_its_own_run_holds_no_internal_field() {
    let cx = TenantContext::external(TenantId::new("acme").expect("tenant id"), Tier::Free, "t");
    let f = filled_repository(&cx).await;
    let data = collect(&f.repo, &cx, &["r1"]).await.expect("collect");
    assert_eq!(data.audience, Audience::External);
    assert_eq!(data.results.len(), 3, "its own run, every agent");
    assert!(data.pareto.is_empty(), "no Pareto front: it is about cost");
    for r in &data.results {
        assert_eq!(
            r.summary.cost_usd, 0.0,
            "{}: cost is internal",
            r.summary.name
        );
    }
    // The scores are the caller's own: the same order as the operator sees.
    let names: Vec<&str> = data
        .results
        .iter()
        .map(|r| r.summary.name.as_str())
        .collect();
    assert_eq!(names, [EVIL_AGENT, "beta", "gamma"]);
    let html = render(&data);
    assert!(
        !html.contains("data-chart=\"score-vs-cost\""),
        "no cost chart"
    );
    assert!(!html.contains("id=\"cost\""), "no cost section");
}

#[tokio::test]
async fn render_escapes_every_user_string_and_loads_nothing_from_outside() {
    let (_, data) = report_of_r1().await;
    let html = render(&data);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for needle in [
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
        "<link",
        "<img",
        "<iframe",
    ] {
        assert!(!html.contains(needle), "the page contains {needle:?}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains(EVIL_AGENT) && !html.contains(EVIL_TAG) && !html.contains(EVIL_MODEL));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("m&quot; onmouseover=&quot;alert(3)"));
}

#[tokio::test]
async fn render_lists_leaderboard_rows_in_score_order_with_every_section() {
    let (_, data) = report_of_r1().await;
    let html = render(&data);
    let start = html
        .find(r#"<table id="leaderboard""#)
        .expect("leaderboard");
    let table = &html[start..start + html[start..].find("</table>").expect("end of table")];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for (row, name) in rows.iter().zip(["&lt;script&gt;", "beta", "gamma"]) {
        assert!(
            row.contains(&format!("<b>{name}")),
            "{name} out of order: {row}"
        );
    }
    assert!(
        rows[0].contains(">75.0<") && rows[1].contains(">50.0<"),
        "{table}"
    );
    for id in ["leaderboard", "tag-table", "comparison", "cost", "latency"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    for chart in ["score-vs-cost", "latency", "comparison"] {
        assert!(
            html.contains(&format!("data-chart=\"{chart}\"")),
            "no {chart} chart"
        );
    }
    assert!(html.contains(r#"data-rows="3""#));
}

#[test]
fn the_report_names_no_store() {
    // The report reads through the repository only: no function of it takes a store.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("src/report") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            files += 1;
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(
                !text.contains("ResultStore"),
                "{} reads a store directly",
                path.display()
            );
        }
    }
    assert!(files >= 5, "read the report's files");
}
