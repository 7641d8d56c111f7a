//! The executor: runs agent × case × epoch trials with bounded concurrency, retries,
//! timeouts, a cost budget and cancellation, and streams the records into a store in
//! batches.
//!
//! Retries live in one layer ([`RetryLayer`](crate::provider::layer::RetryLayer)): a
//! trial calls its agent's provider stack once. A stack that retries itself (an agent's
//! `[agent.layers.retry]`) is called as it is; any other is wrapped in the run's
//! [`RunOptions::retry`] over a per-attempt [`RunOptions::attempt_timeout`]. So a trial
//! makes at most `max_attempts` calls of the one retry layer in its stack (5 by
//! default), never the product of two, and all within [`RunOptions::trial_timeout`].
//!
//! Before any call, a run whose benchmark or agent needs what the agent's provider lacks
//! ([`Provider::capabilities`]: tools for cases with tool calls, a seed) is refused with
//! [`RunError::Unsupported`].
//!
//! Memory stays bounded by the concurrency and the batch size: the plan is an iterator,
//! trials in flight are at most `concurrency`, and finished trials wait in at most two
//! batches before they are written. Resume: the keys already stored are skipped.

mod budget;
mod events;
mod stack;
mod trial;

pub use crate::provider::layer::RetryPolicy;
pub use events::RunEvent;

use crate::load::Template;
use crate::model::{
    AgentConfig, Benchmark, Case, Run, RunStatus, RunSummary, TenantContext, Trial, TrialKey,
    now_ms, sha256_hex,
};
use crate::provider::{Capability, CompletionRequest, Provider};
use crate::scorer::{ScoreError, Scorer};
use crate::store::{BeginRun, ResultStore, StoreError, StoreErrorKind};
use budget::Budget;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use trial::{PreparedAgent, TrialEnv, estimate_input_tokens, run_trial};

/// An agent configuration with the provider that serves it.
#[derive(Clone)]
pub struct AgentRuntime {
    /// The configuration (stored with the run; holds no key).
    pub config: AgentConfig,
    /// The provider, with whatever layers the host wrapped around it.
    pub provider: Arc<dyn Provider>,
}

impl AgentRuntime {
    /// Pairs a configuration with its provider.
    pub fn new(config: AgentConfig, provider: Arc<dyn Provider>) -> Self {
        Self { config, provider }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run id; a new one is made when `None`. An existing id resumes that run.
    pub run_id: Option<String>,
    /// Epochs; the benchmark's default when `None`.
    pub epochs: Option<u32>,
    /// Trials in flight at once, over all agents.
    pub concurrency: usize,
    /// Cap on trials in flight per provider kind (`openai`, `replay`, ...), in addition to
    /// the global cap and each agent's own `concurrency`.
    pub provider_concurrency: HashMap<String, usize>,
    /// Limit of one call attempt of the executor's own retry (for providers that do not
    /// retry themselves; a stack with its own retry layer bounds its attempts with its
    /// own `timeout_ms` or retry `deadline_ms`). `Duration::MAX` is no limit.
    pub attempt_timeout: Duration,
    /// Limit of a whole trial, retries and waits included, whatever the stack.
    /// `Duration::MAX` is no limit.
    pub trial_timeout: Duration,
    /// Retries of retryable provider errors, for agents whose provider does not retry
    /// itself ([`Capabilities::retries`](crate::provider::Capabilities::retries)); a
    /// provider that does is never retried again.
    pub retry: RetryPolicy,
    /// Stop scheduling when the remaining budget (USD) cannot cover the next trial at
    /// the agent's prices.
    pub budget_usd: Option<f64>,
    /// Output tokens assumed for the budget when an agent sets no `max_tokens`.
    pub default_max_tokens: u32,
    /// Trials written per store transaction.
    pub batch_size: usize,
    /// Cancel to stop scheduling: in-flight trials finish and are written, and the run
    /// is marked interrupted.
    pub cancel: CancellationToken,
    /// Builds the providers of scorers that call models (judges).
    pub providers: Option<SharedFactory>,
}

/// A shared [`ProviderFactory`](crate::provider::ProviderFactory).
#[derive(Clone)]
pub struct SharedFactory(pub Arc<dyn crate::provider::ProviderFactory>);

impl std::fmt::Debug for SharedFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedFactory")
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            run_id: None,
            epochs: None,
            concurrency: 16,
            provider_concurrency: HashMap::new(),
            attempt_timeout: Duration::from_secs(120),
            trial_timeout: Duration::from_secs(600),
            retry: RetryPolicy::default(),
            budget_usd: None,
            default_max_tokens: 4096,
            batch_size: 256,
            cancel: CancellationToken::new(),
            providers: None,
        }
    }
}

