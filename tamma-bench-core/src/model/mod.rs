//! The domain model: benchmarks, cases, agents, runs, trials, scores, tenants.

mod agent;
#[cfg(feature = "runtime")]
mod benchmark;
mod case;
mod layers;
#[cfg(feature = "runtime")]
mod run;
mod tenant;
mod time;
mod trial;

pub use agent::{AgentConfig, AgentsFile};
#[cfg(feature = "runtime")]
pub use benchmark::{Benchmark, BenchmarkManifest};
pub use case::{Case, CaseInput, Message, Role, Target, ToolCall};
pub use layers::{
    AdaptiveConcurrencyConfig, CacheConfig, ConcurrencyChange, ConcurrencyChangeReason,
    LayerConfig, RateLimitConfig, RetryLayerConfig,
};
#[cfg(feature = "runtime")]
pub use run::{
    AgentSummary, BenchmarkRef, LatencySummary, ReducedScore, Run, RunStatus, RunSummary,
    TokenTotals,
};
#[cfg(feature = "runtime")]
pub(crate) use tenant::is_safe_id;
pub use tenant::{
    InvalidTenantId, Permission, TenantContext, TenantId, TenantKind, Tier, Visibility,
};
pub use time::utc_rfc3339;
pub use trial::{Outcome, Score, Trial, TrialKey};

#[cfg(feature = "runtime")]
use sha2::{Digest, Sha256};

/// Hex SHA-256 of `bytes`.
#[cfg(feature = "runtime")]
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
