//! The request middleware: counts each answer and its time by door, matched route
//! template (`/api/v1/runs/{id}`, never the id; `unmatched` for unknown paths), method
//! and status class.

use super::{Metrics, RequestLabels};
use crate::auth::Door;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// Records the request in `metrics` (a layer of each listener's router, outside the
/// JSON errors so the status is the one sent).
pub async fn record_request(
    State((metrics, door)): State<(Arc<Metrics>, Door)>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let labels = RequestLabels {
        door: door.as_str(),
        route,
        method,
        status: status_class(response.status().as_u16()),
    };
    metrics.observe_request(labels, started.elapsed());
    response
}

/// The method, or `other` (a label's values stay few whatever clients send).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `1xx` ... `5xx`.
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}
