//! The host half of the job queue: what a queued job carries (its payload) and the runner
//! that executes it ([`BenchmarkRunner`], a [`JobRunner`] for the worker loop of
//! [`tamma_bench_core::queue::worker`]).
//!
//! A payload is self-contained: the benchmark is inline (cases included), the agents'
//! configurations are inline, and every path in it is absolute, so a worker on another
//! machine or in another folder runs the job as the submitter meant it. It holds no key:
//! agents name theirs (`api_key_env`), looked up where the job runs: for an external
//! tenant's job, among that tenant's stored credentials only; for an internal job, in the
//! worker's environment (see [`BenchmarkRunner`]).
//!
//! Payloads are versioned ([`PAYLOAD_VERSION`]); a worker refuses a version it does not
//! know with [`JobErrorKind::UnsupportedVersion`] rather than guess.
//!
//! A host that runs its own workers (what `tamma-bench worker` does):
//!
//! ```no_run
//! use std::path::Path;
//! use std::sync::Arc;
//! use tamma_bench::core::model::TenantContext;
//! use tamma_bench::core::queue::worker::{WorkerOptions, run_worker};
//! use tamma_bench::core::queue::{JobQueue, QueueConfig};
//! use tamma_bench::jobs::{BenchmarkRunner, RunJob};
//! use tamma_bench::privacy::Repository;
//! use tamma_bench::sqlite::{SqliteQueue, SqliteStore};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn host() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Path::new("tamma-bench.db");
//! let queue: Arc<dyn JobQueue> = Arc::new(SqliteQueue::open(db, QueueConfig::default())?);
//! let job = RunJob::from_files(
//!     Path::new("examples/quickstart/benchmark.toml"),
//!     Path::new("examples/quickstart/agents.toml"),
//!     &[],
//! )?;
//! let submitted = queue.submit(&TenantContext::local_operator(), job.to_new_job()?).await?;
//! println!("queued {}", submitted.id);
//!
//! let runner = Arc::new(BenchmarkRunner::new(Repository::new(Arc::new(SqliteStore::open(db)?))?));
//! let shutdown = CancellationToken::new(); // cancel it to drain
//! let report = run_worker(queue, runner, WorkerOptions::new("worker-1"), shutdown).await;
//! println!("{report:?}");
//! # Ok(())
//! # }
//! ```
//!
//! [`JobRunner`]: tamma_bench_core::queue::worker::JobRunner

mod runner;

pub use runner::BenchmarkRunner;

use crate::plugins::PluginCases;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tamma_bench_core::error::Remedy;
use tamma_bench_core::load::{
    LoadError, LoadErrorKind, LoadedAgents, check_agents_against, load_agents, load_benchmark_with,
};
use tamma_bench_core::model::{AgentConfig, Benchmark};
use tamma_bench_core::queue::worker::JobFailure;
use tamma_bench_core::queue::{JobKind, NewJob};
use tamma_bench_optimize::{OptimizeError, SearchSpace, StrategyKind};
use tamma_bench_plugin::host::PluginDirs;
use tamma_bench_privacy::credentials::{CredentialError, CredentialErrorKind};

/// The payload version this build writes and reads.
pub const PAYLOAD_VERSION: u32 = 1;

/// A benchmark run to queue: everything a worker needs to run (or resume) it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunJob {
    /// [`PAYLOAD_VERSION`].
    pub version: u32,
    /// The benchmark, loaded and validated at submission (cases inline).
    pub benchmark: Benchmark,
    /// The manifest's folder: a judge's relative paths resolve against it.
    pub benchmark_dir: PathBuf,
    /// The agents file the agents came from (named in error messages).
    pub agents_file: PathBuf,
    /// The agents, in file order.
    pub agents: Vec<AgentConfig>,
    /// The agents file's folder: relative paths in agent configurations (a replay
    /// recording, a `record` file) resolve against it.
    pub base_dir: PathBuf,
    /// Plugin folders, searched in order.
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
    /// Epochs (`None`: the benchmark's).
    #[serde(default)]
    pub epochs: Option<u32>,
    /// Trials in flight at once, over all agents.
    pub concurrency: usize,
    /// Stop scheduling when the remaining budget (USD) cannot cover the next trial.
    #[serde(default)]
    pub budget_usd: Option<f64>,
}

