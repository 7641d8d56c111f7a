//! Errors of the optimization engine.

use std::path::PathBuf;
use tamma_bench_core::error::Remedy;

/// What went wrong, and what a caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizeError {
    /// The search space file is invalid: fix the file.
    #[error("{}{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), field.as_ref().map(|f| format!(": field `{f}`")).unwrap_or_default())]
    Space {
        /// The file (empty when parsed from a string).
        path: PathBuf,
        /// 1-based line, where known.
        line: Option<usize>,
        /// The field, where there is one.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The study log cannot be read, written, or belongs to another study.
    #[error("study log {}: {message}", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Running an evaluation failed (store, executor, provider set-up): retry or fix.
    #[error("evaluation failed: {0}")]
    Evaluation(String),
    /// Reading results failed.
    #[error("reading results failed: {0}")]
    Read(String),
    /// The request is inconsistent (no configurations, an external context, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl OptimizeError {
    /// What a caller can do: fix the space file, the log path or the request; retry a
    /// failed evaluation or read.
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::Space { .. } | Self::Log { .. } | Self::Invalid(_) => Remedy::FixInput,
            Self::Evaluation(_) | Self::Read(_) => Remedy::Retry,
        }
    }
}

impl OptimizeError {
    /// A space error without a location.
    pub(crate) fn space(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::Space {
            path: PathBuf::new(),
            line: None,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}
