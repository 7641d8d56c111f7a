//! A JWK Set file, re-read when it changes: keys by `kid`, rotated without a restart.
//!
//! The file is looked at again at most once per `reload_interval` (its bytes compared
//! with the last read), and at once, within the same limit, when a token names a `kid`
//! the set does not hold (a key added before its first token). A file that no longer
//! parses keeps the keys of the last good read, with a warning in the log.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One verification key: the algorithm it verifies and the key.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one file, by `kid`.
type Keys = Arc<HashMap<String, VerifyingKey>>;

struct State {
    keys: Keys,
    /// The bytes of the last good read.
    bytes: Vec<u8>,
    /// When the file was last looked at.
    checked: Instant,
}

/// A JWK Set file and the keys of its last good read.
pub(crate) struct KeySet {
    path: PathBuf,
    interval: Duration,
    state: Mutex<State>,
}

/// Why a key set could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// The file could not be read.
    #[error("cannot read the key set {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a JWK Set.
    #[error("{} is not a JWK Set", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A key is unusable (no `kid`, an algorithm other than EdDSA or RS256, bad values).
    #[error("{}: key {index}: {message}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// The key's index in `keys`.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

impl KeySet {
    /// Reads `path` now; an unreadable or invalid file is an error.
    pub(crate) fn open(path: &Path, interval: Duration) -> Result<Self, KeySetError> {
        let bytes = std::fs::read(path).map_err(|source| KeySetError::Read {
            path: path.to_owned(),
            source,
        })?;
        let keys = parse(path, &bytes)?;
        Ok(Self {
            path: path.to_owned(),
            interval,
            state: Mutex::new(State {
                keys: Arc::new(keys),
                bytes,
                checked: Instant::now(),
            }),
        })
    }

    /// The key `kid`, after looking at the file again if it is due, or if `kid` is unknown
    /// and the last look is older than the interval.
    pub(crate) fn key(&self, kid: &str) -> Option<VerifyingKey> {
        let (keys, due) = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            (state.keys.clone(), state.checked.elapsed() >= self.interval)
        };
        if !due {
            return keys.get(kid).cloned();
        }
        self.refresh().get(kid).cloned()
    }

    /// Whether `kid` is in the set now, without looking at the file.
    pub(crate) fn holds(&self, kid: &str) -> Option<VerifyingKey> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.keys.get(kid).cloned()
    }

    /// Reads the file again and keeps its keys if they changed and parse.
    fn refresh(&self) -> Keys {
        let read = std::fs::read(&self.path);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.checked = Instant::now();
        match read {
            Ok(bytes) if bytes == state.bytes => {}
            Ok(bytes) => match parse(&self.path, &bytes) {
                Ok(keys) => {
                    tracing::info!(path = %self.path.display(), keys = keys.len(), "key set reloaded");
                    state.keys = Arc::new(keys);
                    state.bytes = bytes;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "key set not reloaded: keeping the last good one")
                }
            },
            Err(e) => tracing::warn!(
                path = %self.path.display(), error = %e,
                "key set not readable: keeping the last good one"
            ),
        }
        state.keys.clone()
    }
}

/// The keys of a JWK Set document.
fn parse(path: &Path, bytes: &[u8]) -> Result<HashMap<String, VerifyingKey>, KeySetError> {
    let set: JwkSet = serde_json::from_slice(bytes).map_err(|source| KeySetError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let mut keys = HashMap::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        let bad = |message: &str| KeySetError::Key {
            path: path.to_owned(),
            index,
            message: message.to_owned(),
        };
        let kid = jwk.common.key_id.clone().ok_or_else(|| bad("no `kid`"))?;
        let algorithm = algorithm_of(jwk).map_err(bad)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(&e.to_string()))?;
        if keys
            .insert(kid.clone(), VerifyingKey { algorithm, key })
            .is_some()
        {
            return Err(bad(&format!("`kid` {kid:?} appears twice")));
        }
    }
    Ok(keys)
}

/// The one algorithm a key verifies: EdDSA for an Ed25519 `OKP` key, RS256 for an RSA
/// key. A declared `alg` must agree; anything else is refused.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, &'static str> {
    let natural = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return Err("only Ed25519 (OKP) and RSA keys are accepted"),
    };
    match jwk.common.key_algorithm {
        None => Ok(natural),
        Some(KeyAlgorithm::EdDSA) if natural == Algorithm::EdDSA => Ok(natural),
        Some(KeyAlgorithm::RS256) if natural == Algorithm::RS256 => Ok(natural),
        Some(_) => Err("`alg` must be EdDSA for Ed25519 keys and RS256 for RSA keys"),
    }
}
