//! The GraphQL endpoint of each door: the public schema at the public door, the internal
//! schema (which extends it) at the internal door. A request is executed as the caller,
//! through the repository and the queue (`crate::graphql`), within the schemas' depth and
//! complexity limits.

use crate::auth::{Caller, Door};
use crate::graphql::{self, GraphqlCaller, GraphqlSchema, Limits};
use crate::state::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use std::sync::LazyLock;
use utoipa::ToSchema;

/// The public schema, built once.
static PUBLIC: LazyLock<GraphqlSchema> = LazyLock::new(|| GraphqlSchema::public(Limits::default()));
/// The internal schema, built once.
static INTERNAL: LazyLock<GraphqlSchema> =
    LazyLock::new(|| GraphqlSchema::internal(Limits::default()));

/// A GraphQL request (`query`, optional `operationName` and `variables`).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation of the body only: the executor reads it
pub(crate) struct GraphqlRequest {
    /// The query document.
    query: String,
    /// Which operation of the document to run.
    #[schema(rename = "operationName")]
    operation_name: Option<String>,
    /// The variables.
    variables: Option<serde_json::Value>,
}

/// A GraphQL response: `data`, and `errors` (each with `message`, `locations`, `path`
/// and `extensions.code`) when something was refused or failed.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation of the body only: the executor writes it
pub(crate) struct GraphqlResponse {
    /// The result (null when the request was refused before it ran).
    data: Option<serde_json::Value>,
    /// What was refused or failed.
    errors: Option<Vec<serde_json::Value>>,
}

async fn execute(state: &AppState, caller: Caller, request: graphql::Request) -> graphql::Response {
    let schema = match caller.door {
        Door::Public => &*PUBLIC,
        Door::Internal => &*INTERNAL,
    };
    let caller = GraphqlCaller::new(
        caller.context,
        state.repository().clone(),
        state.queue().clone(),
    );
    graphql::execute(schema, caller, request).await
}

/// Runs a GraphQL query or mutation on the public schema (`tamma-bench-server/schema/public.graphql`).
#[utoipa::path(post, path = "/api/v1/graphql", tag = "graphql",
    request_body(content = GraphqlRequest, description = "A GraphQL request"),
    responses(
        (status = 200, description = "The result; refusals (depth, complexity, page size, permission) are in `errors`", body = GraphqlResponse),
        (status = 400, description = "The body is not a GraphQL request", body = crate::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn public_graphql(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    crate::extract::Body(request): crate::extract::Body<graphql::Request>,
) -> Json<graphql::Response> {
    Json(execute(&state, caller, request).await)
}

/// Runs a GraphQL query or mutation on the internal schema (`tamma-bench-server/schema/internal.graphql`).
#[utoipa::path(post, path = "/internal/v1/graphql", tag = "graphql",
    request_body(content = GraphqlRequest, description = "A GraphQL request"),
    responses(
        (status = 200, description = "The result; refusals (depth, complexity, page size, permission) are in `errors`", body = GraphqlResponse),
        (status = 400, description = "The body is not a GraphQL request", body = crate::error::ErrorBody),
    ),
    security(("service" = [])))]
pub(crate) async fn internal_graphql(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    crate::extract::Body(request): crate::extract::Body<graphql::Request>,
) -> Json<graphql::Response> {
    Json(execute(&state, caller, request).await)
}
