//! The Prometheus scrape: see [`crate::metrics`].

use crate::metrics::CONTENT_TYPE;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// The service's metrics in the OpenMetrics text format (Prometheus): requests and their
/// latency per route, the queue's depth, running jobs and oldest wait per tier, events
/// by type, and the trials of completed runs by provider, outcome and error kind.
#[utoipa::path(get, path = "/internal/v1/metrics", tag = "internal",
    responses(
        (status = 200, description = "The exposition (`application/openmetrics-text; version=1.0.0`)", content_type = "application/openmetrics-text", body = String),
    ),
    security(("service" = [])))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics().render(state.queue().as_ref()).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}
