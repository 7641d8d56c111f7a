//! Checkpoints: the signed head of the log, in the C2SP `tlog-checkpoint` format.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//! time <ms since the Unix epoch>
//! chain <hash chain value after the last entry, base64>
//! ```
//!
//! The first three lines are the standard checkpoint; `time` and `chain` are extension
//! lines. The body is signed as a C2SP signed note (see [`super::note`]).

use super::entry::Hash;
use super::note::{AuditSigner, AuditVerifier};
use super::{AuditError, AuditErrorKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A checkpoint of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (the signer's key name).
    pub origin: String,
    /// The number of entries covered.
    pub size: u64,
    /// The RFC 6962 tree head of those entries.
    pub root: Hash,
    /// When it was signed, in ms since the Unix epoch.
    pub time_ms: i64,
    /// The hash chain value after entry `size - 1` (zeros for an empty log).
    pub chain: Hash,
}

fn malformed(what: &str) -> AuditError {
    AuditError::new(
        AuditErrorKind::Malformed,
        format!("malformed checkpoint: {what}"),
    )
}

fn hash_b64(text: &str) -> Option<Hash> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

impl Checkpoint {
    /// The note body (ends in a newline).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\nchain {}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root),
            self.time_ms,
            STANDARD.encode(self.chain)
        )
    }

    /// Parses a note body.
    pub fn parse_body(body: &str) -> Result<Self, AuditError> {
        let mut lines = body.lines();
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| malformed(&format!("no {what} line")))
        };
        let origin = next("origin")?.to_owned();
        let size = next("size")?
            .parse::<u64>()
            .map_err(|_| malformed("size is not a number"))?;
        let root = hash_b64(next("root")?).ok_or_else(|| malformed("root is not a base64 hash"))?;
        let time_ms = next("time")?
            .strip_prefix("time ")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| malformed("bad time line"))?;
        let chain = next("chain")?
            .strip_prefix("chain ")
            .and_then(hash_b64)
            .ok_or_else(|| malformed("bad chain line"))?;
        if origin.is_empty() {
            return Err(malformed("empty origin"));
        }
        Ok(Self {
            origin,
            size,
            root,
            time_ms,
            chain,
        })
    }

    /// The signed note.
    pub fn sign(&self, signer: &AuditSigner) -> String {
        signer.sign_note(&self.body())
    }

    /// Checks the signature of `note` and that its origin is the verifier's name, then
    /// parses it.
    pub fn open(note: &str, verifier: &AuditVerifier) -> Result<Self, AuditError> {
        let checkpoint = Self::parse_body(verifier.open_note(note)?)?;
        if checkpoint.origin != verifier.name() {
            return Err(AuditError::new(
                AuditErrorKind::Signature,
                format!(
                    "checkpoint of log {:?}, expected {:?}",
                    checkpoint.origin,
                    verifier.name()
                ),
            ));
        }
        Ok(checkpoint)
    }
}
