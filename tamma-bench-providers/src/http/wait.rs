//! The wait a response advertises, read from reqwest's headers by the shared parser of
//! [`tamma_bench_core::provider::wait`]: any header value is taken without a panic, and
//! no wait is longer than its `MAX_ADVERTISED_WAIT` (24 hours).

use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

pub(crate) use tamma_bench_core::provider::wait::parse_go_duration;

/// The wait the response's headers advertise, if any, relative to `now`.
pub(crate) fn advertised_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    tamma_bench_core::provider::wait::advertised_wait(
        |name| headers.get(name).and_then(|v| v.to_str().ok()),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::{HeaderName, HeaderValue};
    use tamma_bench_core::provider::wait::MAX_ADVERTISED_WAIT;

    #[test]
    fn headers_are_read_through_the_shared_parser() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static(" 7 "));
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("6m0s"));
        let now = SystemTime::now();
        assert_eq!(advertised_wait(&h, now), Some(Duration::from_secs(7)));
        h.remove("retry-after");
        assert_eq!(advertised_wait(&h, now), Some(Duration::from_secs(360)));
        assert_eq!(advertised_wait(&HeaderMap::new(), now), None);
    }

    #[test]
    fn huge_advertised_waits_are_clamped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("1e300"));
        assert_eq!(
            advertised_wait(&h, SystemTime::now()),
            Some(MAX_ADVERTISED_WAIT)
        );
        h.insert("retry-after-ms", HeaderValue::from_static("1e300"));
        assert_eq!(
            advertised_wait(&h, SystemTime::now()),
            Some(MAX_ADVERTISED_WAIT)
        );
    }

    /// The headers the wait parser reads.
    const NAMES: [&str; 6] = [
        "retry-after-ms",
        "retry-after",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-requests",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-tokens-remaining",
    ];

    proptest! {
        #[test]
        fn no_header_bytes_panic_or_advertise_more_than_the_maximum(
            raw in prop::collection::vec((0usize..6, prop::collection::vec(any::<u8>(), 0..40)), 0..6),
            texts in prop::collection::vec((0usize..6, "[-+0-9.eEinfaNhmsuµ: TZ]{0,30}"), 0..6),
        ) {
            let mut h = HeaderMap::new();
            let texts = texts.into_iter().map(|(i, t)| (i, t.into_bytes()));
            for (i, v) in raw.into_iter().chain(texts) {
                if let Ok(v) = HeaderValue::from_bytes(&v) {
                    h.insert(HeaderName::from_static(NAMES[i]), v);
                }
            }
            let wait = advertised_wait(&h, SystemTime::now());
            prop_assert!(wait.is_none_or(|w| w <= MAX_ADVERTISED_WAIT));
        }

        #[test]
        fn no_retry_delay_in_a_body_advertises_more_than_the_maximum(
            value in "[-+0-9.eEinfaNhmsuµ]{0,30}",
        ) {
            let wait = parse_go_duration(&value);
            prop_assert!(wait.is_none_or(|w| w <= MAX_ADVERTISED_WAIT));
        }
    }
}
