//! Timeout: a limit on one call to the inner provider.

use super::{Call, Layer};
use crate::provider::{Completion, ProviderError, ProviderErrorKind};
use async_trait::async_trait;
use std::time::Duration;

/// Fails a call with a `timeout` error (retryable) when the inner provider has not
/// answered within the limit; the inner call is dropped, which cancels it. A limit too
/// long to represent as a point in time (`Duration::MAX`) is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// Limits each call to `limit`.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

#[async_trait]
impl Layer for TimeoutLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        // tokio waits forever when now + limit overflows.
        tokio::time::timeout(self.limit, call.forward())
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::new(
                    ProviderErrorKind::Timeout,
                    format!("no answer within {} ms", self.limit.as_millis()),
                ))
            })
    }
}
