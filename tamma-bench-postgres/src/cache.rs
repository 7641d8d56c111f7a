//! The response cache in PostgreSQL, one handle per tenant.
//!
//! [`ResponseCache::get`] names no tenant (its key is a hash the cache layer derives from
//! the tenant and the request), but under row-level security every read needs one. So a
//! handle serves one tenant, the one a worker runs a job for: its reads and purges are
//! scoped to that tenant, and a write for another tenant is refused.

use crate::{begin, db_err, get_client};
use async_trait::async_trait;
use deadpool_postgres::Pool;
use tamma_bench_core::model::TenantId;
use tamma_bench_core::provider::Completion;
use tamma_bench_core::store::{ResponseCache, StoreError, StoreErrorKind};

/// A [`ResponseCache`] of one tenant in the store's database (table `response_cache`).
/// Made by [`crate::PostgresStore::response_cache`]; cheap to make per job.
#[derive(Clone)]
pub struct PostgresResponseCache {
    pool: Pool,
    tenant: TenantId,
}

impl std::fmt::Debug for PostgresResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresResponseCache")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl PostgresResponseCache {
    pub(crate) fn new(pool: Pool, tenant: TenantId) -> Self {
        Self { pool, tenant }
    }

    /// The tenant this handle serves.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Runs one statement in a transaction scoped to `tenant`; returns the rows it touched.
    async fn execute(
        &self,
        tenant: &TenantId,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let n = tx.execute(sql, params).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }
}

#[async_trait]
impl ResponseCache for PostgresResponseCache {
    /// The completion this handle's tenant stored under `key`.
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Completion>, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(&self.tenant)).await?;
        let row = tx
            .query_opt(
                "SELECT completion_json FROM response_cache \
                 WHERE tenant_id = $1 AND key = $2 AND (expires_at_ms IS NULL OR expires_at_ms > $3)",
                &[&self.tenant.as_str(), &key, &now_ms],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let json: &str = row.try_get(0).map_err(db_err)?;
        serde_json::from_str(json).map(Some).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Corrupt,
                format!("cached completion cannot be decoded: {e}"),
            )
        })
    }

    /// Stores `completion` for `tenant`, which must be this handle's tenant.
    async fn put(
        &self,
        key: &str,
        tenant: &TenantId,
        completion: &Completion,
        created_at_ms: i64,
        expires_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        if tenant != &self.tenant {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                "this response cache serves another tenant: make one per tenant",
            ));
        }
        let json = serde_json::to_string(completion)
            .map_err(|e| StoreError::new(StoreErrorKind::Backend, e.to_string()))?;
        self.execute(
            tenant,
            "INSERT INTO response_cache (tenant_id, key, completion_json, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, key) DO UPDATE SET \
             completion_json = excluded.completion_json, created_at_ms = excluded.created_at_ms, \
             expires_at_ms = excluded.expires_at_ms",
            &[&tenant.as_str(), &key, &json, &created_at_ms, &expires_at_ms],
        )
        .await
        .map(drop)
    }

    /// Deletes this handle's tenant's entries expired at `now_ms`.
    async fn purge_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.execute(
            &self.tenant,
            "DELETE FROM response_cache \
             WHERE tenant_id = $1 AND expires_at_ms IS NOT NULL AND expires_at_ms <= $2",
            &[&self.tenant.as_str(), &now_ms],
        )
        .await
    }

    async fn clear_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.execute(
            tenant,
            "DELETE FROM response_cache WHERE tenant_id = $1",
            &[&tenant.as_str()],
        )
        .await
    }
}
