//! The dashboard end to end: a real service on a SQLite file with an in-process worker
//! (core's worker loop with the facade's `BenchmarkRunner`), a replay-based benchmark run
//! stored through the queue, a loopback model server for runs created from the form, and
//! the dashboard driven in headless Chromium (Debian's `/usr/bin/chromium`) by
//! `tests/dashboard/e2e.mjs` with `playwright-core`, which also checks the main pages
//! with `axe-core`. The npm packages are installed by `npm ci` from the checked-in lock
//! file when `tests/dashboard/node_modules` is missing.
//!
//! Also here: the headers of the dashboard's files (CSP, ETag and 304, immutable
//! versioned assets) and the report and comparison endpoints it reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tamma_bench::core::events::{EventPayload, NewEvent};
use tamma_bench::core::model::{TenantContext, TenantId, Tier, Visibility};
use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
use tamma_bench::core::queue::{JobFilter, JobState};
use tamma_bench::jobs::{BenchmarkRunner, RunJob};
use tokio_util::sync::CancellationToken;

const CHROMIUM: &str = "/usr/bin/chromium";
const E2E_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dashboard");
/// The whole browser session's limit.
const E2E_TIMEOUT: Duration = Duration::from_secs(300);

/// Cases of the stored benchmark.
const CASES: u32 = 40;

/// A replay benchmark of `CASES` arithmetic cases in 10 clusters, tagged `even`/`odd` and
/// `round` (every fifth), and three replay agents: `steady` (right on 34, expensive),
/// `budget` (right on 26, cheap) and `flaky` (right on 20, in between: dominated).
fn write_replay_benchmark(dir: &Path) -> (PathBuf, PathBuf) {
    let mut cases = String::new();
    for i in 0..CASES {
        let mut tags = vec![if i % 2 == 0 { "even" } else { "odd" }];
        if i % 5 == 0 {
            tags.push("round");
        }
        writeln!(
            cases,
            "{}",
            json!({"id": format!("c{i:02}"), "input": format!("What is {i} + {i}?"),
                   "target": (2 * i).to_string(), "tags": tags, "cluster": format!("g{}", i / 4)})
        )
        .unwrap();
    }
    std::fs::write(dir.join("cases.jsonl"), cases).unwrap();
    std::fs::write(
        dir.join("benchmark.toml"),
        "id = \"arith-replay\"\nname = \"Arithmetic (replayed)\"\nversion = \"1\"\ncases = \"cases.jsonl\"\n",
    )
    .unwrap();
    let mut agents = String::new();
    for (name, right, pin, pout) in [
        ("steady", 34, 3.0, 15.0),
        ("budget", 26, 0.15, 0.6),
        ("flaky", 20, 1.0, 4.0),
    ] {
        let mut recording = String::new();
        for i in 0..CASES {
            // Wrong answers spread over the cases, so the agents disagree case by case.
            let correct = (i * 7 + name.len() as u32) % CASES < right;
            let output = if correct { 2 * i } else { 2 * i + 1 };
            writeln!(
                recording,
                "{}",
                json!({"case_id": format!("c{i:02}"), "output": output.to_string(),
                       "usage": {"input_tokens": 200, "output_tokens": 20},
                       "latency_ms": 100.0 + f64::from(i)})
            )
            .unwrap();
        }
        std::fs::write(dir.join(format!("{name}.jsonl")), recording).unwrap();
        writeln!(
            agents,
            "[[agent]]\nname = \"{name}\"\nprovider = \"replay\"\nmodel = \"{name}-model\"\n\
             recording = \"{name}.jsonl\"\nprice_per_mtok_input = {pin}\nprice_per_mtok_output = {pout}\n"
        )
        .unwrap();
    }
    std::fs::write(dir.join("agents.toml"), agents).unwrap();
    (dir.join("benchmark.toml"), dir.join("agents.toml"))
}

/// The customer context of `tenant` on the premium tier, as a user token makes it.
fn customer(tenant: &str) -> TenantContext {
    TenantContext::external(
        TenantId::new(tenant).unwrap(),
        Tier::Premium,
        format!("user-of-{tenant}"),
    )
}

/// A running service with a worker, the stored replay run and a loopback model server.
struct Fixture {
    server: TestServer,
    run_id: String,
    model_url: String,
    stop_worker: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
}

