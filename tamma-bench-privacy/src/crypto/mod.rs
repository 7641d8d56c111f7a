//! Field-level encryption of sensitive and restricted fields.
//!
//! A field is sealed with XChaCha20-Poly1305 under the keyset's primary key, with a
//! random 192-bit nonce from the operating system, and with associated data that binds
//! the tenant, table, column, row and key id ([`FieldContext`]): a ciphertext copied to
//! another row, column or tenant fails to open. The sealed value is a versioned
//! [`Envelope`] that names its key, so rotating the primary key leaves old data
//! readable while new data uses the new key. Every failure is closed: a typed
//! [`CryptoError`], never plaintext and never part of it.
//!
//! Keys come from a [`KeyProvider`]: [`EnvKeyProvider`] (the `TAMMA_BENCH_DATA_KEYS`
//! variable) or [`FileKeyProvider`] (a keyset file readable by its owner only). Key
//! material is zeroized on drop and never printed. [`RecordCipher`] applies all this to
//! the sensitive and restricted fields of stored runs and trials.
//!
//! ```
//! use tamma_bench_privacy::crypto::{FieldCipher, FieldContext, Keyset};
//! use tamma_bench_core::model::TenantId;
//!
//! let keyset = Keyset::generate("k1")?;
//! let cipher = FieldCipher::new(&keyset);
//! let tenant = TenantId::new("acme")?;
//! let cx = FieldContext::new(&tenant, "trials", "output", "run-1/agent/case-7/0");
//! let sealed = cipher.seal_text(&cx, b"the model's answer")?;
//! assert_eq!(cipher.open_text(&cx, &sealed)?.as_slice(), b"the model's answer");
//!
//! // The same ciphertext in another row does not open.
//! let other = FieldContext::new(&tenant, "trials", "output", "run-1/agent/case-8/0");
//! assert!(cipher.open_text(&other, &sealed).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod envelope;
mod field;
mod keys;
mod provider;
mod records;

pub use envelope::{ENVELOPE_VERSION, Envelope, TEXT_PREFIX};
pub use field::{FieldCipher, FieldContext};
pub use keys::{DataKey, KEY_LEN, KeyId, Keyset};
pub(crate) use provider::read_secret_file;
pub use provider::{DATA_KEYS_VAR, EnvKeyProvider, FileKeyProvider, KeyProvider};
pub use records::{
    ALLOW_PLAINTEXT_VAR, RUNS_TABLE, RecordCipher, Resealed, SEALED_FIELDS, TRIALS_TABLE,
};
use tamma_bench_core::error::Remedy;

/// What went wrong in field encryption; tells the caller what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptoErrorKind {
    /// No keys are configured, or the key an envelope names is not in the keyset: add the
    /// key (old keys must stay in the keyset while data sealed with them exists).
    MissingKey,
    /// The key configuration is unusable (bad encoding or length, bad or duplicate id, no
    /// primary key, a key file others may read): fix the configuration.
    InvalidKey,
    /// The value is not an envelope, or is truncated: the stored data is damaged.
    Malformed,
    /// The envelope has a format version this build does not know: upgrade.
    UnsupportedVersion,
    /// Authentication failed: wrong key, altered ciphertext, or a ciphertext that belongs
    /// to another tenant, table, column or row. Never retry with other contexts.
    Decryption,
    /// The operating system's random number generator failed.
    Rng,
    /// A sealed column holds a value that is not an envelope while data keys are
    /// configured: plaintext written before keys were, or swapped in by someone who can
    /// write the database. Re-seal trusted legacy data, or read it with the legacy
    /// opt-in; otherwise restore the data.
    Unsealed,
}

impl CryptoErrorKind {
    /// What a caller can do: fix the key configuration; retry a failed random number
    /// generator; give up on damaged, unknown, unauthenticated or unsealed data.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::MissingKey | Self::InvalidKey => Remedy::FixInput,
            Self::Rng => Remedy::Retry,
            Self::Malformed | Self::UnsupportedVersion | Self::Decryption | Self::Unsealed => {
                Remedy::GiveUp
            }
        }
    }
}

/// A field-encryption failure. Its message never contains key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct CryptoError {
    kind: CryptoErrorKind,
    message: String,
}

impl CryptoError {
    /// An error of `kind`.
    pub fn new(kind: CryptoErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure.
    pub fn kind(&self) -> CryptoErrorKind {
        self.kind
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }
}