/// What an execution did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run as stored at the end.
    pub run: Run,
    /// Its summary, from all its stored trials.
    pub summary: RunSummary,
    /// Trials executed and written now.
    pub written: u64,
    /// Trials skipped because they were stored by an earlier execution.
    pub skipped: u64,
    /// USD spent now.
    pub spent_usd: f64,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The store failed or refused (fingerprint mismatch, run id in use).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A scorer's configuration is invalid.
    #[error(transparent)]
    Scorer(#[from] ScoreError),
    /// The set-up is invalid (no agents, duplicate names, zero epochs, bad template).
    #[error("invalid run: {0}")]
    Invalid(String),
    /// An agent's provider lacks a capability the run needs (checked before any call).
    #[error(
        "agent {agent:?}: provider {provider:?} does not support {capability}, which this run needs"
    )]
    Unsupported {
        /// The agent.
        agent: String,
        /// Its provider's name.
        provider: String,
        /// What it lacks.
        capability: Capability,
    },
}

impl RunError {
    /// What a caller can do: the store's or the scorer's remedy; fix an invalid set-up or
    /// an agent whose provider cannot do what the run needs.
    pub fn remedy(&self) -> crate::error::Remedy {
        match self {
            Self::Store(e) => e.remedy(),
            Self::Scorer(e) => e.remedy(),
            Self::Invalid(_) | Self::Unsupported { .. } => crate::error::Remedy::FixInput,
        }
    }
}

/// Runs benchmarks into a store and publishes [`RunEvent`]s.
pub struct Executor {
    store: Arc<dyn ResultStore>,
    events: broadcast::Sender<RunEvent>,
}

