//! Configuration errors: what went wrong and where the bad value came from.

use super::secret::redact_secrets;
use crate::error::{Cause, Remedy};
use crate::load::{LoadError, LoadErrorKind};
use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of configuration problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not valid TOML, or a field is unknown or has the wrong type.
    Syntax,
    /// The content is well-formed but not allowed (a percentage over 100, a queue
    /// without tiers, production without a database).
    Invalid,
    /// Two flags share a name.
    Duplicate,
    /// An environment override cannot be applied: its value does not parse as the
    /// field's type, or it names no field.
    Environment,
}

impl ConfigErrorKind {
    /// What a caller can do: every configuration problem is fixed in the input.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::Io | Self::Syntax | Self::Invalid | Self::Duplicate | Self::Environment => {
                Remedy::FixInput
            }
        }
    }
}

/// Where a bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The configuration file, at a line where known.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: Option<usize>,
    },
    /// An environment variable.
    Env {
        /// Its name (`TAMMA_BENCH__QUEUE__LEASE_MS`).
        variable: String,
    },
    /// Neither: a default, or a value built in code and checked with
    /// [`Config::validate`](super::Config::validate).
    Value,
}

/// A configuration problem, located by file and line or by environment variable, and by
/// field. Messages never carry a database password.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigError {
    kind: ConfigErrorKind,
    origin: Origin,
    field: Option<String>,
    message: String,
    source: Option<Cause>,
}

impl ConfigError {
    /// An error of `kind` from `origin`, about `field` where there is one.
    pub fn new(
        kind: ConfigErrorKind,
        origin: Origin,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            origin,
            field,
            message: redact_secrets(&message.into()),
            source: None,
        }
    }

    /// A loader's error about the file. A syntax error keeps no source: the TOML parser's
    /// error quotes the line, which may hold a password.
    pub(crate) fn from_load(e: LoadError) -> Self {
        let kind = match e.kind() {
            LoadErrorKind::Io => ConfigErrorKind::Io,
            LoadErrorKind::Duplicate => ConfigErrorKind::Duplicate,
            LoadErrorKind::Invalid => ConfigErrorKind::Invalid,
            _ => ConfigErrorKind::Syntax,
        };
        let origin = Origin::File {
            path: e.path().to_owned(),
            line: e.line(),
        };
        let mut out = Self::new(kind, origin, e.field().map(str::to_owned), e.message());
        if kind == ConfigErrorKind::Io {
            out.source = e.cause();
        }
        out
    }

    /// An error in the file `path`.
    pub(crate) fn in_file(
        kind: ConfigErrorKind,
        path: &Path,
        line: Option<usize>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let origin = Origin::File {
            path: path.to_owned(),
            line,
        };
        Self::new(kind, origin, field, message)
    }

    /// An error in the environment variable `variable`.
    pub(crate) fn in_env(
        variable: &str,
        kind: ConfigErrorKind,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let origin = Origin::Env {
            variable: variable.to_owned(),
        };
        Self::new(kind, origin, field, message)
    }

    /// What kind of problem.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }

    /// Where the bad value came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The file, when the problem is in it.
    pub fn path(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The file's line (1-based), where known.
    pub fn line(&self) -> Option<usize> {
        match &self.origin {
            Origin::File { line, .. } => *line,
            _ => None,
        }
    }

    /// The environment variable, when the problem is in one.
    pub fn variable(&self) -> Option<&str> {
        match &self.origin {
            Origin::Env { variable } => Some(variable),
            _ => None,
        }
    }

    /// The field (`queue.lease_ms`, `flag[2].percentage`), where there is one.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong and what was expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { path, line } => {
                write!(f, "{}", path.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                f.write_str(": ")?;
            }
            Origin::Env { variable } => write!(f, "environment variable {variable}: ")?,
            Origin::Value => {}
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
