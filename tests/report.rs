//! The HTML report: what `collect` computes (through the library, on a store filled by
//! hand), what `render` writes (self-contained, every user string escaped, rows in
//! order), and the real page of a real run opened in headless Chromium, whose inline
//! script checks that the leaderboard and every chart rendered.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tamma_bench::core::compare::{ResultRef, compare_results};
use tamma_bench::core::model::{
    AgentConfig, Outcome, Run, RunStatus, Score, TenantId, Trial, TrialKey, Visibility, now_ms,
};
use tamma_bench::core::provider::{ProviderErrorKind, Usage};
use tamma_bench::core::stats::{CompareOptions, Observation, estimate_mean};
use tamma_bench::core::store::{MemoryStore, ResultStore, StoreErrorKind};
use tamma_bench::core::summary::summarize;
use tamma_bench::report::{ReportData, collect, render};

const EVIL_AGENT: &str = "<script>alert(1)</script>";
const EVIL_TAG: &str = "<img src=x onerror=alert(2)>";
const EVIL_MODEL: &str = "m\" onmouseover=\"alert(3)";

fn tenant() -> TenantId {
    TenantId::local()
}

/// Run `r1` with three agents over 20 cases: the first passes 15, `beta` 10 (and is the
/// cheapest), `gamma` 5 (and one infrastructure failure). Even cases carry two tags.
async fn filled_store() -> MemoryStore {
    let store = MemoryStore::new();
    let agents = [
        (EVIL_AGENT, 15, 0.015),
        ("beta", 10, 0.005),
        ("gamma", 5, 0.01),
    ];
    let run = Run {
        id: "r1".into(),
        tenant_id: tenant(),
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
    store.begin_run(&run).await.expect("begin run");
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
                tenant_id: tenant(),
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
    store.append_trials(trials).await.expect("append trials");
    store
}

async fn report_of_r1() -> (MemoryStore, ReportData) {
    let store = filled_store().await;
    let data = collect(&store, &tenant(), &["r1", "r1"])
        .await
        .expect("collect");
    (store, data)
}

#[tokio::test]
async fn collect_orders_results_by_score_and_agrees_with_summary_and_compare() {
    let (store, data) = report_of_r1().await;
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
    let summary = summarize(&store, &run).await.expect("summarize");
    for r in &data.results {
        let same = summary.agents.iter().find(|a| a.name == r.summary.name);
        assert_eq!(Some(&r.summary), same, "{}", r.summary.name);
    }

    // Pareto: the best (highest score) and beta (cheapest); gamma is dominated by beta.
    assert_eq!(data.pareto, [0, 1]);

    // Every other result against the best, equal to the library's comparison.
    assert_eq!(data.comparisons.len(), 2);
    let expected = compare_results(
        &store,
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
async fn collect_reads_only_the_tenants_runs() {
    let store = filled_store().await;
    let other = TenantId::new("other").expect("tenant id");
    let err = collect(&store, &other, &["r1"])
        .await
        .expect_err("not found");
    assert_eq!(err.kind(), StoreErrorKind::NotFound);
    assert!(err.to_string().contains("\"r1\""), "{err}");
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

// ---------------------------------------------------------------------------------------
// The real binary, a real run, the real page in headless Chromium.

const CHROMIUM: &str = "/usr/bin/chromium";

const BENCHMARK: &str = r#"id = "arith"
name = "Arithmetic"
version = "1"
cases = "cases.jsonl"
"#;

/// Twelve cases `c0`..`c11` (answer: the number), tagged `add` or `mul` (and `hard`
/// from 8 up), in four clusters of three.
fn cases() -> String {
    (0..12)
        .map(|i| {
            let kind = if i % 2 == 0 { "add" } else { "mul" };
            let hard = if i >= 8 { r#", "hard""# } else { "" };
            format!(
                r#"{{"id": "c{i}", "input": "{i}?", "target": "{i}", "tags": ["{kind}"{hard}], "cluster": "g{}"}}"#,
                i / 3
            ) + "\n"
        })
        .collect()
}

/// A recording that answers cases below `right` correctly, with latencies from `base`.
fn recording(right: u32, base: f64) -> String {
    (0..12u32)
        .map(|i| {
            let out = if i < right { i.to_string() } else { "x".to_owned() };
            format!(
                r#"{{"case_id": "c{i}", "output": "{out}", "usage": {{"input_tokens": 10, "output_tokens": 2}}, "latency_ms": {}}}"#,
                base + 15.0 * f64::from(i)
            ) + "\n"
        })
        .collect()
}

const AGENTS: &str = r#"[[agent]]
name = "alpha"
provider = "replay"
model = "m-alpha <b>"
recording = "alpha.jsonl"
price_per_mtok_input = 1.0
price_per_mtok_output = 2.0

[[agent]]
name = "beta"
provider = "replay"
model = "m-beta"
recording = "beta.jsonl"
"#;

const GAMMA: &str = r#"[[agent]]
name = "gamma"
provider = "replay"
model = "m-gamma"
recording = "gamma.jsonl"
price_per_mtok_input = 0.5
price_per_mtok_output = 0.5
"#;

/// A folder with the benchmark, two agents files, the recordings and the database.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for (name, contents) in [
            ("benchmark.toml", BENCHMARK.to_owned()),
            ("cases.jsonl", cases()),
            ("agents.toml", AGENTS.to_owned()),
            ("gamma.toml", GAMMA.to_owned()),
            ("alpha.jsonl", recording(10, 100.0)),
            ("beta.jsonl", recording(5, 40.0)),
            ("gamma.jsonl", recording(8, 250.0)),
        ] {
            std::fs::write(f.path(name), contents).expect("write fixture file");
        }
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tb(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tamma-bench"))
            .args(args)
            .arg("--db")
            .arg(self.path("tamma-bench.db"))
            .current_dir(self.dir.path())
            .output()
            .expect("run tamma-bench")
    }

    fn ok(&self, args: &[&str]) {
        let out = self.tb(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "tamma-bench {args:?}: {err}");
    }
}

/// Runs headless Chromium on `page` with `mode` (`--dump-dom` or `--screenshot=...`),
/// in a fresh profile, with networking features off; fails after a minute.
fn chromium(page: &Path, mode: &str) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "headless Chromium is needed at {CHROMIUM} for this test: install it with \
         `scripts/install-chromium` (Debian package `chromium`)"
    );
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for chromium").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium output")
}

