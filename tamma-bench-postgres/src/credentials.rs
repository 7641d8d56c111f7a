//! Tenants' sealed provider credentials in PostgreSQL (table `credentials`, migration 7).
//!
//! Every call is one transaction that sets the tenant it names first, so row-level
//! security admits that tenant's rows only; a worker reads a credential as the job's
//! tenant. The table holds what privacy's `Credentials` sealed, never a value in clear.

use crate::{begin, corrupt, db_err, get_client};
use async_trait::async_trait;
use deadpool_postgres::Pool;
use tamma_bench_core::model::{TenantId, now_ms};
use tamma_bench_core::store::{CredentialInfo, CredentialName, CredentialStore, StoreError};

/// A [`CredentialStore`] in the store's database. Made by
/// [`crate::PostgresStore::credential_store`]; cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct PostgresCredentialStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCredentialStore")
            .finish_non_exhaustive()
    }
}

impl PostgresCredentialStore {
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl CredentialStore for PostgresCredentialStore {
    async fn put(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
        sealed: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        tx.execute(
            "INSERT INTO credentials (tenant_id, name, sealed, updated_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, name) DO UPDATE SET \
             sealed = excluded.sealed, updated_at_ms = excluded.updated_at_ms",
            &[&tenant.as_str(), &name.as_str(), &sealed, &now_ms()],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn get(
        &self,
        tenant: &TenantId,
        name: &CredentialName,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let row = tx
            .query_opt(
                "SELECT sealed FROM credentials WHERE tenant_id = $1 AND name = $2",
                &[&tenant.as_str(), &name.as_str()],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        row.map(|r| r.try_get(0).map_err(db_err)).transpose()
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<CredentialInfo>, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let rows = tx
            .query(
                "SELECT name, updated_at_ms FROM credentials WHERE tenant_id = $1 ORDER BY name",
                &[&tenant.as_str()],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0).map_err(db_err)?;
                Ok(CredentialInfo {
                    name: CredentialName::new(name)
                        .map_err(|e| corrupt(format!("stored credential: {e}")))?,
                    updated_at_ms: r.try_get(1).map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn delete(&self, tenant: &TenantId, name: &CredentialName) -> Result<bool, StoreError> {
        let mut client = get_client(&self.pool).await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let n = tx
            .execute(
                "DELETE FROM credentials WHERE tenant_id = $1 AND name = $2",
                &[&tenant.as_str(), &name.as_str()],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }
}
