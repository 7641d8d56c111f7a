//! What a caller can do about an error: the one question every error of the library
//! answers.
//!
//! Every public error type of the library crates is `#[non_exhaustive]`, has a `kind()`
//! (a `Copy` enum naming what went wrong, whose `remedy()` says what to do) and a
//! `remedy()` of its own, and keeps the error that caused it as its
//! [`source`](std::error::Error::source) rather than flattening it into its message.
//! Errors about input name the file, line and field.

use std::fmt;
use std::sync::Arc;

/// What a caller can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Remedy {
    /// The failure is transient: the same call may succeed later (after the wait the
    /// error advertises, where it has one).
    Retry,
    /// The input is wrong (a file, a configuration, a request, an id, a key): fix it and
    /// call again. Retrying the same call fails the same way.
    FixInput,
    /// Neither waiting nor other input helps the caller: the data is damaged, a
    /// component misbehaved, the call was cancelled or a quota is spent. Report it.
    GiveUp,
}

impl Remedy {
    /// Whether the same call may succeed if retried.
    pub fn is_retryable(self) -> bool {
        self == Self::Retry
    }

    /// The snake_case name: `retry`, `fix_input`, `give_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::FixInput => "fix_input",
            Self::GiveUp => "give_up",
        }
    }
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cause an error keeps, shared so that the error stays `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// `e` as a [`Cause`].
pub fn cause(e: impl std::error::Error + Send + Sync + 'static) -> Cause {
    Arc::new(e)
}
