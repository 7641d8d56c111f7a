//! Test support of tamma-bench, shared by the workspace's tests, benches and examples
//! as an ordinary dev-dependency (never a normal dependency of a library crate; it is
//! not published).
//!
//! - [`conformance::store`]: the behaviour suite every `ResultStore` passes, expanded
//!   into tests by [`store_conformance_tests!`];
//! - [`conformance::provider`]: the behaviour suite every HTTP provider (in-tree or
//!   plugin) passes against a loopback server speaking its vendor's wire format,
//!   expanded by [`provider_conformance_tests!`];
//! - [`conformance::queue`]: the behaviour suite every `JobQueue` passes (claim order,
//!   tier concurrency and submission rates, leases and their takeover, outcomes,
//!   cancellation, tenant scoping), against handles opened on one database by a
//!   [`QueueFactory`](conformance::queue::QueueFactory), expanded by
//!   [`queue_conformance_tests!`];
//! - [`conformance::events`]: the behaviour suite every `EventLog` passes (positions,
//!   de-duplication, filters, visibility, offsets, wake-ups, replay), against handles
//!   opened on one log by an [`EventLogFactory`](conformance::events::EventLogFactory),
//!   expanded by [`event_log_conformance_tests!`];
//! - [`conformance::agent_configs`]: the behaviour suite every `AgentConfigStore` passes
//!   (versions, optimistic concurrency, history, listing, tenant isolation, ids, racing
//!   writers), against handles opened on one registry by an
//!   [`AgentConfigStoreFactory`](conformance::agent_configs::AgentConfigStoreFactory),
//!   expanded by [`agent_config_conformance_tests!`];
//! - [`conformance::credentials`]: the behaviour suite every `CredentialStore` passes
//!   (put, get, replace, list, delete, tenant isolation, name validation), expanded by
//!   [`credential_store_conformance_tests!`];
//! - [`providers`]: small test providers (a fixed answer, an echo, a script of results
//!   with a record of the calls);
//! - [`plugins`]: builds the workspace's plugin crates and finds their libraries;
//! - [`benchmarks`]: synthetic benchmarks of the benches and examples;
//! - [`loopback`]: a loopback server speaking OpenAI's wire format with a fixed delay;
//! - [`postgres`]: a fresh Postgres database with owner and application roles per test.
//!
//! The kit depends on core only: a suite that needs an implementation takes it as an
//! argument.
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::store::{MemoryStore, ResultStore};
//!
//! // In a test file: one test per behaviour of the store suite.
//! tamma_bench_testkit::store_conformance_tests!((
//!     (),
//!     Arc::new(MemoryStore::new()) as Arc<dyn ResultStore>
//! ));
//! # fn main() {}
//! ```

pub mod benchmarks;
pub mod conformance;
pub mod loopback;
pub mod plugins;
pub mod postgres;
pub mod providers;

use std::future::Future;

/// Runs `test` to completion on a fresh multi-threaded runtime with two workers, like
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`: what the suites' test
/// macros expand to, so a caller needs no `tokio` of its own.
pub fn block_on<F: Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime")
        .block_on(test)
}
