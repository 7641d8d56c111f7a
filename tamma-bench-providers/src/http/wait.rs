//! The wait a response advertises, read from reqwest's headers by the shared parser of
//! [`tamma_bench_core::provider::wait`].

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
    use reqwest::header::HeaderValue;

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
}
