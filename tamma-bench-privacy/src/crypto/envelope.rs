//! The versioned envelope a sealed field is stored as.
//!
//! Binary layout, version 1:
//!
//! ```text
//! version   1 byte   0x01
//! id_len    1 byte   length of the key id, 1..=64
//! key_id    id_len   ASCII key id
//! nonce     24 bytes XChaCha20 nonce (random)
//! sealed    >= 16    ciphertext followed by the 16-byte Poly1305 tag
//! ```
//!
//! As text (for TEXT columns): `tbenc1.` followed by the binary envelope in unpadded
//! URL-safe base64.

use super::{CryptoError, CryptoErrorKind, KeyId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The envelope format version this build writes (and the only one it reads).
pub const ENVELOPE_VERSION: u8 = 1;

/// The prefix of an envelope in text form.
pub const TEXT_PREFIX: &str = "tbenc1.";

pub(super) const NONCE_LEN: usize = 24;
pub(super) const TAG_LEN: usize = 16;

/// A sealed field: the key id, the nonce and the ciphertext with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The key that sealed it.
    pub key_id: KeyId,
    /// The nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext and tag.
    pub sealed: Vec<u8>,
}

fn malformed(what: &str) -> CryptoError {
    CryptoError::new(
        CryptoErrorKind::Malformed,
        format!("malformed envelope: {what}"),
    )
}

impl Envelope {
    /// The header every envelope starts with (version, key id); also bound into the
    /// associated data.
    pub(super) fn header(key_id: &KeyId) -> Vec<u8> {
        let id = key_id.as_str().as_bytes();
        let mut out = Vec::with_capacity(2 + id.len());
        out.push(ENVELOPE_VERSION);
        // KeyId::new caps the length at 64.
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Self::header(&self.key_id);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Parses the binary form; a truncated or unknown value is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let (&version, rest) = bytes.split_first().ok_or_else(|| malformed("empty"))?;
        if version != ENVELOPE_VERSION {
            return Err(CryptoError::new(
                CryptoErrorKind::UnsupportedVersion,
                format!(
                    "envelope version {version} is not supported (this build reads {ENVELOPE_VERSION})"
                ),
            ));
        }
        let (&id_len, rest) = rest
            .split_first()
            .ok_or_else(|| malformed("truncated header"))?;
        let id_len = usize::from(id_len);
        if id_len == 0 || id_len > KeyId::MAX_LEN || rest.len() < id_len + NONCE_LEN + TAG_LEN {
            return Err(malformed("truncated"));
        }
        let (id, rest) = rest.split_at(id_len);
        let id = std::str::from_utf8(id).map_err(|_| malformed("key id is not text"))?;
        let key_id = KeyId::new(id).map_err(|_| malformed("invalid key id"))?;
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        Ok(Self {
            key_id,
            nonce: n,
            sealed: sealed.to_vec(),
        })
    }

    /// The text form: [`TEXT_PREFIX`] and base64.
    pub fn to_text(&self) -> String {
        format!("{TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }

    /// Parses the text form.
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let body = text
            .strip_prefix(TEXT_PREFIX)
            .ok_or_else(|| malformed("missing the tbenc1. prefix"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| malformed("not base64"))?;
        Self::from_bytes(&bytes)
    }

    /// Whether `text` looks like an envelope in text form (it may still be damaged).
    pub fn is_text_envelope(text: &str) -> bool {
        text.starts_with(TEXT_PREFIX)
    }
}
