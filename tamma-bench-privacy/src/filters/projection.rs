//! Field projection by access level, driven by the classification table.

use crate::PrivacyFilter;
use crate::classification::{AccessLevel, class_of};
use std::sync::LazyLock;
use tamma_bench_core::model::{AgentConfig, Outcome, Run, TenantContext, TenantId, Trial};

/// Clears every field of a [`Trial`] or [`Run`] whose class the level does not allow.
///
/// The level is decided by the policy for the record; the filter caps it by the caller:
/// an external context never gets more than [`AccessLevel::Owner`], and a record of
/// another tenant never more than [`AccessLevel::Public`].
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    level: AccessLevel,
}

impl Projection {
    /// A projection to `level`.
    pub fn new(level: AccessLevel) -> Self {
        Self { level }
    }

    fn level_for(&self, cx: &TenantContext, owner: &TenantId) -> AccessLevel {
        let mut level = self.level;
        if !cx.is_internal() {
            level = level.min(AccessLevel::Owner);
        }
        if owner != &cx.tenant_id {
            level = level.min(if cx.is_internal() {
                AccessLevel::Internal
            } else {
                AccessLevel::Public
            });
        }
        level
    }
}

/// Whether stored field `PROJECTED[field]` may be kept at `level`: the classification
/// table read once into one mask per level, so a record costs no table lookups.
fn keep(level: AccessLevel, field: usize) -> bool {
    static MASKS: LazyLock<[[bool; N]; 3]> = LazyLock::new(|| {
        [
            AccessLevel::Public,
            AccessLevel::Owner,
            AccessLevel::Internal,
        ]
        .map(|l| std::array::from_fn(|i| l.allows(class_of(PROJECTED[i].0, PROJECTED[i].1))))
    });
    let l = match level {
        AccessLevel::Public => 0,
        AccessLevel::Owner => 1,
        AccessLevel::Internal => 2,
    };
    MASKS[l][field]
}

/// The placeholder that replaces a tenant id a level may not see.
fn hidden_tenant() -> TenantId {
    // "hidden" follows the id rules, so this never fails; fall back to local if it did.
    TenantId::new("hidden").unwrap_or_else(|_| TenantId::local())
}

/// An agent with only the fields `level` allows; below the internal level that is its
/// name, provider and model (public in the table, checked by a test).
fn project_agent(level: AccessLevel, a: AgentConfig) -> AgentConfig {
    if level == AccessLevel::Internal {
        return a;
    }
    AgentConfig::new(a.name, a.provider, a.model)
}

impl PrivacyFilter<Trial> for Projection {
    fn filter(&self, cx: &TenantContext, mut t: Trial) -> Option<Trial> {
        self.apply(cx, &mut t);
        Some(t)
    }
}

impl Projection {
    /// Projects `t` in place (what [`PrivacyFilter::filter`] does, without moving the
    /// record).
    pub fn apply(&self, cx: &TenantContext, t: &mut Trial) {
        let l = self.level_for(cx, &t.tenant_id);
        if !keep(l, TRIAL_TENANT) {
            t.tenant_id = hidden_tenant();
        }
        if !keep(l, OUTPUT) {
            t.output = None;
        }
        match &mut t.outcome {
            Outcome::Scored { scores } => {
                for s in scores {
                    if !keep(l, ANSWER) {
                        s.answer = None;
                    }
                    if !keep(l, EXPLANATION) {
                        s.explanation = None;
                    }
                }
            }
            Outcome::InfraFailure { message, .. } | Outcome::ScorerError { message, .. } => {
                if !keep(l, MESSAGE) {
                    message.clear();
                }
            }
        }
        if !keep(l, USAGE) {
            t.usage = Default::default();
        }
        if !keep(l, COST) {
            t.cost_usd = 0.0;
        }
        if !keep(l, ATTEMPTS) {
            t.attempts = 0;
        }
        if !keep(l, CACHE_HIT) {
            t.cache_hit = false;
        }
    }
}

impl PrivacyFilter<Run> for Projection {
    fn filter(&self, cx: &TenantContext, mut r: Run) -> Option<Run> {
        let l = self.level_for(cx, &r.tenant_id);
        if !keep(l, RUN_TENANT) {
            r.tenant_id = hidden_tenant();
        }
        if !keep(l, RUN_FINGERPRINT) {
            r.fingerprint.clear();
        }
        if !keep(l, RUN_AGENTS) {
            r.agents = r.agents.into_iter().map(|a| project_agent(l, a)).collect();
        }
        Some(r)
    }
}

const N: usize = 12;
const RUN_TENANT: usize = 0;
const RUN_FINGERPRINT: usize = 1;
const RUN_AGENTS: usize = 2;
const TRIAL_TENANT: usize = 3;
const OUTPUT: usize = 4;
const ANSWER: usize = 5;
const EXPLANATION: usize = 6;
const MESSAGE: usize = 7;
const USAGE: usize = 8;
const COST: usize = 9;
const ATTEMPTS: usize = 10;
const CACHE_HIT: usize = 11;

/// The stored fields [`Projection`] clears, per record: a test checks this list is every
/// non-public stored field of the table, so a new classified field cannot be forgotten.
const PROJECTED: [(&str, &str); N] = [
    ("Run", "tenant_id"),
    ("Run", "fingerprint"),
    ("Run", "agents"),
    ("Trial", "tenant_id"),
    ("Trial", "output"),
    ("Trial", "outcome.scores.answer"),
    ("Trial", "outcome.scores.explanation"),
    ("Trial", "outcome.message"),
    ("Trial", "usage"),
    ("Trial", "cost_usd"),
    ("Trial", "attempts"),
    ("Trial", "cache_hit"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::{CLASSIFICATION, Class};

    #[test]
    fn projection_covers_every_non_public_field_of_runs_and_trials() {
        let want: Vec<(&str, &str)> = CLASSIFICATION
            .iter()
            .filter(|(r, _, c)| matches!(*r, "Run" | "Trial") && *c != Class::Public)
            .map(|(r, f, _)| (*r, *f))
            .collect();
        let mut have = PROJECTED.to_vec();
        have.sort_unstable();
        let mut want = want;
        want.sort_unstable();
        assert_eq!(have, want);
        for f in ["name", "provider", "model"] {
            assert_eq!(class_of("AgentConfig", f), Class::Public);
        }
    }
}
