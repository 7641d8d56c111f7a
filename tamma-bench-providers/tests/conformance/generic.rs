//! The vendor-independent behaviours of the conformance suite, listed once: the
//! in-tree providers' suite and the plugin suite (`tamma-bench-plugin/tests`) both run
//! exactly these. A new behaviour joins both by one line here.

/// Calls `$m!($($args)* LIST)`, LIST being every generic `module::behaviour`.
macro_rules! with_generic_behaviours {
    ($m:ident!($($args:tt)*)) => {
        $m!($($args)*
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
