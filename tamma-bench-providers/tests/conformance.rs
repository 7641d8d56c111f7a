//! Provider conformance: the same behaviours, run against every HTTP provider pointed at a
//! loopback server (wiremock) that answers in that vendor's wire format.
//!
//! Tests are named `VENDOR::BEHAVIOUR`; a behaviour is an `async fn(&Vendor)` in one of
//! the modules below, and a vendor is a fixture in `conformance/vendors.rs`. A new
//! provider joins the suite with one fixture and one line in [`conformance!`]'s callers.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

#[path = "conformance/answers.rs"]
mod answers;
#[path = "conformance/common.rs"]
mod common;
#[path = "conformance/failures.rs"]
mod failures;
#[path = "conformance/lifecycle.rs"]
mod lifecycle;
#[path = "conformance/server.rs"]
mod server;
#[path = "conformance/specifics.rs"]
mod specifics;
#[path = "conformance/vendors.rs"]
mod vendors;

/// One test per `module::behaviour`, in a module named after the vendor.
macro_rules! behaviours {
    ($vendor:ident, $fixture:path; $($module:ident::$behaviour:ident),* $(,)?) => {
        mod $vendor {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    crate::$module::$behaviour(&$fixture()).await;
                }
            )*
        }
    };
}

/// The whole suite for one vendor.
macro_rules! conformance {
    ($vendor:ident, $fixture:path) => {
        behaviours!($vendor, $fixture;
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
    };
}

conformance!(openai, crate::vendors::openai);
conformance!(anthropic, crate::vendors::anthropic);
conformance!(gemini, crate::vendors::gemini);
