//! Opening a database by its URL: the results store, the audit log, the job queue and the
//! event log of one SQLite file or one Postgres database, and the tenant-aware repository
//! over them with the keys of the environment.
//!
//! This is how every host of the library (the CLI's commands, the workers, the service)
//! opens its storage, so they all read the same URL the same way:
//!
//! - `sqlite:PATH` (or `sqlite://PATH`): one file, no server, for the processes of one
//!   machine;
//! - `postgres://ROLE@HOST/DB` (or `postgresql://`): a Postgres database shared by workers
//!   on many machines, as the application role (feature `postgres`).
//!
//! ```no_run
//! use tamma_bench::database::Database;
//! # async fn host() -> Result<(), Box<dyn std::error::Error>> {
//! let database = Database::parse("sqlite:tamma-bench.db")?;
//! let opened = database.open(true).await?;
//! let repository = opened.repository()?;
//! let queue = opened.queue(Default::default()).await?;
//! let events = opened.event_log().await?;
//! # let _ = (repository, queue, events);
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::events::EventLog;
use tamma_bench_core::queue::{JobQueue, QueueConfig};
#[cfg(feature = "postgres")]
use tamma_bench_core::store::{AgentConfigStore, CredentialStore};
use tamma_bench_core::store::{AuditStore, ResultStore, StoreError};
use tamma_bench_privacy::audit::{AuditError, AuditLog, AuditSigner, SIGNING_KEY_VAR};
use tamma_bench_privacy::credentials::Credentials;
use tamma_bench_privacy::crypto::{
    ALLOW_PLAINTEXT_VAR, CryptoError, DATA_KEYS_VAR, EnvKeyProvider, Keyset,
};
use tamma_bench_privacy::{AgentConfigs, Repository, RepositoryError};
use tamma_bench_sqlite::{
    SqliteAgentConfigStore, SqliteAuditStore, SqliteCredentialStore, SqliteEventLog, SqliteQueue,
    SqliteStore,
};

/// The environment variable that selects the database when a host is given none.
pub const DATABASE_VAR: &str = "TAMMA_BENCH_DATABASE";

/// Which database a host uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (the default, no server).
    Sqlite(PathBuf),
    /// A Postgres database, as the application role (its URL).
    Postgres(String),
}

