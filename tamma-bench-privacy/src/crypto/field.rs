//! Sealing and opening fields with associated data bound to where they live.

use super::envelope::NONCE_LEN;
use super::{CryptoError, CryptoErrorKind, Envelope, KeyId, Keyset};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::TryRngCore as _;
use std::collections::BTreeMap;
use std::fmt;
use tamma_bench_core::model::TenantId;
use zeroize::Zeroizing;

/// Where a field lives: bound into the associated data of its ciphertext, so the
/// ciphertext opens only in the same tenant, table, column and row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldContext<'a> {
    /// The tenant that owns the row.
    pub tenant: &'a TenantId,
    /// The table (or record type), e.g. `trials`.
    pub table: &'a str,
    /// The column (or field), e.g. `output`.
    pub column: &'a str,
    /// A stable id of the row, e.g. the trial key rendered as one string.
    pub row: &'a str,
}

impl<'a> FieldContext<'a> {
    /// A context.
    pub fn new(tenant: &'a TenantId, table: &'a str, column: &'a str, row: &'a str) -> Self {
        Self {
            tenant,
            table,
            column,
            row,
        }
    }

    /// The associated data: the envelope header (version, key id), a domain label, then
    /// tenant, table, column, row and key id, each prefixed by its length (u32, big
    /// endian) so no two contexts encode alike.
    fn associated_data(&self, key_id: &KeyId) -> Vec<u8> {
        let mut aad = Envelope::header(key_id);
        for part in [
            "tamma-bench/field",
            self.tenant.as_str(),
            self.table,
            self.column,
            self.row,
            key_id.as_str(),
        ] {
            // Parts are ids and names, far below 4 GiB.
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// Seals fields with the keyset's primary key and opens them with whichever key of the
/// keyset sealed them. Keys are zeroized when the cipher is dropped.
pub struct FieldCipher {
    primary: KeyId,
    ciphers: BTreeMap<KeyId, XChaCha20Poly1305>,
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldCipher")
            .field("primary", &self.primary.as_str())
            .field("keys", &self.ciphers.len())
            .finish()
    }
}

fn decryption_failed() -> CryptoError {
    CryptoError::new(
        CryptoErrorKind::Decryption,
        "the field does not open: wrong key, altered data, or it belongs to another tenant, table, column or row",
    )
}

impl FieldCipher {
    /// A cipher over `keyset`.
    pub fn new(keyset: &Keyset) -> Self {
        let ciphers = keyset
            .ids()
            .filter_map(|id| {
                let key = keyset.get(id)?;
                let key = Key::from(*key.bytes());
                Some((id.clone(), XChaCha20Poly1305::new(&key)))
            })
            .collect();
        Self {
            primary: keyset.primary().clone(),
            ciphers,
        }
    }

    /// The id of the key new data is sealed with.
    pub fn primary(&self) -> &KeyId {
        &self.primary
    }

    /// Seals `plaintext` for `cx` with the primary key and a fresh random nonce.
    pub fn seal(&self, cx: &FieldContext<'_>, plaintext: &[u8]) -> Result<Envelope, CryptoError> {
        let cipher = self.ciphers.get(&self.primary).ok_or_else(|| {
            CryptoError::new(CryptoErrorKind::MissingKey, "the primary key is missing")
        })?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| CryptoError::new(CryptoErrorKind::Rng, format!("OS RNG failed: {e}")))?;
        let aad = cx.associated_data(&self.primary);
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::new(CryptoErrorKind::Decryption, "encryption failed"))?;
        Ok(Envelope {
            key_id: self.primary.clone(),
            nonce,
            sealed,
        })
    }

    /// Opens `envelope` sealed for `cx`. Any mismatch (key, context, a changed byte) is an
    /// error and nothing of the plaintext is returned.
    pub fn open(
        &self,
        cx: &FieldContext<'_>,
        envelope: &Envelope,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let cipher = self.ciphers.get(&envelope.key_id).ok_or_else(|| {
            CryptoError::new(
                CryptoErrorKind::MissingKey,
                format!(
                    "the field was sealed with key {}, which is not in the keyset",
                    envelope.key_id
                ),
            )
        })?;
        let aad = cx.associated_data(&envelope.key_id);
        cipher
            .decrypt(
                &XNonce::from(envelope.nonce),
                Payload {
                    msg: &envelope.sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| decryption_failed())
    }

    /// Seals `plaintext` and returns the binary envelope.
    pub fn seal_bytes(
        &self,
        cx: &FieldContext<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Ok(self.seal(cx, plaintext)?.to_bytes())
    }

    /// Opens a binary envelope.
    pub fn open_bytes(
        &self,
        cx: &FieldContext<'_>,
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.open(cx, &Envelope::from_bytes(envelope)?)
    }

    /// Seals `plaintext` and returns the envelope in text form (`tbenc1.…`).
    pub fn seal_text(
        &self,
        cx: &FieldContext<'_>,
        plaintext: &[u8],
    ) -> Result<String, CryptoError> {
        Ok(self.seal(cx, plaintext)?.to_text())
    }

    /// Opens an envelope in text form.
    pub fn open_text(
        &self,
        cx: &FieldContext<'_>,
        envelope: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.open(cx, &Envelope::from_text(envelope)?)
    }

    /// Whether `envelope` was sealed with an older key (a re-keying job re-seals it).
    pub fn needs_reseal(&self, envelope: &Envelope) -> bool {
        envelope.key_id != self.primary
    }

    /// Opens `envelope` and seals its plaintext again with the primary key.
    pub fn reseal(
        &self,
        cx: &FieldContext<'_>,
        envelope: &Envelope,
    ) -> Result<Envelope, CryptoError> {
        let plaintext = self.open(cx, envelope)?;
        self.seal(cx, &plaintext)
    }
}
