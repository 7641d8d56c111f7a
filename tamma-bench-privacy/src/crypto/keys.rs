//! Keys and keysets: a primary key for new data, older keys for reading old data.

use super::{CryptoError, CryptoErrorKind};
use base64::Engine as _;
use rand::TryRngCore as _;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// Length of a data key in bytes (XChaCha20-Poly1305 takes 256-bit keys).
pub const KEY_LEN: usize = 32;

/// The name of a key, stored in every envelope sealed with it: 1-64 characters of
/// `[A-Za-z0-9._-]` (e.g. `2025-06` or `k3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Longest key id, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Makes a key id, refusing anything outside the rules.
    pub fn new(id: impl Into<String>) -> Result<Self, CryptoError> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(id))
        } else {
            Err(CryptoError::new(
                CryptoErrorKind::InvalidKey,
                format!("invalid key id {id:?}: expected 1-64 characters of [A-Za-z0-9._-]"),
            ))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 256-bit data key. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng
            .try_fill_bytes(key.as_mut())
            .map_err(|e| CryptoError::new(CryptoErrorKind::Rng, format!("OS RNG failed: {e}")))?;
        Ok(Self(key))
    }

    /// Decodes a key written as 64 hex digits or as base64 (standard or URL-safe, padded
    /// or not), optionally prefixed with `hex:` or `base64:`. It must be 32 bytes.
    pub fn decode(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let invalid = |what: &str| {
            CryptoError::new(
                CryptoErrorKind::InvalidKey,
                format!("invalid key: {what} (expected 32 bytes as 64 hex digits or base64)"),
            )
        };
        let bytes: Zeroizing<Vec<u8>> = if let Some(h) = text.strip_prefix("hex:") {
            Zeroizing::new(hex::decode(h).map_err(|_| invalid("not hex"))?)
        } else if let Some(b) = text.strip_prefix("base64:") {
            Zeroizing::new(decode_base64(b).ok_or_else(|| invalid("not base64"))?)
        } else if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Zeroizing::new(hex::decode(text).map_err(|_| invalid("not hex"))?)
        } else {
            Zeroizing::new(decode_base64(text).ok_or_else(|| invalid("not hex or base64"))?)
        };
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(invalid(&format!("{} bytes", bytes.len())));
        }
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }

    pub(super) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The keys a cipher may use: one primary key that seals new data, and older keys that
/// still open the data sealed with them. `Debug` lists key ids only.
#[derive(Clone)]
pub struct Keyset {
    primary: KeyId,
    keys: BTreeMap<KeyId, DataKey>,
}

impl Keyset {
    /// A keyset of one key, which is primary.
    pub fn new(id: KeyId, key: DataKey) -> Self {
        Self {
            keys: BTreeMap::from([(id.clone(), key)]),
            primary: id,
        }
    }

    /// A keyset of one fresh random key named `id` (for tests and first setup).
    pub fn generate(id: &str) -> Result<Self, CryptoError> {
        Ok(Self::new(KeyId::new(id)?, DataKey::generate()?))
    }

    /// Builds a keyset from keys and the id of the primary one, which must be among them.
    pub fn from_keys(
        primary: KeyId,
        keys: impl IntoIterator<Item = (KeyId, DataKey)>,
    ) -> Result<Self, CryptoError> {
        let mut map = BTreeMap::new();
        for (id, key) in keys {
            if map.insert(id.clone(), key).is_some() {
                return Err(CryptoError::new(
                    CryptoErrorKind::InvalidKey,
                    format!("key id {id} appears twice"),
                ));
            }
        }
        if !map.contains_key(&primary) {
            return Err(CryptoError::new(
                CryptoErrorKind::MissingKey,
                format!("the primary key {primary} is not in the keyset"),
            ));
        }
        Ok(Self { primary, keys: map })
    }

    /// Rotation: adds `key` as `id` and makes it primary. Data sealed with the older keys
    /// stays readable; new data is sealed with this one. An id already present is refused.
    pub fn rotate(&mut self, id: KeyId, key: DataKey) -> Result<(), CryptoError> {
        if self.keys.contains_key(&id) {
            return Err(CryptoError::new(
                CryptoErrorKind::InvalidKey,
                format!("key id {id} is already in the keyset"),
            ));
        }
        self.keys.insert(id.clone(), key);
        self.primary = id;
        Ok(())
    }

    /// The id of the key that seals new data.
    pub fn primary(&self) -> &KeyId {
        &self.primary
    }

    /// The key named `id`, if the keyset has it.
    pub fn get(&self, id: &KeyId) -> Option<&DataKey> {
        self.keys.get(id)
    }

    /// Every key id, in order.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    /// Parses the keyset text format: one `ID = KEY` per line (or separated by `;`), a
    /// `primary = ID` entry (optional when there is one key), `#` comments. `source` names
    /// the origin in error messages, which never quote a key.
    pub fn parse(text: &str, source: &str) -> Result<Self, CryptoError> {
        let mut primary = None;
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            for entry in line.split(';') {
                let entry = entry.split('#').next().unwrap_or("").trim();
                if entry.is_empty() {
                    continue;
                }
                let at =
                    |e: CryptoError| CryptoError::new(e.kind(), format!("{source}:{}: {e}", n + 1));
                let Some((name, value)) = entry.split_once('=') else {
                    return Err(at(CryptoError::new(
                        CryptoErrorKind::InvalidKey,
                        "expected `ID = KEY` or `primary = ID`",
                    )));
                };
                let (name, value) = (name.trim(), value.trim());
                if name == "primary" {
                    primary = Some(KeyId::new(value).map_err(at)?);
                } else {
                    keys.push((
                        KeyId::new(name).map_err(at)?,
                        DataKey::decode(value).map_err(at)?,
                    ));
                }
            }
        }
        let primary = match (primary, keys.as_slice()) {
            (_, []) => {
                return Err(CryptoError::new(
                    CryptoErrorKind::MissingKey,
                    format!("{source}: no keys"),
                ));
            }
            (Some(p), _) => p,
            (None, [(only, _)]) => only.clone(),
            (None, _) => {
                return Err(CryptoError::new(
                    CryptoErrorKind::InvalidKey,
                    format!("{source}: several keys and no `primary = ID` entry"),
                ));
            }
        };
        Self::from_keys(primary, keys)
            .map_err(|e| CryptoError::new(e.kind(), format!("{source}: {e}")))
    }
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyset")
            .field("primary", &self.primary.as_str())
            .field(
                "ids",
                &self.keys.keys().map(KeyId::as_str).collect::<Vec<_>>(),
            )
            .finish()
    }
}
