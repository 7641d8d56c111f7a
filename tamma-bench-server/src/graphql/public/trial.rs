//! Trials, streamed from the repository a page at a time.

use crate::graphql::caller::GraphqlCaller;
use crate::graphql::error;
use crate::graphql::paging::Page;
use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Enum, ID, OutputType, Result, SimpleObject};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tamma_bench::core::model::utc_rfc3339;
use tamma_bench::privacy::{PublicTrial, RepositoryError, TrialExport};

/// What became of a trial.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialOutcome {
    /// The model answered and every scorer scored.
    Scored,
    /// The infrastructure failed after the last retry (excluded from scores).
    InfraFailure,
    /// A scorer failed (excluded from scores).
    ScorerError,
}

impl TrialOutcome {
    /// From the outcome's kind name.
    pub(crate) fn from_kind(kind: &str) -> Self {
        match kind {
            "scored" => Self::Scored,
            "infra_failure" => Self::InfraFailure,
            _ => Self::ScorerError,
        }
    }
}

/// One trial (agent, case, epoch) of a run.
#[derive(SimpleObject, Debug, Clone)]
pub struct Trial {
    /// Run id.
    pub run_id: ID,
    /// Agent name.
    pub agent: String,
    /// Case id.
    pub case_id: String,
    /// Epoch (0-based).
    pub epoch: u32,
    /// The case's cluster.
    pub cluster: Option<String>,
    /// The case's tags.
    pub tags: Vec<String>,
    /// What became of it.
    pub outcome: TrialOutcome,
    /// The headline score, when scored.
    pub score: Option<f64>,
    /// The infrastructure failure kind, or `scorer:NAME`.
    pub error_kind: Option<String>,
    /// The headline scorer's extracted answer: your own runs only.
    pub answer: Option<String>,
    /// The model's output, secrets redacted: your own runs only.
    pub output: Option<String>,
    /// Latency, ms.
    pub latency_ms: f64,
    /// When it finished, UTC RFC 3339.
    pub finished_at: String,
}

impl From<PublicTrial> for Trial {
    fn from(t: PublicTrial) -> Self {
        Self {
            run_id: ID(t.run_id),
            agent: t.agent,
            case_id: t.case_id,
            epoch: t.epoch,
            cluster: t.cluster,
            tags: t.tags,
            outcome: TrialOutcome::from_kind(t.outcome),
            score: t.score,
            error_kind: t.error_kind,
            answer: t.answer,
            output: t.output,
            latency_ms: t.latency_ms,
            finished_at: utc_rfc3339(t.finished_at_ms),
        }
    }
}

/// A trial's place in its run: agent, case, epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialCursor(String, String, u32);

impl TrialCursor {
    /// The cursor of the trial of `agent`, `case_id`, `epoch`.
    pub(crate) fn new(agent: &str, case_id: &str, epoch: u32) -> Self {
        Self(agent.to_owned(), case_id.to_owned(), epoch)
    }
}

/// The page of run `run_id`'s trials that `caller` may read.
pub(crate) async fn trial_page(
    caller: &GraphqlCaller,
    run_id: &str,
    page: Page<TrialCursor>,
) -> Result<Connection<OpaqueCursor<TrialCursor>, Trial>> {
    let export = caller
        .repository
        .trials(&caller.context, run_id)
        .await
        .map_err(error::repository)?;
    stream_page(
        &export,
        page,
        |t: &PublicTrial| TrialCursor::new(&t.agent, &t.case_id, t.epoch),
        Trial::from,
    )
    .await
}

/// One page of an export's trials: read from its stream (a store page in memory at a
/// time) up to the item after the page, skipping those up to `page.after`.
pub(crate) async fn stream_page<V, N>(
    export: &TrialExport<V>,
    page: Page<TrialCursor>,
    key: fn(&V) -> TrialCursor,
    node: fn(V) -> N,
) -> Result<Connection<OpaqueCursor<TrialCursor>, N>>
where
    V: Send + 'static,
    N: OutputType,
{
    let mut stream = export.stream();
    let mut skipping = page.after.is_some();
    let mut edges = Vec::with_capacity(page.first);
    let mut has_next = false;
    while let Some(item) = stream.next().await {
        let item = item.map_err(|e: RepositoryError| error::repository(e))?;
        let cursor = key(&item);
        if skipping {
            skipping = page.after.as_ref() != Some(&cursor);
            continue;
        }
        if edges.len() == page.first {
            has_next = true;
            break;
        }
        edges.push(Edge::new(OpaqueCursor(cursor), node(item)));
    }
    if skipping {
        return Err(error::bad_input(
            "after: the cursor names no trial of this run",
        ));
    }
    let mut connection = Connection::new(page.after.is_some(), has_next);
    connection.edges = edges;
    Ok(connection)
}
