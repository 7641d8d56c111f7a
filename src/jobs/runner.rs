//! [`BenchmarkRunner`]: runs the jobs a worker claims through the executor, writing as
//! the job's tenant through the tenant-aware repository, with the keys the job's context
//! may use.

use super::{JobError, RunJob, StudyJob};
use crate::agents::{build_agents, judge_factory, judges};
use async_trait::async_trait;
use std::sync::Arc;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::subscribe::derived_event_id;
use tamma_bench_core::events::{EventId, EventLog, EventPayload, NewEvent};
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{AgentConfig, Benchmark, RunStatus, TenantContext, TenantId};
use tamma_bench_core::queue::worker::{JobFailure, JobRunner, RunEnd, Stop};
use tamma_bench_core::queue::{Job, JobKind};
use tamma_bench_core::store::ResponseCache;
use tamma_bench_optimize::host::{SpaceStudy, run_space_study};
use tamma_bench_optimize::source::RepositorySource;
use tamma_bench_plugin::host::PluginDirs;
use tamma_bench_privacy::credentials::{CredentialError, CredentialErrorKind, Credentials};
use tamma_bench_privacy::{InternalContext, Repository};
use tamma_bench_providers::http::SecretString;
use tamma_bench_providers::{KeySource, TenantKeys, build_provider, key_name};

/// Runs queued benchmark runs and studies.
///
/// A run job writes run `job.run_id` as the job's context, through
/// [`Repository::store_for`] (authorized, audited, sealed). Its run id is fixed at
/// submission, so an attempt after a worker died or drained resumes the run: the trials
/// already stored are skipped, none runs twice. A study job (internal contexts only)
/// is study `job.run_id`; its rounds (`ID-rROUND-gGROUP`) resume the same way.
///
/// **Keys.** The keys an agent (or a judge) names are looked up where the job's context
/// allows. A job of an **external** context (a customer's) reads them from its tenant's
/// credentials only ([`BenchmarkRunner::with_credentials`]), each name (`api_key_env`, or
/// the vendor's default name such as `OPENAI_API_KEY`) being a credential of that tenant;
/// the worker's environment is never read for it, and provider plugins are refused (a
/// plugin reads its key where it likes). A credential that is missing fails the job at
/// once, without a retry and before any call, naming the agent and the credential
/// ([`JobErrorKind::Credential`](super::JobErrorKind::Credential)). A job of an
/// **internal** context (the platform's own) reads the process environment, as the CLI
/// does, and no credentials: one place for the platform's keys, so which key an internal
/// job used never depends on what a tenant stored.
#[derive(Clone)]
pub struct BenchmarkRunner {
    repo: Repository,
    cache: Option<CacheSource>,
    events: Option<Arc<dyn EventLog>>,
    credentials: Option<Credentials>,
}

/// The response cache a job of a tenant uses: one for all (a file keyed by tenant), or
/// one handle per tenant (a backend that scopes rows by tenant, such as Postgres).
pub type CacheSource = Arc<dyn Fn(&TenantId) -> Arc<dyn ResponseCache> + Send + Sync>;

impl BenchmarkRunner {
    /// A runner writing through `repo`, without a response cache (a job whose agent asks
    /// for one fails with [`Remedy::FixInput`]).
    pub fn new(repo: Repository) -> Self {
        Self {
            repo,
            cache: None,
            events: None,
            credentials: None,
        }
    }

    /// Reads the keys of external jobs from `credentials` (their tenants' own). Without
    /// it, an external job whose agents need a key fails (it never falls back to the
    /// environment).
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Gives agents with `[agent.layers.cache]` this response cache, whatever the tenant.
    pub fn with_cache(self, cache: Arc<dyn ResponseCache>) -> Self {
        self.with_cache_per_tenant(Arc::new(move |_: &TenantId| cache.clone()))
    }

    /// Gives agents with `[agent.layers.cache]` the cache `source` returns for the job's
    /// tenant.
    pub fn with_cache_per_tenant(mut self, source: CacheSource) -> Self {
        self.cache = Some(source);
        self
    }

    /// Logs an `optimization.completed` event (internal) into `events` when a study job
    /// ends with its recommendation. (Runs and jobs log their own events in the
    /// transactions of their changes.)
    pub fn with_events(mut self, events: Arc<dyn EventLog>) -> Self {
        self.events = Some(events);
        self
    }

