//! Trials with every field, for internal callers.

use crate::graphql::caller::GraphqlCaller;
use crate::graphql::error;
use crate::graphql::paging::Page;
use crate::graphql::public::{TrialCursor, TrialOutcome, stream_page};
use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{ID, Object, Result, SimpleObject};
use tamma_bench::core::model::{self, Outcome, utc_rfc3339};
use tamma_bench::privacy::InternalContext;

/// A stored trial, whole (secrets redacted).
#[derive(Debug, Clone)]
pub struct InternalTrial(pub(crate) model::Trial);

/// One trial with every stored field: usage, cost, attempts, messages.
#[Object]
impl InternalTrial {
    /// Run id.
    async fn run_id(&self) -> ID {
        ID(self.0.run_id.clone())
    }

    /// The tenant that owns it.
    async fn tenant_id(&self) -> &str {
        self.0.tenant_id.as_str()
    }

    /// Agent name.
    async fn agent(&self) -> &str {
        &self.0.key.agent
    }

    /// Case id.
    async fn case_id(&self) -> &str {
        &self.0.key.case_id
    }

    /// Epoch (0-based).
    async fn epoch(&self) -> u32 {
        self.0.key.epoch
    }

    /// The case's cluster.
    async fn cluster(&self) -> Option<&str> {
        self.0.cluster.as_deref()
    }

    /// The case's tags.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }

    /// What became of it.
    async fn outcome(&self) -> TrialOutcome {
        TrialOutcome::from_kind(self.0.outcome.kind_name())
    }

    /// Every scorer's score, when scored (the first is the headline).
    async fn scores(&self) -> Vec<Score> {
        match &self.0.outcome {
            Outcome::Scored { scores } => scores
                .iter()
                .map(|s| Score {
                    scorer: s.scorer.clone(),
                    value: s.value,
                    uncertain: s.uncertain,
                    answer: s.answer.clone(),
                    explanation: s.explanation.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The infrastructure failure kind, or `scorer:NAME`.
    async fn error_kind(&self) -> Option<String> {
        match &self.0.outcome {
            Outcome::Scored { .. } => None,
            Outcome::InfraFailure { error, .. } => Some(error.as_str().to_owned()),
            Outcome::ScorerError { scorer, .. } => Some(format!("scorer:{scorer}")),
        }
    }

    /// The provider's or the scorer's message, when it failed.
    async fn message(&self) -> Option<&str> {
        match &self.0.outcome {
            Outcome::Scored { .. } => None,
            Outcome::InfraFailure { message, .. } | Outcome::ScorerError { message, .. } => {
                Some(message)
            }
        }
    }

    /// The model's output, secrets redacted.
    async fn output(&self) -> Option<&str> {
        self.0.output.as_deref()
    }

    /// Tokens used.
    async fn usage(&self) -> super::run::Tokens {
        super::run::Tokens {
            input: self.0.usage.input_tokens,
            output: self.0.usage.output_tokens,
        }
    }

    /// Latency, ms.
    async fn latency_ms(&self) -> f64 {
        self.0.latency_ms
    }

    /// Cost, USD.
    async fn cost_usd(&self) -> f64 {
        self.0.cost_usd
    }

    /// Provider calls made (retries included).
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// Answered from a response cache.
    async fn cache_hit(&self) -> bool {
        self.0.cache_hit
    }

    /// When it finished, UTC RFC 3339.
    async fn finished_at(&self) -> String {
        utc_rfc3339(self.0.finished_at_ms)
    }
}

/// One scorer's score of a trial.
#[derive(SimpleObject, Debug, Clone)]
pub struct Score {
    /// The scorer.
    pub scorer: String,
    /// The score, in [0, 1].
    pub value: f64,
    /// Judges disagreed.
    pub uncertain: bool,
    /// The answer the scorer extracted.
    pub answer: Option<String>,
    /// The scorer's explanation.
    pub explanation: Option<String>,
}

/// The page of run `run_id`'s trials, whole, that the internal caller may read.
pub(crate) async fn internal_trial_page(
    caller: &GraphqlCaller,
    icx: &InternalContext,
    run_id: &str,
    page: Page<TrialCursor>,
) -> Result<Connection<OpaqueCursor<TrialCursor>, InternalTrial>> {
    let export = caller
        .repository
        .internal_trials(icx, run_id)
        .await
        .map_err(error::repository)?;
    stream_page(
        &export,
        page,
        |t: &model::Trial| TrialCursor::new(&t.key.agent, &t.key.case_id, t.key.epoch),
        InternalTrial,
    )
    .await
}
