//! Liveness, readiness and the OpenAPI documents: open to everyone at both doors.

use crate::error::{ApiError, ErrorBody};
use crate::openapi;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` (live) or `ready`.
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/api/v1/healthz", tag = "health",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers (the event log's head is read).
#[utoipa::path(get, path = "/api/v1/readyz", tag = "health",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.events().head()).await {
        Ok(Ok(_)) => Ok(Json(Health { status: "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database failed");
            Err(ApiError::unavailable())
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer in time");
            Err(ApiError::unavailable())
        }
    }
}

/// The public API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn public_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::public_document())
}

/// The internal API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/internal/v1/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn internal_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::internal_document())
}