/// Why a database could not be named or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The URL is neither `sqlite:PATH` nor a Postgres URL, or a Postgres URL is invalid.
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, without its password.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SQLite file does not exist and was not to be created.
    #[error("no database at {}: nothing has been run here yet", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// A Postgres URL, in a build without the `postgres` feature.
    #[error("{url}: this build has no Postgres backend (feature `postgres`)")]
    PostgresNotBuilt {
        /// The URL, without its password.
        url: String,
    },
    /// The store failed to open (or to migrate).
    #[error("cannot open {what} in {database}")]
    Store {
        /// What was being opened (`the results store`, `the job queue`, ...).
        what: &'static str,
        /// The database, without its password.
        database: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The job queue failed to open.
    #[error("cannot open the job queue in {database}")]
    Queue {
        /// The database, without its password.
        database: String,
        /// The queue's error.
        #[source]
        source: tamma_bench_core::queue::QueueError,
    },
    /// The audit signing key of the environment is set but unusable.
    #[error("the audit signing key ${SIGNING_KEY_VAR}")]
    SigningKey(#[source] AuditError),
    /// The data keys of the environment are set but unusable.
    #[error("the data keys ${DATA_KEYS_VAR}")]
    DataKeys(#[source] CryptoError),
    /// `$TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT` is neither 1 nor 0.
    #[error("${ALLOW_PLAINTEXT_VAR} must be 1 or 0 (or true / false), not {0:?}")]
    AllowPlaintext(String),
    /// The repository refused the store.
    #[error("cannot build the repository")]
    Repository(#[source] RepositoryError),
}

impl DatabaseError {
    /// What a caller can do: retry a store that failed to open, fix everything else.
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::Store { source, .. } => source.kind().remedy(),
            Self::Queue { source, .. } => source.remedy(),
            _ => Remedy::FixInput,
        }
    }
}

impl Database {
    /// `postgres://...` / `postgresql://...` or `sqlite:PATH`.
    pub fn parse(s: &str) -> Result<Self, DatabaseError> {
        let invalid = |reason: String| DatabaseError::InvalidUrl {
            url: redact_url(s),
            reason,
        };
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            s.parse::<tamma_bench_postgres::Config>()
                .map_err(|e| invalid(e.to_string()))?;
            Ok(Self::Postgres(s.to_owned()))
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(invalid("sqlite: needs a file path (sqlite:PATH)".into()));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            Err(invalid(
                "expected postgres://ROLE@HOST/DB or sqlite:PATH".into(),
            ))
        }
    }

    /// Where it is, for messages (a Postgres URL without its password).
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(p) => p.display().to_string(),
            Self::Postgres(url) => redact_url(url),
        }
    }

    /// The results store and the audit store. An SQLite file must exist unless `create`
    /// is set.
    pub async fn open(&self, create: bool) -> Result<Opened, DatabaseError> {
        self.open_with_pool(create, DEFAULT_MAX_CONNECTIONS).await
    }

    /// As [`Database::open`], with at most `max_connections` pooled connections to a
    /// Postgres database (a worker with many slots, or a server, needs more than a
    /// one-off command).
    pub async fn open_with_pool(
        &self,
        create: bool,
        max_connections: usize,
    ) -> Result<Opened, DatabaseError> {
        let store_error = |what, source| DatabaseError::Store {
            what,
            database: self.display(),
            source,
        };
        match self {
            Self::Sqlite(path) => {
                let _ = max_connections;
                if !create && !path.exists() {
                    return Err(DatabaseError::Missing { path: path.clone() });
                }
                let store =
                    SqliteStore::open(path).map_err(|e| store_error("the results store", e))?;
                let audit =
                    SqliteAuditStore::open(path).map_err(|e| store_error("the audit log", e))?;
                Ok(Opened {
                    database: self.clone(),
                    store: Arc::new(store),
                    audit: Arc::new(audit),
                    #[cfg(feature = "postgres")]
                    postgres: None,
                })
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(url) => {
                let config = url.parse::<tamma_bench_postgres::Config>().map_err(|e| {
                    DatabaseError::InvalidUrl {
                        url: redact_url(url),
                        reason: e.to_string(),
                    }
                })?;
                let store = tamma_bench_postgres::PostgresStore::connect(config, max_connections)
                    .await
                    .map_err(|e| store_error("the results store", e))?;
                Ok(Opened {
                    database: self.clone(),
                    store: Arc::new(store.clone()),
                    audit: Arc::new(store.audit_store()),
                    postgres: Some(store),
                })
            }
            #[cfg(not(feature = "postgres"))]
            Self::Postgres(url) => Err(DatabaseError::PostgresNotBuilt {
                url: redact_url(url),
            }),
        }
    }
}

/// The pool size of [`Database::open`].
#[cfg(feature = "postgres")]
pub const DEFAULT_MAX_CONNECTIONS: usize = tamma_bench_postgres::DEFAULT_MAX_CONNECTIONS;
/// The pool size of [`Database::open`].
#[cfg(not(feature = "postgres"))]
pub const DEFAULT_MAX_CONNECTIONS: usize = 4;

/// A database's stores, opened.
pub struct Opened {
    /// Which database.
    pub database: Database,
    /// Results.
    pub store: Arc<dyn ResultStore>,
    /// The audit log's store.
    pub audit: Arc<dyn AuditStore>,
    /// The Postgres store, when the database is Postgres (its pool serves the response
    /// cache, the queue and the event log too).
    #[cfg(feature = "postgres")]
    pub postgres: Option<tamma_bench_postgres::PostgresStore>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("database", &self.database.display())
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// The job queue in this database, configured with `config` (tables in the results
    /// database: the SQLite file, for the processes of one machine; or the Postgres
    /// database, for workers on many machines, woken by `LISTEN/NOTIFY`).
    pub async fn queue(&self, config: QueueConfig) -> Result<Arc<dyn JobQueue>, DatabaseError> {
        let queue_error = |source| DatabaseError::Queue {
            database: self.database.display(),
            source,
        };
        #[cfg(feature = "postgres")]
        if let Some(pg) = &self.postgres {
            return Ok(Arc::new(pg.queue(config).await.map_err(queue_error)?));
        }
        match &self.database {
            Database::Sqlite(path) => Ok(Arc::new(
                SqliteQueue::open(path, config).map_err(queue_error)?,
            )),
            Database::Postgres(url) => Err(DatabaseError::PostgresNotBuilt {
                url: redact_url(url),
            }),
        }
    }

