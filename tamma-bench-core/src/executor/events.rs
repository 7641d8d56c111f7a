//! Progress events a host can subscribe to.

use crate::model::{RunStatus, TrialKey};
use std::sync::Arc;

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// The run started (or resumed).
    RunStarted {
        /// Run id.
        run_id: Arc<str>,
        /// Trials planned in this execution (excluding those already stored).
        planned: u64,
        /// Trials already stored from an earlier execution.
        already_done: u64,
    },
    /// A trial finished and was handed to the store.
    TrialCompleted {
        /// Run id.
        run_id: Arc<str>,
        /// Which trial.
        key: TrialKey,
        /// `scored`, `infra_failure` or `scorer_error`.
        outcome: &'static str,
        /// The headline score, when scored.
        score: Option<f64>,
        /// Trials finished so far in this execution.
        done: u64,
        /// Trials planned in this execution.
        planned: u64,
    },
    /// The run ended.
    RunFinished {
        /// Run id.
        run_id: Arc<str>,
        /// Final status.
        status: RunStatus,
    },
}
