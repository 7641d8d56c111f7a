//! Agent configurations: which provider and model, with which parameters.

use super::LayerConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One agent configuration (`[[agent]]` in the agents file).
///
/// API keys are never part of a configuration: `api_key_env` names the environment
/// variable that holds the key, and the key is read only when the provider is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Unique name within the agents file.
    pub name: String,
    /// Provider kind: `replay`, `openai`, `anthropic`, `gemini`, or `plugin:NAME`.
    pub provider: String,
    /// Model name as the provider knows it.
    pub model: String,
    /// Base URL of the provider's API (for OpenAI-compatible servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Name of the environment variable that holds the API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Maximum output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Overrides the benchmark's system template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Overrides the benchmark's prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Price in USD per million input tokens (overrides the pricing table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_mtok_input: Option<f64>,
    /// Price in USD per million output tokens (overrides the pricing table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_mtok_output: Option<f64>,
    /// Recording file for the `replay` provider, relative to the agents file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<PathBuf>,
    /// Per-agent cap on concurrent calls (in addition to the run's global cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Layers around the provider: retry, rate limit, cache, record, ... (`[agent.layers]`).
    #[serde(default, skip_serializing_if = "LayerConfig::is_default")]
    pub layers: LayerConfig,
}

impl AgentConfig {
    /// A minimal configuration of `provider` and `model` named `name`.
    pub fn new(
        name: impl Into<String>,
        provider: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            provider: provider.into(),
            model: model.into(),
            base_url: None,
            api_key_env: None,
            temperature: None,
            top_p: None,
            max_tokens: None,
            seed: None,
            stop: Vec::new(),
            system: None,
            prompt: None,
            price_per_mtok_input: None,
            price_per_mtok_output: None,
            recording: None,
            concurrency: None,
            layers: LayerConfig::default(),
        }
    }

    /// The configuration without what does not change the meaning of a trial (layers:
    /// retry, rate limits, cache, recording; the concurrency cap). Run fingerprints use it,
    /// so a resumed run may change them.
    pub fn semantic(&self) -> Self {
        Self {
            layers: Default::default(),
            concurrency: None,
            ..self.clone()
        }
    }

    /// The worst-case cost in USD of one call with `input_tokens` of prompt, from the
    /// agent's prices and `max_tokens` (or `default_max_tokens`). `None` when the agent has
    /// no price.
    pub fn max_cost_usd(&self, input_tokens: u64, default_max_tokens: u32) -> Option<f64> {
        if self.price_per_mtok_input.is_none() && self.price_per_mtok_output.is_none() {
            return None;
        }
        let output = u64::from(self.max_tokens.unwrap_or(default_max_tokens));
        Some(self.cost_usd(input_tokens, output))
    }

    /// The cost in USD of `input` and `output` tokens at the agent's prices (0 when unpriced).
    pub fn cost_usd(&self, input: u64, output: u64) -> f64 {
        let pin = self.price_per_mtok_input.unwrap_or(0.0);
        let pout = self.price_per_mtok_output.unwrap_or(0.0);
        (input as f64 * pin + output as f64 * pout) / 1e6
    }
}

/// The agents file: `[[agent]]` tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentsFile {
    /// The agents to run.
    #[serde(rename = "agent")]
    pub agents: Vec<AgentConfig>,
    /// Where `plugin:ID` providers are found, relative to the agents file (searched after
    /// the command line's `--plugin-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_dir: Option<PathBuf>,
}