async fn fixture() -> Fixture {
    // The loopback server makes a runtime of its own: started off this one's threads.
    let (model_addr, _log) = std::thread::spawn(|| {
        tamma_bench_testkit::loopback::start_server(Duration::from_millis(25))
    })
    .join()
    .unwrap();
    let model_url = format!("http://{model_addr}/v1");
    let allowed = model_url.clone();
    let server = TestServer::start_with(move |c| {
        c.limits.premium_per_minute = 100_000;
        c.limits.internal_per_minute = 100_000;
        // The free tier is kept tiny: the test shows the dashboard's 429 message with it.
        c.limits.free_per_minute = 2;
        c.submissions.base_urls = vec![allowed];
    })
    .await;
    let stop_worker = CancellationToken::new();
    let runner = Arc::new(BenchmarkRunner::new(server.state.repository().clone()));
    let options = WorkerOptions {
        idle_poll: Duration::from_millis(100),
        slots: 2,
        ..WorkerOptions::new("dashboard-test-worker")
    };
    let worker = tokio::spawn({
        let queue = server.state.queue().clone();
        let stop = stop_worker.clone();
        async move {
            run_worker(queue, runner, options, stop).await;
        }
    });

    // The stored run: submitted through the queue as acme's user, run by the worker.
    let (manifest, agents) = write_replay_benchmark(server.dir.path());
    let job = RunJob::from_files(&manifest, &agents, &[]).unwrap();
    let queued = server
        .state
        .queue()
        .submit(&customer("acme"), job.to_new_job().unwrap())
        .await
        .unwrap();
    let done = wait_for_job(&server, "acme", &queued.id.to_string()).await;
    assert_eq!(done, JobState::Succeeded, "the replay run's job");
    // Another tenant's private run: never shown to acme.
    server
        .seed_run("globex", "globex-secret", Visibility::Private, 4)
        .await;
    // An insight about acme's run, as the optimizer's insight generator logs it.
    server
        .state
        .events()
        .append(vec![NewEvent::new(
            Some(TenantId::new("acme").unwrap()),
            EventPayload::InsightGenerated {
                run_id: queued.run_id.clone(),
                text: "steady leads arith-replay at 85.0; weakest tag: odd".into(),
            },
        )])
        .await
        .unwrap();
    Fixture {
        server,
        run_id: queued.run_id,
        model_url,
        stop_worker,
        worker,
    }
}

