//! Ed25519 signing of checkpoints in the C2SP signed-note format.
//!
//! A note is a text body (ending in a newline), a blank line, and signature lines
//! `— NAME BASE64(key_id[4] || signature[64])`. The key id is the first 4 bytes of
//! `SHA-256(NAME || "\n" || 0x01 || public_key)` (0x01: Ed25519). Keys are written as in
//! `golang.org/x/mod/sumdb/note`: the verifier key `NAME+HEX8+BASE64(0x01 || public)`,
//! the signer key `PRIVATE+KEY+NAME+HEX8+BASE64(0x01 || seed)`.

use super::{AuditError, AuditErrorKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::TryRngCore as _;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

const ED25519: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";

fn key_error(message: impl Into<String>) -> AuditError {
    AuditError::new(AuditErrorKind::Key, message)
}

fn check_name(name: &str) -> Result<(), AuditError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(key_error(format!(
            "invalid key name {name:?}: non-empty, no `+`, no spaces"
        )));
    }
    Ok(())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The key that signs checkpoints, with its name. Zeroized on drop; `Debug` shows the
/// name and public key only.
pub struct AuditSigner {
    name: String,
    key: SigningKey,
}

impl AuditSigner {
    /// A fresh key named `name` (e.g. `tamma-bench.example/audit`).
    pub fn generate(name: &str) -> Result<Self, AuditError> {
        check_name(name)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| key_error(format!("OS RNG failed: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses a signer key `PRIVATE+KEY+NAME+HEX8+BASE64`.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let bad = || key_error("invalid signer key: expected PRIVATE+KEY+NAME+HEX8+BASE64");
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let (name, id, body) = split_key(rest).ok_or_else(bad)?;
        check_name(name)?;
        let raw = Zeroizing::new(STANDARD.decode(body).map_err(|_| bad())?);
        let seed: Zeroizing<[u8; 32]> = match raw.split_first() {
            Some((&ED25519, seed)) if seed.len() == 32 => {
                let mut s = Zeroizing::new([0u8; 32]);
                s.copy_from_slice(seed);
                s
            }
            _ => return Err(bad()),
        };
        let signer = Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        };
        if hex::encode(key_id(name, &signer.key.verifying_key())) != id {
            return Err(key_error("signer key id does not match its key"));
        }
        Ok(signer)
    }

    /// Reads a signer key from a file only its owner may access (Unix).
    pub fn from_file(path: &std::path::Path) -> Result<Self, AuditError> {
        let text = crate::crypto::read_secret_file(path)
            .map_err(|e| key_error(format!("signing key: {e}")))?;
        Self::parse(&text)
    }

    /// Reads the signer key from [`super::SIGNING_KEY_VAR`]: the key itself
    /// (`PRIVATE+KEY+…`), or the path of a file holding it (as `audit keygen --out`
    /// writes, readable by its owner only).
    pub fn from_env() -> Result<Self, AuditError> {
        let text = Zeroizing::new(std::env::var(super::SIGNING_KEY_VAR).map_err(|e| {
            key_error(format!(
                "no audit signing key: ${} ({e})",
                super::SIGNING_KEY_VAR
            ))
        })?);
        if text.trim().starts_with("PRIVATE+KEY+") {
            Self::parse(&text)
        } else {
            Self::from_file(std::path::Path::new(text.trim()))
        }
    }

    /// [`AuditSigner::from_env`] when [`super::SIGNING_KEY_VAR`] is set and not empty,
    /// `None` when it is not. A set but unusable value is an error, never `None`.
    pub fn from_env_if_set() -> Result<Option<Self>, AuditError> {
        match std::env::var_os(super::SIGNING_KEY_VAR) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(_) => Self::from_env().map(Some),
        }
    }

    /// The signer key in text form. A secret: store it like a password.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(vec![ED25519]);
        raw.extend_from_slice(self.key.as_bytes());
        let id = hex::encode(key_id(&self.name, &self.key.verifying_key()));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{id}+{}",
            self.name,
            STANDARD.encode(&raw)
        ))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> AuditVerifier {
        AuditVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `body` (which must end in a newline) into a signed note.
    pub fn sign_note(&self, body: &str) -> String {
        let signature = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("verifier", &self.verifier().to_string())
            .finish_non_exhaustive()
    }
}

fn split_key(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.splitn(3, '+');
    let (name, id, body) = (parts.next()?, parts.next()?, parts.next()?);
    (id.len() == 8).then_some((name, id, body))
}

/// The public half: checks signed checkpoints. Text form `NAME+HEX8+BASE64`.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditVerifier {
    name: String,
    key: VerifyingKey,
}

impl AuditVerifier {
    /// Parses a verifier key `NAME+HEX8+BASE64(0x01 || public key)`.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let bad = || key_error("invalid verifier key: expected NAME+HEX8+BASE64");
        let (name, id, body) = split_key(text.trim()).ok_or_else(bad)?;
        check_name(name)?;
        let raw = STANDARD.decode(body).map_err(|_| bad())?;
        let key = match raw.split_first() {
            Some((&ED25519, k)) => {
                let k: [u8; 32] = k.try_into().map_err(|_| bad())?;
                VerifyingKey::from_bytes(&k).map_err(|_| bad())?
            }
            _ => return Err(bad()),
        };
        if hex::encode(key_id(name, &key)) != id {
            return Err(key_error("verifier key id does not match its key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a signed note and returns its body. It must carry a valid signature by this
    /// key; signatures by other keys are ignored.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, AuditError> {
        let bad = |m: &str| AuditError::new(AuditErrorKind::Signature, m.to_owned());
        let split = note
            .find("\n\n")
            .ok_or_else(|| bad("not a signed note: no blank line before the signatures"))?;
        let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
        let id = key_id(&self.name, &self.key);
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(bad("malformed signature line"));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(bad("malformed signature line"));
            };
            let Ok(blob) = STANDARD.decode(b64) else {
                return Err(bad("malformed signature"));
            };
            if name != self.name || blob.len() != 68 || blob[..4] != id {
                continue;
            }
            let signature =
                Signature::from_slice(&blob[4..]).map_err(|_| bad("malformed signature"))?;
            return self
                .key
                .verify_strict(body.as_bytes(), &signature)
                .map(|()| body)
                .map_err(|_| {
                    bad("the checkpoint signature does not verify: the checkpoint was altered")
                });
        }
        Err(bad("the note carries no signature by this key"))
    }
}

impl fmt::Display for AuditVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        let id = hex::encode(key_id(&self.name, &self.key));
        write!(f, "{}+{id}+{}", self.name, STANDARD.encode(raw))
    }
}

impl fmt::Debug for AuditVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditVerifier({self})")
    }
}
