//! Redaction of secrets in stored outputs, scorer notes and messages.

use crate::PrivacyFilter;
use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;
use tamma_bench_core::model::{Outcome, TenantContext, Trial};

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

/// `text` with every secret replaced by `[redacted:KIND]` (`api_key`, `bearer_token`,
/// `email`). Borrowed when there is nothing to redact.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    // Every pattern holds one of these; most texts hold none, and these substring scans
    // are far cheaper than the regex.
    const TRIGGERS: [&str; 10] = [
        "sk-", "AIza", "AKIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "@",
    ];
    let bearer = || {
        text.as_bytes()
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"bearer"))
    };
    if !TRIGGERS.iter().any(|t| text.contains(t)) && !bearer() {
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

/// Redacts secrets in a trial's output, scorer answers and explanations, and messages.
/// The repository applies it when trials are written and again when they are read.
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
}
