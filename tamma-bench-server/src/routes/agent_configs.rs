//! The agent configuration registry at the internal door: listed, read, and written as
//! versions with optimistic concurrency (`If-Match` names the version a write is based
//! on; a write based on another answers 412 and stores nothing). Every call goes through
//! privacy's `AgentConfigs` as the caller's internal context: audited, sealed at rest.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Body;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use tamma_bench::core::model::AgentConfig;
use tamma_bench::core::store::{AgentConfigId, StoredAgentConfig};
use tamma_bench::privacy::{AgentConfigs, ErrorKind, RepositoryError};
use utoipa::ToSchema;

/// One version of an agent configuration.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentConfigVersion {
    /// The configuration's id.
    id: String,
    /// Its version (1 for the first write).
    version: u64,
    /// The `[[agent]]` table: provider, model, prompts, parameters, layers.
    #[schema(value_type = Object)]
    config: AgentConfig,
    /// Who wrote it (the service's principal).
    author: String,
    /// When, ms since the Unix epoch.
    created_at_ms: i64,
    /// SHA-256 of the configuration's canonical JSON.
    digest: String,
}

impl From<StoredAgentConfig> for AgentConfigVersion {
    fn from(s: StoredAgentConfig) -> Self {
        Self {
            id: s.id.to_string(),
            version: s.version,
            config: s.config,
            author: s.author,
            created_at_ms: s.created_at_ms,
            digest: s.digest,
        }
    }
}

/// The latest version of each configuration.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentConfigList {
    /// Sorted by id.
    agent_configs: Vec<AgentConfigVersion>,
}

fn registry(state: &AppState) -> Result<&AgentConfigs, ApiError> {
    state.agent_configs().ok_or_else(ApiError::unavailable)
}

fn config_id(id: &str) -> Result<AgentConfigId, ApiError> {
    AgentConfigId::new(id).map_err(|e| ApiError::bad_request(format!("id: {e}")))
}

/// `"N"` (or `N`, or `W/"N"`) → N.
fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match: not text"))?;
    let tag = text.trim().trim_start_matches("W/").trim_matches('"');
    tag.parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request("If-Match: expected the version the write is based on, e.g. \"3\"")
    })
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn write_error(e: RepositoryError, expected: Option<u64>) -> ApiError {
    if e.kind == ErrorKind::Conflict {
        return match expected {
            None => ApiError::conflict(
                "the configuration exists: send If-Match with the version you based the write on",
            ),
            Some(_) => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the configuration has changed since that version: read it again",
            ),
        };
    }
    e.into()
}

/// The latest version of every agent configuration of the caller's tenant.
#[utoipa::path(get, path = "/internal/v1/agent-configs", tag = "agent-configs",
    responses((status = 200, description = "The latest version of each, by id", body = AgentConfigList)),
    security(("service" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<AgentConfigList>, ApiError> {
    let icx = caller.internal()?;
    let all = registry(&state)?.list(&icx).await?;
    Ok(Json(AgentConfigList {
        agent_configs: all.into_iter().map(Into::into).collect(),
    }))
}

/// The latest version of one configuration (its version in `ETag`).
#[utoipa::path(get, path = "/internal/v1/agent-configs/{id}", tag = "agent-configs",
    params(("id" = String, Path, description = "The configuration's id (1-128 of [A-Za-z0-9._:-])")),
    responses(
        (status = 200, description = "The latest version; `ETag` is its version", body = AgentConfigVersion),
        (status = 400, description = "An invalid id", body = ErrorBody),
        (status = 404, description = "No such configuration", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let icx = caller.internal()?;
    let id = config_id(&id)?;
    let found = registry(&state)?
        .get(&icx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("such agent configuration"))?;
    let tag = etag(found.version);
    Ok(([(header::ETAG, tag)], Json(AgentConfigVersion::from(found))).into_response())
}

/// Writes the next version of a configuration: without `If-Match` it must not exist
/// (201); with `If-Match: "N"` it must be at version N (200), else 412 and nothing is
/// stored. Every write, stored or refused, is in the audit log.
#[utoipa::path(put, path = "/internal/v1/agent-configs/{id}", tag = "agent-configs",
    params(
        ("id" = String, Path, description = "The configuration's id (1-128 of [A-Za-z0-9._:-])"),
        ("If-Match" = Option<String>, Header, description = "The version the write is based on, e.g. \"3\"; absent to create"),
    ),
    request_body(content = Object, description = "The `[[agent]]` table as JSON (name, provider, model, ...)"),
    responses(
        (status = 201, description = "Created as version 1; `ETag` is its version", body = AgentConfigVersion),
        (status = 200, description = "Stored as the next version; `ETag` is its version", body = AgentConfigVersion),
        (status = 400, description = "An invalid id, If-Match or configuration (the message names the field)", body = ErrorBody),
        (status = 409, description = "Created without If-Match, but it exists", body = ErrorBody),
        (status = 412, description = "If-Match names a version that is not the latest", body = ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(config): Body<AgentConfig>,
) -> Result<Response, ApiError> {
    let icx = caller.internal()?;
    let id = config_id(&id)?;
    let expected = expected_version(&headers)?;
    let stored = registry(&state)?
        .put(&icx, &id, &config, expected)
        .await
        .map_err(|e| write_error(e, expected))?;
    let status = if expected.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let tag = etag(stored.version);
    Ok((
        status,
        [(header::ETAG, tag)],
        Json(AgentConfigVersion::from(stored)),
    )
        .into_response())
}
