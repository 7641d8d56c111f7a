//! The tamma-bench service: the platform's REST APIs over the library, composed as any
//! embedder would compose it. Every read of results goes through the tenant-aware
//! [`Repository`](tamma_bench::privacy::Repository), every submission through the
//! [`JobQueue`](tamma_bench::core::queue::JobQueue), in the caller's context.
//!
//! Two listeners: the **public API** under `/api/v1` (customers' tokens) and the
//! **internal API** under `/internal/v1` (service tokens), on separate addresses so a
//! deployment exposes only the first. See `docs/api.md`.
//!
//! ```no_run
//! use tamma_bench::core::queue::QueueConfig;
//! use tamma_bench::database::Database;
//! use tamma_bench_server::{AppState, ServerConfig, serve};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn host() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::load("server.toml")?;
//! let opened = Database::parse("sqlite:tamma-bench.db")?.open(true).await?;
//! let state = AppState::open(&opened, QueueConfig::default(), &config).await?;
//! let shutdown = CancellationToken::new(); // cancel on SIGTERM / Ctrl-C
//! let serving = serve(state, shutdown.clone()).await?;
//! println!("public {} internal {}", serving.public_addr, serving.internal_addr);
//! serving.wait().await?;
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod openapi;
mod routes;
mod schema;
mod server;
pub mod state;
pub mod stream;
pub mod submit;

pub use auth::{Caller, Door};
pub use config::ServerConfig;
pub use error::{ApiError, ErrorBody};
pub use routes::{INTERNAL_PREFIX, PUBLIC_PREFIX};
pub use server::{ServeError, Server, Serving, serve};
pub use state::{AppState, StateError};