impl Executor {
    /// An executor writing into `store`.
    pub fn new(store: Arc<dyn ResultStore>) -> Self {
        Self {
            store,
            events: broadcast::channel(4096).0,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ResultStore> {
        &self.store
    }

    /// Subscribes to events. A subscriber that falls more than 4,096 events behind
    /// receives `Lagged` and continues from the newest.
    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: impl FnOnce() -> RunEvent) {
        emit(&self.events, event);
    }

    /// Runs (or resumes) `benchmark` with `agents` as `cx`'s tenant.
    pub async fn run(
        &self,
        cx: &TenantContext,
        benchmark: &Benchmark,
        agents: Vec<AgentRuntime>,
        options: RunOptions,
    ) -> Result<RunReport, RunError> {
        let prepared = prepare_agents(benchmark, agents, &options)?;
        let scorers: Arc<[Arc<dyn Scorer>]> = benchmark
            .scorers
            .iter()
            .map(|s| s.build_with(options.providers.as_ref().map(|f| f.0.as_ref())))
            .collect::<Result<Vec<_>, _>>()?
            .into();
        let epochs = options.epochs.unwrap_or(benchmark.epochs);
        if epochs == 0 {
            return Err(RunError::Invalid("epochs must be at least 1".into()));
        }
        if let Some(id) = &options.run_id {
            validate_run_id(id)?;
        }
        let run = new_run(cx, benchmark, &prepared, epochs, options.run_id.clone());
        let done: HashSet<TrialKey> = match self.store.begin_run(&run).await? {
            BeginRun::Created => HashSet::new(),
            BeginRun::Resumed(_) => self.store.completed_keys(&cx.tenant_id, &run.id).await?,
        };
        let run_id: Arc<str> = run.id.as_str().into();
        let total = (prepared.len() * benchmark.cases.len()) as u64 * u64::from(epochs);
        let skipped = done.len() as u64;
        let planned = total.saturating_sub(skipped);
        self.emit(|| RunEvent::RunStarted {
            run_id: run_id.clone(),
            planned,
            already_done: skipped,
        });
        tracing::info!(run = %run.id, planned, skipped, "run started");

        let env = Arc::new(TrialEnv::from_options(
            run_id.clone(),
            cx.tenant_id.clone(),
            scorers,
            &options,
        ));
        let budget = Arc::new(Budget::new(options.budget_usd));
        let cases: Arc<[Arc<Case>]> = benchmark.cases.iter().cloned().map(Arc::new).collect();
        let prepared: Arc<[Arc<PreparedAgent>]> = prepared.into();

        // The plan: epoch-major, then case, then agent, so partial runs stay balanced
        // across agents. Lazily generated; reservation in the budget happens when a
        // trial is pulled, i.e. scheduled.
        let (n_cases, n_agents) = (cases.len(), prepared.len());
        let plan = (0..epochs)
            .flat_map(move |e| {
                (0..n_cases).flat_map(move |c| (0..n_agents).map(move |a| (e, c, a)))
            })
            .filter({
                let (prepared, cases) = (prepared.clone(), cases.clone());
                move |&(e, c, a)| {
                    done.is_empty()
                        || !done.contains(&TrialKey::new(&prepared[a].config.name, &cases[c].id, e))
                }
            })
            .map_while({
                let (cancel, budget) = (options.cancel.clone(), budget.clone());
                let default_max_tokens = options.default_max_tokens;
                move |(e, c, a)| {
                    if cancel.is_cancelled() {
                        return None;
                    }
                    let agent = prepared[a].clone();
                    let case = cases[c].clone();
                    let request = match agent.request(&case) {
                        Ok(r) => r,
                        // Templates were checked at load; a failure here is reported as a
                        // scorer-independent trial failure rather than a panic.
                        Err(m) => return Some(Err((agent, case, e, m))),
                    };
                    let worst = agent
                        .config
                        .max_cost_usd(estimate_input_tokens(&request), default_max_tokens)
                        .unwrap_or(0.0);
                    if !budget.reserve(worst) {
                        return None;
                    }
                    Some(Ok((agent, case, e, request, worst)))
                }
            });

        let (tx, rx) = mpsc::channel::<Vec<Trial>>(2);
        let writer = tokio::spawn(write_batches(self.store.clone(), rx));
        let drive = Drive {
            env,
            budget: budget.clone(),
            events: self.events.clone(),
            run_id: run_id.clone(),
            planned,
            concurrency: options.concurrency.max(1),
            batch_size: options.batch_size.max(1),
            cancel: options.cancel.clone(),
        };
        // The trials are driven from a task of their own, so that each trial is spawned
        // from a worker thread onto that worker's queue rather than from the caller's
        // thread (usually `block_on`), which would wake a worker for every trial.
        let mut driver = AbortOnDrop(tokio::spawn(
            drive.run(plan, tx).instrument(tracing::Span::current()),
        ));
        match (&mut driver.0).await {
            Ok(()) => {}
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                return Err(RunError::Store(
                    StoreError::new(StoreErrorKind::Backend, format!("run task failed: {e}"))
                        .with_source(e),
                ));
            }
        }
        let written = match writer.await {
            Ok(r) => r?,
            Err(e) => {
                return Err(RunError::Store(
                    StoreError::new(StoreErrorKind::Backend, format!("writer task failed: {e}"))
                        .with_source(e),
                ));
            }
        };

        let status = if options.cancel.is_cancelled() {
            RunStatus::Interrupted
        } else if budget.exhausted() {
            RunStatus::BudgetExhausted
        } else {
            RunStatus::Completed
        };
        self.store
            .set_run_status(&cx.tenant_id, &run.id, status)
            .await?;
        let run = self
            .store
            .get_run(&cx.tenant_id, &run.id)
            .await?
            .ok_or_else(|| StoreError::run_not_found(&run.id))?;
        let summary = crate::summary::summarize(self.store.as_ref(), &run).await?;
        self.emit(|| RunEvent::RunFinished {
            run_id: run_id.clone(),
            status,
        });
        tracing::info!(run = %run.id, status = status.as_str(), written, "run finished");
        Ok(RunReport {
            run,
            summary,
            written,
            skipped,
            spent_usd: budget.spent(),
        })
    }
}

/// Sends an event when someone listens (building it costs clones).
fn emit(events: &broadcast::Sender<RunEvent>, event: impl FnOnce() -> RunEvent) {
    if events.receiver_count() > 0 {
        let _ = events.send(event());
    }
}

