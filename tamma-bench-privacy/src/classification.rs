//! Data classification: the class of every stored field and of every field of every view.
//!
//! [`CLASSIFICATION`] is the one table in code; `docs/privacy-model.md` holds the same
//! table for people, and a test keeps the two equal. A field path is `a.b.c` into the
//! record's JSON form; an entry for a prefix (`score`) classifies the whole subtree.
//! The projection filter ([`crate::filters::Projection`]) reads its masks from this table,
//! and a field missing from it is treated as [`Class::Restricted`] (fail closed).

use serde::Serialize;

/// How far a field may travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Anyone who may see the record: the public fields of public benchmarks' results.
    Public,
    /// The owning tenant and the platform: the tenant's own content (outputs, scorer
    /// answers, its tenant id). Encrypted at rest (issue 5 item 6).
    Sensitive,
    /// The platform only: agent configuration, cost analysis, internal metrics,
    /// optimization data.
    Internal,
    /// The platform only, encrypted at rest, access alerted: raw prompts and where keys
    /// live.
    Restricted,
}

impl Class {
    /// The name used in the documentation table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Sensitive => "sensitive",
            Self::Internal => "internal",
            Self::Restricted => "restricted",
        }
    }

    /// Parses [`Class::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public" => Self::Public,
            "sensitive" => Self::Sensitive,
            "internal" => Self::Internal,
            "restricted" => Self::Restricted,
            _ => return None,
        })
    }
}

/// What a caller may see of one record, decided by the authorization policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// Another tenant's public result: public fields only.
    Public,
    /// The caller's own tenant, external: public and sensitive fields.
    Owner,
    /// An internal context: every field.
    Internal,
}

impl AccessLevel {
    /// Whether a field of `class` may be shown at this level.
    pub fn allows(self, class: Class) -> bool {
        match self {
            Self::Public => class == Class::Public,
            Self::Owner => class <= Class::Sensitive,
            Self::Internal => true,
        }
    }
}

use Class::{Internal as I, Public as P, Restricted as R, Sensitive as S};

/// `(record, field path, class)` for every stored record and every view.
pub const CLASSIFICATION: &[(&str, &str, Class)] = &[
    // Stored: runs.
    ("Run", "id", P),
    ("Run", "tenant_id", S),
    ("Run", "benchmark_id", P),
    ("Run", "benchmark_version", P),
    ("Run", "visibility", P),
    ("Run", "fingerprint", I),
    ("Run", "agents", I),
    ("Run", "epochs", P),
    ("Run", "n_cases", P),
    ("Run", "status", P),
    ("Run", "created_at_ms", P),
    ("Run", "updated_at_ms", P),
    // Stored: agent configurations (inside runs).
    ("AgentConfig", "name", P),
    ("AgentConfig", "provider", P),
    ("AgentConfig", "model", P),
    ("AgentConfig", "base_url", R),
    ("AgentConfig", "api_key_env", R),
    ("AgentConfig", "temperature", I),
    ("AgentConfig", "top_p", I),
    ("AgentConfig", "max_tokens", I),
    ("AgentConfig", "seed", I),
    ("AgentConfig", "stop", I),
    ("AgentConfig", "system", R),
    ("AgentConfig", "prompt", R),
    ("AgentConfig", "price_per_mtok_input", I),
    ("AgentConfig", "price_per_mtok_output", I),
    ("AgentConfig", "recording", I),
    ("AgentConfig", "concurrency", I),
    ("AgentConfig", "layers", I),
    // Stored: trials.
    ("Trial", "run_id", P),
    ("Trial", "tenant_id", S),
    ("Trial", "key", P),
    ("Trial", "cluster", P),
    ("Trial", "tags", P),
    ("Trial", "outcome.kind", P),
    ("Trial", "outcome.scores.scorer", P),
    ("Trial", "outcome.scores.value", P),
    ("Trial", "outcome.scores.uncertain", P),
    ("Trial", "outcome.scores.answer", S),
    ("Trial", "outcome.scores.explanation", S),
    ("Trial", "outcome.error", P),
    ("Trial", "outcome.scorer", P),
    ("Trial", "outcome.message", I),
    ("Trial", "output", S),
    ("Trial", "usage", I),
    ("Trial", "latency_ms", P),
    ("Trial", "cost_usd", I),
    ("Trial", "attempts", I),
    ("Trial", "cache_hit", I),
    ("Trial", "finished_at_ms", P),
    // Views: a run as any reader sees it.
    ("RunView", "id", P),
    ("RunView", "benchmark_id", P),
    ("RunView", "benchmark_version", P),
    ("RunView", "visibility", P),
    ("RunView", "own", P),
    ("RunView", "agents", P),
    ("RunView", "epochs", P),
    ("RunView", "n_cases", P),
    ("RunView", "status", P),
    ("RunView", "created_at", P),
    ("RunView", "updated_at", P),
    // Views: the public result of one agent in one run.
    ("PublicResult", "id", P),
    ("PublicResult", "run_id", P),
    ("PublicResult", "benchmark_id", P),
    ("PublicResult", "benchmark_version", P),
    ("PublicResult", "agent", P),
    ("PublicResult", "provider", P),
    ("PublicResult", "model", P),
    ("PublicResult", "score", P),
    ("PublicResult", "metrics", P),
    ("PublicResult", "timestamp", P),
    // Views: the internal result adds internal fields.
    ("InternalResult", "public", P),
    ("InternalResult", "agent_config", R),
    ("InternalResult", "cost", I),
    ("InternalResult", "internal_metrics", I),
    ("InternalResult", "optimization", I),
    // Views: a trial for export to an external caller.
    ("PublicTrial", "run_id", P),
    ("PublicTrial", "agent", P),
    ("PublicTrial", "case_id", P),
    ("PublicTrial", "epoch", P),
    ("PublicTrial", "cluster", P),
    ("PublicTrial", "tags", P),
    ("PublicTrial", "outcome", P),
    ("PublicTrial", "score", P),
    ("PublicTrial", "error_kind", P),
    ("PublicTrial", "answer", S),
    ("PublicTrial", "output", S),
    ("PublicTrial", "latency_ms", P),
    ("PublicTrial", "finished_at_ms", P),
    // Views: a cross-tenant aggregate release.
    ("AggregateTable", "release_id", P),
    ("AggregateTable", "rows", P),
    ("AggregateTable", "columns", P),
    ("AggregateTable", "cells", P),
    ("AggregateTable", "row_totals", P),
    ("AggregateTable", "column_totals", P),
    ("AggregateTable", "epsilon_spent", P),
];

