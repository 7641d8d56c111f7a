//! Behaviours of failed calls: every HTTP and body failure maps onto its error kind, and
//! a rate limit carries the wait the server advertised, in each of its header forms.
//!
//! Each behaviour is named after what it checks.

#![allow(missing_docs, clippy::unwrap_used)]

use super::calls::{KEY, endpoint, error_of};
use super::vendors::Vendor;
use std::time::{Duration, SystemTime};
use tamma_bench_core::model::{now_ms, utc_rfc3339};
use tamma_bench_core::provider::{ProviderError, ProviderErrorKind as K};
use wiremock::ResponseTemplate;

fn vendor_error(v: &Vendor, status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json((v.error)(status, message))
}

async fn rate_limited(v: &Vendor, headers: &[(&str, String)]) -> ProviderError {
    let mut response = vendor_error(v, 429, "Rate limit reached for requests per minute");
    for (name, value) in headers {
        response = response.insert_header(*name, value.as_str());
    }
    let e = error_of(v, response).await;
    assert_eq!(e.kind(), K::RateLimited, "{e}");
    assert!(e.is_retryable());
    e
}

fn assert_wait(e: &ProviderError, at_least: Duration, at_most: Duration) {
    let wait = e.retry_after().expect("an advertised wait");
    assert!(
        at_least <= wait && wait <= at_most,
        "{wait:?} not in [{at_least:?}, {at_most:?}]"
    );
}

pub async fn auth_failures_401_and_403_are_auth_and_final(v: &Vendor) {
    for status in [401, 403] {
        let e = error_of(v, vendor_error(v, status, "invalid x-api-key")).await;
        assert_eq!(e.kind(), K::Auth, "{status}: {e}");
        assert!(!e.is_retryable());
        assert!(e.message().contains("invalid x-api-key"), "{e}");
    }
}

pub async fn rate_limit_reads_retry_after_seconds(v: &Vendor) {
    let e = rate_limited(v, &[("retry-after", "7".into())]).await;
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
}

pub async fn rate_limit_reads_retry_after_http_date(v: &Vendor) {
    let at = SystemTime::now() + Duration::from_secs(30);
    let e = rate_limited(v, &[("retry-after", httpdate::fmt_http_date(at))]).await;
    assert_wait(&e, Duration::from_secs(27), Duration::from_secs(30));
}

pub async fn rate_limit_reads_retry_after_ms(v: &Vendor) {
    let e = rate_limited(v, &[("retry-after-ms", "1500".into())]).await;
    assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
}

pub async fn rate_limit_reads_openai_reset_durations(v: &Vendor) {
    let e = rate_limited(
        v,
        &[
            ("x-ratelimit-remaining-requests", "0".into()),
            ("x-ratelimit-reset-requests", "1s".into()),
            ("x-ratelimit-remaining-tokens", "149000".into()),
            ("x-ratelimit-reset-tokens", "6m0s".into()),
        ],
    )
    .await;
    assert_eq!(
        e.retry_after(),
        Some(Duration::from_secs(1)),
        "the exhausted limit"
    );
    let e = rate_limited(v, &[("x-ratelimit-reset-tokens", "250ms".into())]).await;
    assert_eq!(e.retry_after(), Some(Duration::from_millis(250)));
}

pub async fn rate_limit_reads_anthropic_reset_timestamps(v: &Vendor) {
    let e = rate_limited(
        v,
        &[
            ("anthropic-ratelimit-requests-remaining", "0".into()),
            (
                "anthropic-ratelimit-requests-reset",
                utc_rfc3339(now_ms() + 20_000),
            ),
            ("anthropic-ratelimit-tokens-remaining", "40000".into()),
            (
                "anthropic-ratelimit-tokens-reset",
                utc_rfc3339(now_ms() + 90_000),
            ),
        ],
    )
    .await;
    assert_wait(&e, Duration::from_secs(17), Duration::from_secs(20));
}

pub async fn rate_limit_without_an_advertised_wait_has_none(v: &Vendor) {
    let e = rate_limited(v, &[]).await;
    assert_eq!(e.retry_after(), None);
}

pub async fn context_length_is_its_own_kind(v: &Vendor) {
    let e = error_of(v, (v.context_length)()).await;
    assert_eq!(e.kind(), K::ContextLength, "{e}");
    assert!(!e.is_retryable());
}

pub async fn content_filter_is_its_own_kind(v: &Vendor) {
    let e = error_of(v, (v.content_filter)()).await;
    assert_eq!(e.kind(), K::ContentFilter, "{e}");
    assert!(!e.is_retryable());
}

pub async fn client_errors_400_404_422_are_invalid_requests_with_the_vendor_message(v: &Vendor) {
    for status in [400, 404, 422] {
        let said = "temperature: Input should be less than or equal to 2";
        let e = error_of(v, vendor_error(v, status, said)).await;
        assert_eq!(e.kind(), K::InvalidRequest, "{status}: {e}");
        assert!(!e.is_retryable());
        assert!(e.message().contains(said), "{e}");
        assert!(e.message().contains(&status.to_string()), "{e}");
    }
}

pub async fn server_errors_500_503_529_are_unavailable_and_retryable(v: &Vendor) {
    for status in [500, 502, 503, 529] {
        let e = error_of(v, vendor_error(v, status, "Overloaded")).await;
        assert_eq!(e.kind(), K::Unavailable, "{status}: {e}");
        assert!(e.is_retryable());
    }
}

pub async fn long_vendor_messages_are_truncated(v: &Vendor) {
    let said = format!("The request is invalid: {}", "x".repeat(5000));
    let e = error_of(v, vendor_error(v, 400, &said)).await;
    assert!(e.message().contains("The request is invalid: xxx"), "{e}");
    assert!(e.message().chars().count() < 600, "{}", e.message().len());
}

pub async fn malformed_or_unexpected_bodies_are_decode(v: &Vendor) {
    let bodies = [
        r#"{"id": "chatcmpl-1", "choices": [{"index": 0, "mess"#,
        "<html><body>502 Bad Gateway</body></html>",
        r#"{"unexpected": true}"#,
        "",
    ];
    for body in bodies {
        let response = ResponseTemplate::new(200).set_body_raw(body, "application/json");
        let e = error_of(v, response).await;
        assert_eq!(e.kind(), K::Decode, "{body:?}: {e}");
        assert!(!e.is_retryable());
    }
}

pub async fn the_key_never_appears_in_errors_or_debug(v: &Vendor) {
    // A careless server echoes the key, in an error and in a malformed success body.
    let said = format!("Incorrect API key provided: {KEY}");
    let e = error_of(v, vendor_error(v, 401, &said)).await;
    let garbled = ResponseTemplate::new(200).set_body_raw(format!("{{{KEY}"), "application/json");
    let d = error_of(v, garbled).await;
    for e in [e, d] {
        for text in [e.to_string(), format!("{e:?}"), e.message().to_owned()] {
            assert!(!text.contains(KEY), "{}: key in {text}", v.name);
        }
    }
    let debug = (v.debug)(endpoint(v, "http://127.0.0.1:9"));
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
}
