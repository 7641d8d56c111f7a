//! Providers of tamma-bench: implementations of the core `Provider` trait.
//!
//! - [`replay`]: answers from recorded completions (no network, no key). This is how the
//!   quickstart runs offline and how recorded outputs are re-scored with new scorers.
//! - HTTP providers (OpenAI-compatible, Anthropic, Gemini) and the layers that wrap any
//!   provider (retry, rate limit, cache, cost, record) build on the same trait.
//!
//! [`build_provider_with`] turns an agent configuration into a provider by its `provider`
//! kind, with its key looked up in a [`KeySource`] (the process environment, or a
//! tenant's credentials: see [`keys`]); [`build_provider`] reads the environment.

pub mod factory;
pub mod http;
pub mod keys;
pub mod layers;
pub mod replay;

pub use factory::BuiltinProviders;
pub use keys::{KeySource, TenantKeys};

use std::path::Path;
use std::sync::Arc;
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::Provider;

/// Why a provider could not be built from an agent configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The `provider` kind is not known to this build.
    #[error("agent {agent:?}: unknown provider {provider:?}; expected one of: {known}")]
    UnknownProvider {
        /// Agent name.
        agent: String,
        /// The kind given.
        provider: String,
        /// The kinds this build knows.
        known: String,
    },
    /// A required option is missing or invalid.
    #[error("agent {agent:?}: field `{field}`: {message}")]
    Invalid {
        /// Agent name.
        agent: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl BuildError {
    /// What a caller can do: fix the agent's configuration.
    pub fn remedy(&self) -> tamma_bench_core::error::Remedy {
        tamma_bench_core::error::Remedy::FixInput
    }
}

/// The provider kinds this build knows.
pub const KNOWN_PROVIDERS: &[&str] = &["replay", "openai", "anthropic", "gemini"];

/// Builds the provider of `agent`, its key read from the process environment (the CLI's
/// way; a tenant's job uses [`build_provider_with`] and its credentials). Relative paths
/// in the configuration (a recording) resolve against `base_dir`, the folder of the
/// agents file.
pub fn build_provider(
    agent: &AgentConfig,
    base_dir: &Path,
) -> Result<Arc<dyn Provider>, BuildError> {
    build_provider_with(agent, base_dir, &KeySource::ProcessEnv)
}

/// Builds the provider of `agent`, its key looked up in `keys` by the name its
/// `api_key_env` gives (or its vendor's default name: see [`key_name`]). Relative paths
/// resolve against `base_dir`.
pub fn build_provider_with(
    agent: &AgentConfig,
    base_dir: &Path,
    keys: &KeySource,
) -> Result<Arc<dyn Provider>, BuildError> {
    match agent.provider.as_str() {
        "replay" => Ok(Arc::new(replay::ReplayProvider::from_agent(
            agent, base_dir,
        )?)),
        "openai" => Ok(Arc::new(http::OpenAiProvider::from_agent_keys(
            agent, keys,
        )?)),
        "anthropic" => Ok(Arc::new(http::AnthropicProvider::from_agent_keys(
            agent, keys,
        )?)),
        "gemini" => Ok(Arc::new(http::GeminiProvider::from_agent_keys(
            agent, keys,
        )?)),
        other => Err(BuildError::UnknownProvider {
            agent: agent.name.clone(),
            provider: other.to_owned(),
            known: KNOWN_PROVIDERS.join(", "),
        }),
    }
}

/// The name of the key `agent`'s provider looks up when it is built: its `api_key_env`,
/// else its vendor's default (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`;
/// none for an OpenAI-compatible server at a base URL of its own). `None` for kinds that
/// take no key (`replay`, plugins). A host that resolves keys ahead of the build (a
/// tenant's credentials) asks for these names.
pub fn key_name(agent: &AgentConfig) -> Option<&str> {
    http::key_name(agent)
}
