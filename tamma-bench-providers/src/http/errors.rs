//! From HTTP statuses, vendor error bodies and transport failures to [`ProviderError`]
//! kinds, the same way for every vendor.

use super::wait::advertised_wait;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};
use tamma_bench_core::provider::classify::kind_of_status;
use tamma_bench_core::provider::{ProviderError, ProviderErrorKind};

/// Longest vendor message kept in an error.
pub(crate) const MAX_MESSAGE: usize = 500;

/// What a vendor's error body said, beyond its status.
#[derive(Debug, Default)]
pub(crate) struct VendorError {
    /// The vendor's message (the raw body when it is not the vendor's error shape).
    pub(crate) message: String,
    /// A kind the body implies: context length, content filter, auth.
    pub(crate) hint: Option<ProviderErrorKind>,
    /// A wait the body advertises (Gemini's `RetryInfo`).
    pub(crate) retry_after: Option<Duration>,
}

impl VendorError {
    /// An error whose body could not be read as the vendor's error shape.
    pub(crate) fn raw(body: &[u8]) -> Self {
        Self {
            message: String::from_utf8_lossy(body).into_owned(),
            ..Self::default()
        }
    }
}

pub(crate) use tamma_bench_core::provider::classify::says_context_length;

/// The error of a non-success response.
pub(crate) fn classify(
    vendor: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: VendorError,
) -> ProviderError {
    let kind = kind_of_status(status.as_u16(), body.hint, &body.message);
    let mut message = body.message.trim().to_owned();
    if status.is_redirection() {
        let to = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        message = format!("unexpected redirect to {to} (check base_url)");
    }
    let detail = if message.is_empty() {
        String::new()
    } else {
        format!(": {}", truncate(&message, MAX_MESSAGE))
    };
    let wait = body
        .retry_after
        .or_else(|| advertised_wait(headers, SystemTime::now()));
    ProviderError::new(kind, format!("{vendor} answered {status}{detail}"))
        .with_retry_after(wait.filter(|_| kind.is_retryable()))
}

/// The error of a request that got no complete response.
pub(crate) fn transport(vendor: &str, e: &reqwest::Error) -> ProviderError {
    let kind = if e.is_timeout() {
        ProviderErrorKind::Timeout
    } else if e.is_builder() {
        ProviderErrorKind::InvalidRequest
    } else {
        ProviderErrorKind::Transport
    };
    // The chain of causes says what happened (refused, reset, TLS); the URL is in the
    // first one and never holds a key (keys travel in headers).
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ProviderError::new(
        kind,
        format!("{vendor}: {}", truncate(&message, MAX_MESSAGE)),
    )
}

/// The error of a success response whose body is not what the vendor documents.
pub(crate) fn decode(vendor: &str, why: &str, body: &[u8]) -> ProviderError {
    let body = String::from_utf8_lossy(body);
    ProviderError::new(
        ProviderErrorKind::Decode,
        format!(
            "{vendor}: unexpected response body ({why}): {}",
            truncate(body.trim(), 200)
        ),
    )
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderErrorKind as K;

    fn kind(status: u16, hint: Option<K>) -> K {
        let status = StatusCode::from_u16(status).expect("status");
        let body = VendorError {
            hint,
            ..VendorError::default()
        };
        classify("v", status, &HeaderMap::new(), body).kind()
    }

    #[test]
    fn a_spent_quota_is_not_a_rate_limit() {
        let body = VendorError {
            message: "You exceeded your current quota, please check your plan and billing details."
                .into(),
            hint: Some(K::QuotaExhausted),
            ..VendorError::default()
        };
        let e = classify(
            "openai",
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            body,
        );
        assert_eq!(e.kind(), K::QuotaExhausted);
        assert!(!e.is_retryable());
    }

    #[test]
    fn statuses_map_to_kinds_and_hints_refine_client_errors() {
        assert_eq!(kind(401, None), K::Auth);
        assert_eq!(kind(403, Some(K::ContextLength)), K::Auth);
        assert_eq!(kind(429, None), K::RateLimited);
        assert_eq!(kind(400, None), K::InvalidRequest);
        assert_eq!(kind(404, None), K::InvalidRequest);
        assert_eq!(kind(422, None), K::InvalidRequest);
        assert_eq!(kind(400, Some(K::ContextLength)), K::ContextLength);
        assert_eq!(kind(400, Some(K::Auth)), K::Auth);
        assert_eq!(kind(500, Some(K::ContextLength)), K::ContextLength);
        assert_eq!(kind(500, None), K::Unavailable);
        assert_eq!(kind(503, None), K::Unavailable);
        assert_eq!(kind(529, None), K::Unavailable);
        assert_eq!(kind(408, None), K::Timeout);
        assert_eq!(kind(302, None), K::InvalidRequest);
    }

    #[test]
    fn messages_are_truncated_on_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
        assert!(says_context_length(
            "This model's maximum context length is 4096 tokens"
        ));
        assert!(!says_context_length("invalid temperature"));
    }
}
