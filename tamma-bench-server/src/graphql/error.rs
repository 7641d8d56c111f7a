//! Errors as GraphQL sees them: a message safe for the caller, `extensions.code` and
//! `extensions.remedy`.
//!
//! Repository and queue messages for what the caller can fix (an id it named, a
//! permission, a request) are shown as they are: both promise never to name another
//! tenant's data. Failures of the service itself (storage, audit, keys, corrupt data)
//! are logged with their chain and shown as a generic message, so no path, driver
//! message or key id reaches a client.

use async_graphql::{Error, ErrorExtensions};
use tamma_bench::core::error::Remedy;
use tamma_bench::core::queue::{QueueError, QueueErrorKind};
use tamma_bench::privacy::{ErrorKind, RepositoryError};

/// An error with `code` and `remedy` extensions.
fn coded(message: impl Into<String>, code: &'static str, remedy: Remedy) -> Error {
    Error::new(message).extend_with(|_, e| {
        e.set("code", code);
        e.set("remedy", remedy.as_str());
    })
}

/// The service failed; the details go to the log, not to the caller.
fn failed(what: &str, remedy: Remedy, cause: &(dyn std::error::Error + 'static)) -> Error {
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::warn!(error = %chain, "graphql: {what} failed");
    let (message, code) = match remedy {
        Remedy::Retry => (format!("{what} is unavailable; retry later"), "UNAVAILABLE"),
        _ => (format!("{what} failed"), "INTERNAL"),
    };
    coded(message, code, remedy)
}

/// A repository error.
pub(crate) fn repository(e: RepositoryError) -> Error {
    let code = match e.kind() {
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::Denied => "FORBIDDEN",
        ErrorKind::Invalid => "BAD_USER_INPUT",
        ErrorKind::BudgetExhausted => "BUDGET_EXHAUSTED",
        _ => return failed("reading results", e.remedy(), &e),
    };
    coded(e.message(), code, e.remedy())
}

/// A queue error.
pub(crate) fn queue(e: QueueError) -> Error {
    let code = match e.kind() {
        QueueErrorKind::NotFound => "NOT_FOUND",
        QueueErrorKind::Forbidden => "FORBIDDEN",
        QueueErrorKind::RateLimited => "RATE_LIMITED",
        QueueErrorKind::InvalidState | QueueErrorKind::Invalid | QueueErrorKind::UnknownTier => {
            "BAD_USER_INPUT"
        }
        _ => return failed("the job queue", e.remedy(), &e),
    };
    coded(e.message(), code, e.remedy())
}

/// The request is wrong (an argument out of range, a cursor that names nothing).
pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    coded(message, "BAD_USER_INPUT", Remedy::FixInput)
}

/// The caller may not do this.
pub(crate) fn forbidden(message: impl Into<String>) -> Error {
    coded(message, "FORBIDDEN", Remedy::FixInput)
}

/// The service is wired wrong.
pub(crate) fn internal(message: impl Into<String>) -> Error {
    coded(message, "INTERNAL", Remedy::GiveUp)
}
