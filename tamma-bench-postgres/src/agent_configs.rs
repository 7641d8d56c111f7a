//! The agent configuration registry in PostgreSQL (migration 6: `agent_configs`, under
//! row-level security like every tenant-scoped table).
//!
//! Each call is one transaction that first sets its tenant. A write reads the latest
//! version, checks the expected one ([`next_version`]), and inserts the next with
//! `ON CONFLICT DO NOTHING` on the key (tenant, id, version): of two writers based on the
//! same version, the second waits for the first to commit and then inserts nothing, and
//! is answered with the conflict naming the version now current. No lock is taken
//! beyond the key's.

use crate::{begin, db_err, get_client};
use async_trait::async_trait;
use deadpool_postgres::{Pool, Transaction};
use tamma_bench_core::model::{AgentConfig, TenantId};
use tamma_bench_core::store::agent_configs::{next_version, version_conflict};
use tamma_bench_core::store::{
    AgentConfigId, AgentConfigStore, StoreError, StoreErrorKind, StoredAgentConfig,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const COLUMNS: &str = "id, version, config_json, author, created_at_ms, digest";

/// An [`AgentConfigStore`] in the store's database (table `agent_configs`). Made by
/// [`crate::PostgresStore::agent_configs`]; cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct PostgresAgentConfigStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresAgentConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAgentConfigStore")
            .finish_non_exhaustive()
    }
}

impl crate::PostgresStore {
    /// The agent configuration registry in this store's database, over the same pool.
    pub fn agent_configs(&self) -> PostgresAgentConfigStore {
        PostgresAgentConfigStore {
            pool: self.pool.clone(),
        }
    }
}

fn decode(row: &Row) -> Result<StoredAgentConfig, StoreError> {
    StoredAgentConfig::from_stored(
        row.try_get(0).map_err(db_err)?,
        row.try_get(1).map_err(db_err)?,
        row.try_get(2).map_err(db_err)?,
        row.try_get(3).map_err(db_err)?,
        row.try_get(4).map_err(db_err)?,
        row.try_get(5).map_err(db_err)?,
    )
}

/// The latest version of `id` that `tx` sees (`None`: none).
async fn current_version(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &AgentConfigId,
) -> Result<Option<u64>, StoreError> {
    let max: Option<i64> = tx
        .query_one(
            "SELECT MAX(version) FROM agent_configs WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &id.as_str()],
        )
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    Ok(max.and_then(|v| u64::try_from(v).ok()))
}

impl PostgresAgentConfigStore {
    /// The rows `sql` selects with `params`, in a transaction scoped to `tenant`.
    async fn select(
        &self,
        tenant: &TenantId,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<StoredAgentConfig>, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let rows = tx.query(sql, params).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter().map(decode).collect()
    }
}

#[async_trait]
impl AgentConfigStore for PostgresAgentConfigStore {
    async fn put(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        config: &AgentConfig,
        expected_version: Option<u64>,
        author: &str,
    ) -> Result<StoredAgentConfig, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let version = next_version(
            id,
            expected_version,
            current_version(&tx, tenant, id).await?,
        )?;
        let stored = StoredAgentConfig::new(id, version, config, author);
        let json = stored.config_json()?;
        let sql_version = i64::try_from(version).map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("version {version}: {e}"))
        })?;
        let inserted = tx
            .execute(
                "INSERT INTO agent_configs \
                 (tenant_id, id, version, config_json, author, created_at_ms, digest) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id, id, version) DO NOTHING",
                &[
                    &tenant.as_str(),
                    &id.as_str(),
                    &sql_version,
                    &json,
                    &stored.author,
                    &stored.created_at_ms,
                    &stored.digest,
                ],
            )
            .await
            .map_err(db_err)?;
        if inserted == 0 {
            // Another writer committed this version first; this statement sees it.
            let current = current_version(&tx, tenant, id).await?;
            return Err(version_conflict(id, expected_version, current));
        }
        tx.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Option<StoredAgentConfig>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs WHERE tenant_id = $1 AND id = $2 \
             ORDER BY version DESC LIMIT 1"
        );
        Ok(self
            .select(tenant, &sql, &[&tenant.as_str(), &id.as_str()])
            .await?
            .pop())
    }

    async fn get_version(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
        version: u64,
    ) -> Result<Option<StoredAgentConfig>, StoreError> {
        let Ok(version) = i64::try_from(version) else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs WHERE tenant_id = $1 AND id = $2 AND version = $3"
        );
        Ok(self
            .select(tenant, &sql, &[&tenant.as_str(), &id.as_str(), &version])
            .await?
            .pop())
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<StoredAgentConfig>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT ON (id) {COLUMNS} FROM agent_configs WHERE tenant_id = $1 \
             ORDER BY id, version DESC"
        );
        self.select(tenant, &sql, &[&tenant.as_str()]).await
    }

    async fn history(
        &self,
        tenant: &TenantId,
        id: &AgentConfigId,
    ) -> Result<Vec<StoredAgentConfig>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM agent_configs WHERE tenant_id = $1 AND id = $2 ORDER BY version"
        );
        self.select(tenant, &sql, &[&tenant.as_str(), &id.as_str()])
            .await
    }
}
