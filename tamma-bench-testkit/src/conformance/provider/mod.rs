//! The provider conformance suite: the same behaviours, run against every HTTP provider
//! (the in-tree ones, and provider plugins speaking a vendor's format) pointed at a
//! loopback server (wiremock) that answers in that vendor's wire format.
//!
//! A behaviour is a public `async fn(&Vendor)` in [`answers`], [`failures`] or
//! [`lifecycle`]; a vendor is a [`Vendor`]: a wire format of [`vendors`] and a way to
//! build the provider under test from an [`Endpoint`]. [`provider_conformance_tests!`]
//! holds the one list of behaviours, which the in-tree providers' suite
//! (`tamma-bench-providers/tests/conformance.rs`, one module per vendor) and the plugin
//! suite (`tamma-bench-plugin/tests/conformance.rs`) both run: a new behaviour joins both
//! by one line there.
//!
//! [`provider_conformance_tests!`]: crate::provider_conformance_tests

pub mod answers;
pub mod calls;
pub mod failures;
pub mod lifecycle;
pub mod server;
pub mod vendors;

pub use vendors::Vendor;

use std::time::Duration;

/// Where and how a provider under test calls: what a test hands the vendor's `build`,
/// which turns it into the provider's own configuration (an in-tree provider's
/// `HttpConfig`, a plugin's JSON configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The base URL (the loopback server and the vendor's base path).
    pub base_url: String,
    /// The API key to send, if any.
    pub api_key: Option<String>,
    /// How long a call may take; `None`: the provider's default.
    pub timeout: Option<Duration>,
}

impl Endpoint {
    /// An endpoint at `base_url` with no key and the provider's default timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            timeout: None,
        }
    }

    /// With `key`.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// With a call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Expands to one `#[test]` per generic behaviour of the provider conformance suite,
/// each running against the [`Vendor`] that `$vendor` (evaluated per test) makes.
///
/// Used as `provider_conformance_tests!(super::openai());` inside a test module, where
/// `openai()` returns the vendor fixture (see `tamma-bench-providers/tests/conformance/`
/// and `tamma-bench-plugin/tests/conformance.rs`, which both expand it).
#[macro_export]
macro_rules! provider_conformance_tests {
    ($vendor:expr) => {
        $crate::provider_conformance_tests!(@tests $vendor;
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
    (@tests $vendor:expr; $($module:ident::$behaviour:ident),* $(,)?) => {
        $(
            #[test]
            fn $behaviour() {
                let vendor = $vendor;
                $crate::block_on($crate::conformance::provider::$module::$behaviour(&vendor));
            }
        )*
    };
}
