//! Redaction of secrets in stored outputs, scorer notes and messages.

use crate::PrivacyFilter;
use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;
use tamma_bench_core::model::{Outcome, Run, TenantContext, Trial};

/// One alternation, each secret kind a named group, longest prefixes first.
static SECRETS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<anthropic>\bsk-ant-[A-Za-z0-9_\-]{8,})",
        r"|(?P<openai>\bsk-[A-Za-z0-9_\-]{16,})",
        r"|(?P<google>\bAIza[0-9A-Za-z_\-]{30,})",
        r"|(?P<aws>\bAKIA[0-9A-Z]{16}\b)",
        r"|(?P<github>\bgh[pousr]_[A-Za-z0-9]{20,})",
        r"|(?P<slack>\bxox[abprs]-[A-Za-z0-9\-]{10,})",
        r"|(?P<bearer>(?i:\bbearer)\s+[A-Za-z0-9\-._~+/]{8,}=*)",
        r"|(?P<email>\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b)",
    ))
    .ok()
});

const KINDS: [&str; 8] = [
    "anthropic",
    "openai",
    "google",
    "aws",
    "github",
    "slack",
    "bearer",
    "email",
];

/// Whether `text` may hold a secret: substrings every pattern contains, found in a few
/// fast scans (`@`, `-` then `sk-`/`xox`, `_` then `gh?_`, `AIza`, `AKIA`, `bearer` in any
/// case). Most texts hold none, and this is far cheaper than the regex. Never a false
/// negative: a text it rejects matches no pattern.
fn may_hold_secret(text: &str) -> bool {
    const GITHUB: [&str; 5] = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"];
    let has = |c: char| text.contains(c);
    has('@')
        || (has('-') && (text.contains("sk-") || text.contains("xox")))
        || (has('_') && GITHUB.iter().any(|t| text.contains(t)))
        || text.contains("AIza")
        || text.contains("AKIA")
        || has_bearer(text)
}

/// Whether `text` holds `bearer` in any case. Looks at the byte where an occurrence would
/// end: one that is not a letter of `bearer` (in either case) cannot be inside one, so
/// the next six positions are skipped (Horspool's rule).
fn has_bearer(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 5;
    while i < b.len() {
        // ASCII letters fold to lower case with 0x20; no other byte folds onto b, e, a, r.
        let c = b[i] | 0x20;
        if c == b'r' && b[i - 5..i].eq_ignore_ascii_case(b"beare") {
            return true;
        }
        i += if matches!(c, b'b' | b'e' | b'a' | b'r') {
            1
        } else {
            6
        };
    }
    false
}

/// `text` with every secret replaced by `[redacted:KIND]` (`api_key`, `bearer_token`,
/// `email`). Borrowed when there is nothing to redact.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    if !may_hold_secret(text) {
        return Cow::Borrowed(text);
    }
    let Some(re) = SECRETS.as_ref() else {
        // The pattern is a constant; should it ever fail to compile, redact everything.
        return Cow::Owned("[redacted]".to_owned());
    };
    re.replace_all(text, |c: &Captures<'_>| {
        let kind = KINDS.iter().find(|k| c.name(k).is_some()).copied();
        match kind {
            Some("bearer") => "Bearer [redacted:bearer_token]".to_owned(),
            Some("email") => "[redacted:email]".to_owned(),
            _ => "[redacted:api_key]".to_owned(),
        }
    })
}

fn redact_in_place(s: &mut String) {
    if let Cow::Owned(r) = redact_secrets(s) {
        *s = r;
    }
}

/// Redacts secrets in a trial's output, scorer answers and explanations, and messages,
/// and in a run's stored prompts. The repository applies it when records are written
/// (before field encryption) and to trials again when they are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Redaction;

impl Redaction {
    /// Redacts `t` in place.
    pub fn apply(t: &mut Trial) {
        if let Some(o) = &mut t.output {
            redact_in_place(o);
        }
        match &mut t.outcome {
            Outcome::Scored { scores } => {
                for s in scores {
                    for f in [&mut s.answer, &mut s.explanation].into_iter().flatten() {
                        redact_in_place(f);
                    }
                }
            }
            Outcome::InfraFailure { message, .. } | Outcome::ScorerError { message, .. } => {
                redact_in_place(message)
            }
        }
    }

    /// Redacts the stored prompts of a run's agents (`system`, `prompt`) in place.
    pub fn apply_run(run: &mut Run) {
        for a in &mut run.agents {
            for p in [&mut a.system, &mut a.prompt].into_iter().flatten() {
                redact_in_place(p);
            }
        }
    }
}

impl PrivacyFilter<Trial> for Redaction {
    fn filter(&self, _cx: &TenantContext, mut t: Trial) -> Option<Trial> {
        Self::apply(&mut t);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tokens_and_addresses_are_redacted_and_plain_text_is_kept() {
        let cases = [
            (
                "key sk-ant-api03-AbCdEf0123456789xyz end",
                "key [redacted:api_key] end",
            ),
            (
                "OPENAI sk-proj-ABCDEFGHIJKLMNOPqrstuv",
                "OPENAI [redacted:api_key]",
            ),
            (
                "g=AIzaSyA1234567890abcdefghijklmnopqrstu",
                "g=[redacted:api_key]",
            ),
            (
                "Authorization: Bearer eyJhbGciOi.J9.x_y",
                "Authorization: Bearer [redacted:bearer_token]",
            ),
            (
                "mail jane.doe+x@example.co.uk now",
                "mail [redacted:email] now",
            ),
            (
                "the answer is B; task-ant 12",
                "the answer is B; task-ant 12",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact_secrets(input), want, "{input}");
        }
        assert!(matches!(redact_secrets("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_bearer_scan_agrees_with_a_plain_search() {
        let plain = |t: &str| {
            t.as_bytes()
                .windows(6)
                .any(|w| w.eq_ignore_ascii_case(b"bearer"))
        };
        for t in [
            "",
            "beare",
            "bearer",
            "BEARER",
            "xx BeArEr y",
            "bearebearer",
            "bbearer",
            "abearexr",
            "reraeb",
            "é bearer",
            "bear er",
            "xxxxxxxxxxxbearer",
        ] {
            assert_eq!(has_bearer(t), plain(t), "{t:?}");
        }
    }
}
