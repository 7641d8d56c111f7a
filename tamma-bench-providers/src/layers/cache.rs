//! Response cache: completions content-addressed by the normalized request, the tenant and
//! the epoch, with a TTL, in a [`ResponseCache`].

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench_core::model::{TenantId, now_ms};
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{Completion, CompletionRequest, ProviderError};
use tamma_bench_core::store::ResponseCache;

/// Wall-clock time in ms since the Unix epoch; injectable so tests can move it.
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Version of the key derivation; bump it when the normalization changes.
const KEY_VERSION: u32 = 1;

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The cache key of a request: hex SHA-256 of canonical JSON (keys sorted at every depth,
/// unset options left out) of the key version, `namespace` (which provider and endpoint
/// answers), the tenant, the epoch and the request: model, messages, sampling parameters,
/// stop sequences, tools and response format. No secret is part of it: a request holds
/// none, and the namespace names the provider and base URL, not the key.
pub fn cache_key(
    namespace: &str,
    tenant: &TenantId,
    request: &CompletionRequest,
    epoch: u32,
) -> Result<String, serde_json::Error> {
    let material = serde_json::json!({
        "v": KEY_VERSION,
        "namespace": namespace,
        "tenant": tenant.as_str(),
        "epoch": epoch,
        "request": serde_json::to_value(request)?,
    });
    let mut canonical = String::new();
    write_canonical(&material, &mut canonical);
    Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
}

/// Answers a request it has seen for the same tenant and epoch from the cache (with
/// `cache_hit = true`), else calls the inner provider and stores its successful
/// completion. Errors are never stored. A failing cache is logged and bypassed: the
/// cache can slow a call down, never fail it.
///
/// A hit returns the completion as it was stored: its usage, latency and any
/// provider-reported cost are those of the original call (the trial is marked, so
/// reports and budgets can tell). Two identical calls in flight at once both miss. The
/// case id is not part of the key: two cases sending the very same request in the same
/// epoch share one answer, as they would share one sample at temperature 0.
pub struct CacheLayer {
    cache: Arc<dyn ResponseCache>,
    namespace: String,
    ttl: Option<Duration>,
    clock: WallClock,
}

impl fmt::Debug for CacheLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheLayer")
            .field("namespace", &self.namespace)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CacheLayer {
    /// A cache of the wrapped provider's answers in `cache`; `namespace` tells providers
    /// apart (the agents file's provider kind and base URL), entries never expire.
    pub fn new(cache: Arc<dyn ResponseCache>, namespace: impl Into<String>) -> Self {
        Self {
            cache,
            namespace: namespace.into(),
            ttl: None,
            clock: Arc::new(now_ms),
        }
    }

    /// Entries expire `ttl` after they are stored (never when `None`).
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// Reads wall-clock time from `clock` instead of the system.
    pub fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl Layer for CacheLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        let (request, cx) = (call.request, call.cx);
        let key = match cache_key(&self.namespace, &cx.tenant_id, request, cx.epoch) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(error = %e, "response cache: request cannot be keyed; not caching");
                return call.forward().await;
            }
        };
        match self.cache.get(&key, (self.clock)()).await {
            Ok(Some(mut hit)) => {
                hit.cache_hit = true;
                // A streaming caller gets the stored text as one delta.
                call.answer(&hit);
                return Ok(hit);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "response cache: lookup failed; calling the provider")
            }
        }
        let completion = call.forward().await?;
        let now = (self.clock)();
        let expires = self
            .ttl
            .map(|t| now.saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX)));
        if let Err(e) = self
            .cache
            .put(&key, &cx.tenant_id, &completion, now, expires)
            .await
        {
            tracing::warn!(error = %e, "response cache: store failed");
        }
        Ok(completion)
    }
}
