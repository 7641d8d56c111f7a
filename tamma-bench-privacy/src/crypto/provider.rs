//! Where keysets come from: an environment variable or a file.

use super::{CryptoError, CryptoErrorKind, Keyset};
use std::path::{Path, PathBuf};

/// The environment variable [`EnvKeyProvider`] reads by default.
pub const DATA_KEYS_VAR: &str = "TAMMA_BENCH_DATA_KEYS";

/// A source of the keyset. Loading fails closed: without a usable keyset nothing is
/// sealed or opened.
pub trait KeyProvider: Send + Sync {
    /// Loads the keyset.
    fn keyset(&self) -> Result<Keyset, CryptoError>;
}

impl KeyProvider for Keyset {
    fn keyset(&self) -> Result<Keyset, CryptoError> {
        Ok(self.clone())
    }
}

/// Reads the keyset from an environment variable, in the [`Keyset::parse`] format with
/// entries separated by `;`: `primary=k2;k1=base64:...;k2=<64 hex digits>`; or, when the
/// value holds no `=`, from the keyset file it names.
#[derive(Debug, Clone)]
pub struct EnvKeyProvider {
    var: String,
}

impl EnvKeyProvider {
    /// Reads [`DATA_KEYS_VAR`].
    pub fn new() -> Self {
        Self::from_var(DATA_KEYS_VAR)
    }

    /// Reads the variable `var`.
    pub fn from_var(var: impl Into<String>) -> Self {
        Self { var: var.into() }
    }
}

impl Default for EnvKeyProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl EnvKeyProvider {
    /// The keyset when the variable is set and not empty; `None` when it is not (no keys
    /// configured). A set but unusable value is an error, never `None`.
    pub fn keyset_if_set(&self) -> Result<Option<Keyset>, CryptoError> {
        match std::env::var_os(&self.var) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(_) => self.keyset().map(Some),
        }
    }
}

impl KeyProvider for EnvKeyProvider {
    /// The variable holds a keyset (`primary=k2;k1=...`), or, when it holds no `=`, the
    /// path of a keyset file (read as [`FileKeyProvider`] does).
    fn keyset(&self) -> Result<Keyset, CryptoError> {
        let value = zeroize::Zeroizing::new(std::env::var(&self.var).map_err(|e| {
            CryptoError::new(
                CryptoErrorKind::MissingKey,
                format!("no data keys: ${} is unusable ({e})", self.var),
            )
        })?);
        if !value.contains('=') {
            return FileKeyProvider::new(value.trim()).keyset();
        }
        Keyset::parse(&value, &format!("${}", self.var))
    }
}

/// Reads the keyset from a file in the [`Keyset::parse`] format. On Unix the file must
/// not be readable or writable by group or others (like an SSH private key).
#[derive(Debug, Clone)]
pub struct FileKeyProvider {
    path: PathBuf,
}

impl FileKeyProvider {
    /// Reads `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The keyset file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl KeyProvider for FileKeyProvider {
    fn keyset(&self) -> Result<Keyset, CryptoError> {
        let text = read_secret_file(&self.path)?;
        Keyset::parse(&text, &self.path.display().to_string())
    }
}

/// Reads a file holding secrets, refusing (on Unix) one that group or others may access.
pub(crate) fn read_secret_file(path: &Path) -> Result<zeroize::Zeroizing<String>, CryptoError> {
    let shown = path.display();
    let missing = |e: std::io::Error| {
        CryptoError::new(
            CryptoErrorKind::MissingKey,
            format!("cannot read {shown}: {e}"),
        )
    };
    let meta = std::fs::metadata(path).map_err(missing)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(CryptoError::new(
                CryptoErrorKind::InvalidKey,
                format!(
                    "{shown} is accessible by group or others (mode {:o}); run `chmod 600 {shown}`",
                    mode & 0o777
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    std::fs::read_to_string(path)
        .map(zeroize::Zeroizing::new)
        .map_err(missing)
}
