//! The GraphQL endpoint: a public schema for external tenants and an internal schema
//! for the platform's own services that extends it.
//!
//! Two schemas, two Rust types. [`PublicSchema`]'s roots ([`public::Query`],
//! [`public::Mutation`]) reach only the repository's public views (`RunView`,
//! `PublicResult`, `PublicTrial`) and the queue's tenant-scoped calls; no type of the
//! public module has a field for agent configuration, cost or any other internal field,
//! so the public schema cannot show one. [`InternalSchema`]'s query root
//! ([`internal::Query`]) is the public root merged with [`internal::InternalFields`],
//! whose resolvers need the caller's [`InternalContext`]; [`execute`] puts one into the
//! request only for an internal caller and refuses the internal schema to anyone else.
//!
//! Every read goes through the repository as the caller's context and every job call
//! through the queue as the caller: the resolvers hold no store. Queries are validated
//! against [`Limits`] (depth, complexity) before anything runs, and every list is a page
//! of at most [`MAX_PAGE_SIZE`] items.
//!
//! Serving it: build each schema once, then per request make the caller from the
//! listener's authentication and [`execute`]. An axum 0.8 handler is `Json<Request>` in,
//! `Json<Response>` out around the last two lines.
//!
//! ```
//! use tamma_bench::core::model::{TenantContext, TenantId, Tier};
//! use tamma_bench::database::Database;
//! use tamma_bench_server::graphql::{self, GraphqlCaller, GraphqlSchema, Limits, Request};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let url = format!("sqlite:{}", dir.path().join("results.db").display());
//! let opened = Database::parse(&url)?.open(true).await?;
//! let (repository, queue) = (opened.repository()?, opened.queue(Default::default()).await?);
//! let public = GraphqlSchema::public(Limits::default());
//!
//! // One request of tenant `acme` (on the public API, from its JWT).
//! let context = TenantContext::external(TenantId::new("acme")?, Tier::Free, "alice");
//! let caller = GraphqlCaller::new(context, repository.clone(), queue.clone());
//! let request = Request::new("{ runs(first: 10) { edges { node { id status } } } }");
//! let response = graphql::execute(&public, caller, request).await;
//! assert!(response.errors.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! The SDL of both schemas is checked in under `tamma-bench-server/schema/`
//! (`tests/graphql_schema.rs` fails when it drifts; `UPDATE_SCHEMA=1` rewrites it).

mod caller;
mod error;
pub mod internal;
mod paging;
pub mod public;

pub use async_graphql::{Request, Response};
pub use caller::GraphqlCaller;
pub use paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use async_graphql::{EmptySubscription, Schema};
use tamma_bench::privacy::InternalContext;

/// The public schema: external tenants' view (served under `/api/v1`).
pub type PublicSchema = Schema<public::Query, public::Mutation, EmptySubscription>;

/// The internal schema: the public one and the internal fields (served under
/// `/internal/v1`, to internal callers only).
pub type InternalSchema = Schema<internal::Query, public::Mutation, EmptySubscription>;

/// What a query may cost before it runs: deeper or costlier queries are refused at
/// validation, with nothing read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of fields (the standard introspection query needs 13).
    pub max_depth: usize,
    /// Highest complexity: every field costs 1, a page multiplies what it selects by its
    /// size (`first`), and a run's per-agent results cost [`RESULTS_COST`] more (each
    /// summarizes the run's stored trials).
    pub max_complexity: usize,
}

/// The extra complexity of a run's `results` (a streaming pass over its trials).
pub const RESULTS_COST: usize = 25;

impl Default for Limits {
    /// Depth 16 (introspection with room to spare), complexity 5,000 (a full page of
    /// 100 trials, or of 100 runs with their results, but not pages within pages).
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_complexity: 5_000,
        }
    }
}

/// A schema to serve: the public one or the internal one.
#[derive(Clone)]
pub enum GraphqlSchema {
    /// For external tenants (and any caller).
    Public(PublicSchema),
    /// For internal callers only: [`execute`] refuses anyone else.
    Internal(InternalSchema),
}

impl std::fmt::Debug for GraphqlSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Public(_) => "GraphqlSchema::Public",
            Self::Internal(_) => "GraphqlSchema::Internal",
        })
    }
}

impl GraphqlSchema {
    /// The public schema under `limits`.
    pub fn public(limits: Limits) -> Self {
        Self::Public(public_schema(limits))
    }

    /// The internal schema under `limits`.
    pub fn internal(limits: Limits) -> Self {
        Self::Internal(internal_schema(limits))
    }

    /// The schema's SDL (what `schema/public.graphql` and `schema/internal.graphql` hold).
    pub fn sdl(&self) -> String {
        match self {
            Self::Public(s) => s.sdl(),
            Self::Internal(s) => s.sdl(),
        }
    }
}

/// The public schema under `limits`.
pub fn public_schema(limits: Limits) -> PublicSchema {
    Schema::build(public::Query, public::Mutation, EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// The internal schema under `limits`.
pub fn internal_schema(limits: Limits) -> InternalSchema {
    Schema::build(
        internal::Query::default(),
        public::Mutation,
        EmptySubscription,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .finish()
}

/// Executes `request` against `schema` as `caller`.
///
/// The internal schema runs only for a caller whose context is internal (internal kind
/// and tier, granted `read_internal`: [`InternalContext::new`]); anyone else gets a
/// response with no data and one error whose `extensions.code` is `FORBIDDEN`, before
/// the query is even parsed. Errors of resolvers carry `extensions.code` (`NOT_FOUND`,
/// `FORBIDDEN`, `BAD_USER_INPUT`, `RATE_LIMITED`, `UNAVAILABLE`, `INTERNAL`) and
/// `extensions.remedy` (`retry`, `fix_input`, `give_up`).
pub async fn execute(schema: &GraphqlSchema, caller: GraphqlCaller, request: Request) -> Response {
    match schema {
        GraphqlSchema::Public(schema) => schema.execute(request.data(caller)).await,
        GraphqlSchema::Internal(schema) => match InternalContext::new(caller.context.clone()) {
            Ok(icx) => schema.execute(request.data(caller).data(icx)).await,
            Err(e) => Response::from_errors(vec![
                error::repository(e).into_server_error(Default::default()),
            ]),
        },
    }
}
