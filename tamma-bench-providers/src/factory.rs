//! [`BuiltinProviders`]: the core `ProviderFactory` over [`build_provider_with`], so that
//! scorers which call models (judges) get providers of any built-in kind, their keys from
//! the run's [`KeySource`].

use crate::{KeySource, build_provider_with};
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::{FactoryError, Provider, ProviderFactory};

/// Builds providers by kind; relative paths (recordings) resolve against `base_dir`, keys
/// come from `keys`.
#[derive(Debug, Clone)]
pub struct BuiltinProviders {
    /// The folder relative paths resolve against (the benchmark manifest's, for judges).
    pub base_dir: PathBuf,
    /// Where the keys judges name are looked up (a tenant's job: its credentials only).
    pub keys: KeySource,
}

impl ProviderFactory for BuiltinProviders {
    fn build(&self, agent: &AgentConfig) -> Result<Arc<dyn Provider>, FactoryError> {
        build_provider_with(agent, &self.base_dir, &self.keys).map_err(FactoryError::invalid)
    }
}
