//! Requests per tenant and minute, by tier, with `governor` (GCRA): one keyed limiter per
//! tier, keyed by tenant, so a tenant's burst costs no other tenant anything. Past its
//! allowance a request is answered 429 with `Retry-After` (seconds until the next
//! request is let through).

use crate::config::LimitsConfig;
use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use tamma_bench::core::model::{TenantContext, TenantId, Tier};

type Limiter = RateLimiter<TenantId, HashMapStateStore<TenantId>, DefaultClock>;

/// The limiters of the three tiers.
pub struct TierLimits {
    free: Limiter,
    premium: Limiter,
    internal: Limiter,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for TierLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierLimits").finish_non_exhaustive()
    }
}

impl TierLimits {
    /// Limiters with the configured allowances (zero is raised to one).
    pub fn new(config: &LimitsConfig) -> Self {
        let clock = DefaultClock::default();
        let limiter = |per_minute: u32| {
            let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
            RateLimiter::new(
                Quota::per_minute(n),
                HashMapStateStore::default(),
                clock.clone(),
            )
        };
        Self {
            free: limiter(config.free_per_minute),
            premium: limiter(config.premium_per_minute),
            internal: limiter(config.internal_per_minute),
            clock: clock.clone(),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request of `cx`; 429 past its tier's allowance.
    pub fn check(&self, cx: &TenantContext) -> Result<(), ApiError> {
        let limiter = if cx.is_internal() {
            &self.internal
        } else {
            match cx.tier {
                Tier::Premium => &self.premium,
                Tier::Free => &self.free,
                Tier::Internal => &self.internal,
            }
        };
        // Forget tenants whose allowance is whole again, now and then, so the maps stay
        // as small as the set of recently active tenants.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            for l in [&self.free, &self.premium, &self.internal] {
                l.retain_recent();
            }
        }
        limiter
            .check_key(&cx.tenant_id)
            .map_err(|not_until| ApiError::rate_limited(not_until.wait_time_from(self.clock.now())))
    }
}
