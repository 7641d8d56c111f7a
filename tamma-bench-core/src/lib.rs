//! Core of tamma-bench: the domain model, the extension traits, the executor, the
//! statistics and the result stores.
//!
//! A host loads a benchmark and agents, builds one [`Provider`](provider::Provider) per
//! agent, and hands them to the [`Executor`](executor::Executor) with a
//! [`ResultStore`](store::ResultStore):
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::executor::{Executor, RunOptions, AgentRuntime};
//! use tamma_bench_core::model::{AgentConfig, Benchmark, Case, CaseInput, Target, TenantContext, Visibility};
//! use tamma_bench_core::provider::{CallContext, Completion, CompletionRequest, Provider, ProviderError};
//! use tamma_bench_core::scorer::ScorerSpec;
//! use tamma_bench_core::store::MemoryStore;
//!
//! /// A provider that answers "4" to everything.
//! struct Four;
//! #[async_trait::async_trait]
//! impl Provider for Four {
//!     fn name(&self) -> &str { "four" }
//!     async fn complete(&self, _: &CompletionRequest, _: &CallContext) -> Result<Completion, ProviderError> {
//!         Ok(Completion { text: "4".into(), ..Default::default() })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let case = |id: &str, target: &str| Case {
//!     id: id.into(), input: CaseInput::Text("2+2?".into()), target: Target::One(target.into()),
//!     tags: vec![], cluster: None, metadata: Default::default(),
//! };
//! let benchmark = Benchmark {
//!     id: "arith".into(), name: "Arithmetic".into(), version: "1".into(), description: String::new(),
//!     visibility: Visibility::Private, system: None, prompt: "{{input}}".into(),
//!     cases: vec![case("a", "4"), case("b", "5")], scorers: vec![ScorerSpec::default_exact()], epochs: 1,
//! };
//! let agent = AgentRuntime::new(AgentConfig::new("four", "four", "m"), Arc::new(Four));
//! let store = Arc::new(MemoryStore::new());
//! let executor = Executor::new(store.clone());
//! let report = executor
//!     .run(&TenantContext::local_operator(), &benchmark, vec![agent], RunOptions::default())
//!     .await
//!     .unwrap();
//! assert_eq!(report.summary.agents[0].n_scored, 2);
//! assert_eq!(report.summary.agents[0].score.mean, 0.5);
//! # });
//! ```
//!
//! With `default-features = false` (no `runtime` feature) the crate is only the domain
//! model, the [`Provider`](provider::Provider) trait and the [`Scorer`](scorer::Scorer)
//! trait: what a plugin built with `tamma-bench-plugin` links.

#[cfg(feature = "runtime")]
pub mod compare;
#[cfg(feature = "runtime")]
pub mod config;
pub mod error;
#[cfg(feature = "runtime")]
pub mod events;
#[cfg(feature = "runtime")]
pub mod executor;
pub mod flags;
#[cfg(feature = "runtime")]
pub mod load;
pub mod model;
#[cfg(feature = "runtime")]
pub mod privacy;
pub mod provider;
#[cfg(feature = "runtime")]
pub mod queue;
pub mod scorer;
#[cfg(feature = "runtime")]
pub mod stats;
#[cfg(feature = "runtime")]
pub mod store;
#[cfg(feature = "runtime")]
pub mod summary;
