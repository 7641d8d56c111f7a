//! [`PluginError`]: what a plugin's constructor or benchmark source returns when it
//! cannot go on, built from a message (`PluginError::config("...")`).

use std::fmt;
use tamma_bench_core::error::Remedy;

/// What kept a plugin from starting or answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PluginErrorKind {
    /// The configuration is wrong: the host's user fixes it.
    Config,
    /// The plugin failed for another reason (a service down, a file missing).
    Failed,
}

impl PluginErrorKind {
    /// What a caller can do: fix the configuration, or give up and report.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::Config => Remedy::FixInput,
            Self::Failed => Remedy::GiveUp,
        }
    }
}

/// Why a plugin could not start (its constructor) or generate its cases.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginError {
    kind: PluginErrorKind,
    message: String,
}

impl PluginError {
    /// The configuration is wrong: `message` says what and what was expected.
    pub fn config(message: impl Into<String>) -> Self {
        Self {
            kind: PluginErrorKind::Config,
            message: message.into(),
        }
    }

    /// The plugin failed for another reason.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            kind: PluginErrorKind::Failed,
            message: message.into(),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> PluginErrorKind {
        self.kind
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

/// A configuration error saying `message`.
impl From<String> for PluginError {
    fn from(message: String) -> Self {
        Self::config(message)
    }
}

/// A configuration error saying `message`.
impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        Self::config(message)
    }
}