/// A trial pulled from the plan: ready to run with its request and budget reservation,
/// or failed to render its prompt.
type Scheduled = Result<
    (Arc<PreparedAgent>, Arc<Case>, u32, CompletionRequest, f64),
    (Arc<PreparedAgent>, Arc<Case>, u32, String),
>;

/// What the task that drives the trials of one execution needs.
struct Drive {
    env: Arc<TrialEnv>,
    budget: Arc<Budget>,
    events: broadcast::Sender<RunEvent>,
    run_id: Arc<str>,
    planned: u64,
    concurrency: usize,
    batch_size: usize,
    cancel: CancellationToken,
}

impl Drive {
    /// Runs the planned trials, at most `concurrency` at a time and each as its own task,
    /// and sends the finished ones to the writer in batches.
    async fn run(
        self,
        plan: impl Iterator<Item = Scheduled> + Send + 'static,
        tx: mpsc::Sender<Vec<Trial>>,
    ) {
        let Self {
            env,
            budget,
            events,
            run_id,
            planned,
            concurrency,
            batch_size,
            cancel,
        } = self;
        let mut batch = Vec::with_capacity(batch_size);
        let mut finished = 0u64;
        let mut results = futures::stream::iter(plan)
            .map(|item| {
                let env = env.clone();
                let budget = budget.clone();
                async move {
                    match item {
                        Ok((agent, case, epoch, request, worst)) => {
                            let trial = tokio::spawn(run_trial(env, agent, case, epoch, request))
                                .await
                                .unwrap_or_else(|e| {
                                    tracing::error!("trial task failed: {e}");
                                    None
                                });
                            // A cache hit costs nothing now, whatever it cost when it was recorded.
                            let spent = trial
                                .as_ref()
                                .filter(|t| !t.cache_hit)
                                .map_or(0.0, |t| t.cost_usd);
                            budget.settle(worst, spent);
                            trial
                        }
                        Err((agent, case, epoch, message)) => Some(template_failure(
                            &env,
                            &agent.config.name,
                            &case,
                            epoch,
                            message,
                        )),
                    }
                }
            })
            .buffer_unordered(concurrency);
        let mut write_failed = false;
        while let Some(result) = results.next().await {
            let Some(trial) = result else { continue };
            finished += 1;
            emit(&events, || RunEvent::TrialCompleted {
                run_id: run_id.clone(),
                key: trial.key.clone(),
                outcome: trial.outcome.kind_name(),
                score: trial.outcome.headline(),
                done: finished,
                planned,
            });
            batch.push(trial);
            if batch.len() >= batch_size
                && tx
                    .send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(batch_size),
                    ))
                    .await
                    .is_err()
            {
                write_failed = true;
                cancel.cancel();
            }
        }
        drop(results);
        if !batch.is_empty() && !write_failed {
            let _ = tx.send(batch).await;
        }
    }
}

/// Aborts a task when dropped: dropping [`Executor::run`] stops scheduling trials, as it
/// would if the trials were driven by the caller's own task.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes batches until the channel closes; returns the number of trials inserted.
async fn write_batches(
    store: Arc<dyn ResultStore>,
    mut rx: mpsc::Receiver<Vec<Trial>>,
) -> Result<u64, StoreError> {
    let mut inserted = 0;
    while let Some(batch) = rx.recv().await {
        inserted += store.append_trials(batch).await?.inserted;
    }
    Ok(inserted)
}

fn template_failure(
    env: &TrialEnv,
    agent: &str,
    case: &Case,
    epoch: u32,
    message: String,
) -> Trial {
    Trial {
        run_id: env.run_id.to_string(),
        tenant_id: env.tenant_id.clone(),
        key: TrialKey::new(agent, case.id.clone(), epoch),
        cluster: case.cluster.clone(),
        tags: case.tags.clone(),
        outcome: crate::model::Outcome::InfraFailure {
            error: crate::provider::ProviderErrorKind::InvalidRequest,
            message,
        },
        output: None,
        usage: Default::default(),
        latency_ms: 0.0,
        cost_usd: 0.0,
        attempts: 0,
        cache_hit: false,
        finished_at_ms: now_ms(),
    }
}

