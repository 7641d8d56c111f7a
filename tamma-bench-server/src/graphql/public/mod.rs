//! The public schema's roots: what external tenants may ask.
//!
//! Nothing here reads but through the repository as the caller's context (its public
//! views: `RunView`, `PublicResult`, `PublicTrial`) and the queue as the caller, and no
//! type here has a field for an internal or restricted field of privacy's
//! classification (tests/graphql.rs reads the public introspection for them).

mod benchmark;
mod job;
mod run;
mod trial;

pub use benchmark::Benchmark;
pub use job::{Job, JobKind, JobState};
pub use run::{
    Agent, AgentResult, Estimate, Latency, Metrics, ReducedScore, Run, RunStatus, Visibility,
};
pub(crate) use trial::stream_page;
pub use trial::{Trial, TrialCursor, TrialOutcome};

use crate::graphql::caller::{caller, caller_with};
use crate::graphql::error;
use crate::graphql::paging::{self, Page};
use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, ID, Object, Result};
use tamma_bench::core::model::Permission;
use tamma_bench::core::queue::{JobFilter, JobId};
use tamma_bench::privacy::ErrorKind;

/// The public query root.
#[derive(Debug, Default, Clone, Copy)]
pub struct Query;

/// Benchmark results you can see (your own runs and every tenant's public runs) and
/// your tenant's jobs.
#[Object]
impl Query {
    /// The benchmarks of the runs you can see, by id and version, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn benchmarks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<(String, String)>, Benchmark>> {
        let page = Page::new(first, after)?;
        let caller = caller(ctx)?;
        let runs = caller
            .repository
            .runs(&caller.context)
            .await
            .map_err(error::repository)?;
        paging::slice(benchmark::group(runs), page, benchmark::cursor, |b| b)
    }

    /// The run `id`, if you can see it (null otherwise, whether or not it exists).
    async fn run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Run>> {
        let caller = caller(ctx)?;
        match caller.repository.run(&caller.context, &id).await {
            Ok(view) => Ok(Some(Run(view))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(error::repository(e)),
        }
    }

    /// The runs you can see, newest first, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<String>, Run>> {
        let page = Page::new(first, after)?;
        let caller = caller(ctx)?;
        let runs = caller
            .repository
            .runs(&caller.context)
            .await
            .map_err(error::repository)?;
        paging::slice(runs, page, |r| r.id.clone(), Run)
    }

    /// The trials of run `runId`, a page at a time (an error `NOT_FOUND` when you cannot
    /// see the run). Outputs and answers only for your own runs.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn trials(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<TrialCursor>, Trial>> {
        let page = Page::new(first, after)?;
        trial::trial_page(caller(ctx)?, &run_id, page).await
    }

    /// Your tenant's jobs, newest first.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "Only jobs in these states (all when not given).")] states: Option<
            Vec<JobState>,
        >,
    ) -> Result<Vec<Job>> {
        let limit = paging::size(first)?;
        let caller = caller_with(ctx, Permission::Read)?;
        let filter = JobFilter {
            states: states
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            limit: Some(limit),
        };
        let jobs = caller
            .queue
            .list(&caller.context, &filter)
            .await
            .map_err(error::queue)?;
        Ok(jobs.into_iter().map(Job).collect())
    }

    /// Your tenant's job `id` (null when your tenant has none of that id).
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Job>> {
        let caller = caller_with(ctx, Permission::Read)?;
        let id = JobId::new(id.0).map_err(error::queue)?;
        let job = caller
            .queue
            .get(&caller.context, &id)
            .await
            .map_err(error::queue)?;
        Ok(job.map(Job))
    }
}

/// The mutation root (public and internal schemas alike).
#[derive(Debug, Default, Clone, Copy)]
pub struct Mutation;

/// Changes to your tenant's jobs.
#[Object]
impl Mutation {
    /// Cancels your tenant's job `id`: a queued job ends cancelled at once, a running
    /// one stops at its next trial (`cancelRequested`). Needs the write permission.
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let caller = caller_with(ctx, Permission::Write)?;
        let id = JobId::new(id.0).map_err(error::queue)?;
        let job = caller
            .queue
            .cancel(&caller.context, &id)
            .await
            .map_err(error::queue)?;
        Ok(Job(job))
    }
}
