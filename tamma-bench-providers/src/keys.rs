//! Where the API keys of agents come from: [`KeySource`].
//!
//! An agent names its key (`api_key_env`, or its vendor's default name such as
//! `OPENAI_API_KEY`); a [`KeySource`] says where that name is looked up. The CLI and the
//! platform's own jobs read the process environment ([`KeySource::ProcessEnv`]). A
//! tenant's job reads its tenant's credentials only ([`KeySource::Tenant`]): the host
//! opens the credentials the agents name before their providers are built (building is
//! synchronous, a credential store is not) and hands them over as [`TenantKeys`]; a name
//! that is not among them fails the build, and the environment is never read, so an
//! agent that names `TAMMA_BENCH_DATA_KEYS` or the platform's own `OPENAI_API_KEY` gets
//! nothing.
//!
//! ```
//! use tamma_bench_core::model::AgentConfig;
//! use tamma_bench_providers::http::SecretString;
//! use tamma_bench_providers::{KeySource, TenantKeys, build_provider_with, key_name};
//!
//! let mut agent = AgentConfig::new("gpt", "openai", "gpt-4o-mini");
//! agent.api_key_env = Some("PATH".into()); // set in every process environment
//! assert_eq!(key_name(&agent), Some("PATH"));
//!
//! // A tenant without a credential of that name: refused, the variable not read.
//! let none = KeySource::Tenant(TenantKeys::new());
//! let e = build_provider_with(&agent, ".".as_ref(), &none).err().expect("refused");
//! assert!(e.to_string().contains("no credential PATH is stored for this tenant"), "{e}");
//!
//! let mut keys = TenantKeys::new();
//! keys.insert("PATH", SecretString::new("sk-tenant"));
//! let tenant = KeySource::Tenant(keys);
//! assert!(build_provider_with(&agent, ".".as_ref(), &tenant).is_ok());
//! assert!(!format!("{tenant:?}").contains("sk-tenant"));
//! ```

use crate::http::{KeyError, SecretString, key_from, process_env};
use std::collections::BTreeMap;
use std::fmt;

/// Where the keys agents name are looked up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// The process environment: a name is a variable (the CLI, and the platform's own
    /// jobs: internal contexts).
    ProcessEnv,
    /// One tenant's credentials, opened for one job: a name is a credential of that
    /// tenant, and nothing else is read (never the environment, not even for a vendor's
    /// default name).
    Tenant(TenantKeys),
}

impl KeySource {
    /// The key of `name`: the variable's value, or the tenant's credential. The error
    /// names it, never a value.
    pub fn key(&self, name: &str) -> Result<SecretString, KeyError> {
        match self {
            Self::ProcessEnv => key_from(name, &process_env),
            Self::Tenant(keys) => keys.key(name),
        }
    }

    /// Whether keys come from the process environment. Only then may a provider plugin
    /// run: a plugin reads its key where it likes, the environment included.
    pub fn reads_process_env(&self) -> bool {
        matches!(self, Self::ProcessEnv)
    }
}

/// The keys of one tenant, by credential name, as the host opened them for one job.
/// `Debug` shows the names only.
#[derive(Clone, Default)]
pub struct TenantKeys {
    keys: BTreeMap<String, SecretString>,
}

impl fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantKeys")
            .field("names", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TenantKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key of credential `name`.
    pub fn insert(&mut self, name: impl Into<String>, key: SecretString) {
        self.keys.insert(name.into(), key);
    }

    /// The names held, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// The key of credential `name` (trimmed, as a variable's is).
    pub fn key(&self, name: &str) -> Result<SecretString, KeyError> {
        let key = self.keys.get(name).ok_or_else(|| KeyError::NoCredential {
            name: name.to_owned(),
        })?;
        let trimmed = key.expose().trim();
        if trimmed.is_empty() {
            return Err(KeyError::EmptyCredential {
                name: name.to_owned(),
            });
        }
        Ok(SecretString::new(trimmed))
    }
}
