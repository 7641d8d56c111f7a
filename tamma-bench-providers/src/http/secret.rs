//! [`SecretString`]: an API key that never prints, and reading it from the environment.

use std::fmt;
use zeroize::Zeroize;

/// A secret (an API key). `Debug` and `Display` print `<redacted>`; the value is reachable
/// only through [`SecretString::expose`], and is not `Serialize`, so it cannot reach a log,
/// an error message or a store by accident. Its memory is zeroized when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Box<str>);

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into().into_boxed_str())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text` with `<redacted>` (a server may
    /// echo the key back in an error message).
    pub(crate) fn scrub(&self, text: String) -> String {
        if self.0.is_empty() || !text.contains(&*self.0) {
            return text;
        }
        text.replace(&*self.0, "<redacted>")
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a key could not be read. Names the variable or the credential, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The variable is not set (or not valid Unicode).
    #[error("environment variable {variable} is not set")]
    Unset {
        /// The variable's name.
        variable: String,
    },
    /// The variable is set but empty.
    #[error("environment variable {variable} is empty")]
    Empty {
        /// The variable's name.
        variable: String,
    },
    /// The tenant has no credential of that name (a tenant's job reads keys from its
    /// credentials only, never from the environment).
    #[error("no credential {name} is stored for this tenant")]
    NoCredential {
        /// The credential's name.
        name: String,
    },
    /// The tenant's credential of that name is blank.
    #[error("credential {name} of this tenant is empty")]
    EmptyCredential {
        /// The credential's name.
        name: String,
    },
}

impl KeyError {
    /// What a caller can do: set the variable, or store the credential.
    pub fn remedy(&self) -> tamma_bench_core::error::Remedy {
        tamma_bench_core::error::Remedy::FixInput
    }

    /// How to give the key an agent falls back to by default.
    pub(crate) fn hint_for_default(&self) -> &'static str {
        match self {
            Self::NoCredential { .. } | Self::EmptyCredential { .. } => {
                "store it, or name the credential that holds the key in `api_key_env`"
            }
            _ => "set it, or name the variable that holds the key in `api_key_env`",
        }
    }
}

/// How a provider builder gets the key of a name: a variable of the environment, or a
/// tenant's credential (see [`crate::KeySource`]).
pub(crate) type KeyLookup<'a> = &'a dyn Fn(&str) -> Result<SecretString, KeyError>;

/// Reads the key named `variable` through `lookup` (the process environment in
/// production, a map in tests).
pub(crate) fn key_from(
    variable: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<SecretString, KeyError> {
    match lookup(variable) {
        None => Err(KeyError::Unset {
            variable: variable.to_owned(),
        }),
        Some(v) if v.trim().is_empty() => Err(KeyError::Empty {
            variable: variable.to_owned(),
        }),
        Some(v) => Ok(SecretString::new(v.trim())),
    }
}

/// The process environment as a lookup.
pub(crate) fn process_env(variable: &str) -> Option<String> {
    std::env::var(variable).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = SecretString::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "SecretString(<redacted>)");
        assert_eq!(s.to_string(), "<redacted>");
        assert_eq!(s.expose(), "sk-very-secret");
        assert_eq!(
            s.scrub("bad key sk-very-secret!".into()),
            "bad key <redacted>!"
        );
    }

    #[test]
    fn key_errors_name_the_variable_only() {
        let none = |_: &str| None;
        let empty = |_: &str| Some("  ".to_owned());
        assert_eq!(
            key_from("MY_KEY", &none).unwrap_err().to_string(),
            "environment variable MY_KEY is not set"
        );
        assert_eq!(
            key_from("MY_KEY", &empty).unwrap_err().to_string(),
            "environment variable MY_KEY is empty"
        );
    }
}
