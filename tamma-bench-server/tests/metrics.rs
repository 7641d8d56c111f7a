//! `/internal/v1/metrics` over real listeners and a real SQLite file: the exposition
//! parses line by line, holds the queue's depth per tier and the request histogram per
//! route with the counts of the requests made, counts a completed run's trials, and is
//! closed to customers' tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::*;
use tamma_bench::core::model::{TenantContext, TenantId, Tier, Visibility};
use tamma_bench::core::queue::{JobKind, NewJob};

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses an OpenMetrics / Prometheus text exposition; panics on a line that is neither a
/// comment nor a valid sample, or when `# EOF` is not the last line.
fn parse(text: &str) -> Vec<Sample> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    let mut out = Vec::new();
    for line in lines {
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.split_whitespace().collect();
            assert!(
                matches!(words.first(), Some(&("HELP" | "TYPE" | "UNIT" | "EOF"))),
                "comment {line:?}"
            );
            if words[0] == "TYPE" {
                assert!(
                    [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "unknown",
                        "stateset",
                        "gaugehistogram"
                    ]
                    .contains(&words[2]),
                    "{line:?}"
                );
            }
            continue;
        }
        out.push(sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}")));
    }
    out
}

fn sample(line: &str) -> Option<Sample> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            if let Some(after) = r.strip_prefix('}') {
                r = after;
                break;
            }
            let eq = r.find('=')?;
            let key = &r[..eq];
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let mut chars = r[eq + 1..].strip_prefix('"')?.char_indices();
            let mut value = String::new();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => break i,
                    c => value.push(c),
                }
            };
            labels.insert(key.to_owned(), value);
            r = &r[eq + 1 + 1 + end + 1..];
            r = r.strip_prefix(',').unwrap_or(r);
        }
        rest = r;
    }
    let mut parts = rest.strip_prefix(' ')?.split(' ');
    let value = match parts.next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    if let Some(ts) = parts.next() {
        ts.parse::<f64>().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some((name.to_owned(), labels, value))
}

/// The value of the sample `name` whose labels include `want`.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

async fn scrape(s: &TestServer) -> Vec<Sample> {
    let r = s
        .get(
            &format!("{}/metrics", s.internal),
            Some(&service_token("ops")),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    parse(&r.text().await.unwrap())
}

#[tokio::test]
async fn the_exposition_holds_the_queue_depth_and_each_routes_latency_histogram() {
    let s = TestServer::start().await;
    s.seed_run("acme", "acme-run", Visibility::Private, 3).await;
    for _ in 0..3 {
        assert_eq!(
            s.get(&format!("{}/healthz", s.public), None).await.status(),
            200
        );
    }
    let token = user_token("acme", "free");
    for _ in 0..2 {
        let r = s
            .get(&format!("{}/runs/acme-run", s.public), Some(&token))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = s
        .get(&format!("{}/runs/no-such-run", s.public), Some(&token))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        s.get(&format!("{}/nowhere", s.public), None).await.status(),
        404
    );
    // Two jobs of a free tenant wait; none of the premium tier.
    let cx = TenantContext::external(TenantId::new("acme").unwrap(), Tier::Free, "user");
    for _ in 0..2 {
        s.state
            .queue()
            .submit(
                &cx,
                NewJob::new(JobKind::Run, serde_json::json!({"test": true})),
            )
            .await
            .unwrap();
    }

    let samples = scrape(&s).await;
    let tier = |t| [("tier", t)];
    assert_eq!(value(&samples, "tamma_queue_stats_up", &[]), Some(1.0));
    assert_eq!(
        value(&samples, "tamma_queue_depth", &tier("external-free")),
        Some(2.0)
    );
    assert_eq!(
        value(&samples, "tamma_queue_depth", &tier("external-premium")),
        Some(0.0)
    );
    assert_eq!(
        value(&samples, "tamma_queue_running", &tier("external-free")),
        Some(0.0)
    );
    let oldest = value(
        &samples,
        "tamma_queue_oldest_wait_seconds",
        &tier("external-free"),
    )
    .expect("oldest wait");
    assert!((0.0..60.0).contains(&oldest), "{oldest}");

    let route = |route: &'static str, status: &'static str| {
        [
            ("door", "public"),
            ("route", route),
            ("method", "GET"),
            ("status", status),
        ]
    };
    for (r, status, n) in [
        ("/api/v1/healthz", "2xx", 3.0),
        ("/api/v1/runs/{id}", "2xx", 2.0),
        ("/api/v1/runs/{id}", "4xx", 1.0),
        ("unmatched", "4xx", 1.0),
    ] {
        let labels = route(r, status);
        assert_eq!(
            value(&samples, "tamma_http_requests_total", &labels),
            Some(n),
            "{r} {status}"
        );
        assert_eq!(
            value(
                &samples,
                "tamma_http_request_duration_seconds_count",
                &labels
            ),
            Some(n),
            "{r} {status}"
        );
        let mut inf = labels.to_vec();
        inf.push(("le", "+Inf"));
        assert_eq!(
            value(&samples, "tamma_http_request_duration_seconds_bucket", &inf),
            Some(n)
        );
        let sum = value(&samples, "tamma_http_request_duration_seconds_sum", &labels).unwrap();
        assert!(sum > 0.0 && sum < 30.0, "{sum}");
    }
    // Buckets are cumulative.
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == "tamma_http_request_duration_seconds_bucket"
                && l.get("route").map(String::as_str) == Some("/api/v1/healthz")
        })
        .map(|(_, l, v)| (l["le"].parse::<f64>().unwrap_or(f64::INFINITY), *v))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");

    // The scrape itself is counted from the next one on.
    let again = scrape(&s).await;
    let me = [
        ("door", "internal"),
        ("route", "/internal/v1/metrics"),
        ("status", "2xx"),
    ];
    assert_eq!(value(&again, "tamma_http_requests_total", &me), Some(1.0));
    s.stop().await;
}

