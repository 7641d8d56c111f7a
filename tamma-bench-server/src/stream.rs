//! The live event stream (`GET /api/v1/events`, `GET /internal/v1/events`): the event log
//! as the caller's context sees it ([`EventLog::read_as`]: its tenant's events and public
//! ones; internal ones only at the internal door), as server-sent events.
//!
//! Each message is `id:` the event's log position, `event:` its dotted type
//! (`job.queued`), `data:` the event as JSON. The stream opens with a message holding only
//! `id:` (the position it starts after, so a client that reconnects before any event
//! resumes there), then follows the log with core's [`Follower`]. A client resumes with
//! `Last-Event-ID` (or `?after=POSITION`); without either the stream starts at the log's
//! head (new events only; `?after=0` replays the log). `?type=` (repeatable) keeps only
//! those types. Comments (`:`) keep an idle connection open.
//!
//! The stream ends when the service shuts down (the state's closing token), after
//! [`EventStreamConfig::max_duration_secs`] (the client reconnects, with a token that is
//! still valid), or when the log cannot be read (the client reconnects and resumes).
//! The frame's request timeout bounds only the time to the answer's head, which a stream
//! sends at once: its body is not timed.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use tamma_bench::core::events::follow::Follower;
use tamma_bench::core::events::{Event, EventFilter, EventType};

/// The event stream's settings (`[event_stream]` in the configuration file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventStreamConfig {
    /// A keep-alive comment is sent after this long without a message (seconds, ≥ 1).
    pub keep_alive_secs: u64,
    /// A stream ends after this long (seconds, ≥ 1), so a client keeps listening only
    /// with a token that is still valid when it reconnects.
    pub max_duration_secs: u64,
    /// How often an idle stream looks at the log even when no wake-up came (ms, ≥ 1): the
    /// log wakes streams at once for this process's writes (and on Postgres for every
    /// writer's); other processes' writes to a SQLite file are found by this poll.
    pub poll_ms: u64,
}

impl Default for EventStreamConfig {
    fn default() -> Self {
        Self {
            keep_alive_secs: 15,
            max_duration_secs: 3_600,
            poll_ms: 1_000,
        }
    }
}

impl EventStreamConfig {
    /// The field at fault, when a value is out of range.
    pub fn invalid_field(&self) -> Option<&'static str> {
        if self.keep_alive_secs == 0 {
            Some("event_stream.keep_alive_secs")
        } else if self.max_duration_secs == 0 {
            Some("event_stream.max_duration_secs")
        } else if self.poll_ms == 0 {
            Some("event_stream.poll_ms")
        } else {
            None
        }
    }
}

/// Where and what a stream reads: from the request's `Last-Event-ID` and query string.
#[derive(Debug, PartialEq)]
struct StreamRequest {
    after: Option<u64>,
    types: Vec<EventType>,
}

fn parse_request(headers: &HeaderMap, query: Option<&str>) -> Result<StreamRequest, ApiError> {
    let mut after = None;
    let mut types = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "after" => {
                let p = value.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("after: {value:?} is not a log position"))
                })?;
                after = Some(p);
            }
            "type" => {
                let t = EventType::parse(&value).ok_or_else(|| {
                    let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                    ApiError::bad_request(format!(
                        "type: unknown event type {value:?}; expected one of {}",
                        names.join(", ")
                    ))
                })?;
                if !types.contains(&t) {
                    types.push(t);
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {other:?}: expected after, type"
                )));
            }
        }
    }
    // A reconnecting client's position wins over the URL it reconnects to.
    if let Some(v) = headers.get("last-event-id") {
        let p = v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID: not a log position"))?;
        after = Some(p);
    }
    Ok(StreamRequest { after, types })
}

/// The stream of the log for `caller`, from the request's position.
pub(crate) async fn open(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>>, ApiError> {
    let request = parse_request(headers, query)?;
    let after = match request.after {
        Some(p) => p,
        None => state.events().head().await.map_err(ApiError::from)?,
    };
    let config = &state.config().event_stream;
    let filter = EventFilter {
        types: request.types,
        tenant: None,
    };
    let follower = Follower::new(
        state.events().clone(),
        filter,
        Some(caller.context.clone()),
        after,
    )
    .with_poll_interval(Duration::from_millis(config.poll_ms));
    let closing = state.closing().clone();
    let deadline = tokio::time::sleep(Duration::from_secs(config.max_duration_secs));
    let pages = stream::unfold(follower, |mut follower| async move {
        match follower.next().await {
            Ok(page) => Some((page, follower)),
            Err(e) => {
                tracing::warn!(error = %e, "event stream: the log cannot be read; the stream ends");
                None
            }
        }
    });
    let start = SseEvent::default().id(after.to_string());
    let events = stream::once(async move { start })
        .chain(pages.flat_map(|page| stream::iter(page.into_iter().map(message))))
        .map(Ok)
        .take_until(async move {
            tokio::select! {
                () = closing.cancelled() => {}
                () = deadline => {}
            }
        });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(config.keep_alive_secs))))
}

/// Cancels the state's closing token when `shutdown` is cancelled, so open streams end
/// and a graceful stop does not wait for them.
pub(crate) fn close_on(state: &AppState, shutdown: &tokio_util::sync::CancellationToken) {
    let (closing, shutdown) = (state.closing().clone(), shutdown.clone());
    tokio::spawn(async move {
        shutdown.cancelled().await;
        closing.cancel();
    });
}

/// One event as a message: `id:` position, `event:` type, `data:` JSON.
fn message(event: Event) -> SseEvent {
    let data = serde_json::to_string(&event).unwrap_or_else(|_| "null".into());
    SseEvent::default()
        .id(event.position.to_string())
        .event(event.event_type().as_str())
        .data(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_types_come_from_the_header_and_the_query() {
        let mut headers = HeaderMap::new();
        let r = parse_request(&headers, Some("after=7&type=job.queued&type=job.failed"))
            .expect("valid");
        assert_eq!(r.after, Some(7));
        assert_eq!(r.types, vec![EventType::JobQueued, EventType::JobFailed]);
        headers.insert("last-event-id", "12".parse().expect("header"));
        let r = parse_request(&headers, Some("after=7")).expect("valid");
        assert_eq!(r.after, Some(12), "the reconnecting client's position wins");
        let e = parse_request(&HeaderMap::new(), Some("type=nope")).expect_err("unknown type");
        assert!(e.message().contains("nope"), "{e}");
        let e = parse_request(&HeaderMap::new(), Some("after=-1")).expect_err("negative");
        assert!(e.message().starts_with("after"), "{e}");
        let e = parse_request(&HeaderMap::new(), Some("tenant=zed")).expect_err("unknown");
        assert!(e.message().contains("tenant"), "{e}");
        headers.insert("last-event-id", "x".parse().expect("header"));
        assert!(parse_request(&headers, None).is_err());
    }
}
