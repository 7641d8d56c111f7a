//! Events the engine publishes (a broadcast channel, like the executor's `subscribe()`).

use crate::strategy::{StopReason, StrategyKind};
use serde::{Deserialize, Serialize};

/// Something the optimization engine did or found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
#[non_exhaustive]
pub enum OptimizationEvent {
    /// A study started (or resumed).
    OptimizationTriggered {
        /// Study id.
        study: String,
        /// Configurations in the space.
        configurations: usize,
        /// The strategy.
        strategy: StrategyKind,
    },
    /// A study decided.
    OptimizationCompleted {
        /// Study id.
        study: String,
        /// The recommended configuration's name.
        best: String,
        /// Why it stopped.
        reason: StopReason,
        /// Evaluations (configuration × case) made.
        evaluations: usize,
        /// USD spent.
        spent_usd: f64,
    },
    /// An insight about results (a weakness, a regression, a ranking).
    InsightGenerated {
        /// What it is about (configuration or agent).
        subject: String,
        /// Kind: `weakness`, `regression`, `ranking`.
        kind: String,
        /// One sentence.
        message: String,
    },
}
