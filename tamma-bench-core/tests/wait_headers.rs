//! The parsers of advertised waits take any header value a server sends: no panic, and
//! no wait longer than `MAX_ADVERTISED_WAIT`.

use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tamma_bench_core::provider::wait::{
    MAX_ADVERTISED_WAIT, advertised_wait, parse_go_duration, parse_retry_after, parse_rfc3339,
};

/// Every header the wait parser reads.
const HEADERS: [&str; 14] = [
    "retry-after-ms",
    "retry-after",
    "x-ratelimit-reset-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-remaining-tokens",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-input-tokens-remaining",
    "anthropic-ratelimit-output-tokens-reset",
    "anthropic-ratelimit-output-tokens-remaining",
];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_445_412_480)
}

/// The wait advertised by the single header `name: value`.
fn wait_of(name: &str, value: &str) -> Option<Duration> {
    advertised_wait(|h| (h == name).then_some(value), now())
}

fn within_max(wait: Option<Duration>) -> bool {
    wait.is_none_or(|w| w <= MAX_ADVERTISED_WAIT)
}

#[test]
fn the_values_that_used_to_panic_are_clamped_or_refused() {
    let max = Some(MAX_ADVERTISED_WAIT);
    assert_eq!(wait_of("retry-after-ms", "1e300"), max);
    assert_eq!(wait_of("retry-after", "1e300"), max);
    assert_eq!(wait_of("retry-after", "10000000000000000000"), max);
    assert_eq!(
        wait_of("x-ratelimit-reset-tokens", "99999999999999999999h"),
        max
    );
    assert_eq!(parse_go_duration("99999999999999999999h"), max);
    assert_eq!(
        parse_go_duration("1e308h"),
        None,
        "an exponent is not a Go duration"
    );
    assert_eq!(parse_rfc3339("2026-11-25T19:20:09+99999999999999:00"), None);
    assert_eq!(parse_rfc3339("2026-11-25T19:20:09+24:00"), None);
    assert_eq!(parse_rfc3339("2026-11-25T19:20:09-00:99"), None);
    assert_eq!(
        wait_of(
            "anthropic-ratelimit-tokens-reset",
            "2026-11-25T19:20:09+99999999999999:00"
        ),
        None
    );
    for refused in ["NaN", "inf", "-inf", "-1", "-0.5", "1e-400x", ""] {
        assert_eq!(parse_retry_after(refused, now()), None, "{refused:?}");
        assert_eq!(wait_of("retry-after-ms", refused), None, "{refused:?}");
    }
}

#[test]
fn ordinary_waits_are_kept_and_long_ones_clamped_to_the_documented_maximum() {
    assert_eq!(MAX_ADVERTISED_WAIT, Duration::from_secs(24 * 3600));
    assert_eq!(wait_of("retry-after", "30"), Some(Duration::from_secs(30)));
    assert_eq!(
        wait_of("retry-after", "7200"),
        Some(Duration::from_secs(7200))
    );
    assert_eq!(wait_of("retry-after", "172800"), Some(MAX_ADVERTISED_WAIT));
    assert_eq!(
        wait_of("retry-after-ms", "250"),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        wait_of("retry-after", "Fri, 23 Oct 2015 07:28:00 GMT"),
        Some(MAX_ADVERTISED_WAIT),
        "two days ahead"
    );
    assert_eq!(
        wait_of("anthropic-ratelimit-tokens-reset", "2015-10-21T07:29:00Z"),
        Some(Duration::from_secs(60))
    );
    assert_eq!(parse_go_duration("25h"), Some(MAX_ADVERTISED_WAIT));
    assert_eq!(
        parse_go_duration("23h59m59s"),
        Some(Duration::from_secs(86_399))
    );
}

/// Numbers as servers could write them: huge, tiny, negative, with exponents, not numbers.
fn numberish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<u64>().prop_map(|x| x.to_string()),
        any::<i64>().prop_map(|x| x.to_string()),
        any::<u128>().prop_map(|x| x.to_string()),
        (any::<i32>(), -400i32..400).prop_map(|(m, e)| format!("{m}e{e}")),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("-inf".to_owned()),
        Just("infinity".to_owned()),
    ]
}

/// Go durations, well-formed or nearly so, with any magnitudes.
fn go_durationish() -> impl Strategy<Value = String> {
    let unit = prop_oneof![
        Just("h"),
        Just("m"),
        Just("s"),
        Just("ms"),
        Just("us"),
        Just("µs"),
        Just("ns"),
        Just("x"),
        Just(""),
    ];
    prop::collection::vec((numberish(), unit), 1..4)
        .prop_map(|parts| parts.into_iter().map(|(n, u)| format!("{n}{u}")).collect())
}

/// RFC 3339 timestamps with any fields and offsets.
fn timestampish() -> impl Strategy<Value = String> {
    (
        0u32..10_000,
        0u32..100,
        0u32..100,
        0u32..100,
        0u32..100,
        0u32..100,
        "(\\.[0-9]{0,12})?",
        "(Z|z|[+-][0-9]{0,16}:[0-9]{0,16}|.{0,8})",
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
        })
}

/// Any header value: arbitrary text, numbers, durations, timestamps.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,40}",
        numberish(),
        go_durationish(),
        timestampish(),
    ]
}

proptest! {
    #[test]
    fn no_header_value_panics_or_advertises_more_than_the_maximum(
        name in prop::sample::select(HEADERS.to_vec()),
        value in header_value(),
        others in prop::collection::vec(
            (prop::sample::select(HEADERS.to_vec()), header_value()), 0..6),
    ) {
        prop_assert!(within_max(wait_of(name, &value)));
        let all: Vec<(&str, &str)> = std::iter::once((name, value.as_str()))
            .chain(others.iter().map(|(n, v)| (*n, v.as_str())))
            .collect();
        let wait = advertised_wait(
            |h| all.iter().find(|(n, _)| *n == h).map(|(_, v)| *v),
            now(),
        );
        prop_assert!(within_max(wait));
    }

    #[test]
    fn each_parser_takes_any_string(value in header_value(), epoch_secs in any::<u64>()) {
        let clock = UNIX_EPOCH.checked_add(Duration::from_secs(epoch_secs)).unwrap_or(UNIX_EPOCH);
        prop_assert!(within_max(parse_retry_after(&value, clock)));
        prop_assert!(within_max(parse_go_duration(&value)));
        let _ = parse_rfc3339(&value);
        prop_assert!(within_max(advertised_wait(|_| Some(value.as_str()), clock)));
    }
}
