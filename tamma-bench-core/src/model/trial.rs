//! Trials: one agent answering one case in one epoch, and how it ended.

use crate::provider::{ProviderErrorKind, Usage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The identity of a trial within a run. A trial is written once per key.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct TrialKey {
    /// Agent name.
    pub agent: String,
    /// Case id.
    pub case_id: String,
    /// Epoch, from 0.
    pub epoch: u32,
}

impl TrialKey {
    /// A key.
    pub fn new(agent: impl Into<String>, case_id: impl Into<String>, epoch: u32) -> Self {
        Self {
            agent: agent.into(),
            case_id: case_id.into(),
            epoch,
        }
    }
}

/// The verdict of one scorer on one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Score {
    /// The scorer's name (its `kind`, or `name` when given).
    pub scorer: String,
    /// Value in `[0, 1]`; pass/fail scorers give exactly 0 or 1.
    pub value: f64,
    /// The extracted answer the scorer compared (the letter, the number, the match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Why, in a few words, where the scorer has something to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The scorer is not sure: its repeated judgements fell on both sides of the pass
    /// threshold. The value is kept (not flipped); reports count these.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncertain: bool,
}

impl Score {
    /// A pass (1) or fail (0).
    pub fn pass_fail(scorer: impl Into<String>, passed: bool) -> Self {
        Self {
            scorer: scorer.into(),
            value: if passed { 1.0 } else { 0.0 },
            answer: None,
            explanation: None,
            uncertain: false,
        }
    }

    /// Sets the extracted answer.
    pub fn with_answer(mut self, answer: Option<String>) -> Self {
        self.answer = answer;
        self
    }
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The model answered and every scorer gave a score. The first score is the headline.
    Scored {
        /// One score per scorer, in the benchmark's order.
        scores: Vec<Score>,
    },
    /// The infrastructure failed (after the last retry): not the model's fault, excluded
    /// from scores and counted separately.
    InfraFailure {
        /// What failed.
        error: ProviderErrorKind,
        /// The provider's message (never contains a key).
        message: String,
    },
    /// The model answered but a scorer failed (bad regex capture, judge down): excluded
    /// from scores and counted separately.
    ScorerError {
        /// The scorer that failed.
        scorer: String,
        /// Why.
        message: String,
    },
}

impl Outcome {
    /// The headline score (the first scorer's value), when scored.
    pub fn headline(&self) -> Option<f64> {
        match self {
            Self::Scored { scores } => scores.first().map(|s| s.value),
            _ => None,
        }
    }

    /// Short name of the outcome: `scored`, `infra_failure` or `scorer_error`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Scored { .. } => "scored",
            Self::InfraFailure { .. } => "infra_failure",
            Self::ScorerError { .. } => "scorer_error",
        }
    }
}

/// One stored trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Trial {
    /// The run it belongs to.
    pub run_id: String,
    /// The tenant that owns the run.
    pub tenant_id: super::TenantId,
    /// Agent, case and epoch.
    pub key: TrialKey,
    /// The case's cluster (copied so that statistics need only the stored trials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The case's tags (copied for per-tag breakdowns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The model's text output, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Tokens used (summed over attempts that were billed).
    pub usage: Usage,
    /// Wall-clock latency of the successful call (or of the last attempt), in ms.
    pub latency_ms: f64,
    /// Cost in USD: provider-reported when available, else from the agent's prices.
    pub cost_usd: f64,
    /// Number of attempts made (1 = no retry).
    pub attempts: u32,
    /// Whether the completion came from a response cache.
    pub cache_hit: bool,
    /// When the trial finished, in milliseconds since the Unix epoch.
    pub finished_at_ms: i64,
}
