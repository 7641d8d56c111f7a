//! A benchmark: its manifest (TOML) and its loaded cases.

use super::case::Case;
use super::tenant::Visibility;
use crate::scorer::ScorerSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The benchmark manifest, as written in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkManifest {
    /// Stable identifier (`[A-Za-z0-9._-]+`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Version of the benchmark; a run is tied to one version.
    pub version: String,
    /// What the benchmark measures.
    #[serde(default)]
    pub description: String,
    /// Who may see results: `public` or `private` (the default).
    #[serde(default)]
    pub visibility: Visibility,
    /// System prompt template (optional).
    #[serde(default)]
    pub system: Option<String>,
    /// User prompt template; `{{input}}` when absent.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Path of a JSONL cases file, relative to the manifest. Give this or `[[case]]`.
    #[serde(default)]
    pub cases: Option<PathBuf>,
    /// Inline cases. Give these or `cases`.
    #[serde(default, rename = "case")]
    pub inline_cases: Vec<Case>,
    /// A source that generates the cases instead: `plugin:ID`, a benchmark-source plugin
    /// found in the plugin directories. Give this, `cases` or `[[case]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source's configuration (`[source_config]`), passed to it as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_config: Option<serde_json::Value>,
    /// How outputs are scored; `exact` when empty. The first scorer is the headline.
    #[serde(default, rename = "scorer")]
    pub scorers: Vec<ScorerSpec>,
    /// Default number of epochs (repetitions of each case per agent).
    #[serde(default = "default_epochs")]
    pub epochs: u32,
}

fn default_epochs() -> u32 {
    1
}

/// A loaded, validated benchmark: the manifest and its cases. It deserializes (a queued
/// job carries its benchmark inline); the executor checks its templates again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// Stable identifier.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Version.
    pub version: String,
    /// What it measures.
    pub description: String,
    /// Who may see results.
    pub visibility: Visibility,
    /// System prompt template.
    pub system: Option<String>,
    /// User prompt template.
    pub prompt: String,
    /// The cases, with unique ids.
    pub cases: Vec<Case>,
    /// Scorers; never empty (the first is the headline score).
    pub scorers: Vec<ScorerSpec>,
    /// Default epochs.
    pub epochs: u32,
}

impl Benchmark {
    /// A hash of everything that decides what a trial of this benchmark means: id,
    /// version, templates, cases and scorers. Resuming a run with another fingerprint is
    /// refused.
    pub fn fingerprint(&self) -> String {
        let v = serde_json::json!({
            "id": self.id, "version": self.version, "system": self.system,
            "prompt": self.prompt, "cases": self.cases, "scorers": self.scorers,
        });
        crate::model::sha256_hex(v.to_string().as_bytes())
    }
}
