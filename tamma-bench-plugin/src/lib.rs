//! Plugin SDK of tamma-bench: providers, scorers and benchmark sources as dynamic
//! libraries, safe across a versioned C ABI.
//!
//! A plugin author implements the ordinary core [`Provider`](core::provider::Provider)
//! (or [`Scorer`](core::scorer::Scorer), or [`BenchmarkSource`]) with a constructor from a
//! JSON configuration, and writes one export macro. The plugin crate is a `cdylib` that
//! depends on this crate (default features off) and serde only:
//!
//! ```
//! use tamma_bench_plugin::core::provider::{
//!     CallContext, Completion, CompletionRequest, Provider, ProviderError,
//! };
//! use tamma_bench_plugin::{Manifest, PluginError, async_trait};
//!
//! /// Answers every request with its last message.
//! struct Echo;
//!
//! impl Echo {
//!     fn from_config(_config: serde_json::Value) -> Result<Self, PluginError> {
//!         Ok(Echo)
//!     }
//! }
//!
//! #[async_trait]
//! impl Provider for Echo {
//!     fn name(&self) -> &str { "echo" }
//!     async fn complete(&self, r: &CompletionRequest, _: &CallContext) -> Result<Completion, ProviderError> {
//!         let text = r.messages.last().map(|m| m.content.clone()).unwrap_or_default();
//!         Ok(Completion { text, ..Default::default() })
//!     }
//! }
//!
//! tamma_bench_plugin::export_provider!(Echo::from_config, Manifest::provider("echo", "0.1.0"));
//! # fn main() { assert!(!tamma_bench_plugin_v1().is_null()); }
//! ```
//!
//! With the `host` feature, `host` loads such a library and wraps it as a `Provider`,
//! a `Scorer` or a source of cases; the ABI itself is in [`ffi`], the JSON documents in
//! [`wire`]. `docs/plugin-sdk.md` walks through a plugin from an empty crate.

mod error;
// The C ABI is the one place of the workspace where `unsafe` is allowed.
#[allow(unsafe_code)]
pub mod ffi;
pub mod guest;
#[cfg(feature = "host")]
pub mod host;
pub mod manifest;
pub mod wire;

pub use error::{PluginError, PluginErrorKind};
pub use guest::BenchmarkSource;
pub use manifest::{Manifest, PROTOCOL, PluginKind, Protocol};

// What a plugin crate needs, so that it depends on this crate and serde only.
pub use async_trait::async_trait;
pub use serde_json;
pub use tamma_bench_core as core;
pub use tokio;
pub use tracing;

#[doc(hidden)]
pub use ffi::guest::table as __table;
