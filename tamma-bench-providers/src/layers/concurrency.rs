//! Concurrency limit: at most N calls in flight through the layer.

use async_trait::async_trait;
use std::sync::Arc;
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{Completion, ProviderError, ProviderErrorKind};
use tokio::sync::Semaphore;

/// Lets at most `limit` calls reach the inner provider at once; the others wait in
/// arrival order. Layers built with [`ConcurrencyLayer::shared`] on one semaphore share
/// one limit.
#[derive(Debug, Clone)]
pub struct ConcurrencyLayer {
    permits: Arc<Semaphore>,
}

impl ConcurrencyLayer {
    /// At most `limit` (at least 1) calls at once.
    pub fn new(limit: usize) -> Self {
        Self::shared(Arc::new(Semaphore::new(limit.max(1))))
    }

    /// A limit shared with every other layer on `permits`.
    pub fn shared(permits: Arc<Semaphore>) -> Self {
        Self { permits }
    }
}

#[async_trait]
impl Layer for ConcurrencyLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        // Held for the length of one call.
        let _permit = self.permits.acquire().await.map_err(|_| {
            ProviderError::new(ProviderErrorKind::Cancelled, "concurrency limit closed")
        })?;
        call.forward().await
    }
}
