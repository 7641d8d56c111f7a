//! The two listeners, their routers and the layers around them, and the graceful stop.
//!
//! Layers, outermost first: request id (`x-request-id`, generated when absent) → trace
//! span (method, path, request id) → request id echoed → request metrics (count and time
//! by route template) → JSON errors (an error answer without a body of its own gets the
//! JSON error body) → timeout (503; until the answer's head) → body limit (413) → router:
//! open routes (`/healthz`, `/readyz`, `/openapi.json`, the dashboard's files at `/`) and,
//! behind the door's authentication and the tier limits, the API.

use crate::auth::Door;
use crate::error::ApiError;
use crate::routes::{self, RouteTable};
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service over a state: its routers, and [`Server::serve`] to run them.
#[derive(Debug, Clone)]
pub struct Server {
    state: AppState,
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A listener failed while serving.
    #[error("the {door} listener failed")]
    Serve {
        /// `public` or `internal`.
        door: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A listener's task ended abnormally.
    #[error("the {door} listener's task ended abnormally")]
    Task {
        /// `public` or `internal`.
        door: &'static str,
        /// The task's error.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl ServeError {
    /// What a caller can do: fix the address (bind), or restart.
    pub fn remedy(&self) -> tamma_bench::core::error::Remedy {
        match self {
            Self::Bind { .. } => tamma_bench::core::error::Remedy::FixInput,
            _ => tamma_bench::core::error::Remedy::Retry,
        }
    }
}

/// The running service: the addresses it listens on, and its tasks.
#[derive(Debug)]
pub struct Serving {
    /// The public API's address (the real port when 0 was asked for).
    pub public_addr: SocketAddr,
    /// The internal API's address.
    pub internal_addr: SocketAddr,
    public: JoinHandle<std::io::Result<()>>,
    internal: JoinHandle<std::io::Result<()>>,
}

impl Serving {
    /// Waits until both listeners have stopped (after the shutdown token was cancelled,
    /// once the requests in flight are answered).
    pub async fn wait(self) -> Result<(), ServeError> {
        for (door, task) in [("public", self.public), ("internal", self.internal)] {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(source)) => return Err(ServeError::Serve { door, source }),
                Err(source) => return Err(ServeError::Task { door, source }),
            }
        }
        Ok(())
    }
}

impl Server {
    /// The service over `state` (configured by the state's [`ServerConfig`]).
    ///
    /// [`ServerConfig`]: crate::ServerConfig
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The public API's router (`/api/v1`), with its layers.
    pub fn public_router(&self) -> Router {
        self.router(Door::Public)
    }

    /// The internal API's router (`/internal/v1`), with its layers.
    pub fn internal_router(&self) -> Router {
        self.router(Door::Internal)
    }

    /// The (method, path) of every route of `door`'s router, in the syntax of the
    /// OpenAPI document (`/api/v1/runs/{id}`).
    pub fn routes(door: Door) -> Vec<(Method, String)> {
        routes::all(door).routes().to_vec()
    }

    fn router(&self, door: Door) -> Router {
        let config = self.state.config();
        let table: RouteTable = routes::table(door);
        let api = table
            .into_router()
            .route_layer(middleware::from_fn_with_state(
                (self.state.clone(), door),
                authenticate,
            ))
            .merge(routes::open_table(door).into_router())
            .merge(crate::dashboard::router(door))
            .fallback(not_found)
            .with_state(self.state.clone());
        api.layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                Duration::from_millis(config.request_timeout_ms),
            ))
            .layer(middleware::from_fn(json_errors))
            .layer(middleware::from_fn_with_state(
                (self.state.metrics().clone(), door),
                crate::metrics::record_request,
            ))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(
                TraceLayer::new_for_http().make_span_with(move |req: &Request| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        door = door.as_str(),
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id,
                    )
                }),
            )
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
    }

    /// Binds both listeners and serves until `shutdown` is cancelled; returns at once with
    /// the bound addresses.
    pub async fn serve(&self, shutdown: CancellationToken) -> Result<Serving, ServeError> {
        let config = self.state.config();
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })
        };
        let public = bind(config.public_addr).await?;
        let internal = bind(config.internal_addr).await?;
        let local = |l: &TcpListener, addr: SocketAddr| {
            l.local_addr()
                .map_err(|source| ServeError::Bind { addr, source })
        };
        let public_addr = local(&public, config.public_addr)?;
        let internal_addr = local(&internal, config.internal_addr)?;
        let run = |listener: TcpListener, router: Router| {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            })
        };
        tracing::info!(%public_addr, %internal_addr, "serving");
        crate::stream::close_on(&self.state, &shutdown);
        crate::metrics::runs::start(&self.state, &shutdown);
        Ok(Serving {
            public_addr,
            internal_addr,
            public: run(public, self.public_router()),
            internal: run(internal, self.internal_router()),
        })
    }
}

/// Serves `state` on the addresses of its configuration until `shutdown` is cancelled;
/// returns the bound addresses at once ([`Serving::wait`] waits for the stop).
pub async fn serve(state: AppState, shutdown: CancellationToken) -> Result<Serving, ServeError> {
    Server::new(state).serve(shutdown).await
}

/// Authenticates the request at its door, counts it against the caller's tier limit and
/// hands the [`Caller`](crate::auth::Caller) to the handler.
async fn authenticate(
    State((state, door)): State<(AppState, Door)>,
    mut req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = match state.auth().authenticate(door, header).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = state.limits().check(&caller.context) {
        return e.into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Unknown routes: 404 with the JSON error.
async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// Gives an error answer without a JSON body of its own (a method not allowed, a timeout,
/// a body over the limit) the JSON error body.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "method not allowed on this route",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "payload_too_large", "the request body is too large")
        }
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        ),
        StatusCode::NOT_FOUND => ApiError::new(status, "not_found", "no such route"),
        s if s.is_client_error() => ApiError::new(s, "bad_request", "the request is invalid"),
        _ => ApiError::internal(),
    };
    let mut out = error.into_response();
    // Keep what the inner answer said about the method (Allow) or the wait.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
