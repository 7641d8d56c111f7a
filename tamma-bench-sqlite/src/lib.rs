//! The embedded SQLite backend of tamma-bench: one file, no server.
//!
//! Every line of SQL for SQLite lives here; core defines the storage contracts and knows
//! no database. The results database holds runs, trials and run annotations
//! ([`SqliteStore`]) and the append-only audit log ([`SqliteAuditStore`]), under one list
//! of versioned migrations (`PRAGMA user_version` counts those applied, so a database
//! written by an earlier release opens and migrates). The providers' response cache
//! ([`SqliteResponseCache`]) lives in a file of its own by default
//! ([`DEFAULT_CACHE_FILE`] beside the results).
//!
//! The results database also holds the durable job queue ([`SqliteQueue`], tables `jobs`
//! and `job_events`): workers of one machine, in one process or several, claim from it
//! under leases. Each claim, heartbeat, finish and cancel is one `BEGIN IMMEDIATE`
//! transaction, so a tier's concurrency holds across processes. A waiting worker wakes
//! at once for work submitted (or a slot freed) in its own process, and finds the work of
//! other processes when its wait times out.
//!
//! The results database also keeps the registry of agent configurations
//! ([`SqliteAgentConfigStore`], table `agent_configs`): versions under stable ids, each
//! write based on the version it read, checked and inserted in one `BEGIN IMMEDIATE`
//! transaction.
//! Tenants' provider credentials live there too ([`SqliteCredentialStore`], table
//! `credentials`), as the sealed blobs privacy's `Credentials` hands it: never a value in
//! clear.
//!
//! The results database is also the outbox of domain events ([`SqliteEventLog`], tables
//! `events` and `consumer_offsets`): the store logs a run's first completion and the
//! queue each job's submission, claim and end in the transactions of those changes, so an
//! event is logged if and only if its change commits (`docs/events.md`).
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::executor::Executor;
//! use tamma_bench_core::store::ResultStore;
//! use tamma_bench_sqlite::SqliteStore;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Arc::new(SqliteStore::open(dir.path().join("results.db")).unwrap());
//! let tenant = tamma_bench_core::model::TenantId::local();
//! assert!(store.list_runs(&tenant).await.unwrap().is_empty());
//! // Hand it to the executor as any `ResultStore`.
//! let executor = Executor::new(store);
//! # let _ = executor;
//! # });
//! ```
//!
//! The queue, in the same file:
//!
//! ```
//! use tamma_bench_core::model::TenantContext;
//! use tamma_bench_core::queue::{JobKind, JobOutcome, JobQueue, JobState, NewJob, QueueConfig};
//! use tamma_bench_sqlite::SqliteQueue;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let queue = SqliteQueue::open(dir.path().join("results.db"), QueueConfig::default()).unwrap();
//! let operator = TenantContext::local_operator();
//! let job = queue
//!     .submit(&operator, NewJob::new(JobKind::Run, serde_json::json!({"benchmark": "arith"})))
//!     .await
//!     .unwrap();
//! // A worker claims it under a lease, and reports how it ended.
//! let lease = queue.claim("worker-1", None).await.unwrap().expect("a job");
//! assert_eq!(lease.job.id, job.id);
//! let done = queue.finish(&lease, JobOutcome::Succeeded).await.unwrap();
//! assert_eq!(done.state, JobState::Succeeded);
//! # });
//! ```

mod agent_configs;
mod audit;
mod cache;
mod connection;
mod credentials;
mod events;
mod migrations;
mod queue;
mod results;
mod wake;

pub use agent_configs::SqliteAgentConfigStore;
pub use audit::SqliteAuditStore;
pub use cache::{DEFAULT_CACHE_FILE, SqliteResponseCache};
pub use credentials::SqliteCredentialStore;
pub use events::SqliteEventLog;
pub use queue::SqliteQueue;
pub use results::SqliteStore;
