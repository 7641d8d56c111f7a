//! The typed configuration of a deployment: environment, module switches, database URLs,
//! the job queue and the feature flags.
//!
//! Layers, each over the one before: the defaults ([`Config::default`]), a TOML file,
//! then environment variables `TAMMA_BENCH__SECTION__KEY` that set one field each
//! (`TAMMA_BENCH__QUEUE__LEASE_MS=5000`; a number segment picks an array element:
//! `TAMMA_BENCH__FLAG__0__PERCENTAGE=50`). The result is checked as a whole
//! ([`Config::validate`]: the queue's own rules, the flags' rules, the database URLs,
//! what production needs). Every error names where the bad value came from: the file,
//! line and field, or the environment variable and field.
//!
//! Database URLs are secrets: [`DatabaseUrl`]'s `Debug` and `Display` print them with the
//! password masked, and no error message carries one.
//!
//! Nothing here watches files: a host reloads by calling [`Config::load`] again, compares
//! [`Config::digest`]s (or lists [`Config::changed_fields`]) and swaps the flags into its
//! [`FlagHandle`](crate::flags::FlagHandle).
//!
//! ```
//! use tamma_bench_core::config::{Config, Environment};
//! use tamma_bench_core::flags::Subject;
//!
//! let toml = r#"
//! environment = "staging"
//!
//! [[flag]]
//! name = "new-report"
//! enabled = true
//! percentage = 100
//! "#;
//! let env = [("TAMMA_BENCH__QUEUE__LEASE_MS".to_owned(), "5000".to_owned())];
//! let config = Config::from_toml_str("tamma-bench.toml", toml, env).unwrap();
//! assert_eq!(config.environment, Environment::Staging);
//! assert_eq!(config.queue.lease_ms, 5000);
//! assert!(config.flag_set().unwrap().is_enabled("new-report", &Subject::anonymous()));
//! ```

mod error;
mod layer;
mod secret;

pub use error::{ConfigError, ConfigErrorKind, Origin};
pub(crate) use layer::write_canonical;
pub use secret::{DatabaseUrl, redact_secrets};

use crate::flags::{FlagDefinition, FlagError, FlagSet};
use crate::queue::QueueConfig;
use layer::{Layered, Seg};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The prefix of the environment variables that override single fields.
pub const ENV_PREFIX: &str = "TAMMA_BENCH__";

/// The kind of deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// A developer's machine (the default).
    #[default]
    Development,
    /// A deployment for testing releases.
    Staging,
    /// The live deployment: a database URL is required.
    Production,
}

impl Environment {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// Which parts of the platform a deployment runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Modules {
    /// The optimization engine (studies, racing, recommendations). Default on.
    pub optimizer: bool,
    /// The event log and its subscribers. Default on.
    pub events: bool,
    /// The public (external customers') API. Default off.
    pub public_api: bool,
}

impl Default for Modules {
    fn default() -> Self {
        Self {
            optimizer: true,
            events: true,
            public_api: false,
        }
    }
}

/// Where results and jobs are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The database: `postgres://ROLE:PASSWORD@HOST/DB` or `sqlite:PATH`. A secret.
    pub url: Option<DatabaseUrl>,
    /// The job queue's database when it is not `url` (same forms). A secret.
    pub queue_url: Option<DatabaseUrl>,
}

/// The configuration of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Development, staging or production.
    #[serde(default)]
    pub environment: Environment,
    /// Module switches.
    #[serde(default)]
    pub modules: Modules,
    /// Database URLs.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The job queue: tiers, leases, retries (see [`QueueConfig`]). Fields not given keep
    /// their defaults; `tiers`, when given, replaces the default tiers.
    #[serde(default)]
    pub queue: QueueConfig,
    /// The feature flags (`[[flag]]` tables).
    #[serde(default, rename = "flag")]
    pub flags: Vec<FlagDefinition>,
}

impl Config {
    /// Loads the TOML file `path` over the defaults, then the overrides among `env` (the
    /// variables starting with [`ENV_PREFIX`]; others are ignored), and validates.
    /// A host passes `std::env::vars()`.
    pub fn load<K, V>(
        path: impl AsRef<Path>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let path = path.as_ref();
        let src = crate::load::read(path).map_err(ConfigError::from_load)?;
        Self::from_toml_str(path, &src, env)
    }

    /// As [`load`](Self::load), with the file's content given (`path` names it in errors).
    pub fn from_toml_str<K, V>(
        path: impl AsRef<Path>,
        src: &str,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut layered = Layered::defaults()?;
        layered.file(path.as_ref(), src)?;
        layered.env(env)?;
        layered.finish()
    }

    /// The defaults with the overrides among `env`, validated: a deployment configured
    /// by its environment alone.
    pub fn from_env<K, V>(env: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut layered = Layered::defaults()?;
        layered.env(env)?;
        layered.finish()
    }