/// Waits until job `id` of `tenant` has finished; its final state.
async fn wait_for_job(server: &TestServer, tenant: &str, id: &str) -> JobState {
    let cx = customer(tenant);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = server
            .state
            .queue()
            .list(&cx, &JobFilter::default())
            .await
            .unwrap();
        let job = jobs
            .iter()
            .find(|j| j.id.to_string() == id)
            .expect("the job");
        if !matches!(job.state, JobState::Queued | JobState::Running) {
            return job.state;
        }
        assert!(Instant::now() < deadline, "job {id} still {:?}", job.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Fixture {
    async fn stop(self) {
        self.stop_worker.cancel();
        self.worker.await.unwrap();
        self.server.stop().await;
    }

    /// `http://127.0.0.1:PORT/` of a door.
    fn origin(base: &str) -> String {
        let end = base
            .find("/api/v1")
            .or_else(|| base.find("/internal/v1"))
            .unwrap();
        format!("{}/", &base[..end])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_files_carry_a_strict_csp_and_cache_by_content() {
    let s = TestServer::start().await;
    for (base, door, api) in [
        (&s.public, "public", "/api/v1"),
        (&s.internal, "internal", "/internal/v1"),
    ] {
        let origin = Fixture::origin(base);
        let r = s.get(&origin, None).await;
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            !csp.contains("unsafe"),
            "no unsafe-inline nor unsafe-eval: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-cache");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        let etag = h["etag"].to_str().unwrap().to_owned();
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!(r#"<meta name="tamma-api" content="{api}">"#)));
        assert!(html.contains(&format!(r#"<meta name="tamma-door" content="{door}">"#)));
        assert!(!html.contains("{{"), "every placeholder filled");
        // No inline script: every <script> has a src.
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script type=\"module\" src=").count()
        );

        let again = s
            .client
            .get(&origin)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
        assert!(again.bytes().await.unwrap().is_empty());

        let version = tamma_bench_server::dashboard::version();
        assert!(html.contains(&format!("/assets/{version}/app.js")));
        let js = s
            .get(&format!("{origin}assets/{version}/app.js"), None)
            .await;
        assert_eq!(js.status(), 200);
        assert_eq!(
            js.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(
            js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert!(js.headers().contains_key("content-security-policy"));
        let body = js.text().await.unwrap();
        assert!(
            !body.contains("innerHTML"),
            "the application builds no markup from strings"
        );
        let css = s
            .get(&format!("{origin}assets/{version}/app.css"), None)
            .await;
        assert!(
            css.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
        // Another build's URL, or no such file: 404 with the JSON error.
        for path in [
            "assets/0000000000000000/app.js".to_owned(),
            format!("assets/{version}/nope.js"),
        ] {
            let r = s.get(&format!("{origin}{path}"), None).await;
            assert_eq!(r.status(), 404, "{path}");
            assert_eq!(
                r.json::<Value>().await.unwrap()["error"]["code"],
                "not_found"
            );
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_compare_return_the_librarys_statistics_as_the_caller_may_see_them() {
    let f = fixture().await;
    let s = &f.server;
    let user = user_token("acme", "premium");
    let url = format!("{}/report?runs={}", s.public, f.run_id);
    let r = s.get(&url, Some(&user)).await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["audience"], "external");
    let names: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["summary"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["steady", "budget", "flaky"], "by score");
    let steady = &report["results"][0]["summary"]["score"];
    assert!(
        (steady["mean"].as_f64().unwrap() - 34.0 / 40.0).abs() < 1e-9,
        "{steady}"
    );
    assert!(steady["ci_low"].as_f64().unwrap() < steady["mean"].as_f64().unwrap());
    assert_eq!(steady["n_clusters"], 10);
    assert_eq!(report["comparisons"].as_array().unwrap().len(), 2);
    assert!(report["comparisons"][0]["comparison"]["verdict"].is_string());
    // Cost is internal: none for a customer, and no Pareto front.
    assert_eq!(report["pareto"], json!([]));
    assert_eq!(report["results"][0]["summary"]["cost_usd"], 0.0);

    let internal = s
        .get(
            &format!("{}/report?runs={}", s.internal, f.run_id),
            Some(&service_token("acme")),
        )
        .await;
    assert_eq!(internal.status(), 200);
    let internal: Value = internal.json().await.unwrap();
    assert_eq!(internal["audience"], "internal");
    // steady: 40 cases × (200 tokens × $3 + 20 × $15) per million; budget is cheaper and
    // worse, flaky dearer than budget and worse: dominated.
    let cost = internal["results"][0]["summary"]["cost_usd"]
        .as_f64()
        .unwrap();
    assert!(
        (cost - 40.0 * (200.0 * 3.0 + 20.0 * 15.0) / 1e6).abs() < 1e-9,
        "{cost}"
    );
    let mut front: Vec<u64> = internal["pareto"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    front.sort_unstable();
    assert_eq!(front, [0, 1], "steady and budget; flaky dominated");

    let cmp = s
        .get(
            &format!(
                "{}/compare?a={}/budget&b={}/flaky",
                s.public, f.run_id, f.run_id
            ),
            Some(&user),
        )
        .await;
    assert_eq!(cmp.status(), 200);
    let cmp: Value = cmp.json().await.unwrap();
    assert_eq!(cmp["n_pairs"], CASES);
    assert!((cmp["mean_diff"].as_f64().unwrap() - 6.0 / 40.0).abs() < 1e-9);

    // Another tenant sees neither; malformed queries name the parameter.
    let other = user_token("globex", "premium");
    assert_eq!(s.get(&url, Some(&other)).await.status(), 404);
    let r = s
        .get(&format!("{}/report?runs=a,,b", s.public), Some(&user))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("runs"));
    let many = vec!["r"; 21].join(",");
    let r = s
        .get(&format!("{}/report?runs={many}", s.public), Some(&user))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(s.get(&url, None).await.status(), 401);
    f.stop().await;
}

/// Runs `npm ci` in the e2e folder when its packages are missing; panics saying what
/// failed.
fn ensure_node_packages() {
    let dir = Path::new(E2E_DIR);
    let have = |p: &str| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .exists()
    };
    if have("playwright-core") && have("axe-core") {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the dashboard e2e test needs npm (Node.js 20 or later) to install playwright-core \
                 and axe-core into {}: cannot run npm: {e}",
                dir.display()
            )
        });
    assert!(
        out.status.success(),
        "`npm ci` in {} failed ({}): the npm registry must be reachable once to install \
         playwright-core and axe-core.\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the browser session; its exit status, stdout and stderr.
async fn run_e2e(
    env: &[(&str, String)],
    log_dir: &Path,
) -> (std::process::ExitStatus, String, String) {
    let stdout_path = log_dir.join("e2e.stdout");
    let stderr_path = log_dir.join("e2e.stderr");
    let mut child = Command::new("node")
        .arg(Path::new(E2E_DIR).join("e2e.mjs"))
        .current_dir(E2E_DIR)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("the dashboard e2e test needs `node` (Node.js 20 or later) on PATH: {e}")
        });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > E2E_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser session did not end within {E2E_TIMEOUT:?}; its output:\n{}\n{}",
                std::fs::read_to_string(&stdout_path).unwrap_or_default(),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    (
        status,
        std::fs::read_to_string(stdout_path).unwrap(),
        std::fs::read_to_string(stderr_path).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_end_to_end_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "the dashboard e2e test needs {CHROMIUM}: run scripts/install-chromium (Debian's chromium package)"
    );
    ensure_node_packages();
    let f = fixture().await;
    let s = &f.server;
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-e2e");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();

    let mut expired = user_claims("acme", "premium");
    expired["exp"] = json!(now() - 3600);
    let env = [
        ("DASH_PUBLIC_URL", Fixture::origin(&s.public)),
        ("DASH_INTERNAL_URL", Fixture::origin(&s.internal)),
        ("DASH_USER_TOKEN", user_token("acme", "premium")),
        ("DASH_FREE_TOKEN", user_token("tiny", "free")),
        ("DASH_SERVICE_TOKEN", service_token("acme")),
        ("DASH_EXPIRED_TOKEN", sign(Key::UserA, &expired)),
        ("DASH_RUN_ID", f.run_id.clone()),
        ("DASH_MODEL_URL", f.model_url.clone()),
        ("DASH_OUT", out_dir.display().to_string()),
        ("DASH_CHROMIUM", CHROMIUM.to_owned()),
    ];
    let (status, stdout, stderr) = run_e2e(&env, &out_dir).await;
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        status.success(),
        "the browser session failed ({status}); screenshots and logs in {}\n{stdout}\n{stderr}",
        out_dir.display()
    );

    // What the session reports, checked here too.
    let summary: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("E2E-SUMMARY "))
        .map(|j| serde_json::from_str(j).unwrap())
        .expect("the session's summary line");
    let steps: Vec<&str> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for needed in [
        "event stream parser",
        "sign-in refuses an expired token",
        "sign-in explains a token of the other door",
        "benchmarks list",
        "leaderboard with intervals",
        "paired comparisons with verdicts",
        "any two results compared",
        "export",
        "create a run from the form",
        "the job runs live to success",
        "a job submitted elsewhere appears by its event",
        "rate limit shown",
        "internal cost analysis and Pareto chart",
        "internal insights",
        "internal studies",
        "unknown pages and runs",
        "sign out",
        "keyboard: skip link",
        "dark scheme",
        "narrow screen",
    ] {
        assert!(
            steps.contains(&needed),
            "step {needed:?} not passed: {steps:?}"
        );
    }
    let audits = summary["axe"].as_array().unwrap();
    assert!(audits.len() >= 8, "the main pages were audited: {audits:?}");
    for a in audits {
        assert_eq!(
            a["serious"], 0,
            "serious or critical accessibility violations: {a}"
        );
        assert!(a["passes"].as_u64().unwrap() > 10, "axe ran its rules: {a}");
    }
    for shot in summary["screenshots"].as_array().unwrap() {
        let path = PathBuf::from(shot.as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 2_000,
            "{}",
            path.display()
        );
    }
    assert_eq!(
        summary["console_errors"],
        json!([]),
        "no script error nor CSP violation"
    );
    println!("screenshots: {}", out_dir.display());

    // The run created from the form really ran: its job succeeded and its run holds the
    // form's cases.
    let created = summary["created_job"].as_str().unwrap().to_owned();
    assert_eq!(wait_for_job(s, "acme", &created).await, JobState::Succeeded);
    let jobs = s
        .state
        .queue()
        .list(&customer("acme"), &JobFilter::default())
        .await
        .unwrap();
    let job = jobs.iter().find(|j| j.id.to_string() == created).unwrap();
    let r = s
        .get(
            &format!("{}/runs/{}", s.public, job.run_id),
            Some(&user_token("acme", "premium")),
        )
        .await;
    let run: Value = r.json().await.unwrap();
    assert_eq!(run["run"]["benchmark_id"], "loop-arith");
    assert_eq!(run["results"][0]["metrics"]["n_trials"], 1200);
    f.stop().await;
}
