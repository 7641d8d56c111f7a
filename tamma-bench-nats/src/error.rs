//! Errors of the bus.

use std::fmt;
use std::sync::Arc;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::subscribe::{SubscribeError, SubscribeErrorKind};

/// What kind of bus failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BusErrorKind {
    /// The deployment name is invalid: fix the configuration.
    InvalidDeployment,
    /// The server could not be reached or refused the connection (address, credentials).
    Connect,
    /// The server or JetStream did not answer in time, or the connection broke: retry.
    Unavailable,
    /// The stream could not be created or is missing (a stream of another name already
    /// takes the subjects, JetStream refused the configuration).
    Stream,
    /// A message could not be published (too large for the server, not encodable).
    Publish,
    /// The event log failed (its error is the source; its remedy is this error's).
    Log,
}

/// A bus failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BusError {
    kind: BusErrorKind,
    remedy: Remedy,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl BusError {
    /// An error of `kind`, with the kind's remedy.
    pub fn new(kind: BusErrorKind, message: impl Into<String>) -> Self {
        let remedy = match kind {
            BusErrorKind::InvalidDeployment | BusErrorKind::Connect | BusErrorKind::Stream => {
                Remedy::FixInput
            }
            BusErrorKind::Unavailable | BusErrorKind::Log => Remedy::Retry,
            BusErrorKind::Publish => Remedy::GiveUp,
        };
        Self {
            kind,
            remedy,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    /// A subscription's failure: the log's (with its remedy) or the publisher's.
    pub(crate) fn from_subscription(e: SubscribeError) -> Self {
        let kind = match e.kind() {
            SubscribeErrorKind::Handler => BusErrorKind::Publish,
            _ => BusErrorKind::Log,
        };
        let mut out = Self::new(kind, e.to_string());
        out.remedy = e.remedy();
        out.with_source(e)
    }

    /// What kind of failure.
    pub fn kind(&self) -> BusErrorKind {
        self.kind
    }

    /// What a caller can do: fix the deployment name, the server's address or
    /// credentials, or the stream's configuration; retry an unavailable server or a
    /// failing log; give up on a message the server cannot take.
    pub fn remedy(&self) -> Remedy {
        self.remedy
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
