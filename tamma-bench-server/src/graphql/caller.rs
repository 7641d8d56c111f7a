//! Who asks: the caller's context and the repository and queue it reads through.

use async_graphql::Context;
use std::sync::Arc;
use tamma_bench::core::model::{Permission, TenantContext};
use tamma_bench::core::queue::JobQueue;
use tamma_bench::privacy::{InternalContext, Repository};

/// The inputs of one request: who the caller is (from the listener's authentication:
/// a JWT's tenant on the public API, the service's identity on the internal one) and
/// the repository and queue every resolver goes through as that caller.
#[derive(Clone)]
pub struct GraphqlCaller {
    /// The caller: every read and job call is made as this context.
    pub context: TenantContext,
    /// The tenant-aware repository (authorizes, audits and projects every read).
    pub repository: Repository,
    /// The job queue (scopes every call to the context's tenant).
    pub queue: Arc<dyn JobQueue>,
}

impl GraphqlCaller {
    /// `context` reading through `repository` and `queue`.
    pub fn new(context: TenantContext, repository: Repository, queue: Arc<dyn JobQueue>) -> Self {
        Self {
            context,
            repository,
            queue,
        }
    }
}

impl std::fmt::Debug for GraphqlCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlCaller")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// The request's caller. Absent only when a schema is executed around [`super::execute`]:
/// then nothing is read.
pub(crate) fn caller<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a GraphqlCaller> {
    ctx.data::<GraphqlCaller>().map_err(|_| {
        super::error::internal("no caller: execute the schema through graphql::execute")
    })
}

/// The request's caller, which must hold `permission` (job calls: the queue scopes by
/// tenant but knows no grants).
pub(crate) fn caller_with<'a>(
    ctx: &Context<'a>,
    permission: Permission,
) -> async_graphql::Result<&'a GraphqlCaller> {
    let caller = caller(ctx)?;
    if caller.context.has(permission) {
        Ok(caller)
    } else {
        Err(super::error::forbidden(format!(
            "not permitted: this needs the {} permission",
            permission.as_str()
        )))
    }
}

/// The request's internal context: present only when [`super::execute`] found the
/// caller internal, so no internal field resolves for anyone else.
pub(crate) fn internal<'a>(
    ctx: &Context<'a>,
) -> async_graphql::Result<(&'a GraphqlCaller, &'a InternalContext)> {
    let icx = ctx.data::<InternalContext>().map_err(|_| {
        super::error::forbidden("not permitted: internal fields need an internal context")
    })?;
    Ok((caller(ctx)?, icx))
}
