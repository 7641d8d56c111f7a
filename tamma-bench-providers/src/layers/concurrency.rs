//! Concurrency limit: at most N calls in flight through the layer.

use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, OnDelta, Provider, ProviderError, ProviderErrorKind,
};
use tokio::sync::Semaphore;

/// Lets at most `limit` calls reach the inner provider at once; the others wait in
/// arrival order. Layers built with [`ConcurrencyLayer::shared`] on one semaphore share
/// one limit.
pub struct ConcurrencyLayer {
    inner: Arc<dyn Provider>,
    permits: Arc<Semaphore>,
}

impl fmt::Debug for ConcurrencyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLayer")
            .field("inner", &self.inner.name())
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl ConcurrencyLayer {
    /// At most `limit` (at least 1) calls at once.
    pub fn new(inner: Arc<dyn Provider>, limit: usize) -> Self {
        Self::shared(inner, Arc::new(Semaphore::new(limit.max(1))))
    }

    /// A limit shared with every other layer on `permits`.
    pub fn shared(inner: Arc<dyn Provider>, permits: Arc<Semaphore>) -> Self {
        Self { inner, permits }
    }

    /// Waits for a permit, held for the length of one call.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ProviderError> {
        self.permits.acquire().await.map_err(|_| {
            ProviderError::new(ProviderErrorKind::Cancelled, "concurrency limit closed")
        })
    }
}

#[async_trait]
impl Provider for ConcurrencyLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let _permit = self.permit().await?;
        self.inner.complete(request, cx).await
    }

    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        let _permit = self.permit().await?;
        self.inner.complete_streaming(request, cx, on_delta).await
    }
}