    /// Checks the whole: the queue ([`QueueConfig::validate`]), the flags (each valid,
    /// names unique), the database URLs' form, and that production has a database.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.problem().map_or(Ok(()), |(path, kind, message)| {
            Err(ConfigError::new(
                kind,
                Origin::Value,
                Some(layer::field_name(&path)),
                message,
            ))
        })
    }

    /// The first problem: where (as a path of fields), what kind, what.
    fn problem(&self) -> Option<(Vec<Seg>, ConfigErrorKind, String)> {
        if let Err(e) = self.queue.validate() {
            let path = queue_field(&self.queue, e.to_string().as_str());
            return Some((path, ConfigErrorKind::Invalid, e.to_string()));
        }
        if let Err(e) = FlagSet::new(self.flags.clone()) {
            let mut path = vec![Seg::key("flag")];
            if let Some(i) = e.index() {
                path.push(Seg::Index(i));
            }
            path.extend(e.field().split('.').map(Seg::key));
            let kind = match e.kind() {
                crate::flags::FlagErrorKind::Duplicate => ConfigErrorKind::Duplicate,
                _ => ConfigErrorKind::Invalid,
            };
            return Some((path, kind, e.message().to_owned()));
        }
        for (field, url) in [
            ("url", &self.database.url),
            ("queue_url", &self.database.queue_url),
        ] {
            if let Some(url) = url
                && let Err(message) = url.check()
            {
                let path = vec![Seg::key("database"), Seg::key(field)];
                return Some((path, ConfigErrorKind::Invalid, message));
            }
        }
        if self.environment == Environment::Production && self.database.url.is_none() {
            return Some((
                vec![Seg::key("database"), Seg::key("url")],
                ConfigErrorKind::Invalid,
                "production needs a database: set database.url (or TAMMA_BENCH__DATABASE__URL)"
                    .into(),
            ));
        }
        None
    }

    /// The flags, checked and ready for evaluation.
    pub fn flag_set(&self) -> Result<FlagSet, FlagError> {
        FlagSet::new(self.flags.clone())
    }

    /// The JSON Schema of the file. The queue's fields are optional in the file (the
    /// defaults fill them), so the schema does not require them.
    pub fn json_schema() -> schemars::Schema {
        let mut schema = schemars::schema_for!(Config);
        if let Some(queue) = schema
            .get_mut("$defs")
            .and_then(|d| d.get_mut("QueueConfig"))
            .and_then(|q| q.as_object_mut())
        {
            queue.remove("required");
        }
        schema
    }

    /// The configuration as canonical JSON: keys sorted, no spaces. Secrets included:
    /// for digests and comparisons, not for printing.
    fn canonical_json(&self) -> String {
        // Serializing plain data (strings, numbers, booleans) into a Value cannot fail.
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut out = String::new();
        layer::write_canonical(&value, &mut out);
        out
    }

    /// SHA-256 of the canonical JSON, as 64 hex digits: equal configurations have equal
    /// digests, so a reload can tell whether anything changed.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// The fields whose values differ between `self` and `other` (`queue.lease_ms`,
    /// `flag[0].percentage`; an array of a different length is named whole), sorted.
    pub fn changed_fields(&self, other: &Config) -> Vec<String> {
        let a = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let b = serde_json::to_value(other).unwrap_or(serde_json::Value::Null);
        let mut out = Vec::new();
        layer::diff(&a, &b, &mut Vec::new(), &mut out);
        out.sort();
        out
    }
}

/// The field of the queue that `message` (of [`QueueConfig::validate`]) is about, as
/// precisely as the message tells.
fn queue_field(queue: &QueueConfig, message: &str) -> Vec<Seg> {
    let mut path = vec![Seg::key("queue")];
    if let Some(i) = queue
        .tiers
        .iter()
        .position(|t| message.contains(&format!("tier {:?}", t.name)))
    {
        path.extend([Seg::key("tiers"), Seg::Index(i)]);
        if message.contains("appears twice") {
            path.push(Seg::key("name"));
        } else if let Some(f) = ["concurrency", "submissions_per_minute"]
            .into_iter()
            .find(|f| message.contains(f))
        {
            path.push(Seg::key(f));
        }
    } else if message.contains("tier name") {
        if let Some(i) = queue
            .tiers
            .iter()
            .position(|t| t.name.is_empty() || t.name.len() > 64)
        {
            path.extend([Seg::key("tiers"), Seg::Index(i), Seg::key("name")]);
        }
    } else if message.contains("at least one tier") {
        path.push(Seg::key("tiers"));
    } else if let Some((f, _)) = [
        ("max_attempts", u64::from(queue.max_attempts)),
        ("aging_ms", queue.aging_ms),
        ("lease_ms", queue.lease_ms),
    ]
    .into_iter()
    .find(|(_, v)| *v == 0)
    {
        path.push(Seg::key(f));
    }
    path
}

#[cfg(test)]
mod tests;
