//! tamma-bench: benchmark LLM agents with honest statistics, tenant isolation and
//! cost-aware optimization.
//!
//! This facade re-exports the workspace's crates:
//! - [`core`]: domain model, extension traits (`Provider`, `Scorer`, `ResultStore`,
//!   `PrivacyFilter`), executor, statistics, in-memory stores;
//! - `postgres` (feature `postgres`): the PostgreSQL backend, for many workers sharing
//!   one database, with row-level security;
//! - [`sqlite`]: the embedded SQLite backend (results, audit log, response cache: one
//!   file, no server), the CLI's default;
//! - [`providers`]: provider implementations (`replay`, HTTP providers, layers);
//! - [`privacy`]: tenancy, privacy filters, repository;
//! - [`optimize`]: the optimization engine;
//! - [`plugin`]: the plugin SDK and the loader of plugin libraries.
//!
//! It adds [`report`], the self-contained HTML report of one or more runs, read through
//! the tenant-aware repository; [`jobs`], the host half of the job queue (payloads of
//! queued runs and studies, and [`jobs::BenchmarkRunner`], which a worker runs them
//! with); [`agents`], which builds a run's providers with their layers (shared by the
//! CLI's `run` and the runner); and [`plugins`], how plugins are found.
//!
//! [`database`] opens the storage of a URL (`sqlite:PATH` or `postgres://...`): results,
//! audit log, job queue, event log and the repository over them.
//!
//! The `tamma-bench` binary is a thin CLI over these, in a package of its own
//! (`tamma-bench-cli`): a host that embeds the library compiles none of the CLI's
//! dependencies (clap, indicatif, csv, anyhow, tracing-subscriber). The features
//! `postgres` and `nats` add the Postgres backend and the NATS bridge:
//!
//! ```toml
//! [dependencies]
//! tamma-bench = { version = "0.1", features = ["postgres"] }
//! ```

pub use tamma_bench_core as core;
#[cfg(feature = "nats")]
pub use tamma_bench_nats as nats;
pub use tamma_bench_optimize as optimize;
pub use tamma_bench_plugin as plugin;
#[cfg(feature = "postgres")]
pub use tamma_bench_postgres as postgres;
pub use tamma_bench_privacy as privacy;
pub use tamma_bench_providers as providers;
pub use tamma_bench_sqlite as sqlite;

pub mod agents;
pub mod database;
pub mod jobs;
pub mod plugins;
pub mod reload;
pub mod report;
