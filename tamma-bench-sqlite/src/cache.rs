//! [`SqliteResponseCache`]: the providers' response cache in a SQLite file.
//!
//! The cache lives in its own file by default ([`DEFAULT_CACHE_FILE`] beside the results
//! database): deleting it never touches results, and cache writes do not queue behind
//! result batches for SQLite's single writer. It may share the results file (its table
//! has its own name and is created if missing) when one file is preferred.

use crate::connection::{self, SharedConnection};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use std::path::{Path, PathBuf};
use tamma_bench_core::model::TenantId;
use tamma_bench_core::provider::Completion;
use tamma_bench_core::store::{ResponseCache, StoreError, StoreErrorKind};

/// The default file name of the SQLite response cache.
pub const DEFAULT_CACHE_FILE: &str = "tamma-bench-cache.db";

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
    conn: SharedConnection,
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
        let conn = connection::open(&path)?;
        conn.execute_batch(SCHEMA).map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("cache schema: {e}")).with_source(e)
        })?;
        Ok(Self {
            path,
            conn: SharedConnection::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs one statement, a backend failure when it fails.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.conn
            .run(move |c| f(c).map_err(StoreError::backend))
            .await
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
        })
        .await
    }

    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM response_cache WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1",
                params![now_ms],
            )
        })
        .await
        .map(|n| n as u64)
    }

    async fn clear_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM response_cache WHERE tenant_id = ?1",
                params![tenant],
            )
        })
        .await
        .map(|n| n as u64)
    }
}
