//! The service's metrics, exposed at `GET /internal/v1/metrics` (a service token) in the
//! OpenMetrics text format, which Prometheus reads. What each series measures and where
//! it comes from (`docs/api.md`, "Metrics"):
//!
//! - **Requests** (`tamma_http_requests_total`, `tamma_http_request_duration_seconds`): a
//!   middleware on both listeners ([`record_request`]), by door, matched route template,
//!   method and status class; the duration is until the answer's head (for the event
//!   stream: until it opens).
//! - **Queue** (`tamma_queue_depth`, `tamma_queue_running`,
//!   `tamma_queue_oldest_wait_seconds`): [`JobQueue::stats`] read at each scrape, per
//!   tier; `tamma_queue_stats_up` says whether it could be read.
//! - **Events** (`tamma_events_total`): the event log's events by type, counted by a
//!   follower of the log from the service's start ([`runs`]).
//! - **Trials** (`tamma_trials_total`, `tamma_trial_errors_total`,
//!   `tamma_trial_latency_seconds`): the trials of each run that completes, read through
//!   the repository as an internal context when its `benchmark.completed` is logged. They
//!   are counted when their run completes, not as they finish (the service runs no
//!   trials; the workers do), so a rate over a window longer than a run is trials per
//!   second.
//!
//! Why `prometheus-client`: the Prometheus project's own client gives label families,
//! histograms and the exposition's escaping for three small crates (no protobuf); a
//! hand-written exposition would repeat that for little gain.

mod http;
pub mod runs;

pub use http::record_request;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tamma_bench::core::queue::JobQueue;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request durations' bucket bounds, seconds.
const HTTP_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Trial latencies' bucket bounds, seconds.
const TRIAL_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// How long a scrape waits for the queue's statistics.
const STATS_TIMEOUT: Duration = Duration::from_secs(2);

/// The labels of a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    door: &'static str,
    route: String,
    method: &'static str,
    status: &'static str,
}

/// The label of an event type.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TypeLabels {
    r#type: &'static str,
}

/// The labels of a trial.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TrialLabels {
    provider: String,
    outcome: &'static str,
}

/// The labels of an infrastructure failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ErrorLabels {
    provider: String,
    kind: String,
}

/// The label of a provider.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProviderLabels {
    provider: String,
}

/// The label of a tier.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    tier: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The service's counters and histograms (shared by the middleware, the event follower
/// and the scrape).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<RequestLabels>,
    events: Family<TypeLabels, Counter>,
    trials: Family<TrialLabels, Counter>,
    trial_errors: Family<ErrorLabels, Counter>,
    trial_seconds: HistogramFamily<ProviderLabels>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tamma");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS));
        let events = Family::<TypeLabels, Counter>::default();
        let trials = Family::<TrialLabels, Counter>::default();
        let trial_errors = Family::<ErrorLabels, Counter>::default();
        let trial_seconds: HistogramFamily<ProviderLabels> =
            Family::new_with_constructor(|| Histogram::new(TRIAL_BUCKETS));
        registry.register(
            "http_requests",
            "Requests answered, by door, matched route template, method and status class",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time until the answer's head (the event stream: until it opens), seconds",
            request_seconds.clone(),
        );
        registry.register(
            "events",
            "Events logged since the service started, by type (read from the event log)",
            events.clone(),
        );
        registry.register(
            "trials",
            "Trials of runs completed since the service started, by provider kind and outcome; counted when the run completes",
            trials.clone(),
        );
        registry.register(
            "trial_errors",
            "Infrastructure failures among those trials, by provider kind and error kind",
            trial_errors.clone(),
        );
        registry.register(
            "trial_latency_seconds",
            "Latency of those trials that got an answer (cache hits excluded), by provider kind, seconds",
            trial_seconds.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            events,
            trials,
            trial_errors,
            trial_seconds,
        }
    }

    /// Counts one answered request.
    pub(crate) fn observe_request(&self, labels: RequestLabels, elapsed: Duration) {
        self.requests.get_or_create(&labels).inc();
        self.request_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one logged event of type `name`.
    pub(crate) fn observe_event(&self, name: &'static str) {
        self.events
            .get_or_create(&TypeLabels { r#type: name })
            .inc();
    }

    /// Counts one trial of a completed run.
    pub(crate) fn observe_trial(
        &self,
        provider: &str,
        outcome: &'static str,
        error_kind: Option<String>,
        latency: Option<Duration>,
    ) {
        let provider = provider.to_owned();
        self.trials
            .get_or_create(&TrialLabels {
                provider: provider.clone(),
                outcome,
            })
            .inc();
        if let Some(kind) = error_kind {
            self.trial_errors
                .get_or_create(&ErrorLabels {
                    provider: provider.clone(),
                    kind,
                })
                .inc();
        }
        if let Some(latency) = latency {
            self.trial_seconds
                .get_or_create(&ProviderLabels { provider })
                .observe(latency.as_secs_f64());
        }
    }

    /// The exposition: the counters and histograms, and the queue's load per tier read
    /// now from `queue` (when it does not answer in time, `tamma_queue_stats_up` is 0 and
    /// the tiers' series are left out).
    pub async fn render(&self, queue: &dyn JobQueue) -> String {
        let mut scrape = Registry::with_prefix("tamma");
        let up = Gauge::<i64>::default();
        let depth = Family::<TierLabels, Gauge>::default();
        let running = Family::<TierLabels, Gauge>::default();
        let oldest = Family::<TierLabels, Gauge<f64, AtomicU64>>::default();
        match tokio::time::timeout(STATS_TIMEOUT, queue.stats()).await {
            Ok(Ok(stats)) => {
                up.set(1);
                for s in stats {
                    let tier = TierLabels { tier: s.tier };
                    depth
                        .get_or_create(&tier)
                        .set(i64::try_from(s.queued).unwrap_or(i64::MAX));
                    running
                        .get_or_create(&tier)
                        .set(i64::try_from(s.running).unwrap_or(i64::MAX));
                    oldest
                        .get_or_create(&tier)
                        .set(s.oldest_wait_ms.max(0) as f64 / 1e3);
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: the queue's statistics failed"),
            Err(_) => tracing::warn!("metrics: the queue's statistics did not come in time"),
        }
        scrape.register(
            "queue_stats_up",
            "1 when the queue's statistics were read for this scrape, else 0",
            up,
        );
        scrape.register("queue_depth", "Jobs waiting, by tier", depth);
        scrape.register(
            "queue_running",
            "Jobs running under a live lease, by tier",
            running,
        );
        scrape.register(
            "queue_oldest_wait_seconds",
            "How long the oldest waiting job has waited, by tier (0 when none waits), seconds",
            oldest,
        );
        let mut out = String::new();
        // Writing to a String cannot fail; the encoders only pass on the writer's errors.
        let _ = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &scrape))
            .and_then(|()| encode_eof(&mut out));
        out
    }
}
