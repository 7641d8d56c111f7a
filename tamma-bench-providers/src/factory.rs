//! [`BuiltinProviders`]: the core `ProviderFactory` over [`build_provider`], so that
//! scorers which call models (judges) get providers of any built-in kind.

use crate::build_provider;
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::{FactoryError, Provider, ProviderFactory};

/// Builds providers by kind; relative paths (recordings) resolve against `base_dir`.
#[derive(Debug, Clone)]
pub struct BuiltinProviders {
    /// The folder relative paths resolve against (the benchmark manifest's, for judges).
    pub base_dir: PathBuf,
}

impl ProviderFactory for BuiltinProviders {
    fn build(&self, agent: &AgentConfig) -> Result<Arc<dyn Provider>, FactoryError> {
        build_provider(agent, &self.base_dir).map_err(FactoryError::invalid)
    }
}
