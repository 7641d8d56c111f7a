//! What crosses the boundary as JSON: the input of each operation and the errors.
//!
//! Each operation (`OP_*`) takes one JSON document and answers one: `complete` takes a
//! [`CompleteInput`] and answers a core `Completion` (`complete_streaming` too, after
//! sending [`Delta`]s); `score` takes a [`ScoreInput`] and answers a core `Score`;
//! `cases` takes `{}` and answers a list of core `Case`s. A failure is a [`WireError`].

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tamma_bench_core::model::{Case, TenantId};
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, ProviderError, ProviderErrorKind,
};
use tamma_bench_core::scorer::ScoreError;

/// Provider: one completion.
pub const OP_COMPLETE: u32 = 1;
/// Scorer: one score.
pub const OP_SCORE: u32 = 2;
/// Benchmark source: the cases.
pub const OP_CASES: u32 = 3;
/// Provider: one completion, streamed. The input and the final reply are those of
/// [`OP_COMPLETE`]; before the final reply come any number of `STATUS_DELTA` replies,
/// each a [`Delta`], whose texts concatenate to the completion's text.
pub const OP_COMPLETE_STREAMING: u32 = 4;

/// A streaming delta of [`OP_COMPLETE_STREAMING`]: the next piece of the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// The text generated since the previous delta.
    pub text: String,
}

/// The input of [`OP_COMPLETE`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompleteInput {
    /// The request.
    pub request: CompletionRequest,
    /// Where the call comes from.
    pub context: WireCallContext,
}

/// [`CompleteInput`] as the host writes it, borrowing the request.
#[cfg(feature = "host")]
#[derive(Debug, Serialize)]
pub(crate) struct CompleteInputRef<'a> {
    /// The request.
    pub request: &'a CompletionRequest,
    /// Where the call comes from.
    pub context: WireCallContext,
}

/// The input of [`OP_SCORE`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoreInput {
    /// The case.
    pub case: Case,
    /// The completion to score.
    pub completion: Completion,
}

/// A core `CallContext` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCallContext {
    /// Run id.
    pub run_id: String,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Agent name.
    pub agent: String,
    /// Case id.
    pub case_id: String,
    /// Epoch, from 0.
    pub epoch: u32,
    /// Attempt, from 1.
    pub attempt: u32,
}

impl From<&CallContext> for WireCallContext {
    fn from(cx: &CallContext) -> Self {
        Self {
            run_id: cx.run_id.clone(),
            tenant_id: cx.tenant_id.clone(),
            agent: cx.agent.clone(),
            case_id: cx.case_id.clone(),
            epoch: cx.epoch,
            attempt: cx.attempt,
        }
    }
}

impl From<WireCallContext> for CallContext {
    fn from(w: WireCallContext) -> Self {
        Self {
            run_id: w.run_id,
            tenant_id: w.tenant_id,
            agent: w.agent,
            case_id: w.case_id,
            epoch: w.epoch,
            attempt: w.attempt,
        }
    }
}

/// A failure on the wire: a provider error kind (`rate_limited`, ...) or a scorer error
/// kind (`invalid_config`, `failed`), a message, and an advertised wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    /// The kind, snake_case. A kind the host does not know is read as `plugin`.
    pub kind: String,
    /// Details for humans.
    pub message: String,
    /// The wait the service advertised before a retry, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl WireError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// The provider error it stands for.
    pub fn into_provider_error(self) -> ProviderError {
        let kind = serde_json::from_value(serde_json::Value::String(self.kind))
            .unwrap_or(ProviderErrorKind::Plugin);
        ProviderError::new(kind, self.message)
            .with_retry_after(self.retry_after_ms.map(Duration::from_millis))
    }

    /// The scorer error it stands for, for the scorer `name`.
    pub fn into_score_error(self, name: &str) -> ScoreError {
        let scorer = name.to_owned();
        match self.kind.as_str() {
            "invalid_config" => ScoreError::InvalidConfig {
                scorer,
                message: self.message,
            },
            _ => ScoreError::Failed {
                scorer,
                message: self.message,
            },
        }
    }

    /// As JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl From<&ProviderError> for WireError {
    fn from(e: &ProviderError) -> Self {
        Self {
            kind: e.kind().as_str().to_owned(),
            message: e.message().to_owned(),
            retry_after_ms: e
                .retry_after()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl From<&ScoreError> for WireError {
    fn from(e: &ScoreError) -> Self {
        let (kind, message) = match e {
            ScoreError::InvalidConfig { message, .. } => ("invalid_config", message.clone()),
            ScoreError::Failed { message, .. } => ("failed", message.clone()),
            other => ("failed", other.to_string()),
        };
        Self::new(kind, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_round_trip_with_their_wait() {
        let e = ProviderError::new(ProviderErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_millis(1500)));
        let back = WireError::from(&e).into_provider_error();
        assert_eq!(back.kind(), ProviderErrorKind::RateLimited);
        assert_eq!(back.message(), "slow down");
        assert_eq!(back.retry_after(), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn an_unknown_kind_from_a_newer_plugin_is_a_plugin_error() {
        let e = WireError::new("teleport_failed", "?").into_provider_error();
        assert_eq!(e.kind(), ProviderErrorKind::Plugin);
    }

    #[test]
    fn cases_are_plain_json() {
        let cases: Vec<Case> =
            serde_json::from_str(r#"[{"id": "a", "input": "1+1?", "target": "2"}]"#)
                .expect("cases");
        assert_eq!(cases[0].id, "a");
    }
}
