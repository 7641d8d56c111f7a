//! The agents of a run, ready for the executor: one provider per agent (a built-in kind
//! or a `plugin:ID`), wrapped in the layers its `[agent.layers]` asks for, with the
//! response cache when an agent wants one, its key looked up in the run's [`KeySource`]
//! (the CLI: the process environment; a tenant's job: its credentials). The CLI's `run`
//! and the job runner ([`crate::jobs::BenchmarkRunner`]) build them here, the same way.

use crate::plugins::{PluginFactory, plugin_provider_for};
use std::path::Path;
use std::sync::Arc;
use tamma_bench_core::executor::{AgentRuntime, SharedFactory};
use tamma_bench_core::load::{LoadError, LoadedAgents};
use tamma_bench_core::model::{AgentConfig, Benchmark, TenantId};
use tamma_bench_core::scorer::ScorerSpec;
use tamma_bench_core::store::{ResponseCache, ResultStore, StoreError, StoreErrorKind};
use tamma_bench_plugin::host::PluginDirs;
use tamma_bench_providers::layers::{
    self, AdaptiveConcurrencyHandle, LayerContext, LimiterRegistry,
};
use tamma_bench_providers::{BuildError, BuiltinProviders, KeySource, build_provider_with};
use tamma_bench_sqlite::{DEFAULT_CACHE_FILE, SqliteResponseCache};

/// The agents ready to run, and the adaptive-concurrency handles whose history is stored
/// with the run.
pub struct BuiltAgents {
    /// One per agent, in file order.
    pub runtimes: Vec<AgentRuntime>,
    /// The agents with `[agent.layers.adaptive_concurrency]`, by name.
    pub adaptive: Vec<(String, AdaptiveConcurrencyHandle)>,
}

impl BuiltAgents {
    /// Stores each adaptive-concurrency history with run `run_id` (internal data: an
    /// annotation `adaptive_concurrency/AGENT`).
    pub async fn store_adaptive_history(
        &self,
        store: &dyn ResultStore,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<(), StoreError> {
        for (agent, handle) in &self.adaptive {
            let history = serde_json::to_value(handle.history())
                .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e.to_string()))?;
            store
                .annotate_run(
                    tenant,
                    run_id,
                    &format!("adaptive_concurrency/{agent}"),
                    history,
                )
                .await?;
        }
        Ok(())
    }
}

/// Whether an agent asks for the response cache (`[agent.layers.cache]`).
pub fn needs_cache(agents: &[AgentConfig]) -> bool {
    agents.iter().any(|a| a.layers.cache.is_some())
}

/// Opens (creating it) the response cache beside the results database `db`:
/// [`DEFAULT_CACHE_FILE`] in the same folder.
pub fn open_cache_beside(db: &Path) -> Result<Arc<dyn ResponseCache>, StoreError> {
    let path = db.with_file_name(DEFAULT_CACHE_FILE);
    Ok(Arc::new(SqliteResponseCache::open(&path)?))
}

/// One provider per agent, wrapped in the layers its `[agent.layers]` asks for, its key
/// looked up in `keys`; a build error is located in the agents file. `cache` is required
/// when an agent asks for one ([`needs_cache`]). Provider plugins are refused unless
/// `keys` is the process environment (a plugin reads its key where it likes).
pub fn build_agents(
    loaded: &LoadedAgents,
    cache: Option<Arc<dyn ResponseCache>>,
    plugins: &PluginDirs,
    keys: &KeySource,
) -> Result<BuiltAgents, LoadError> {
    let limiters = LimiterRegistry::from_agents(&loaded.agents);
    let cx = LayerContext {
        base_dir: &loaded.base_dir,
        cache,
        limiters: &limiters,
    };
    let mut built = BuiltAgents {
        runtimes: Vec::with_capacity(loaded.agents.len()),
        adaptive: Vec::new(),
    };
    for (i, config) in loaded.agents.iter().enumerate() {
        let located = |e: BuildError| match &e {
            BuildError::Invalid { field, message, .. } => loaded.error(i, field, message.clone()),
            _ => loaded.error(i, "provider", e.to_string()),
        };
        let provider = match plugin_provider_for(config, plugins, keys) {
            Some(built) => built.map_err(|m| loaded.error(i, "provider", m.message()))?,
            None => build_provider_with(config, &loaded.base_dir, keys).map_err(located)?,
        };
        let layered = layers::wrap(provider, config, &cx).map_err(located)?;
        if let Some(handle) = layered.adaptive_concurrency {
            built.adaptive.push((config.name.clone(), handle));
        }
        built
            .runtimes
            .push(AgentRuntime::new(config.clone(), layered.provider));
    }
    Ok(built)
}

/// The factory of a run's judges and scorer plugins: built-in kinds (relative paths,
/// such as a judge's recording, resolve against `benchmark_dir`; keys come from `keys`)
/// and plugins of `dirs` (provider plugins only where `keys` is the process environment).
pub fn judge_factory(benchmark_dir: &Path, dirs: &PluginDirs, keys: KeySource) -> SharedFactory {
    SharedFactory(Arc::new(PluginFactory {
        builtin: BuiltinProviders {
            base_dir: benchmark_dir.to_path_buf(),
            keys,
        },
        dirs: dirs.clone(),
    }))
}

/// The judges of `benchmark`'s model-graded scorers: agents whose keys a run needs too.
pub fn judges(benchmark: &Benchmark) -> impl Iterator<Item = &AgentConfig> {
    benchmark.scorers.iter().flat_map(|s| match s {
        ScorerSpec::ModelGraded { judges, .. } => judges.as_slice(),
        _ => &[],
    })
}
