//! Database URLs as secrets: kept whole for use, masked whenever shown.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What replaces a password.
const MASK: &str = "***";

/// A database URL: `postgres://ROLE:PASSWORD@HOST/DB` (or `postgresql://`) or
/// `sqlite:PATH`. `Debug` and `Display` mask the password (in the user part and in a
/// `password=` parameter); [`expose`](Self::expose) gives the URL itself, and
/// serialization writes it whole (a configuration written out must still work).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// `url` as a secret (its form is checked by [`Config::validate`](super::Config::validate)).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, password included: for opening the database only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password masked.
    pub fn redacted(&self) -> String {
        redact_secrets(&self.0)
    }

    /// Whether it is Postgres (`postgres://`, `postgresql://`).
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }

    /// Checks the form; the message shows the URL masked.
    pub(crate) fn check(&self) -> Result<(), String> {
        let ok = if self.is_postgres() {
            let rest = self.0.split_once("://").map_or("", |(_, r)| r);
            !rest.is_empty() && !rest.starts_with('/')
        } else if let Some(path) = self.0.strip_prefix("sqlite:") {
            !path.strip_prefix("//").unwrap_or(path).is_empty()
        } else {
            false
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "expected postgres://ROLE@HOST/DB or sqlite:PATH, got {:?}",
                self.redacted()
            ))
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `text` with the password of every URL in it masked (`scheme://user:***@host`, and
/// `password=***` parameters). Used on every configuration error message.
pub fn redact_secrets(text: &str) -> String {
    let ends = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '/' | '?' | '#');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_len = tail.find(ends).unwrap_or(tail.len());
        let authority = &tail[..authority_len];
        match authority.rfind('@') {
            Some(a) => {
                let userinfo = &authority[..a];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[a..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_len..];
    }
    out.push_str(rest);
    redact_password_parameters(&out)
}

/// `password=VALUE` (any case) becomes `password=***`.
fn redact_password_parameters(text: &str) -> String {
    const KEY: &str = "password=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(i) = lower[from..].find(KEY) {
        let value_start = from + i + KEY.len();
        out.push_str(&text[from..value_start]);
        let value_len = text[value_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '`'))
            .unwrap_or(text.len() - value_start);
        if value_len > 0 {
            out.push_str(MASK);
        }
        from = value_start + value_len;
    }
    out.push_str(&text[from..]);
    out
}