#[test]
fn the_report_of_real_runs_renders_in_headless_chromium() {
    let f = Fixture::new();
    f.ok(&[
        "run",
        "benchmark.toml",
        "--agents",
        "agents.toml",
        "--run-id",
        "r1",
    ]);
    f.ok(&[
        "run",
        "benchmark.toml",
        "--agents",
        "gamma.toml",
        "--run-id",
        "r2",
    ]);
    f.ok(&["report", "r1", "r2", "--out", "report.html"]);
    let page = f.path("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html");
    assert!(
        html.contains("m-alpha &lt;b&gt;"),
        "the model name is escaped"
    );

    let out = chromium(&page, "--dump-dom");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !dom.is_empty(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = dom
        .split_once("data-rendered=\"")
        .and_then(|(_, rest)| rest.split_once('"'));
    assert_eq!(
        rendered.map(|(v, _)| v),
        Some("ok"),
        "the page's self-check"
    );
    for name in ["alpha", "beta", "gamma"] {
        assert!(
            dom.contains(&format!("<b>{name}</b>")),
            "{name} in the leaderboard"
        );
    }
    // alpha (10/12) leads, then gamma (8/12), then beta (5/12).
    let pos = |s: &str| dom.find(&format!("<b>{s}</b>")).expect("name");
    assert!(pos("alpha") < pos("gamma") && pos("gamma") < pos("beta"));

    let shot = f.path("report.png");
    let out = chromium(&page, &format!("--screenshot={}", shot.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}

#[test]
fn a_report_of_an_unknown_run_fails_and_writes_no_file() {
    let f = Fixture::new();
    f.ok(&[
        "run",
        "benchmark.toml",
        "--agents",
        "agents.toml",
        "--run-id",
        "r1",
    ]);
    let out = f.tb(&["report", "r1", "nope", "--out", "report.html"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\""));
    assert!(!f.path("report.html").exists());
    let out = f.tb(&["report", "r1", "--out", "report.html", "--tenant", "other"]);
    assert_eq!(out.status.code(), Some(1), "another tenant sees no run r1");
}