fn prepare_agents(
    benchmark: &Benchmark,
    agents: Vec<AgentRuntime>,
    options: &RunOptions,
) -> Result<Vec<Arc<PreparedAgent>>, RunError> {
    if agents.is_empty() {
        return Err(RunError::Invalid("no agents".into()));
    }
    let uses_tools = stack::uses_tools(benchmark);
    let mut names = HashSet::new();
    let mut provider_limits: HashMap<String, Arc<Semaphore>> = HashMap::new();
    agents
        .into_iter()
        .map(|a| {
            if !names.insert(a.config.name.clone()) {
                return Err(RunError::Invalid(format!(
                    "duplicate agent name {:?}",
                    a.config.name
                )));
            }
            stack::check(uses_tools, &a.config, a.provider.as_ref())?;
            let parse = |field: &str, src: &str| {
                Template::parse(src).map_err(|m| {
                    RunError::Invalid(format!("agent {:?} {field}: {m}", a.config.name))
                })
            };
            let system = a
                .config
                .system
                .as_deref()
                .or(benchmark.system.as_deref())
                .map(|s| parse("system", s))
                .transpose()?;
            let prompt = parse(
                "prompt",
                a.config.prompt.as_deref().unwrap_or(&benchmark.prompt),
            )?;
            let provider_cap = options
                .provider_concurrency
                .get(&a.config.provider)
                .copied();
            let cap = [
                Some(options.concurrency),
                provider_cap,
                a.config.concurrency,
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(options.concurrency)
            .max(1);
            // Agents of one provider share its cap; an agent's own cap narrows it further.
            let limit = match (provider_cap, a.config.concurrency) {
                (Some(_), None) => provider_limits
                    .entry(a.config.provider.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(cap)))
                    .clone(),
                _ => Arc::new(Semaphore::new(cap)),
            };
            Ok(Arc::new(PreparedAgent {
                config: a.config,
                provider: stack::stack(a.provider, options),
                system,
                prompt,
                limit,
            }))
        })
        .collect()
}

fn new_run(
    cx: &TenantContext,
    benchmark: &Benchmark,
    agents: &[Arc<PreparedAgent>],
    epochs: u32,
    run_id: Option<String>,
) -> Run {
    let configs: Vec<AgentConfig> = agents.iter().map(|a| a.config.clone()).collect();
    // What a trial means: the benchmark and each agent's semantic configuration (how
    // the calls are paced, cached or retried does not change it).
    let semantic: Vec<AgentConfig> = configs.iter().map(AgentConfig::semantic).collect();
    let fingerprint = sha256_hex(
        format!(
            "{}\n{}",
            benchmark.fingerprint(),
            serde_json::to_string(&semantic).unwrap_or_default()
        )
        .as_bytes(),
    );
    let now = now_ms();
    Run {
        id: run_id.unwrap_or_else(|| new_run_id(&benchmark.id, now)),
        tenant_id: cx.tenant_id.clone(),
        benchmark_id: benchmark.id.clone(),
        benchmark_version: benchmark.version.clone(),
        visibility: benchmark.visibility,
        fingerprint,
        agents: configs,
        epochs,
        n_cases: benchmark.cases.len() as u64,
        status: RunStatus::Running,
        created_at_ms: now,
        updated_at_ms: now,
    }
}

/// `BENCHMARK-YYYYMMDDTHHMMSS-XXXX`: sortable, readable, unique enough for one tenant.
fn new_run_id(benchmark: &str, now_ms: i64) -> String {
    let compact: String = crate::model::utc_rfc3339(now_ms)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let suffix: u16 = rand::random();
    format!("{benchmark}-{}-{suffix:04x}", compact.trim_end_matches('Z'))
}

/// Checks a caller-given run id: 1-128 characters of `[A-Za-z0-9._:-]` (safe in paths,
/// shells and `RUN/AGENT` references).
pub fn validate_run_id(id: &str) -> Result<(), RunError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok {
        Ok(())
    } else {
        Err(RunError::Invalid(format!(
            "run id {id:?}: expected 1-128 characters of [A-Za-z0-9._:-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_carry_the_utc_date() {
        // 2026-11-25T19:20:09Z
        let id = super::new_run_id("b", 1_795_634_409_000);
        assert!(id.starts_with("b-20261125T192009-"), "{id}");
    }
}
