//! The one error body every endpoint answers with:
//! `{"error": {"code": "...", "message": "..."}}`, with the status that says what the
//! caller can do. Messages name the field or the id at fault and never carry internal
//! detail (a database error, a path on the server, a key): those go to the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;
use tamma_bench::core::queue::{QueueError, QueueErrorKind};
use tamma_bench::core::store::StoreError;
use tamma_bench::privacy::{ErrorKind, RepositoryError};
use utoipa::ToSchema;

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`,
    /// `unprocessable`, `rate_limited`, `unavailable`, `timeout`, `internal`.
    pub code: String,
    /// For people: what is wrong, naming the field or id at fault.
    pub message: String,
}

/// An error answer: a status, a code, a message safe to show, and a wait for 429/503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    /// An answer of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request is malformed; the message names the field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 (with `WWW-Authenticate: Bearer`): no valid token. The message is generic.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// 403: the token is valid but not for this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: nothing of that id the caller may see (never says whether it exists).
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {} visible to you", what.into()),
        )
    }

    /// 409: the state does not allow it.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422: well-formed but invalid; the message names the file, line and field.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests: retry after the time in Retry-After",
            )
        }
    }

    /// 503: storage did not answer; retry.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is unavailable: retry later",
            )
        }
    }

    /// 500: a fault of the service; details are in its log only.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error: the request was logged",
        )
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The wait advertised with a 429 or 503.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client that waits that long is let through.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<RepositoryError> for ApiError {
    fn from(e: RepositoryError) -> Self {
        match e.kind {
            // A run of another tenant is absent, whatever the policy said.
            ErrorKind::NotFound => Self::not_found("such run"),
            ErrorKind::Denied => Self::forbidden("not permitted"),
            ErrorKind::Invalid => Self::bad_request(e.message.clone()),
            ErrorKind::BudgetExhausted => Self::conflict("the privacy budget is spent"),
            ErrorKind::Unavailable => {
                tracing::warn!(error = %e, "repository unavailable");
                Self::unavailable()
            }
            _ => {
                tracing::error!(error = %e, "repository failure");
                Self::internal()
            }
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e.kind() {
            QueueErrorKind::RateLimited => {
                Self::rate_limited(e.retry_after().unwrap_or(Duration::from_secs(60)))
            }
            QueueErrorKind::NotFound => Self::not_found("such job"),
            QueueErrorKind::Forbidden => Self::forbidden(e.message().to_owned()),
            QueueErrorKind::InvalidState => Self::conflict(e.message().to_owned()),
            QueueErrorKind::Invalid | QueueErrorKind::UnknownTier => {
                Self::unprocessable(e.message().to_owned())
            }
            QueueErrorKind::Backend => {
                tracing::warn!(error = %e, "queue unavailable");
                Self::unavailable()
            }
            _ => {
                tracing::error!(error = %e, "queue failure");
                Self::internal()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store failure");
        match e.remedy() {
            tamma_bench::core::error::Remedy::Retry => Self::unavailable(),
            _ => Self::internal(),
        }
    }
}
