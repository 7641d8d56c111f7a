//! How a host finds plugins: `provider = "plugin:ID"` in an agents file and `source =
//! "plugin:ID"` in a benchmark manifest name a plugin by its manifest id, looked up in
//! the plugin directories; `kind = "plugin"` scorers and judges come from the same
//! directories. Shared by the CLI's `run` and the job runner.

use std::sync::Arc;
use tamma_bench_core::load::CaseSource;
use tamma_bench_core::model::{AgentConfig, Case};
use tamma_bench_core::provider::{FactoryError, FactoryErrorKind, Provider, ProviderFactory};
use tamma_bench_core::scorer::Scorer;
use tamma_bench_plugin::PluginKind;
use tamma_bench_plugin::host::PluginDirs;
use tamma_bench_providers::{BuiltinProviders, KeySource};

/// The id a `plugin:ID` kind names.
fn plugin_id(kind: &str) -> Option<&str> {
    kind.strip_prefix("plugin:")
}

/// The provider of an agent whose kind is `plugin:ID`, or `None` for other kinds. The
/// plugin is configured with the agent's whole configuration as JSON.
pub fn plugin_provider(
    agent: &AgentConfig,
    dirs: &PluginDirs,
) -> Option<Result<Arc<dyn Provider>, FactoryError>> {
    let id = plugin_id(&agent.provider)?;
    let built = (|| {
        let config = serde_json::to_value(agent).map_err(FactoryError::invalid)?;
        let provider = dirs
            .find(id)
            .and_then(|library| library.provider(&config))?;
        Ok(Arc::new(provider) as Arc<dyn Provider>)
    })();
    Some(built)
}

/// As [`plugin_provider`], where keys come from `keys`: a provider plugin is refused
/// unless `keys` is the process environment. A plugin runs in the worker's process and
/// reads its key where it likes (the environment included), so a tenant's job, whose keys
/// come from its credentials only, cannot use one.
pub fn plugin_provider_for(
    agent: &AgentConfig,
    dirs: &PluginDirs,
    keys: &KeySource,
) -> Option<Result<Arc<dyn Provider>, FactoryError>> {
    let id = plugin_id(&agent.provider)?;
    if !keys.reads_process_env() {
        return Some(Err(FactoryError::new(
            FactoryErrorKind::Invalid,
            format!(
                "agent {:?}: provider plugin {id:?} is not available to a tenant's job \
                 (a plugin runs in the worker's process and may read its environment); \
                 use a built-in provider kind",
                agent.name
            ),
        )));
    }
    plugin_provider(agent, dirs)
}

/// Benchmark-source plugins, for manifests with `source = "plugin:ID"`. Loading is
/// synchronous: it must be called on a multi-threaded Tokio runtime, where the plugin
/// answers on its own task.
pub struct PluginCases<'a>(pub &'a PluginDirs);

impl CaseSource for PluginCases<'_> {
    fn cases(&self, source: &str, config: &serde_json::Value) -> Result<Vec<Case>, FactoryError> {
        let id = plugin_id(source).ok_or_else(|| {
            FactoryError::new(
                FactoryErrorKind::Invalid,
                format!("unknown source kind {source:?}; expected \"plugin:ID\""),
            )
        })?;
        let library = self.0.find(id)?;
        if library.manifest().kind != PluginKind::BenchmarkSource {
            return Err(FactoryError::new(
                FactoryErrorKind::Invalid,
                format!(
                    "plugin {id:?} is a {} plugin, not a benchmark source",
                    library.manifest().kind
                ),
            ));
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|e| {
            FactoryError::new(
                FactoryErrorKind::Invalid,
                format!("plugin {id:?}: generating cases needs a Tokio runtime: {e}"),
            )
        })?;
        Ok(tokio::task::block_in_place(|| {
            handle.block_on(library.cases(config))
        })?)
    }
}

/// A run's factory for judges and scorer plugins: built-in provider kinds, provider
/// plugins (only where keys come from the process environment: see
/// [`plugin_provider_for`]), and `kind = "plugin"` scorers, all found in the same plugin
/// directories.
pub struct PluginFactory {
    /// The built-in provider kinds, and where their keys come from.
    pub builtin: BuiltinProviders,
    /// Where plugins are found.
    pub dirs: PluginDirs,
}

impl ProviderFactory for PluginFactory {
    fn build(&self, agent: &AgentConfig) -> Result<Arc<dyn Provider>, FactoryError> {
        plugin_provider_for(agent, &self.dirs, &self.builtin.keys)
            .unwrap_or_else(|| self.builtin.build(agent))
    }

    fn scorer_plugin(
        &self,
        id: &str,
        config: &serde_json::Value,
    ) -> Result<Arc<dyn Scorer>, FactoryError> {
        let scorer = self
            .dirs
            .find(id)
            .and_then(|library| library.scorer(config))?;
        Ok(Arc::new(scorer))
    }
}
