//! The provider conformance suite of `tamma-bench-providers`, run through a plugin: the
//! example OpenAI-compatible provider, built as a `cdylib` and loaded by the real loader,
//! must behave exactly like the in-tree OpenAI provider against the same loopback vendor
//! server. The behaviours are the suite's own modules, included unchanged; only the
//! vendor fixture's constructor is replaced by one that loads the plugin.
//!
//! All behaviours of the suite's generic modules (answers, failures, lifecycle) run; the
//! suite's `specifics` (tests bound to the in-tree providers' types) do not apply.

#![allow(clippy::unwrap_used)]
// The included fixtures describe every vendor; this suite uses the OpenAI one.
#![allow(dead_code)]

mod support;

#[path = "../../tamma-bench-providers/tests/conformance/answers.rs"]
mod answers;
#[path = "../../tamma-bench-providers/tests/conformance/common.rs"]
mod common;
#[path = "../../tamma-bench-providers/tests/conformance/failures.rs"]
mod failures;
#[path = "../../tamma-bench-providers/tests/conformance/generic.rs"]
#[macro_use]
mod generic;
#[path = "../../tamma-bench-providers/tests/conformance/lifecycle.rs"]
mod lifecycle;
#[path = "../../tamma-bench-providers/tests/conformance/server.rs"]
mod server;
#[path = "../../tamma-bench-providers/tests/conformance/vendors.rs"]
mod vendors;

use std::sync::{Arc, OnceLock};
use tamma_bench_plugin::host::{PluginLibrary, PluginProvider};
use tamma_bench_providers::http::HttpConfig;

/// The example plugin, loaded once.
fn library() -> &'static PluginLibrary {
    static LIBRARY: OnceLock<PluginLibrary> = OnceLock::new();
    LIBRARY
        .get_or_init(|| PluginLibrary::open(support::library("tamma-bench-plugin-openai")).unwrap())
}

/// A plugin instance configured like the in-tree provider would be from `c`.
fn plugin_provider(c: HttpConfig) -> PluginProvider {
    let config = serde_json::json!({
        "base_url": c.base_url,
        "api_key": c.api_key.as_ref().map(|k| k.expose().to_owned()),
        "timeout_ms": u64::try_from(c.timeout.as_millis()).unwrap(),
    });
    library().provider(&config).unwrap()
}

/// The OpenAI vendor fixture, built through the plugin.
fn openai_plugin() -> vendors::Vendor {
    vendors::Vendor {
        build: |c| Arc::new(plugin_provider(c)),
        debug: |c| format!("{:?}", plugin_provider(c)),
        ..vendors::openai()
    }
}

/// One test per behaviour.
macro_rules! behaviours {
    ($($module:ident::$behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                crate::$module::$behaviour(&openai_plugin()).await;
            }
        )*
    };
}

with_generic_behaviours!(behaviours!());
