//! Timeout: a limit on one call to the inner provider.

use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, OnDelta, Provider, ProviderError, ProviderErrorKind,
};

/// Fails a call with a `timeout` error (retryable) when the inner provider has not
/// answered within the limit; the inner call is dropped, which cancels it.
pub struct TimeoutLayer {
    inner: Arc<dyn Provider>,
    limit: Duration,
}

impl fmt::Debug for TimeoutLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutLayer")
            .field("inner", &self.inner.name())
            .field("limit", &self.limit)
            .finish()
    }
}

impl TimeoutLayer {
    /// Limits each call to `limit`.
    pub fn new(inner: Arc<dyn Provider>, limit: Duration) -> Self {
        Self { inner, limit }
    }

    /// Runs `call` within the limit.
    async fn limited(
        &self,
        call: impl Future<Output = Result<Completion, ProviderError>>,
    ) -> Result<Completion, ProviderError> {
        tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::new(
                    ProviderErrorKind::Timeout,
                    format!("no answer within {} ms", self.limit.as_millis()),
                ))
            })
    }
}

#[async_trait]
impl Provider for TimeoutLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        self.limited(self.inner.complete(request, cx)).await
    }

    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        self.limited(self.inner.complete_streaming(request, cx, on_delta))
            .await
    }
}
