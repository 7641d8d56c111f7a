//! The `ResponseCache` storage behind the providers' cache layer: completions by an
//! opaque content key, with an expiry. In memory and in SQLite.
//!
//! A key is a hex SHA-256 the cache layer derives from the normalized request, the
//! tenant and the epoch; the store never sees a prompt, only that hash and the
//! completion. Errors are never stored (the layer only puts successes).
//!
//! The SQLite cache lives in its own file by default (`tamma-bench-cache.db` beside the
//! results database): deleting it never touches results, and cache writes do not queue
//! behind result batches for SQLite's single writer. It may share the results file (its
//! table has its own name and is created if missing) when one file is preferred.

use super::{StoreError, StoreErrorKind};
use crate::model::TenantId;
use crate::provider::Completion;
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The default file name of the SQLite response cache.
pub const DEFAULT_CACHE_FILE: &str = "tamma-bench-cache.db";

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

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS response_cache (
        key TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        completion_json TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER
    );
    CREATE INDEX IF NOT EXISTS response_cache_by_expiry ON response_cache (expires_at_ms);
    CREATE INDEX IF NOT EXISTS response_cache_by_tenant ON response_cache (tenant_id);";

/// A [`ResponseCache`] in a SQLite file (WAL journal), table `response_cache`.
pub struct SqliteResponseCache {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteResponseCache")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteResponseCache {
    /// Opens (creating if needed) the cache at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Backend,
                format!("cannot open cache {}: {e}", path.display()),
            )
            .with_source(e)
        })?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(StoreError::backend)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(StoreError::backend)?;
        conn.execute_batch(SCHEMA).map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("cache schema: {e}")).with_source(e)
        })?;
        Ok(Self {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // Each statement is atomic on its own: a poisoned lock leaves nothing half-done.
            f(&conn.lock().unwrap_or_else(|p| p.into_inner()))
        })
        .await
        .map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("cache task failed: {e}"))
                .with_source(e)
        })?
    }
}

#[async_trait]
impl ResponseCache for SqliteResponseCache {
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Completion>, StoreError> {
        let key = key.to_owned();
        let json: Option<String> = self
            .with_conn(move |c| {
                c.query_row(
                    "SELECT completion_json FROM response_cache
                     WHERE key = ?1 AND (expires_at_ms IS NULL OR expires_at_ms > ?2)",
                    params![key, now_ms],
                    |r| r.get(0),
                )
                .optional()
                .map_err(StoreError::backend)
            })
            .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Corrupt,
                    format!("cached completion cannot be decoded: {e}"),
                )
            })
        })
        .transpose()
    }

    async fn put(
        &self,
        key: &str,
        tenant: &TenantId,
        completion: &Completion,
        created_at_ms: i64,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(completion).map_err(StoreError::backend)?;
        let (key, tenant) = (key.to_owned(), tenant.as_str().to_owned());
        self.with_conn(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO response_cache
                 (key, tenant_id, completion_json, created_at_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key, tenant, json, created_at_ms, expires_at_ms],
            )
            .map(drop)
            .map_err(StoreError::backend)
        })
        .await
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM response_cache WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1",
                params![now_ms],
            )
            .map(|n| n as u64)
            .map_err(StoreError::backend)
        })
        .await
    }

    async fn clear_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM response_cache WHERE tenant_id = ?1",
                params![tenant],
            )
            .map(|n| n as u64)
            .map_err(StoreError::backend)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn behaves(cache: &dyn ResponseCache) {
        let t = TenantId::local();
        let other = TenantId::new("acme").expect("valid tenant");
        let c = Completion {
            text: "42".into(),
            ..Default::default()
        };
        assert_eq!(cache.get("k", 0).await.ok().flatten(), None);
        cache.put("k", &t, &c, 0, Some(100)).await.expect("put");
        cache
            .put("forever", &other, &c, 0, None)
            .await
            .expect("put");
        assert_eq!(cache.get("k", 99).await.ok().flatten(), Some(c.clone()));
        assert_eq!(cache.get("k", 100).await.ok().flatten(), None);
        assert_eq!(cache.purge_expired(100).await.ok(), Some(1));
        assert_eq!(cache.get("forever", i64::MAX).await.ok().flatten(), Some(c));
        assert_eq!(cache.clear_tenant(&other).await.ok(), Some(1));
        assert_eq!(cache.get("forever", 0).await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn memory_cache_expires_purges_and_forgets_tenants() {
        behaves(&MemoryResponseCache::new()).await;
    }

    #[tokio::test]
    async fn sqlite_cache_expires_purges_and_forgets_tenants() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SqliteResponseCache::open(dir.path().join(DEFAULT_CACHE_FILE)).expect("open");
        behaves(&cache).await;
        // Survives reopening.
        let c = Completion::default();
        cache
            .put("p", &TenantId::local(), &c, 0, None)
            .await
            .expect("put");
        drop(cache);
        let again = SqliteResponseCache::open(dir.path().join(DEFAULT_CACHE_FILE)).expect("reopen");
        assert_eq!(again.get("p", 0).await.ok().flatten(), Some(c));
    }
}
