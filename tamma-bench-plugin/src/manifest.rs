//! The manifest a plugin describes itself with: id, kind, version, protocol, features and
//! the JSON Schema of its configuration.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a plugin provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PluginKind {
    /// A model provider (`provider = "plugin:ID"` in an agents file).
    Provider,
    /// A scorer.
    Scorer,
    /// A benchmark source: generates the cases (`source = "plugin:ID"` in a manifest).
    BenchmarkSource,
}

impl PluginKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Scorer => "scorer",
            Self::BenchmarkSource => "benchmark_source",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version of the JSON protocol spoken over the ABI (the operations and their
/// documents), `major.minor`.
///
/// Compatibility rule: a host of protocol `H` accepts a plugin of protocol `P` when
/// `P.major == H.major` and `P.minor <= H.minor`: a minor version only adds what an older
/// plugin never sends, and a plugin newer than its host may rely on what the host lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Protocol {
    /// Incompatible changes.
    pub major: u32,
    /// Compatible additions.
    pub minor: u32,
}

/// The protocol this SDK speaks (and writes into manifests built with it).
pub const PROTOCOL: Protocol = Protocol { major: 1, minor: 1 };

impl Protocol {
    /// Whether a host speaking `self` can load a plugin speaking `plugin`.
    pub fn accepts(self, plugin: Protocol) -> bool {
        self.major == plugin.major && plugin.minor <= self.minor
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a plugin says about itself (JSON across the ABI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Stable identifier: what `plugin:ID` names.
    pub id: String,
    /// What it provides.
    pub kind: PluginKind,
    /// The plugin's own version.
    pub version: String,
    /// The protocol it speaks.
    pub protocol: Protocol,
    /// Optional features, free-form. A provider's capability names among them
    /// (`streaming`, `tools`, `usage`, `seed`, `retries`: see core's `Capability`) are
    /// what the host reports as its capabilities; a provider naming none claims none.
    #[serde(default)]
    pub features: Vec<String>,
    /// JSON Schema of its configuration.
    #[serde(default)]
    pub config_schema: serde_json::Value,
    /// One line on what it does.
    #[serde(default)]
    pub description: String,
}

impl Manifest {
    /// A manifest of `kind` with id `id` and version `version` (usually
    /// `env!("CARGO_PKG_VERSION")`), speaking this SDK's protocol, with an empty
    /// configuration schema that accepts any object.
    pub fn new(kind: PluginKind, id: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind,
            version: version.into(),
            protocol: PROTOCOL,
            features: Vec::new(),
            config_schema: serde_json::json!({"type": "object"}),
            description: String::new(),
        }
    }

    /// A provider's manifest.
    pub fn provider(id: impl Into<String>, version: impl Into<String>) -> Self {
        Self::new(PluginKind::Provider, id, version)
    }

    /// A scorer's manifest.
    pub fn scorer(id: impl Into<String>, version: impl Into<String>) -> Self {
        Self::new(PluginKind::Scorer, id, version)
    }

    /// A benchmark source's manifest.
    pub fn benchmark_source(id: impl Into<String>, version: impl Into<String>) -> Self {
        Self::new(PluginKind::BenchmarkSource, id, version)
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the features.
    pub fn with_features(mut self, features: &[&str]) -> Self {
        self.features = features.iter().map(|f| (*f).to_owned()).collect();
        self
    }

    /// Sets the JSON Schema of the configuration.
    pub fn with_config_schema(mut self, schema: serde_json::Value) -> Self {
        self.config_schema = schema;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_and_an_older_or_equal_minor_is_compatible() {
        let host = Protocol { major: 1, minor: 2 };
        assert!(host.accepts(Protocol { major: 1, minor: 0 }));
        assert!(host.accepts(Protocol { major: 1, minor: 2 }));
        assert!(!host.accepts(Protocol { major: 1, minor: 3 }));
        assert!(!host.accepts(Protocol { major: 2, minor: 0 }));
        assert!(!host.accepts(Protocol { major: 0, minor: 9 }));
    }

    #[test]
    fn manifests_are_json_with_snake_case_kinds() {
        let m = Manifest::benchmark_source("arith", "0.1.0").with_features(&["seeded"]);
        let json = serde_json::to_value(&m).expect("json");
        assert_eq!(json["kind"], "benchmark_source");
        assert_eq!(
            json["protocol"],
            serde_json::json!({"major": 1, "minor": 1})
        );
        let back: Manifest = serde_json::from_value(json).expect("back");
        assert_eq!(back, m);
    }
}