    /// The event log in this database (its `events` table).
    pub async fn event_log(&self) -> Result<Arc<dyn EventLog>, DatabaseError> {
        let store_error = |source| DatabaseError::Store {
            what: "the event log",
            database: self.database.display(),
            source,
        };
        #[cfg(feature = "postgres")]
        if let Some(pg) = &self.postgres {
            return Ok(Arc::new(pg.events().await.map_err(store_error)?));
        }
        match &self.database {
            Database::Sqlite(path) => {
                Ok(Arc::new(SqliteEventLog::open(path).map_err(store_error)?))
            }
            Database::Postgres(url) => Err(DatabaseError::PostgresNotBuilt {
                url: redact_url(url),
            }),
        }
    }

    /// The audit log over this database's audit store, its checkpoints signed with the
    /// key of the environment when one is set.
    pub fn audit_log(&self) -> Result<Arc<AuditLog>, DatabaseError> {
        audit_log(self.audit.clone())
    }

    /// The tenant-aware repository over this database's results, audited into its audit
    /// log, with the keys of the environment (see [`repository_over`]).
    pub fn repository(&self) -> Result<Repository, DatabaseError> {
        repository_over(self.store.clone(), self.audit.clone())
    }

    /// Tenants' provider credentials in this database (table `credentials`), audited into
    /// its audit log and sealed with the keyset of `$TAMMA_BENCH_DATA_KEYS`. Without that
    /// variable none can be stored or opened (credentials are never kept in clear); a set
    /// but unusable value is an error.
    pub fn credentials(&self) -> Result<Credentials, DatabaseError> {
        let store = self.backend_store(
            "the credential store",
            #[cfg(feature = "postgres")]
            |pg| Arc::new(pg.credential_store()) as Arc<dyn CredentialStore>,
            |path| Ok(Arc::new(SqliteCredentialStore::open(path)?)),
        )?;
        let credentials = Credentials::new(store).with_audit(self.audit_log()?);
        Ok(match keyset_from_env()? {
            Some(keys) => credentials.with_keyset(&keys),
            None => credentials,
        })
    }

    /// The store of this database's backend: the Postgres store's `postgres` view, or
    /// `sqlite` opened on the SQLite file (`what` names it in errors).
    fn backend_store<T: ?Sized>(
        &self,
        what: &'static str,
        #[cfg(feature = "postgres")] postgres: impl FnOnce(
            &tamma_bench_postgres::PostgresStore,
        ) -> Arc<T>,
        sqlite: impl FnOnce(&std::path::Path) -> Result<Arc<T>, StoreError>,
    ) -> Result<Arc<T>, DatabaseError> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = &self.postgres {
            return Ok(postgres(pg));
        }
        match &self.database {
            Database::Sqlite(path) => sqlite(path).map_err(|source| DatabaseError::Store {
                what,
                database: self.database.display(),
                source,
            }),
            Database::Postgres(url) => Err(DatabaseError::PostgresNotBuilt {
                url: redact_url(url),
            }),
        }
    }
}