impl RunJob {
    /// Loads the benchmark manifest and the agents file as `tamma-bench run` does
    /// (plugin folders of `plugin_dirs`, then the agents file's `plugin_dir`; generated
    /// cases are generated now), checks the agents against the benchmark, and makes every
    /// path absolute. Epochs, concurrency (16) and budget are defaults; set the fields.
    pub fn from_files(
        benchmark_path: &Path,
        agents_path: &Path,
        plugin_dirs: &[PathBuf],
    ) -> Result<Self, JobError> {
        let benchmark_path = absolute(benchmark_path)?;
        let agents_path = absolute(agents_path)?;
        let loaded = load_agents(&agents_path)?;
        let mut dirs = Vec::new();
        for dir in plugin_dirs.iter().chain(&loaded.plugin_dir) {
            // A folder that does not exist yet is not an error until a plugin is looked up.
            dirs.push(std::path::absolute(dir).map_err(|e| {
                LoadError::new(LoadErrorKind::Io, dir, None, None, e.to_string()).with_source(e)
            })?);
        }
        let plugins = PluginDirs::new(dirs.iter().cloned());
        let benchmark = load_benchmark_with(&benchmark_path, Some(&PluginCases(&plugins)))?;
        check_agents_against(&loaded, &benchmark)?;
        Ok(Self {
            version: PAYLOAD_VERSION,
            benchmark,
            benchmark_dir: parent(&benchmark_path),
            agents_file: agents_path,
            agents: loaded.agents,
            base_dir: absolute(&loaded.base_dir)?,
            plugin_dirs: dirs,
            epochs: None,
            concurrency: 16,
            budget_usd: None,
        })
    }

    /// The job to submit: kind `run`, this payload, the queue's defaults otherwise.
    pub fn to_new_job(&self) -> Result<NewJob, JobError> {
        let payload = serde_json::to_value(self).map_err(JobError::Payload)?;
        Ok(NewJob::new(JobKind::Run, payload))
    }

    /// Reads a payload, refusing other versions.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, JobError> {
        decode(payload)
    }

    /// The agents as the provider builder reads them (from [`Self::agents_file`]).
    pub fn loaded_agents(&self) -> LoadedAgents {
        LoadedAgents {
            path: self.agents_file.clone(),
            base_dir: self.base_dir.clone(),
            agents: self.agents.clone(),
            lines: Vec::new(),
            plugin_dir: None,
        }
    }
}

/// An optimization study to queue (internal contexts only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyJob {
    /// [`PAYLOAD_VERSION`].
    pub version: u32,
    /// The benchmark (cases inline).
    pub benchmark: Benchmark,
    /// The search space.
    pub space: SearchSpace,
    /// The space file's folder: relative paths of the configurations resolve against it.
    pub base_dir: PathBuf,
    /// Overrides the space's budget (USD).
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Overrides the space's strategy.
    #[serde(default)]
    pub strategy: Option<StrategyKind>,
    /// The configuration in production, to compare against.
    #[serde(default)]
    pub incumbent: Option<String>,
    /// Trials in flight at once.
    pub concurrency: usize,
}

impl StudyJob {
    /// Loads the benchmark and the search space (checking that its configurations
    /// expand) and makes the paths absolute. Budget, strategy and incumbent are unset,
    /// concurrency 16; set the fields.
    pub fn from_files(benchmark_path: &Path, space_path: &Path) -> Result<Self, JobError> {
        let benchmark_path = absolute(benchmark_path)?;
        let space_path = absolute(space_path)?;
        let benchmark = load_benchmark_with(&benchmark_path, None)?;
        let space = SearchSpace::load(&space_path)?;
        space.candidates()?;
        Ok(Self {
            version: PAYLOAD_VERSION,
            benchmark,
            space,
            base_dir: parent(&space_path),
            budget_usd: None,
            strategy: None,
            incumbent: None,
            concurrency: 16,
        })
    }

    /// The job to submit: kind `study`, this payload.
    pub fn to_new_job(&self) -> Result<NewJob, JobError> {
        let payload = serde_json::to_value(self).map_err(JobError::Payload)?;
        Ok(NewJob::new(JobKind::Study, payload))
    }

    /// Reads a payload, refusing other versions.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, JobError> {
        decode(payload)
    }
}

/// Checks the payload's `version`, then decodes it.
fn decode<T: serde::de::DeserializeOwned>(payload: &serde_json::Value) -> Result<T, JobError> {
    let found = payload.get("version").and_then(serde_json::Value::as_u64);
    if found != Some(u64::from(PAYLOAD_VERSION)) {
        return Err(JobError::UnsupportedVersion { found });
    }
    T::deserialize(payload).map_err(JobError::Payload)
}