    async fn run_benchmark(&self, job: &Job, stop: Stop) -> Result<RunEnd, JobFailure> {
        let payload = RunJob::from_payload(&job.payload)?;
        let plugins = PluginDirs::new(payload.plugin_dirs.iter().cloned());
        let cache = self
            .cache
            .as_ref()
            .map(|source| source(&job.context.tenant_id));
        let keys = self
            .key_source(&job.context, &payload.agents, &payload.benchmark)
            .await?;
        let built = build_agents(&payload.loaded_agents(), cache, &plugins, &keys)
            .map_err(JobError::from)?;
        let executor = Executor::new(Arc::new(self.repo.store_for(&job.context)));
        let options = RunOptions {
            run_id: Some(job.run_id.clone()),
            epochs: payload.epochs,
            concurrency: payload.concurrency.max(1),
            budget_usd: payload.budget_usd,
            cancel: stop.token(),
            providers: Some(judge_factory(&payload.benchmark_dir, &plugins, keys)),
            ..RunOptions::default()
        };
        let report = executor
            .run(
                &job.context,
                &payload.benchmark,
                built.runtimes.clone(),
                options,
            )
            .await
            .map_err(|e| JobFailure::new(e.to_string(), e.remedy()))?;
        built
            .store_adaptive_history(
                executor.store().as_ref(),
                &job.context.tenant_id,
                &report.run.id,
            )
            .await
            .map_err(|e| JobFailure::new(e.to_string(), e.remedy()))?;
        match report.run.status {
            RunStatus::Completed | RunStatus::BudgetExhausted => Ok(RunEnd::Finished),
            RunStatus::Interrupted => Ok(RunEnd::Stopped),
            other => Err(JobFailure::new(
                format!("run {} ended {}", report.run.id, other.as_str()),
                Remedy::Retry,
            )),
        }
    }

    /// Where the keys of `cx`'s job come from: the process environment for an internal
    /// context; for an external one, the credentials its agents and judges name, opened
    /// for its tenant now (building providers is synchronous), and nothing else.
    async fn key_source(
        &self,
        cx: &TenantContext,
        agents: &[AgentConfig],
        benchmark: &Benchmark,
    ) -> Result<KeySource, JobError> {
        if cx.is_internal() {
            return Ok(KeySource::ProcessEnv);
        }
        let mut keys = TenantKeys::new();
        for agent in agents.iter().chain(judges(benchmark)) {
            let Some(name) = key_name(agent) else {
                continue;
            };
            if keys.names().any(|n| n == name) {
                continue;
            }
            let opened = match &self.credentials {
                Some(credentials) => credentials.open_for_worker(cx, name).await,
                None => Err(CredentialError::new(
                    CredentialErrorKind::Key,
                    format!(
                        "credential {name:?} cannot be opened: this worker has no credential \
                         store, and a tenant's job reads its keys from its credentials only"
                    ),
                )),
            };
            let secret = opened.map_err(|source| JobError::Credential {
                agent: agent.name.clone(),
                provider: agent.provider.clone(),
                defaulted: agent.api_key_env.is_none(),
                source,
            })?;
            keys.insert(name, SecretString::new(secret.expose()));
        }
        Ok(KeySource::Tenant(keys))
    }

    async fn run_study(&self, job: &Job, stop: Stop) -> Result<RunEnd, JobFailure> {
        let payload = StudyJob::from_payload(&job.payload)?;
        let icx = InternalContext::new(job.context.clone()).map_err(|e| {
            JobFailure::new(
                format!("a study reads agent configurations and costs: it needs an internal context ({e})"),
                Remedy::FixInput,
            )
        })?;
        let mut space = payload.space;
        if let Some(s) = payload.strategy {
            space.strategy = Some(s);
        }
        let mut agents = Vec::new();
        for candidate in space.candidates().map_err(JobError::from)? {
            let provider = build_provider(&candidate.config, &payload.base_dir).map_err(|e| {
                JobFailure::new(
                    format!("configuration {}: {e}", candidate.config.name),
                    Remedy::FixInput,
                )
            })?;
            agents.push(AgentRuntime::new(candidate.config, provider));
        }
        let executor = Arc::new(Executor::new(Arc::new(self.repo.store_for_study(&icx))));
        let source = Arc::new(
            RepositorySource::for_context(self.repo.clone(), job.context.clone())
                .map_err(JobError::from)?,
        );
        let study = SpaceStudy {
            id: job.run_id.clone(),
            space,
            agents,
            benchmark: payload.benchmark,
            budget_usd: payload.budget_usd,
            log: None,
            incumbent: payload.incumbent,
            run_options: RunOptions {
                concurrency: payload.concurrency.max(1),
                cancel: stop.token(),
                ..RunOptions::default()
            },
        };
        let result = run_space_study(executor, source, job.context.clone(), study, None).await;
        // A stopped study's rounds are partly stored; the next attempt replays the same
        // rounds (same id and seed) and their runs resume.
        if stop.reason().is_some() {
            return Ok(RunEnd::Stopped);
        }
        let report = result.map_err(JobError::from)?;
        if let Some(events) = &self.events {
            let r = &report.report.recommendation;
            let mut event = NewEvent::new(
                Some(job.context.tenant_id.clone()),
                EventPayload::OptimizationCompleted {
                    study_id: report.study.clone(),
                    recommendation: r.configuration.clone(),
                    certified: r.certified,
                },
            );
            // One event per study however often the job is retried after this point.
            event.id = derived_event_id(
                &EventId::from_stored(job.id.to_string()),
                "optimization.completed",
                &report.study,
            );
            events
                .append(vec![event])
                .await
                .map_err(|e| JobFailure::new(e.to_string(), e.remedy()))?;
        }
        Ok(RunEnd::Finished)
    }
}

#[async_trait]
impl JobRunner for BenchmarkRunner {
    async fn run(&self, job: &Job, stop: Stop) -> Result<RunEnd, JobFailure> {
        match job.kind {
            JobKind::Run => self.run_benchmark(job, stop).await,
            JobKind::Study => self.run_study(job, stop).await,
        }
    }
}
