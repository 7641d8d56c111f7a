//! `tamma-bench plugin inspect LIB`, and how `run` finds plugins: `provider =
//! "plugin:ID"` in an agents file and `source = "plugin:ID"` in a benchmark manifest name
//! a plugin by its manifest id, looked up in the plugin directories.

use super::print_json;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench::core::load::CaseSource;
use tamma_bench::core::model::{AgentConfig, Case};
use tamma_bench::core::provider::{FactoryError, FactoryErrorKind, Provider, ProviderFactory};
use tamma_bench::core::scorer::Scorer;
use tamma_bench::plugin::ffi::ABI_MAJOR;
use tamma_bench::plugin::host::{PluginDirs, PluginLibrary};
use tamma_bench::plugin::{PROTOCOL, PluginKind};
use tamma_bench::providers::BuiltinProviders;

use super::Exit;

/// Arguments of `plugin`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// The `plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a plugin library, check that it fits this host (ABI, protocol) and print its
    /// manifest as JSON.
    Inspect {
        /// The library (`libNAME.so`, `libNAME.dylib`, `NAME.dll`).
        #[arg(value_name = "LIB")]
        library: PathBuf,
    },
}

/// Runs `plugin`.
pub fn execute(args: &PluginArgs) -> Result<Exit> {
    match &args.command {
        PluginCommand::Inspect { library } => {
            let library = PluginLibrary::open(library)?;
            print_json(library.manifest())?;
            eprintln!(
                "{}: compatible with this host (ABI v{ABI_MAJOR}, protocol {PROTOCOL})",
                library.path().display()
            );
            Ok(Exit::Success)
        }
    }
}

/// The id a `plugin:ID` kind names.
fn plugin_id(kind: &str) -> Option<&str> {
    kind.strip_prefix("plugin:")
}

/// The provider of an agent whose kind is `plugin:ID`, or `None` for other kinds. The
/// plugin is configured with the agent's whole configuration as JSON.
pub fn provider(
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

/// Benchmark-source plugins, for manifests with `source = "plugin:ID"`.
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
        // Loading is synchronous; the plugin answers on its own runtime.
        let handle = tokio::runtime::Handle::current();
        Ok(tokio::task::block_in_place(|| {
            handle.block_on(library.cases(config))
        })?)
    }
}

/// The run's factory for judges and scorer plugins: built-in provider kinds, provider
/// plugins, and `kind = "plugin"` scorers, all found in the same plugin directories.
pub struct PluginFactory {
    /// The built-in provider kinds.
    pub builtin: BuiltinProviders,
    /// Where plugins are found.
    pub dirs: PluginDirs,
}

impl ProviderFactory for PluginFactory {
    fn build(&self, agent: &AgentConfig) -> Result<Arc<dyn Provider>, FactoryError> {
        provider(agent, &self.dirs).unwrap_or_else(|| self.builtin.build(agent))
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
