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

behaviours!(
    answers::success_returns_text_usage_and_stop_reason,
    answers::tool_calls_are_returned_with_parsed_arguments,
    answers::request_carries_model_messages_parameters_tools_and_key,
    answers::a_multi_turn_tool_conversation_is_sent_in_the_vendor_wire_format,
    failures::auth_failures_401_and_403_are_auth_and_final,
    failures::rate_limit_reads_retry_after_seconds,
    failures::rate_limit_reads_retry_after_http_date,
    failures::rate_limit_reads_retry_after_ms,
    failures::rate_limit_reads_openai_reset_durations,
    failures::rate_limit_reads_anthropic_reset_timestamps,
    failures::rate_limit_without_an_advertised_wait_has_none,
    failures::context_length_is_its_own_kind,
    failures::content_filter_is_its_own_kind,
    failures::client_errors_400_404_422_are_invalid_requests_with_the_vendor_message,
    failures::server_errors_500_503_529_are_unavailable_and_retryable,
    failures::long_vendor_messages_are_truncated,
    failures::malformed_or_unexpected_bodies_are_decode,
    failures::the_key_never_appears_in_errors_or_debug,
    lifecycle::a_server_that_never_answers_times_out,
    lifecycle::an_unreachable_server_is_a_transport_failure,
    lifecycle::dropping_the_call_aborts_the_request,
    lifecycle::dropping_the_call_closes_its_connection,
    lifecycle::retry_after_is_honoured_by_the_executor,
);
