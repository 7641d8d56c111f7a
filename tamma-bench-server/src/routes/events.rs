//! The live event stream at both doors (server-sent events): see [`crate::stream`].

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

/// The event log as the caller's tenant sees it, live: its own events and public ones
/// (never another tenant's, never internal ones), as server-sent events.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this log position (what a reconnecting client sends)"),
        ("after" = Option<u64>, Query, description = "Start after this log position (`Last-Event-ID` wins); without either, at the log's head: new events only"),
        ("type" = Option<Vec<String>>, Query, description = "Only events of these types (repeatable): `benchmark.completed`, `results.published`, `job.queued`, `job.started`, `job.finished`, `job.failed`, ...", explode = true),
    ),
    responses(
        (status = 200, description = "A stream of server-sent events: `id:` the log position, `event:` the dotted type, `data:` the event JSON; `:` comments keep it alive. It opens with a message holding only `id:` (the position it starts after) and ends when the service stops or after the configured longest duration.", content_type = "text/event-stream", body = String),
        (status = 400, description = "An unknown type or parameter, or a position that is not a number", body = crate::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn public_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let sse = crate::stream::open(&state, &caller, &headers, query.as_deref()).await?;
    Ok(sse.into_response())
}

/// The event log as the service's internal context sees it, live: its tenant's events,
/// internal ones included, deployment-wide internal ones and public ones.
#[utoipa::path(get, path = "/internal/v1/events", tag = "internal",
    params(
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this log position"),
        ("after" = Option<u64>, Query, description = "Start after this log position (`Last-Event-ID` wins); without either, at the log's head"),
        ("type" = Option<Vec<String>>, Query, description = "Only events of these types (repeatable)", explode = true),
    ),
    responses(
        (status = 200, description = "A stream of server-sent events, as at the public door", content_type = "text/event-stream", body = String),
        (status = 400, description = "An unknown type or parameter, or a position that is not a number", body = crate::error::ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn internal_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let sse = crate::stream::open(&state, &caller, &headers, query.as_deref()).await?;
    Ok(sse.into_response())
}
