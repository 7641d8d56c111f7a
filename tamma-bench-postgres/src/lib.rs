//! PostgreSQL backend of tamma-bench: the shared store for many worker processes and
//! machines. Results ([`PostgresStore`], a [`ResultStore`]), the audit log
//! ([`PostgresAuditStore`]), the response cache ([`PostgresResponseCache`]), tenants'
//! sealed provider credentials ([`PostgresCredentialStore`]), the job
//! queue ([`PostgresQueue`], a [`JobQueue`]), the event log ([`PostgresEventLog`], an
//! [`EventLog`] written in the transactions of the changes it reports) and the agent
//! configuration registry ([`PostgresAgentConfigStore`], an [`AgentConfigStore`]) in one database,
//! with versioned migrations and row-level security as a second wall behind the
//! tenant-aware repository.
//!
//! Two roles: the **owner** runs [`migrate`] once per deployment (and per upgrade); the
//! workers connect as the **application role**, which owns nothing and has neither
//! superuser nor `BYPASSRLS`. Every read and write runs in a transaction that first sets
//! `tamma.tenant_id` for that transaction only (`set_config(..., true)`), so a pooled
//! connection never carries one tenant into another's transaction; with no tenant set,
//! the tenant-scoped tables show no row. `docs/deployment.md` tells an operator how to
//! create the roles.
//!
//! ```no_run
//! # async fn f() -> Result<(), tamma_bench_core::store::StoreError> {
//! use tamma_bench_core::store::ResultStore;
//! use tamma_bench_postgres::{PostgresStore, migrate};
//!
//! // Once, as the owner of the schema:
//! let owner = "postgres://tamma_owner@db.internal/tamma".parse().expect("url");
//! migrate(&owner, "tamma_app").await?;
//! // In every worker, as the application role:
//! let store = PostgresStore::open("postgres://tamma_app@db.internal/tamma").await?;
//! let runs = store.list_public_runs().await?;
//! # Ok(()) }
//! ```
//!
//! [`ResultStore`]: tamma_bench_core::store::ResultStore
//! [`JobQueue`]: tamma_bench_core::queue::JobQueue
//! [`EventLog`]: tamma_bench_core::events::EventLog
//! [`AgentConfigStore`]: tamma_bench_core::store::AgentConfigStore

mod agent_configs;
mod audit;
mod cache;
mod credentials;
mod events;
mod migrate;
mod queue;
mod results;

pub use agent_configs::PostgresAgentConfigStore;
pub use audit::PostgresAuditStore;
pub use cache::PostgresResponseCache;
pub use credentials::PostgresCredentialStore;
pub use events::{EVENTS_CHANNEL, PostgresEventLog};
pub use migrate::{MigrationReport, SCHEMA_VERSION, migrate};
pub use queue::{NOTIFY_CHANNEL, PostgresQueue};
pub use tokio_postgres::Config;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tamma_bench_core::model::TenantId;
use tamma_bench_core::store::{StoreError, StoreErrorKind};
use tokio_postgres::NoTls;

/// The pool size [`PostgresStore::open`] uses.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// Results in PostgreSQL, connected as the application role through a pool. Cheap to
/// clone: clones share the pool. [`PostgresStore::audit_store`],
/// [`PostgresStore::response_cache`], [`PostgresStore::queue`] and
/// [`PostgresStore::agent_configs`] share it too.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// How the pool connects: a queue's listener opens its own connection with it.
    config: Config,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("max_connections", &status.max_size)
            .field("connections", &status.size)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://ROLE@HOST/DB`, or the key-value
    /// form) as the application role, with [`DEFAULT_MAX_CONNECTIONS`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config: Config = url.parse().map_err(|e| {
            StoreError::new(
                StoreErrorKind::Backend,
                format!("invalid Postgres connection string: {e}"),
            )
        })?;
        Self::connect(config, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Connects with `config` as the application role, with at most `max_connections`.
    ///
    /// Refuses a schema this build does not know (not migrated, older or newer) and a role
    /// that row-level security would not bind (superuser, `BYPASSRLS`, owner of the
    /// tables): connect the owner only to [`migrate`].
    pub async fn connect(config: Config, max_connections: usize) -> Result<Self, StoreError> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(60)))
            .create_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| backend(format!("cannot build the connection pool: {e}")))?;
        let store = Self { pool, config };
        let client = store.client().await?;
        migrate::check_app_connection(&client).await?;
        Ok(store)
    }

    /// The connection pool, for a host that keeps more of its state in the same database
    /// (such as a job queue). Its connections are the application role's: set the tenant
    /// per transaction, never per session.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The audit log in the same database.
    pub fn audit_store(&self) -> PostgresAuditStore {
        PostgresAuditStore::new(self.pool.clone())
    }

    /// The response cache of `tenant` in the same database (see [`PostgresResponseCache`]).
    pub fn response_cache(&self, tenant: TenantId) -> PostgresResponseCache {
        PostgresResponseCache::new(self.pool.clone(), tenant)
    }

    /// Tenants' sealed credentials in the same database (see [`PostgresCredentialStore`]).
    pub fn credential_store(&self) -> PostgresCredentialStore {
        PostgresCredentialStore::new(self.pool.clone())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        get_client(&self.pool).await
    }
}

async fn get_client(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get()
        .await
        .map_err(|e| backend(format!("no Postgres connection: {e}")))
}

/// Begins a transaction on `client` and sets its tenant, for this transaction only.
/// Without a tenant the tenant-scoped tables show no row.
async fn begin<'c>(
    client: &'c mut deadpool_postgres::Object,
    tenant: Option<&TenantId>,
) -> Result<deadpool_postgres::Transaction<'c>, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    if let Some(t) = tenant {
        tx.execute(
            "SELECT set_config('tamma.tenant_id', $1, true)",
            &[&t.as_str()],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(tx)
}

fn backend(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Backend, message)
}

fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, message)
}

/// A driver error as a store error: the server's code and message (never its detail,
/// which may quote another row's key).
fn db_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => backend(format!(
            "postgres error {}: {}",
            db.code().code(),
            db.message()
        )),
        None => backend(format!("postgres: {e}")),
    }
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("tamma_app"), "\"tamma_app\"");
        assert_eq!(quote_ident("a\"; DROP"), "\"a\"\"; DROP\"");
    }
}
