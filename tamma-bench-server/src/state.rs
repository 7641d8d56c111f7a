//! What every handler shares: the tenant-aware repository, the job queue, the event log,
//! the audit log, the authenticator and the limiters, built from an opened database.

use crate::auth::{Authenticator, KeySetError};
use crate::config::ServerConfig;
use crate::limits::TierLimits;
use crate::metrics::Metrics;
use std::sync::Arc;
use tamma_bench::core::events::EventLog;
use tamma_bench::core::queue::{JobQueue, QueueConfig};
use tamma_bench::database::{DatabaseError, Opened};
use tamma_bench::privacy::audit::AuditLog;
use tamma_bench::privacy::{AgentConfigs, Repository};
use tokio_util::sync::CancellationToken;

/// The service's shared state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    repository: Repository,
    queue: Arc<dyn JobQueue>,
    events: Arc<dyn EventLog>,
    audit: Arc<AuditLog>,
    auth: Authenticator,
    limits: TierLimits,
    config: ServerConfig,
    metrics: Arc<Metrics>,
    closing: CancellationToken,
    agent_configs: Option<AgentConfigs>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("repository", &self.inner.repository)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The database's queue, event log, audit log or repository.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// A key set file.
    #[error(transparent)]
    KeySet(#[from] KeySetError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl AppState {
    /// The state over `opened`: its repository (audited, with the keys of the
    /// environment), its job queue configured with `queue` (the deployment's tiers: the
    /// same as the workers'), its event log and its audit log; the key sets of `config`
    /// read now.
    pub async fn open(
        opened: &Opened,
        queue: QueueConfig,
        config: &ServerConfig,
    ) -> Result<Self, StateError> {
        let repository = opened.repository()?;
        let queue = opened.queue(queue).await?;
        let events = opened.event_log().await?;
        let audit = opened.audit_log()?;
        let state = Self::new(repository, queue, events, audit, config)?;
        Ok(state.with_agent_configs(opened.agent_configs()?))
    }

    /// This state with the agent configuration registry the internal door serves
    /// (`/internal/v1/agent-configs`; without one those routes answer 503). Call it on
    /// the state just built, before it is cloned: a shared state is left as it is.
    pub fn with_agent_configs(mut self, configs: AgentConfigs) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.agent_configs = Some(configs);
        }
        self
    }

    /// The agent configuration registry, when the host gave one.
    pub fn agent_configs(&self) -> Option<&AgentConfigs> {
        self.inner.agent_configs.as_ref()
    }

    /// The state over parts a host built itself.
    pub fn new(
        repository: Repository,
        queue: Arc<dyn JobQueue>,
        events: Arc<dyn EventLog>,
        audit: Arc<AuditLog>,
        config: &ServerConfig,
    ) -> Result<Self, StateError> {
        config.validate()?;
        let auth = Authenticator::new(&config.auth, audit.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                repository,
                queue,
                events,
                audit,
                auth,
                limits: TierLimits::new(&config.limits),
                config: config.clone(),
                metrics: Arc::default(),
                closing: CancellationToken::new(),
                agent_configs: None,
            }),
        })
    }

    /// The tenant-aware repository: every read and write of results goes through it.
    pub fn repository(&self) -> &Repository {
        &self.inner.repository
    }

    /// The job queue: every submission goes through it, in the caller's context.
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.inner.queue
    }

    /// The event log.
    pub fn events(&self) -> &Arc<dyn EventLog> {
        &self.inner.events
    }

    /// The audit log.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.inner.audit
    }

    /// The authenticator of both doors.
    pub fn auth(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The request limiters.
    pub fn limits(&self) -> &TierLimits {
        &self.inner.limits
    }

    /// The configuration the state was built with.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The service's metrics (`/internal/v1/metrics`).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Cancelled when the service shuts down: long answers (event streams) end on it.
    pub fn closing(&self) -> &CancellationToken {
        &self.inner.closing
    }
}