/// The class of `record.path`: the entry for the path or for its longest prefix, else
/// [`Class::Restricted`] (an unclassified field never leaves).
pub fn class_of(record: &str, path: &str) -> Class {
    let mut best: Option<(usize, Class)> = None;
    for (r, f, c) in CLASSIFICATION {
        let covers =
            path == *f || (path.starts_with(f) && path.as_bytes().get(f.len()) == Some(&b'.'));
        if *r == record && covers && best.is_none_or(|(len, _)| f.len() > len) {
            best = Some((f.len(), *c));
        }
    }
    best.map_or(Class::Restricted, |(_, c)| c)
}

/// Whether `record.path` is in the table (itself or through a prefix).
pub fn is_classified(record: &str, path: &str) -> bool {
    CLASSIFICATION.iter().any(|(r, f, _)| {
        *r == record
            && (path == *f || (path.starts_with(f) && path.as_bytes().get(f.len()) == Some(&b'.')))
    })
}

/// The stored `(record, field)` pairs of the given classes: what field encryption
/// (issue 5 item 6) seals at write and the audit alert hook watches.
pub fn stored_fields_of(classes: &[Class]) -> impl Iterator<Item = (&'static str, &'static str)> {
    const STORED: [&str; 3] = ["Run", "AgentConfig", "Trial"];
    CLASSIFICATION
        .iter()
        .filter(move |(r, _, c)| STORED.contains(r) && classes.contains(c))
        .map(|(r, f, _)| (*r, *f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_classifies_its_subtree_and_unknown_fields_are_restricted() {
        assert_eq!(class_of("PublicResult", "score.ci_low"), Class::Public);
        assert_eq!(class_of("Trial", "outcome.scores.answer"), Class::Sensitive);
        assert_eq!(class_of("Trial", "outcome_x"), Class::Restricted);
        assert_eq!(class_of("Nope", "id"), Class::Restricted);
    }

    #[test]
    fn levels_admit_classes_in_order() {
        assert!(AccessLevel::Public.allows(Class::Public));
        assert!(!AccessLevel::Public.allows(Class::Sensitive));
        assert!(AccessLevel::Owner.allows(Class::Sensitive));
        assert!(!AccessLevel::Owner.allows(Class::Internal));
        assert!(AccessLevel::Internal.allows(Class::Restricted));
    }

    #[test]
    fn every_entry_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for (r, f, _) in CLASSIFICATION {
            assert!(seen.insert((r, f)), "{r}.{f} is listed twice");
        }
    }
}