impl Opened {
    /// The registry of agent configurations in this database, for internal contexts,
    /// audited into its audit log, its restricted fields sealed with the keyset of
    /// `$TAMMA_BENCH_DATA_KEYS` when it is set.
    pub fn agent_configs(&self) -> Result<AgentConfigs, DatabaseError> {
        let store = self.backend_store(
            "the agent configuration registry",
            #[cfg(feature = "postgres")]
            |pg| Arc::new(pg.agent_configs()) as Arc<dyn AgentConfigStore>,
            |path| Ok(Arc::new(SqliteAgentConfigStore::open(path)?)),
        )?;
        let configs = AgentConfigs::new(store, self.audit_log()?)
            .allow_plaintext_legacy(allow_plaintext_from_env()?);
        Ok(match keyset_from_env()? {
            Some(keys) => configs.with_keyset(&keys),
            None => configs,
        })
    }
}

/// The audit log over `audit`, its checkpoints signed with the key of
/// `$TAMMA_BENCH_AUDIT_SIGNING_KEY` when it is set (else unsigned: chained entries, no
/// checkpoints).
pub fn audit_log(audit: Arc<dyn AuditStore>) -> Result<Arc<AuditLog>, DatabaseError> {
    let signer = AuditSigner::from_env_if_set().map_err(DatabaseError::SigningKey)?;
    Ok(Arc::new(AuditLog::with_signer(audit, signer)))
}

/// The repository over `store`, audited into `audit`: sensitive and restricted fields
/// are sealed with the keyset of `$TAMMA_BENCH_DATA_KEYS` when it is set, plaintext in
/// sealed columns refused unless `$TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT=1`. A set but
/// unusable key is an error, never a silent fallback.
pub fn repository_over(
    store: Arc<dyn ResultStore>,
    audit: Arc<dyn AuditStore>,
) -> Result<Repository, DatabaseError> {
    let repo = Repository::new(store)
        .map_err(DatabaseError::Repository)?
        .with_audit(audit_log(audit)?)
        .allow_plaintext_legacy(allow_plaintext_from_env()?);
    match keyset_from_env()? {
        Some(keys) => Ok(repo.with_keyset(&keys)),
        None => Ok(repo),
    }
}

/// The keyset of `$TAMMA_BENCH_DATA_KEYS`, when it is set (a set but unusable value is
/// an error, never `None`).
fn keyset_from_env() -> Result<Option<Keyset>, DatabaseError> {
    EnvKeyProvider::new()
        .keyset_if_set()
        .map_err(DatabaseError::DataKeys)
}

/// `$TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT`: `1`/`true` allows plaintext in sealed columns
/// (a database written before keys were set), unset, empty, `0` or `false` refuses it.
pub fn allow_plaintext_from_env() -> Result<bool, DatabaseError> {
    let Some(value) = std::env::var_os(ALLOW_PLAINTEXT_VAR) else {
        return Ok(false);
    };
    match value.to_str().map(str::trim) {
        Some("1" | "true") => Ok(true),
        Some("" | "0" | "false") => Ok(false),
        _ => Err(DatabaseError::AllowPlaintext(
            value.to_string_lossy().into_owned(),
        )),
    }
}

/// `url` without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_display_without_passwords() {
        assert_eq!(
            Database::parse("sqlite:/tmp/x.db").expect("sqlite"),
            Database::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            Database::parse("sqlite:///tmp/x.db").expect("sqlite //"),
            Database::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        let pg = Database::parse("postgres://app:secret@127.0.0.1/db").expect("postgres");
        assert_eq!(pg.display(), "postgres://app:***@127.0.0.1/db");
        let err = Database::parse("mysql://root:pw@h/db").expect_err("not supported");
        assert!(!err.to_string().contains("pw"), "{err}");
        assert!(Database::parse("sqlite:").is_err());
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_is_not_created_unless_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let db = Database::Sqlite(path.clone());
        assert!(matches!(
            db.open(false).await,
            Err(DatabaseError::Missing { .. })
        ));
        assert!(!path.exists());
        let opened = db.open(true).await.expect("create");
        opened.queue(QueueConfig::default()).await.expect("queue");
        opened.event_log().await.expect("event log");
        let cx = tamma_bench_core::model::TenantContext::local_operator();
        let credentials = opened.credentials().expect("credentials");
        assert!(credentials.names(&cx).await.expect("names").is_empty());
        assert!(path.exists());
    }
}
