//! [`SqliteAgentConfigStore`]: the agent configuration registry in the results database.
//!
//! One table, created by migration 6: `agent_configs`, one row per version, keyed by
//! (tenant, id, version). A write reads the latest version and inserts the next in one
//! `BEGIN IMMEDIATE` transaction (SQLite's one writer: no other connection, in this
//! process or another, writes in between), and the key refuses a second row of a
//! version in any case. Triggers refuse `UPDATE` and `DELETE`: versions are history.

use crate::connection::SharedConnection;
use crate::migrations::open_results;
use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, params};
use tamma_bench_core::model::{AgentConfig, TenantId};
use tamma_bench_core::store::agent_configs::next_version;
use tamma_bench_core::store::{AgentConfigId, AgentConfigStore, StoreError, StoredAgentConfig};

/// The SQL of the registry: migration 6 of the results database (released: never edit
/// it, append a migration instead).
pub(crate) const AGENT_CONFIG_TABLES: &str = "
    CREATE TABLE agent_configs (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        config_json TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        digest TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id, version)
    ) WITHOUT ROWID;
    CREATE TRIGGER agent_configs_no_update BEFORE UPDATE ON agent_configs
        BEGIN SELECT RAISE(ABORT, 'agent configuration versions are history: write a new version'); END;
    CREATE TRIGGER agent_configs_no_delete BEFORE DELETE ON agent_configs
        BEGIN SELECT RAISE(ABORT, 'agent configuration versions are history: write a new version'); END;";

const COLUMNS: &str = "id, version, config_json, author, created_at_ms, digest";

/// An [`AgentConfigStore`] in the SQLite results database (table `agent_configs`,
/// created by the store's migrations). Open as many as you like on one file: each is
/// one connection.
pub struct SqliteAgentConfigStore {
    conn: SharedConnection,
}

impl std::fmt::Debug for SqliteAgentConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAgentConfigStore")
            .finish_non_exhaustive()
    }
}

/// One row of `COLUMNS`, decoded (a row that does not decode is corrupt, not a database
/// failure).
fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredAgentConfig, StoreError>> {
    let json: String = r.get(2)?;
    Ok(StoredAgentConfig::from_stored(
        r.get(0)?,
        r.get(1)?,
        &json,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

/// `s` as a parameter.
fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A version as SQLite's integer; one past `i64::MAX` matches no row.
fn sql_version(version: u64) -> Option<i64> {
    i64::try_from(version).ok()
}

impl SqliteAgentConfigStore {
    /// Opens the registry of the SQLite database at `path`, applying pending migrations
    /// (the same ones as [`crate::SqliteStore::open`]).
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::new(open_results(path.as_ref())?),
        })
    }

    /// Runs `f` on the connection; a database error is a backend failure, an inner
    /// error is returned as it is.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.conn
            .run(move |c| f(c).map_err(StoreError::backend)?)
            .await
    }

    /// The rows `sql` selects with `args`, decoded.
    async fn select(
        &self,
        sql: String,
        args: Vec<Value>,
    ) -> Result<Vec<StoredAgentConfig>, StoreError> {
        let rows = self
            .with_conn(move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(args), read_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(Ok(rows))
            })
            .await?;
        rows.into_iter().collect()
    }
}

#[async_trait]
impl AgentConfigStore for SqliteAgentConfigStore {
    async fn put(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        config: &AgentConfig,
        expected_version: Option<u64>,
        author: &str,
    ) -> Result<StoredAgentConfig, StoreError> {
        let (tenant, id, config, author) = (
            tenant.clone(),
            id.clone(),
            config.clone(),
            author.to_owned(),
        );
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let current: Option<i64> = tx.query_row(
                "SELECT MAX(version) FROM agent_configs WHERE tenant_id = ?1 AND id = ?2",
                params![tenant.as_str(), id.as_str()],
                |r| r.get(0),
            )?;
            let current = current.and_then(|v| u64::try_from(v).ok());
            let version = match next_version(&id, expected_version, current) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            let stored = StoredAgentConfig::new(&id, version, &config, &author);
            let json = match stored.config_json() {
                Ok(json) => json,
                Err(e) => return Ok(Err(e)),
            };
            tx.execute(
                "INSERT INTO agent_configs (tenant_id, id, version, config_json, author, created_at_ms, digest) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    tenant.as_str(),
                    id.as_str(),
                    sql_version(version),
                    json,
                    stored.author,
                    stored.created_at_ms,
                    stored.digest
                ],
            )?;
            tx.commit()?;
            Ok(Ok(stored))
        })
        .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Option<StoredAgentConfig>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs WHERE tenant_id = ?1 AND id = ?2 \
             ORDER BY version DESC LIMIT 1"
        );
        let args = vec![text(tenant.as_str()), text(id.as_str())];
        Ok(self.select(sql, args).await?.pop())
    }

    async fn get_version(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        version: u64,
    ) -> Result<Option<StoredAgentConfig>, StoreError> {
        let Some(version) = sql_version(version) else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs WHERE tenant_id = ?1 AND id = ?2 AND version = ?3"
        );
        let args = vec![
            text(tenant.as_str()),
            text(id.as_str()),
            Value::Integer(version),
        ];
        Ok(self.select(sql, args).await?.pop())
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<StoredAgentConfig>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs AS a WHERE tenant_id = ?1 \
             AND version = (SELECT MAX(version) FROM agent_configs AS b \
                            WHERE b.tenant_id = a.tenant_id AND b.id = a.id) \
             ORDER BY id"
        );
        self.select(sql, vec![text(tenant.as_str())]).await
    }

    async fn history(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Vec<StoredAgentConfig>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs WHERE tenant_id = ?1 AND id = ?2 ORDER BY version"
        );
        self.select(sql, vec![text(tenant.as_str()), text(id.as_str())])
            .await
    }
}
