//! Pseudonymisation of tenant and principal ids in public aggregates.

use super::AggregateTable;
use crate::PrivacyFilter;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use tamma_bench_core::model::TenantContext;

/// Replaces ids by `HMAC-SHA256(key, domain || 0 || id)`, truncated to 128 bits, hex.
///
/// The key is drawn fresh from the operating system for each release and never
/// stored, so pseudonyms are stable within one release and unlinkable across releases.
/// The domain (`tenant`, `principal`) keeps a tenant and a principal of the same name
/// apart.
pub struct Pseudonymization {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonymization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymization { key: <secret> }")
    }
}

impl Pseudonymization {
    /// A fresh key for one release. `None` only when the operating system's random
    /// source fails.
    pub fn for_release() -> Option<Self> {
        let mut key = [0u8; 32];
        OsRng.try_fill_bytes(&mut key).ok()?;
        Some(Self { key })
    }

    /// With a given key (tests, reproducible fixtures).
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The pseudonym of `id` in `domain` (`tenant` or `principal`): `t-` or `p-` and 32
    /// hex digits.
    pub fn pseudonym(&self, domain: &str, id: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::from("x-unavailable");
        };
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        let tag = mac.finalize().into_bytes();
        let prefix = if domain == "principal" { "p-" } else { "t-" };
        let mut out = String::with_capacity(34);
        out.push_str(prefix);
        for b in &tag[..16] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

impl PrivacyFilter<AggregateTable> for Pseudonymization {
    fn filter(&self, _cx: &TenantContext, mut table: AggregateTable) -> Option<AggregateTable> {
        for c in &mut table.cells {
            for id in &mut c.contributors {
                *id = self.pseudonym("tenant", id);
            }
            c.contributors.sort_unstable();
        }
        Some(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_key_and_differ_across_keys_and_domains() {
        let a = Pseudonymization::with_key([1; 32]);
        let b = Pseudonymization::with_key([2; 32]);
        assert_eq!(a.pseudonym("tenant", "acme"), a.pseudonym("tenant", "acme"));
        assert_ne!(a.pseudonym("tenant", "acme"), b.pseudonym("tenant", "acme"));
        assert_ne!(
            a.pseudonym("tenant", "acme"),
            a.pseudonym("principal", "acme")
        );
        assert!(!a.pseudonym("tenant", "acme").contains("acme"));
        assert_eq!(a.pseudonym("tenant", "acme").len(), 34);
    }
}
