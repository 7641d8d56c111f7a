//! The internal schema's query root: the public root merged with the internal fields.
//!
//! Every resolver of [`InternalFields`] (and of the types it returns) takes the
//! request's `InternalContext`, which [`crate::graphql::execute`] adds only for an
//! internal caller, and reads through the repository's internal methods, which demand
//! it again. The public module names nothing of this one, so the public schema cannot
//! reach an internal type.

mod job;
mod run;
mod trial;

pub use job::{InternalJob, JobEvent, TierLoad};
pub use run::{
    AgentConfig, CostAnalysis, InternalMetrics, InternalResult, InternalRun, OptimizationData,
    Tokens,
};
pub use trial::{InternalTrial, Score};

use crate::graphql::caller::internal;
use crate::graphql::error;
use crate::graphql::paging::{self, Page};
use crate::graphql::public::{self, JobState, TrialCursor};
use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Context, ID, MergedObject, Object, Result};
use tamma_bench::core::queue::{JobFilter, JobId};
use tamma_bench::privacy::ErrorKind;

/// The internal query root: every public query and the internal ones.
#[derive(MergedObject, Debug, Default)]
#[graphql(name = "InternalQuery")]
pub struct Query(public::Query, InternalFields);

/// The queries only internal callers have.
#[derive(Debug, Default, Clone, Copy)]
pub struct InternalFields;

/// Internal views: whole run records, agent configurations, cost analysis, trials with
/// every field, jobs' operational fields and the queue's load.
#[Object]
impl InternalFields {
    /// Your tenant's runs, whole, newest first, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn internal_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<String>, InternalRun>> {
        let page = Page::new(first, after)?;
        let (caller, icx) = internal(ctx)?;
        let mut runs = caller
            .repository
            .internal_runs(icx)
            .await
            .map_err(error::repository)?;
        runs.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        paging::slice(runs, page, |r| r.id.clone(), InternalRun)
    }

    /// Run `id` whole: one of your tenant's, or another tenant's public run (null when
    /// there is none you may read).
    async fn internal_run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<InternalRun>> {
        let (caller, icx) = internal(ctx)?;
        // The internal export authorizes and opens the run record without reading a trial.
        match caller.repository.internal_trials(icx, &id).await {
            Ok(export) => Ok(Some(InternalRun(export.run().clone()))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(error::repository(e)),
        }
    }

    /// The trials of run `runId` with every field, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn internal_trials(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<TrialCursor>, InternalTrial>> {
        let page = Page::new(first, after)?;
        let (caller, icx) = internal(ctx)?;
        trial::internal_trial_page(caller, icx, &run_id, page).await
    }

    /// Your tenant's jobs with their operational fields, newest first.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn internal_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "Only jobs in these states (all when not given).")] states: Option<
            Vec<JobState>,
        >,
    ) -> Result<Vec<InternalJob>> {
        let limit = paging::size(first)?;
        let (caller, icx) = internal(ctx)?;
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
            .list(icx.context(), &filter)
            .await
            .map_err(error::queue)?;
        Ok(jobs.into_iter().map(InternalJob).collect())
    }

    /// Your tenant's job `id` with its operational fields.
    async fn internal_job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<InternalJob>> {
        let (caller, icx) = internal(ctx)?;
        let id = JobId::new(id.0).map_err(error::queue)?;
        let job = caller
            .queue
            .get(icx.context(), &id)
            .await
            .map_err(error::queue)?;
        Ok(job.map(InternalJob))
    }

    /// Each queue tier's load, across tenants (counts only, no job content).
    async fn queue_load(&self, ctx: &Context<'_>) -> Result<Vec<TierLoad>> {
        let (caller, _) = internal(ctx)?;
        let stats = caller.queue.stats().await.map_err(error::queue)?;
        Ok(stats
            .into_iter()
            .map(|s| TierLoad {
                tier: s.tier,
                queued: s.queued,
                running: s.running,
                oldest_wait_ms: s.oldest_wait_ms,
            })
            .collect())
    }
}
