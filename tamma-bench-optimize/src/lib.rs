//! The optimization engine of tamma-bench: find the best agent configuration at a
//! fraction of the grid's cost, with a guarantee.
//!
//! - [`space`]: search spaces (TOML) over any agent field, expanded into named
//!   configurations;
//! - [`strategy`]: grid, uniform, random, racing, successive halving and LUCB behind one
//!   ask/tell trait; [`confidence`]: the anytime-valid paired confidence sequences
//!   (sampling without replacement) behind the ε-best guarantee;
//! - [`study`]: drives a strategy over an [`study::Evaluator`] under a budget, with an
//!   append-only, resumable [`log`]; [`executor::ExecutorEvaluator`] evaluates through the
//!   core executor, one stored run per round;
//! - [`recommend`]: recommendation, confident Pareto front, cheapest within ε;
//!   [`ab`]: sequential A/B tests; [`insights`]: weaknesses, regressions, rankings;
//!   [`predict`]: an additive score model; [`events`]: what the engine publishes;
//! - [`subscribers`]: handlers of the event log: a study triggered when a benchmark
//!   completes, an insight logged for each completed run;
//! - [`source`]: the one read trait the engine needs, implemented by
//!   [`source::RepositorySource`] over the tenant-aware repository of
//!   `tamma-bench-privacy` with an internal context (the engine opens no store);
//! - [`sim`]: the simulation harness (`cargo run --release -p tamma-bench-optimize
//!   --example optimize_sim`).
//!
//! ```
//! use tamma_bench_optimize::sim::{SimInstance, run};
//! use tamma_bench_optimize::strategy::{Guarantee, StrategyKind};
//!
//! let instance = SimInstance::generate(1, 0);
//! let outcome = run(StrategyKind::Lucb, &instance, Guarantee::default(), 1);
//! assert!(outcome.found);
//! assert!(outcome.share < 1.0);
//! ```

pub mod ab;
pub mod confidence;
pub mod error;
pub mod events;
pub mod executor;
pub mod host;
pub mod insights;
pub mod log;
pub mod observations;
pub mod pareto;
pub mod predict;
pub mod recommend;
pub mod rng;
pub mod sim;
pub mod source;
pub mod space;
pub mod strategy;
pub mod study;
pub mod subscribers;

pub use error::OptimizeError;
pub use events::OptimizationEvent;
pub use pareto::pareto_front;
pub use space::SearchSpace;
pub use strategy::{Guarantee, StrategyKind};
pub use study::{Study, StudyOptions, StudyOutcome};
