//! The `CredentialStore` contract: a tenant's provider credentials, by name, as sealed
//! blobs; and its memory implementation (the SQLite and Postgres ones are in their
//! backend crates).
//!
//! A store never sees a credential's value: privacy's `Credentials` seals it before
//! [`CredentialStore::put`] and opens it after [`CredentialStore::get`], and the store
//! keeps the bytes it was given. Every method is scoped to one tenant; a listing returns
//! names and times, never the blobs.

use super::StoreError;
use crate::error::Remedy;
use crate::model::{TenantId, now_ms};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// The longest credential name, in characters.
pub const MAX_CREDENTIAL_NAME_LEN: usize = 64;

/// The name of a credential: 1 to [`MAX_CREDENTIAL_NAME_LEN`] characters of
/// `[A-Za-z0-9._-]` (an environment variable's name is one, so an agent's `api_key_env`
/// names a credential as it named a variable).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialName(String);

impl CredentialName {
    /// Checks `name`. The error says what is wrong without repeating the name (a key
    /// pasted where its name belongs should not reach a log).
    pub fn new(name: impl Into<String>) -> Result<Self, CredentialNameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(CredentialNameError::Empty);
        }
        let len = name.chars().count();
        if len > MAX_CREDENTIAL_NAME_LEN {
            return Err(CredentialNameError::TooLong { len });
        }
        if let Some(position) = name
            .chars()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(CredentialNameError::InvalidCharacter {
                position: position + 1,
            });
        }
        Ok(Self(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CredentialName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a string is not a credential name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialNameError {
    /// The name is empty.
    #[error("a credential name cannot be empty")]
    Empty,
    /// The name is longer than [`MAX_CREDENTIAL_NAME_LEN`].
    #[error("a credential name has at most {MAX_CREDENTIAL_NAME_LEN} characters, this one {len}")]
    TooLong {
        /// Its length, in characters.
        len: usize,
    },
    /// A character is not one of `A-Z a-z 0-9 . _ -`.
    #[error("character {position} of the credential name is not one of A-Z a-z 0-9 . _ -")]
    InvalidCharacter {
        /// The 1-based position of the first such character.
        position: usize,
    },
}

impl CredentialNameError {
    /// What a caller can do: choose another name.
    pub fn remedy(&self) -> Remedy {
        Remedy::FixInput
    }
}

/// A stored credential as a listing shows it: its name and when it was last set, never
/// its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    /// The name.
    pub name: CredentialName,
    /// When it was last stored (ms since the Unix epoch).
    pub updated_at_ms: i64,
}

/// Storage of sealed credentials, per tenant and name.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores `sealed` as credential `name` of `tenant`, replacing an older value.
    async fn put(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError>;

    /// The sealed value of credential `name` of `tenant`, if there is one.
    async fn get(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// The credentials of `tenant`, sorted by name in byte order (names and times only).
    async fn list(&self, tenant: &TenantId) -> Result<Vec<CredentialInfo>, StoreError>;

    /// Deletes credential `name` of `tenant`; whether there was one.
    async fn delete(&self, tenant: &TenantId, name: &CredentialName) -> Result<bool, StoreError>;
}

/// Sealed values and their times, by tenant and name.
type Entries = BTreeMap<(TenantId, CredentialName), (Vec<u8>, i64)>;

/// A [`CredentialStore`] in memory: for tests and short-lived hosts.
#[derive(Default)]
pub struct MemoryCredentialStore {
    entries: Mutex<Entries>,
}

impl fmt::Debug for MemoryCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCredentialStore")
            .field("credentials", &self.lock().len())
            .finish()
    }
}

impl MemoryCredentialStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Every change is one insert or remove: a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentialStore {
    async fn put(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.lock()
            .insert((tenant.clone(), name.clone()), (sealed, now_ms()));
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .get(&(tenant.clone(), name.clone()))
            .map(|(sealed, _)| sealed.clone()))
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<CredentialInfo>, StoreError> {
        Ok(self
            .lock()
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|((_, name), (_, at))| CredentialInfo {
                name: name.clone(),
                updated_at_ms: *at,
            })
            .collect())
    }

    async fn delete(&self, tenant: &TenantId, name: &CredentialName) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .remove(&(tenant.clone(), name.clone()))
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_without_being_repeated() {
        for ok in ["A", "OPENAI_API_KEY", "my.key-2", &"x".repeat(64)] {
            assert_eq!(
                CredentialName::new(ok).map(|n| n.to_string()),
                Ok(ok.into())
            );
        }
        assert_eq!(CredentialName::new(""), Err(CredentialNameError::Empty));
        assert_eq!(
            CredentialName::new("k".repeat(65)),
            Err(CredentialNameError::TooLong { len: 65 })
        );
        let e = CredentialName::new("sk-secret value").unwrap_err();
        assert_eq!(e, CredentialNameError::InvalidCharacter { position: 10 });
        assert!(!e.to_string().contains("sk-secret"), "{e}");
        assert!(CredentialName::new("é").is_err());
        assert_eq!(e.remedy(), Remedy::FixInput);
    }
}
