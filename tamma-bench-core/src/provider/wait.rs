//! How long a server asks a client to wait: `Retry-After` (seconds or an HTTP date),
//! `retry-after-ms`, OpenAI's `x-ratelimit-reset-*` (Go durations such as `6m0s`) and
//! Anthropic's `anthropic-ratelimit-*-reset` (RFC 3339 timestamps).
//!
//! Pure parsing over header values, no HTTP client: the in-tree HTTP providers and
//! provider plugins (which link only this part of core) read waits the same way.
//!
//! Header values are untrusted input: every parser here takes any string without
//! panicking (huge numbers, exponents, negative values, `NaN`, `inf`, overflowing
//! offsets), computes with checked arithmetic, and never returns a wait longer than
//! [`MAX_ADVERTISED_WAIT`] (24 hours): a longer wait is clamped to it, so that a
//! caller may add any returned wait to a clock reading without overflow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest wait a parser of this module returns, and the longest a
/// [`ProviderError`](super::ProviderError) carries: 24 hours, the longest reset vendors
/// document (a daily quota). Longer waits are clamped to it; a run's trial deadline
/// usually ends a trial long before.
pub const MAX_ADVERTISED_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `wait`, at most [`MAX_ADVERTISED_WAIT`].
pub fn clamp_wait(wait: Duration) -> Duration {
    wait.min(MAX_ADVERTISED_WAIT)
}

/// A wait of `secs` seconds, clamped to [`MAX_ADVERTISED_WAIT`]; `None` for a negative,
/// infinite or NaN number.
fn wait_from_secs(secs: f64) -> Option<Duration> {
    if !(secs.is_finite() && secs >= 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(secs.min(MAX_ADVERTISED_WAIT.as_secs_f64())).ok()
}

/// The wait until `at`, zero when `at` is past, clamped to [`MAX_ADVERTISED_WAIT`].
fn wait_until(at: SystemTime, now: SystemTime) -> Duration {
    clamp_wait(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reset headers of one limit each: (reset header, its remaining-count header).
const RESETS: [(&str, &str); 6] = [
    (
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-requests",
    ),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"),
    (
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-requests-remaining",
    ),
    (
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-tokens-remaining",
    ),
    (
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-input-tokens-remaining",
    ),
    (
        "anthropic-ratelimit-output-tokens-reset",
        "anthropic-ratelimit-output-tokens-remaining",
    ),
];

/// The wait a response's headers advertise, if any, relative to `now`; `header` looks a
/// header up by its lower-case name. Never longer than [`MAX_ADVERTISED_WAIT`].
///
/// Precedence: `retry-after-ms`, then `Retry-After`, then the limit resets. Of the resets,
/// those whose remaining count is `0` decide (the longest of them); when none says it is
/// exhausted, the longest reset present is taken (waiting a little long beats a retry
/// that is refused again).
pub fn advertised_wait<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    now: SystemTime,
) -> Option<Duration> {
    let text = |name: &str| header(name).map(str::trim);
    let ms = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok());
    if let Some(wait) = ms.and_then(|ms| wait_from_secs(ms / 1e3)) {
        return Some(wait);
    }
    if let Some(wait) = text("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    let resets: Vec<(Duration, bool)> = RESETS
        .iter()
        .filter_map(|(reset, remaining)| {
            let wait = parse_reset(text(reset)?, now)?;
            Some((wait, text(remaining) == Some("0")))
        })
        .collect();
    let exhausted = resets.iter().filter(|r| r.1).map(|r| r.0).max();
    exhausted.or_else(|| resets.iter().map(|r| r.0).max())
}

/// `Retry-After`: delay-seconds (integer, or a decimal some servers send) or an HTTP date.
/// Never longer than [`MAX_ADVERTISED_WAIT`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return wait_from_secs(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(wait_until(at, now))
}

/// A reset header: a Go duration (`1s`, `6m0s`, `250ms`), plain seconds, or an RFC 3339
/// timestamp.
fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(d) = parse_go_duration(value) {
        return Some(d);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return wait_from_secs(secs);
    }
    let at = parse_rfc3339(value)?;
    Some(wait_until(at, now))
}

/// A Go `time.Duration` string (`1h2m3.5s`, `250ms`, `20us`, `0s`), also the protobuf JSON
/// form Gemini's `RetryInfo.retryDelay` uses (`37s`, `0.5s`). A bare number is not one.
/// Never longer than [`MAX_ADVERTISED_WAIT`].
pub fn parse_go_duration(value: &str) -> Option<Duration> {
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    wait_from_secs(total)
}

/// An RFC 3339 timestamp (`2025-01-02T03:04:05Z`, `...05.123+02:00`) as a system time;
/// `None` for anything else, including an offset that is not `±hh:mm` within a day.
pub fn parse_rfc3339(value: &str) -> Option<SystemTime> {
    let b = value.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = value.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = value.get(19..)?;
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<9}", &frac[..digits.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            let two_digits = |s: &str| -> Option<i64> {
                (s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok())?
            };
            let (oh, om) = (two_digits(oh)?, two_digits(om)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn go_durations_parse_like_openai_sends_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("1s"), Some(ms(1000)));
        assert_eq!(parse_go_duration("6m0s"), Some(ms(360_000)));
        assert_eq!(parse_go_duration("250ms"), Some(ms(250)));
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(ms(3_723_500)));
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("12"), None);
        assert_eq!(parse_go_duration("1x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn rfc3339_timestamps_parse_with_fractions_and_offsets() {
        // 2026-11-25T19:20:09Z = 1_795_634_409.
        assert_eq!(
            parse_rfc3339("2026-11-25T19:20:09Z"),
            Some(at(1_795_634_409))
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T21:20:09.5+02:00"),
            Some(at(1_795_634_409) + Duration::from_millis(500))
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(at(951_782_400)));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("soon"), None);
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = at(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("later", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn the_exhausted_limit_decides_among_resets() {
        let mut h: Vec<(&str, &str)> = vec![
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-tokens", "6m0s"),
            ("x-ratelimit-remaining-tokens", "1200"),
        ];
        let wait = |h: &[(&str, &str)]| {
            let lookup = |name: &str| h.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            advertised_wait(lookup, SystemTime::now())
        };
        assert_eq!(wait(&h), Some(Duration::from_secs(1)));
        h.retain(|(k, _)| *k != "x-ratelimit-remaining-requests");
        assert_eq!(wait(&h), Some(Duration::from_secs(360)));
        h.push(("retry-after", "7"));
        assert_eq!(wait(&h), Some(Duration::from_secs(7)));
        h.push(("retry-after-ms", "1500"));
        assert_eq!(wait(&h), Some(Duration::from_millis(1500)));
        assert_eq!(wait(&[]), None);
    }
}