#[tokio::test]
async fn a_completed_runs_trials_are_counted_by_provider_and_outcome() {
    let s = TestServer::start().await;
    s.seed_run("acme", "acme-run", Visibility::Private, 6).await;
    let want = [("provider", "openai"), ("outcome", "scored")];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let samples = loop {
        let samples = scrape(&s).await;
        if value(&samples, "tamma_trials_total", &want) == Some(6.0) {
            break samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trials not counted: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        value(
            &samples,
            "tamma_events_total",
            &[("type", "benchmark.completed")]
        ),
        Some(1.0)
    );
    let provider = [("provider", "openai")];
    assert_eq!(
        value(&samples, "tamma_trial_latency_seconds_count", &provider),
        Some(6.0)
    );
    let sum = value(&samples, "tamma_trial_latency_seconds_sum", &provider).unwrap();
    assert!((sum - 0.030).abs() < 1e-9, "six trials of 5 ms: {sum}");
    assert_eq!(
        value(&samples, "tamma_trial_errors_total", &provider),
        None,
        "no failures"
    );
    s.stop().await;
}

#[test]
fn the_metrics_route_is_documented_for_services() {
    let doc = serde_json::to_value(tamma_bench_server::openapi::internal_document()).unwrap();
    let op = &doc["paths"]["/internal/v1/metrics"]["get"];
    assert!(op["security"][0].get("service").is_some(), "{op}");
    assert!(op["responses"].get("403").is_some(), "{op}");
    let routes = tamma_bench_server::Server::routes(tamma_bench_server::Door::Internal);
    assert!(
        routes
            .iter()
            .any(|(m, p)| m == "GET" && p == "/internal/v1/metrics")
    );
}

#[tokio::test]
async fn customers_tokens_cannot_read_metrics() {
    let s = TestServer::start().await;
    let url = format!("{}/metrics", s.internal);
    let r = s.get(&url, Some(&user_token("acme", "premium"))).await;
    assert_eq!(r.status(), 403, "a customer's token at the internal door");
    let r = s.get(&url, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        s.get(
            &format!("{}/metrics", s.public.replace("/api/v1", "/internal/v1")),
            Some(&user_token("acme", "premium"))
        )
        .await
        .status(),
        404,
        "the public listener serves no metrics"
    );
    s.stop().await;
}
