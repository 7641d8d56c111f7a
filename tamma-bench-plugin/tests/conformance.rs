//! The provider conformance suite of the test kit, run through a plugin: the example
//! OpenAI-compatible provider, built as a `cdylib` and loaded by the real loader, must
//! behave exactly like the in-tree OpenAI provider against the same loopback vendor
//! server. The behaviours are the kit's one list of generic behaviours (answers,
//! failures, lifecycle), the same the in-tree providers run; only the provider under test
//! is built here, from the plugin.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};
use tamma_bench_plugin::host::{PluginLibrary, PluginProvider};
use tamma_bench_testkit::conformance::provider::{Endpoint, Vendor, vendors};
use tamma_bench_testkit::plugins;

/// The example plugin, loaded once.
fn library() -> &'static PluginLibrary {
    static LIBRARY: OnceLock<PluginLibrary> = OnceLock::new();
    LIBRARY
        .get_or_init(|| PluginLibrary::open(plugins::library("tamma-bench-plugin-openai")).unwrap())
}

/// A plugin instance configured like the in-tree provider would be for `e`.
fn plugin_provider(e: Endpoint) -> PluginProvider {
    let mut config = serde_json::json!({
        "base_url": e.base_url,
        "api_key": e.api_key,
    });
    if let Some(timeout) = e.timeout {
        config["timeout_ms"] = u64::try_from(timeout.as_millis()).unwrap().into();
    }
    library().provider(&config).unwrap()
}

/// The OpenAI vendor, its provider built through the plugin.
fn openai_plugin() -> Vendor {
    vendors::openai(
        |e| Arc::new(plugin_provider(e)),
        |e| format!("{:?}", plugin_provider(e)),
    )
}

tamma_bench_testkit::provider_conformance_tests!(openai_plugin());
