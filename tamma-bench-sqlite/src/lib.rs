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

mod audit;
mod cache;
mod connection;
mod migrations;
mod queue;
mod results;

pub use audit::SqliteAuditStore;
pub use cache::{DEFAULT_CACHE_FILE, SqliteResponseCache};
pub use queue::SqliteQueue;
pub use results::SqliteStore;
