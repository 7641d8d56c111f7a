//! The `ResponseCache` contract behind the providers' cache layer: completions by an
//! opaque content key, with an expiry; and its memory implementation (the SQLite one is
//! `tamma-bench-sqlite`'s `SqliteResponseCache`).
//!
//! A key is a hex SHA-256 the cache layer derives from the normalized request, the
//! tenant and the epoch; the store never sees a prompt, only that hash and the
//! completion. Errors are never stored (the layer only puts successes).

use super::StoreError;
use crate::model::TenantId;
use crate::provider::Completion;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Storage of cached completions.
#[async_trait]
pub trait ResponseCache: Send + Sync {
    /// The completion stored under `key`, unless there is none or it expired at `now_ms`
    /// (ms since the Unix epoch).
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Completion>, StoreError>;

    /// Stores `completion` under `key` for `tenant` (replacing an older entry), created
    /// at `created_at_ms` and valid until `expires_at_ms` (forever when `None`).
    async fn put(
        &self,
        key: &str,
        tenant: &TenantId,
        completion: &Completion,
        created_at_ms: i64,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError>;

    /// Deletes the entries expired at `now_ms`; returns how many.
    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// Deletes every entry of `tenant` (a tenant leaving, or asking to be forgotten);
    /// returns how many.
    async fn clear_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError>;
}

fn expired(expires_at_ms: Option<i64>, now_ms: i64) -> bool {
    expires_at_ms.is_some_and(|e| e <= now_ms)
}

struct MemoryEntry {
    tenant: TenantId,
    completion: Completion,
    expires_at_ms: Option<i64>,
}

/// A [`ResponseCache`] in memory: for tests and short-lived hosts.
#[derive(Default)]
pub struct MemoryResponseCache {
    entries: Mutex<HashMap<String, MemoryEntry>>,
}

impl MemoryResponseCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, MemoryEntry>> {
        // Every update is one insert or retain: a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries stored (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ResponseCache for MemoryResponseCache {
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Completion>, StoreError> {
        Ok(self
            .lock()
            .get(key)
            .filter(|e| !expired(e.expires_at_ms, now_ms))
            .map(|e| e.completion.clone()))
    }

    async fn put(
        &self,
        key: &str,
        tenant: &TenantId,
        completion: &Completion,
        _created_at_ms: i64,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let entry = MemoryEntry {
            tenant: tenant.clone(),
            completion: completion.clone(),
            expires_at_ms,
        };
        self.lock().insert(key.to_owned(), entry);
        Ok(())
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| !expired(e.expires_at_ms, now_ms));
        Ok((before - map.len()) as u64)
    }

    async fn clear_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| &e.tenant != tenant);
        Ok((before - map.len()) as u64)
    }
}