/// `path` made absolute (and its links resolved); it must exist.
fn absolute(path: &Path) -> Result<PathBuf, JobError> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::fs::canonicalize(path).map_err(|e| {
        JobError::Load(
            LoadError::new(LoadErrorKind::Io, path, None, None, e.to_string()).with_source(e),
        )
    })
}

/// The folder of an absolute file path.
fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// What kind of job problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobErrorKind {
    /// The payload's version is not [`PAYLOAD_VERSION`] (a newer or older submitter).
    UnsupportedVersion,
    /// The payload does not decode (a field missing or of the wrong type).
    Payload,
    /// An input file, or an agent's provider, is invalid.
    Load,
    /// The search space or the study is invalid, or an evaluation failed.
    Study,
    /// A credential an agent or judge of an external job names could not be opened for
    /// its tenant (not stored, no data keys, or storage down).
    Credential,
}

/// Why a job could not be prepared or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The payload's version is not the one this build reads.
    #[error(
        "job payload version {} is not supported: this build reads version {PAYLOAD_VERSION}",
        found.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
    )]
    UnsupportedVersion {
        /// The version found, if any.
        found: Option<u64>,
    },
    /// The payload does not decode (or encode).
    #[error("invalid job payload: {0}")]
    Payload(#[source] serde_json::Error),
    /// An input file, or building an agent's provider.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The search space or the study.
    #[error(transparent)]
    Study(#[from] OptimizeError),
    /// The key an agent (or a judge) of an external job names could not be opened from
    /// its tenant's credentials. The message names the agent and the credential, never a
    /// value.
    #[error("agent {agent:?}: {source}{}", credential_hint(*defaulted, provider, source))]
    Credential {
        /// The agent (or judge).
        agent: String,
        /// Its provider kind.
        provider: String,
        /// Whether the name is the provider's default (the agent names none).
        defaulted: bool,
        /// Why the credential could not be opened.
        #[source]
        source: CredentialError,
    },
}

/// What to do about a credential that is not stored.
fn credential_hint(defaulted: bool, provider: &str, source: &CredentialError) -> String {
    if source.kind() != CredentialErrorKind::NotFound {
        return String::new();
    }
    if defaulted {
        format!(
            " (the {provider} provider's default key name: store the credential, or name the \
             credential that holds the key in `api_key_env`)"
        )
    } else {
        " (named by `api_key_env`: store the credential for this tenant; a tenant's job reads \
         keys from its credentials only, never from the worker's environment)"
            .to_owned()
    }
}

impl JobError {
    /// What kind of problem.
    pub fn kind(&self) -> JobErrorKind {
        match self {
            Self::UnsupportedVersion { .. } => JobErrorKind::UnsupportedVersion,
            Self::Payload(_) => JobErrorKind::Payload,
            Self::Load(_) => JobErrorKind::Load,
            Self::Study(_) => JobErrorKind::Study,
            Self::Credential { .. } => JobErrorKind::Credential,
        }
    }

    /// What a caller can do: fix the payload or the files; a study's own remedy (a failed
    /// evaluation may be retried); a credential's (store a missing one: no retry; retry
    /// when storage failed).
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::UnsupportedVersion { .. } | Self::Payload(_) => Remedy::FixInput,
            Self::Load(e) => e.remedy(),
            Self::Study(e) => e.remedy(),
            Self::Credential { source, .. } => source.remedy(),
        }
    }
}

impl From<JobError> for JobFailure {
    fn from(e: JobError) -> Self {
        JobFailure::new(e.to_string(), e.remedy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_versions_are_refused_with_a_typed_error() {
        for payload in [
            serde_json::json!({"version": 2}),
            serde_json::json!({"benchmark": {}}),
            serde_json::json!("not an object"),
        ] {
            let e = RunJob::from_payload(&payload).unwrap_err();
            assert_eq!(e.kind(), JobErrorKind::UnsupportedVersion, "{e}");
            assert_eq!(e.remedy(), Remedy::FixInput);
        }
        let e = StudyJob::from_payload(&serde_json::json!({"version": 1})).unwrap_err();
        assert_eq!(e.kind(), JobErrorKind::Payload, "{e}");
        let failure = JobFailure::from(e);
        assert_eq!(failure.remedy, Remedy::FixInput);
        assert!(
            failure.message.contains("invalid job payload"),
            "{failure:?}"
        );
    }
}
