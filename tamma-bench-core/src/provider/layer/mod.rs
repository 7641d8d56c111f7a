//! Layers: cross-cutting behaviour (retry, timeout, rate limits, caching, cost, tracing)
//! around any [`Provider`], written once and forwarded by construction.
//!
//! A [`Layer`] has one method, [`Layer::call`], which receives a [`Call`]: the request,
//! its context and the provider it wraps, as this one call sees it. [`Layered`] is the only
//! `Provider` a layer becomes: it forwards `name`, `capabilities`, `complete` and
//! `complete_streaming` through that one method, so a layer cannot forget streaming:
//! when the caller streams, `call.forward()` streams too and the deltas reach the caller.
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::provider::layer::{Call, Layer};
//! use tamma_bench_core::provider::*;
//!
//! /// Upper-cases every answer.
//! #[derive(Debug)]
//! struct Shout;
//! #[async_trait::async_trait]
//! impl Layer for Shout {
//!     async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
//!         let mut c = call.forward().await?;
//!         c.text = c.text.to_uppercase();
//!         Ok(c)
//!     }
//! }
//!
//! struct Hello;
//! #[async_trait::async_trait]
//! impl Provider for Hello {
//!     fn name(&self) -> &str { "hello" }
//!     async fn complete(&self, _: &CompletionRequest, _: &CallContext) -> Result<Completion, ProviderError> {
//!         Ok(Completion { text: "hi".into(), ..Default::default() })
//!     }
//! }
//!
//! let shouting = Shout.wrap(Arc::new(Hello));
//! assert_eq!(shouting.name(), "hello"); // a layer answers to its provider's name
//! ```
//!
//! Core holds the layers the executor itself applies ([`RetryLayer`], [`TimeoutLayer`]);
//! the others live in `tamma-bench-providers::layers`.

#[cfg(feature = "runtime")]
mod retry;
#[cfg(feature = "runtime")]
mod timeout;

#[cfg(feature = "runtime")]
pub use retry::{MAX_WAIT, RetryLayer, RetryPolicy, counting_attempts};
#[cfg(feature = "runtime")]
pub use timeout::TimeoutLayer;

use super::{
    CallContext, Capabilities, Completion, CompletionRequest, OnDelta, Provider, ProviderError,
};
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;

/// One cross-cutting behaviour around a provider. Wrap a provider in it with
/// [`Layer::wrap`] (or [`Layered::new`]).
#[async_trait]
pub trait Layer: fmt::Debug + Send + Sync + 'static {
    /// Handles one call: usually something before, [`Call::forward`] (zero, one or
    /// several times), something after. Called for `complete` and `complete_streaming`
    /// alike; `call` knows which.
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError>;

    /// What the wrapped provider can do through this layer: the inner provider's
    /// capabilities by default.
    fn capabilities(&self, inner: Capabilities) -> Capabilities {
        inner
    }

    /// `inner` wrapped in this layer.
    fn wrap(self, inner: Arc<dyn Provider>) -> Layered<Self>
    where
        Self: Sized,
    {
        Layered::new(inner, self)
    }
}

/// One call on its way through a layer: the request, its context, and the provider the
/// layer wraps. [`Call::forward`] is the inner provider's `complete_streaming` when the
/// caller streams, its `complete` otherwise.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The request.
    pub request: &'a CompletionRequest,
    /// Where it comes from.
    pub cx: &'a CallContext,
    provider: &'a dyn Provider,
    on_delta: Option<&'a OnDelta<'a>>,
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("model", &self.request.model)
            .field("cx", &self.cx)
            .field("provider", &self.provider.name())
            .field("streaming", &self.on_delta.is_some())
            .finish()
    }
}

impl<'a> Call<'a> {
    /// A call of `request` from `cx` to `provider`, for a caller that streams to
    /// `on_delta` (or does not stream).
    pub fn new(
        provider: &'a dyn Provider,
        request: &'a CompletionRequest,
        cx: &'a CallContext,
        on_delta: Option<&'a OnDelta<'a>>,
    ) -> Self {
        Self {
            request,
            cx,
            provider,
            on_delta,
        }
    }

    /// The inner provider.
    pub fn provider(&self) -> &'a dyn Provider {
        self.provider
    }

    /// Whether the caller streams.
    pub fn is_streaming(&self) -> bool {
        self.on_delta.is_some()
    }

    /// The caller's receiver of deltas, when it streams.
    pub fn on_delta(&self) -> Option<&'a OnDelta<'a>> {
        self.on_delta
    }

    /// Calls the inner provider once with the request and context, streaming to the
    /// caller when it streams.
    pub async fn forward(&self) -> Result<Completion, ProviderError> {
        self.forward_as(self.cx).await
    }

    /// [`Call::forward`] with another context (a retry's attempt number).
    pub async fn forward_as(&self, cx: &CallContext) -> Result<Completion, ProviderError> {
        match self.on_delta {
            Some(on_delta) => {
                self.provider
                    .complete_streaming(self.request, cx, on_delta)
                    .await
            }
            None => self.provider.complete(self.request, cx).await,
        }
    }

    /// Hands a completion the layer answers itself (a cache hit) to a streaming caller:
    /// its whole text as one delta (none when empty), as the default
    /// `complete_streaming` does.
    pub fn answer(&self, completion: &Completion) {
        if let Some(on_delta) = self.on_delta
            && !completion.text.is_empty()
        {
            on_delta(&completion.text);
        }
    }

    /// The same call, with the deltas going to `on_delta` instead of the caller's
    /// receiver (which `on_delta` should pass them on to: see [`Call::on_delta`]); a
    /// caller that does not stream stays so.
    pub fn watching<'b>(&self, on_delta: &'b OnDelta<'b>) -> Call<'b>
    where
        'a: 'b,
    {
        Call {
            request: self.request,
            cx: self.cx,
            provider: self.provider,
            on_delta: self.on_delta.map(|_| on_delta),
        }
    }
}

/// A provider wrapped in a [`Layer`]: itself a [`Provider`], whose `name` and
/// `capabilities` come from the inner provider (through the layer), and whose
/// `complete` and `complete_streaming` both go through [`Layer::call`].
pub struct Layered<L> {
    layer: L,
    inner: Arc<dyn Provider>,
}

impl<L: Layer> Layered<L> {
    /// `inner` wrapped in `layer`.
    pub fn new(inner: Arc<dyn Provider>, layer: L) -> Self {
        Self { layer, inner }
    }

    /// The layer.
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// The provider it wraps.
    pub fn inner(&self) -> &Arc<dyn Provider> {
        &self.inner
    }
}

impl<L: Layer> fmt::Debug for Layered<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layered")
            .field("layer", &self.layer)
            .field("inner", &self.inner.name())
            .finish()
    }
}

#[async_trait]
impl<L: Layer> Provider for Layered<L> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.layer.capabilities(self.inner.capabilities())
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let call = Call::new(self.inner.as_ref(), request, cx, None);
        self.layer.call(call).await
    }

    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        let call = Call::new(self.inner.as_ref(), request, cx, Some(on_delta));
        self.layer.call(call).await
    }
}
