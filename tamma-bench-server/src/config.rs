//! The service's configuration: addresses, authentication, limits per tier, body limit,
//! timeout and what a customer's submission may name. Serde, with defaults for every
//! field, loadable from a TOML file ([`ServerConfig::load`]).
//!
//! ```toml
//! public_addr = "0.0.0.0:8080"
//! internal_addr = "127.0.0.1:8081"
//! body_limit_bytes = 8388608
//! request_timeout_ms = 30000
//!
//! [auth.public]
//! jwks = "/etc/tamma/public-jwks.json"
//! issuer = "https://auth.example.com/"
//! audience = "tamma-bench-api"
//!
//! [auth.internal]
//! jwks = "/etc/tamma/service-jwks.json"
//! issuer = "https://auth.example.com/"
//! audience = "tamma-bench-internal"
//!
//! [limits]
//! free_per_minute = 100
//! premium_per_minute = 100
//! internal_per_minute = 1000
//! ```

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tamma_bench::core::error::Remedy;

/// Everything the service is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The public API's address (`/api/v1`); port 0 picks a free one.
    pub public_addr: SocketAddr,
    /// The internal API's address (`/internal/v1`); keep it off the public network.
    pub internal_addr: SocketAddr,
    /// Token verification of both doors.
    pub auth: AuthConfig,
    /// Requests per tenant and minute, by tier.
    pub limits: LimitsConfig,
    /// The largest request body accepted, bytes (larger: 413).
    pub body_limit_bytes: usize,
    /// A request taking longer is answered 503 (ms).
    pub request_timeout_ms: u64,
    /// What a customer's inline definition may name.
    pub submissions: SubmissionPolicy,
    /// The live event stream (`/events`).
    pub event_stream: crate::stream::EventStreamConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            internal_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            body_limit_bytes: 8 * 1024 * 1024,
            request_timeout_ms: 30_000,
            submissions: SubmissionPolicy::default(),
            event_stream: Default::default(),
        }
    }
}

/// How tokens are verified at each door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Customers' tokens, at the public door.
    pub public: DoorAuth,
    /// Service tokens, at the internal door (a separate key set and audience).
    pub internal: DoorAuth,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway_secs: u64,
    /// A key set file is looked at again at most this often (ms): for a changed file, and
    /// for a token whose `kid` is unknown.
    pub reload_interval_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            public: DoorAuth {
                jwks: PathBuf::from("public-jwks.json"),
                issuer: "tamma-bench".into(),
                audience: "tamma-bench-api".into(),
            },
            internal: DoorAuth {
                jwks: PathBuf::from("internal-jwks.json"),
                issuer: "tamma-bench".into(),
                audience: "tamma-bench-internal".into(),
            },
            leeway_secs: 30,
            reload_interval_ms: 1_000,
        }
    }
}

/// One door's tokens: whose keys sign them, who issues them, for whom they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorAuth {
    /// The JWK Set file (`{"keys": [...]}`; Ed25519 `OKP` keys and RSA keys, each with a
    /// `kid`). Re-read when it changes.
    pub jwks: PathBuf,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry (one of its values).
    pub audience: String,
}

/// Requests per tenant and minute, by tier (GCRA: the minute's allowance may come as one
/// burst, then at an even pace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// The free tier (public door).
    pub free_per_minute: u32,
    /// The premium tier (public door).
    pub premium_per_minute: u32,
    /// Services at the internal door.
    pub internal_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            free_per_minute: 100,
            premium_per_minute: 100,
            internal_per_minute: 1_000,
        }
    }
}

/// What an inline benchmark or agents definition from a customer may name. A worker runs
/// the job on the deployment's machines with the deployment's environment, so a customer
/// must not make it read the server's files, send the server's keys somewhere, or run
/// code outside what the operator allows (see `docs/api.md`, "Submissions").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionPolicy {
    /// Provider kinds an agent (or a judge) may use. `replay` and `plugin:*` read files of
    /// the server and are refused unless listed here.
    pub providers: Vec<String>,
    /// Environment variables an agent may name as its key (`api_key_env`); an agent that
    /// names none uses its provider's default variable, which must be listed too.
    pub key_vars: Vec<String>,
    /// Base URLs an agent may set (exact, without a trailing `/`); none by default: the
    /// vendors' own.
    pub base_urls: Vec<String>,
    /// Whether the `code` scorer (the customer's tests run in a sandbox on a worker) is
    /// allowed; never with network access.
    pub allow_code_scorer: bool,
    /// The largest concurrency a submission may ask for.
    pub max_concurrency: usize,
    /// The most epochs a submission may ask for.
    pub max_epochs: u32,
}

impl Default for SubmissionPolicy {
    fn default() -> Self {
        Self {
            providers: vec!["openai".into(), "anthropic".into(), "gemini".into()],
            key_vars: vec![
                "OPENAI_API_KEY".into(),
                "ANTHROPIC_API_KEY".into(),
                "GEMINI_API_KEY".into(),
            ],
            base_urls: Vec::new(),
            allow_code_scorer: false,
            max_concurrency: 64,
            max_epochs: 100,
        }
    }
}

impl ServerConfig {
    /// Reads a TOML file (missing fields take their defaults; unknown ones are refused).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values serde cannot: limits above zero, a body limit and timeout.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &'static str, message: &str| ConfigError::Invalid {
            field,
            message: message.to_owned(),
        };
        if self.limits.free_per_minute == 0 {
            return Err(invalid("limits.free_per_minute", "must be at least 1"));
        }
        if self.limits.premium_per_minute == 0 {
            return Err(invalid("limits.premium_per_minute", "must be at least 1"));
        }
        if self.limits.internal_per_minute == 0 {
            return Err(invalid("limits.internal_per_minute", "must be at least 1"));
        }
        if self.body_limit_bytes == 0 {
            return Err(invalid("body_limit_bytes", "must be at least 1"));
        }
        if self.request_timeout_ms == 0 {
            return Err(invalid("request_timeout_ms", "must be at least 1"));
        }
        if let Some(field) = self.event_stream.invalid_field() {
            return Err(invalid(field, "must be at least 1"));
        }
        if self.auth.public.audience == self.auth.internal.audience {
            return Err(invalid(
                "auth.internal.audience",
                "must differ from auth.public.audience (a token opens one door only)",
            ));
        }
        Ok(())
    }
}

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse or a field has the wrong type (the message names it).
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error (line, column and field).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// What a caller can do: fix the file.
    pub fn remedy(&self) -> Remedy {
        Remedy::FixInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_partial_files() {
        let config = ServerConfig::from_toml("[limits]\nfree_per_minute = 5\n").expect("parses");
        assert_eq!(config.limits.free_per_minute, 5);
        assert_eq!(config.limits.internal_per_minute, 1_000);
        assert_eq!(config.body_limit_bytes, 8 * 1024 * 1024);
        let e = ServerConfig::from_toml("nope = 1").expect_err("unknown field");
        assert!(e.to_string().contains("nope"), "{e}");
        let e = ServerConfig::from_toml("[limits]\nfree_per_minute = 0\n").expect_err("zero");
        assert!(e.to_string().contains("free_per_minute"), "{e}");
    }
}
