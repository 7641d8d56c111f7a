//! [`SqliteCredentialStore`]: tenants' sealed provider credentials in the results
//! database (table `credentials`, migration 7).
//!
//! The table holds what privacy's `Credentials` sealed, never a value in clear; a CHECK
//! keeps names to the shape core's `CredentialName` allows, so a name written around
//! this API is refused as well.

use crate::connection::SharedConnection;
use crate::migrations::open_results;
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use std::path::{Path, PathBuf};
use tamma_bench_core::model::{TenantId, now_ms};
use tamma_bench_core::store::{
    CredentialInfo, CredentialName, CredentialStore, StoreError, StoreErrorKind,
};

/// The SQL of the credentials table: migration 7 of the results database (released:
/// never edit it, append a migration instead).
pub(crate) const CREDENTIAL_TABLES: &str = "
    CREATE TABLE credentials (
        tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
        name TEXT NOT NULL
            CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
        sealed BLOB NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, name)
    ) WITHOUT ROWID;";

/// A [`CredentialStore`] in the SQLite results database.
pub struct SqliteCredentialStore {
    path: PathBuf,
    conn: SharedConnection,
}

impl std::fmt::Debug for SqliteCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCredentialStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteCredentialStore {
    /// Opens the credentials of the SQLite database at `path` (creating it if needed),
    /// applying pending migrations (the same ones as [`crate::SqliteStore::open`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        Ok(Self {
            conn: SharedConnection::new(open_results(&path)?),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, a backend failure when it fails.
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
impl CredentialStore for SqliteCredentialStore {
    async fn put(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError> {
        let (tenant, name, at) = (tenant.as_str().to_owned(), name.to_string(), now_ms());
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO credentials (tenant_id, name, sealed, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant_id, name)
                 DO UPDATE SET sealed = excluded.sealed, updated_at_ms = excluded.updated_at_ms",
                params![tenant, name, sealed, at],
            )
            .map(drop)
        })
        .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let (tenant, name) = (tenant.as_str().to_owned(), name.to_string());
        self.with_conn(move |c| {
            c.query_row(
                "SELECT sealed FROM credentials WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, name],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<CredentialInfo>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        let rows: Vec<(String, i64)> = self
            .with_conn(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT name, updated_at_ms FROM credentials WHERE tenant_id = ?1 ORDER BY name",
                )?;
                stmt.query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .await?;
        rows.into_iter()
            .map(|(name, updated_at_ms)| {
                let name = CredentialName::new(name).map_err(|e| {
                    StoreError::new(StoreErrorKind::Corrupt, format!("stored credential: {e}"))
                })?;
                Ok(CredentialInfo {
                    name,
                    updated_at_ms,
                })
            })
            .collect()
    }

    async fn delete(&self, tenant: &TenantId, name: &CredentialName) -> Result<bool, StoreError> {
        let (tenant, name) = (tenant.as_str().to_owned(), name.to_string());
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM credentials WHERE tenant_id = ?1 AND name = ?2",
                params![tenant, name],
            )
        })
        .await
        .map(|n| n > 0)
    }
}
