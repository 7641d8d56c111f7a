//! Versioned migrations, run once by the owner role, and the grants of the application
//! role.
//!
//! Each migration is a numbered SQL file in `migrations/`, applied in its own transaction
//! and recorded in `tamma_schema_version`. Concurrent migrators serialize on an advisory
//! lock, so N processes starting at once apply each migration once. A database whose
//! schema is newer than this build is refused, by [`migrate`] and by the store.

use crate::{backend, db_err, quote_ident};
use tamma_bench_core::store::{StoreError, StoreErrorKind};
use tokio_postgres::{Client, Config, NoTls};

/// One schema migration.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// The migrations, in order. Never edit a released entry: add a file and an entry.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "results",
        sql: include_str!("../migrations/0001_results.sql"),
    },
    Migration {
        version: 2,
        name: "audit",
        sql: include_str!("../migrations/0002_audit.sql"),
    },
    Migration {
        version: 3,
        name: "response_cache",
        sql: include_str!("../migrations/0003_response_cache.sql"),
    },
    Migration {
        version: 4,
        name: "jobs",
        sql: include_str!("../migrations/0004_jobs.sql"),
    },
    Migration {
        version: 5,
        name: "events",
        sql: include_str!("../migrations/0005_events.sql"),
    },
    Migration {
        version: 6,
        name: "agent_configs",
        sql: include_str!("../migrations/0006_agent_configs.sql"),
    },
    Migration {
        version: 7,
        name: "credentials",
        sql: include_str!("../migrations/0007_credentials.sql"),
    },
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 7;

/// The advisory lock key migrators serialize on ("tamma-mg").
const MIGRATION_LOCK: i64 = 0x7461_6d6d_612d_6d67;

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The versions this call applied (empty when the schema was current).
    pub applied: Vec<i32>,
    /// The schema version now.
    pub version: i32,
}

/// The privileges of the application role, granted afresh on every [`migrate`] after its
/// earlier privileges on these objects are revoked: least privilege by construction. No
/// DELETE except on the cache; UPDATE only of the columns the store rewrites; the audit
/// tables SELECT and INSERT; the public views SELECT; the jobs SELECT, INSERT and UPDATE
/// of what a cancellation changes, their events SELECT and INSERT (append-only), and the
/// worker functions EXECUTE; the event log SELECT and INSERT (append-only; its host
/// functions EXECUTE), the consumers' offsets SELECT, INSERT and UPDATE of the position;
/// the agent configurations SELECT and INSERT (a version is never changed); the credentials SELECT, INSERT, DELETE and UPDATE of the
/// sealed value and its time.
const APP_GRANTS: &str = "
    REVOKE ALL ON tamma_schema_version, runs, trials, run_annotations, public_runs,
        public_trials, audit_entries, audit_checkpoints, response_cache, jobs, job_events,
        events, consumer_offsets, agent_configs, credentials
        FROM {app};
    REVOKE ALL ON FUNCTION tamma_job_claim(text, text[], integer[], bigint, bigint),
        tamma_job_heartbeat(text, text, text, bigint, integer),
        tamma_job_finish(text, text, text, text, text, boolean, bigint),
        tamma_job_stats(text[]),
        tamma_job_event(text, text, text, text, text, text, bigint),
        tamma_event_insert(text, integer, bigint, text, text, text, text),
        tamma_event_log(text, text, text, text, json),
        tamma_events_append(text, integer, bigint, text, text, text, text),
        tamma_events_read(bigint, text[], text, bigint),
        tamma_events_head() FROM {app};
    GRANT SELECT ON tamma_schema_version TO {app};
    GRANT SELECT, INSERT ON runs TO {app};
    GRANT UPDATE (status, epochs, updated_at_ms, agents_json) ON runs TO {app};
    GRANT SELECT, INSERT ON trials TO {app};
    GRANT UPDATE (outcome_kind, error_kind, headline, outcome_json, output) ON trials TO {app};
    GRANT SELECT, INSERT ON run_annotations TO {app};
    GRANT UPDATE (value_json) ON run_annotations TO {app};
    GRANT SELECT ON public_runs, public_trials TO {app};
    GRANT SELECT, INSERT ON audit_entries, audit_checkpoints TO {app};
    GRANT USAGE ON SEQUENCE audit_checkpoints_seq_seq TO {app};
    GRANT SELECT, INSERT, DELETE ON response_cache TO {app};
    GRANT UPDATE (completion_json, created_at_ms, expires_at_ms) ON response_cache TO {app};
    GRANT SELECT, INSERT ON jobs TO {app};
    GRANT UPDATE (state, cancel_requested, finished_at_ms) ON jobs TO {app};
    GRANT SELECT, INSERT ON job_events TO {app};
    GRANT EXECUTE ON FUNCTION tamma_job_claim(text, text[], integer[], bigint, bigint),
        tamma_job_heartbeat(text, text, text, bigint, integer),
        tamma_job_finish(text, text, text, text, text, boolean, bigint),
        tamma_job_stats(text[]) TO {app};
    GRANT SELECT, INSERT ON events TO {app};
    GRANT SELECT, INSERT ON consumer_offsets TO {app};
    GRANT UPDATE (pos, updated_at_ms) ON consumer_offsets TO {app};
    GRANT EXECUTE ON FUNCTION tamma_events_append(text, integer, bigint, text, text, text, text),
        tamma_events_read(bigint, text[], text, bigint),
        tamma_events_head() TO {app};
    GRANT SELECT, INSERT ON agent_configs TO {app};
    GRANT SELECT, INSERT, DELETE ON credentials TO {app};
    GRANT UPDATE (sealed, updated_at_ms) ON credentials TO {app};
";

/// Connects one client with `config` (the connection runs on a spawned task).
pub(crate) async fn connect_one(config: &Config) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(db_err)?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; an error then is the server's
        // or the network's, and every pending query has already reported it.
        let _ = connection.await;
    });
    Ok(client)
}

/// Applies the pending migrations as the role of `owner` (the role that owns the schema:
/// never the one the workers use), then grants `app_role` what the store needs.
///
/// `app_role` must exist, must not be a superuser, must not have `BYPASSRLS`, and must be
/// neither the owner role nor a member of it: row-level security would not bind it. Safe
/// to run again and from several processes at once; refuses a database whose schema is
/// newer than this build.
pub async fn migrate(owner: &Config, app_role: &str) -> Result<MigrationReport, StoreError> {
    let mut client = connect_one(owner).await?;
    check_app_role(&client, app_role).await?;
    let mut applied = Vec::new();
    {
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db_err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS tamma_schema_version (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
    }
    for m in MIGRATIONS {
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db_err)?;
        let current = stored_version(&tx).await?;
        refuse_newer(current)?;
        if current >= m.version {
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|e| {
            backend(format!(
                "migration {} ({}): {}",
                m.version,
                m.name,
                db_err(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO tamma_schema_version (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        applied.push(m.version);
    }
    let tx = client.transaction().await.map_err(db_err)?;
    // Concurrent GRANTs of one object fail ("tuple concurrently updated"): serialize.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_err)?;
    let version = stored_version(&tx).await?;
    refuse_newer(version)?;
    tx.batch_execute(&APP_GRANTS.replace("{app}", &quote_ident(app_role)))
        .await
        .map_err(|e| backend(format!("granting {app_role:?}: {}", db_err(e))))?;
    tx.commit().await.map_err(db_err)?;
    Ok(MigrationReport { applied, version })
}

async fn stored_version(client: &impl tokio_postgres::GenericClient) -> Result<i32, StoreError> {
    let row = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM tamma_schema_version",
            &[],
        )
        .await
        .map_err(|e| match e.code() {
            Some(c) if *c == tokio_postgres::error::SqlState::UNDEFINED_TABLE => backend(
                "the database has no tamma-bench schema: run the migrations with the owner role first",
            ),
            _ => db_err(e),
        })?;
    row.try_get(0).map_err(db_err)
}

fn refuse_newer(version: i32) -> Result<(), StoreError> {
    if version > SCHEMA_VERSION {
        return Err(backend(format!(
            "database schema version {version} is newer than this build knows ({SCHEMA_VERSION}); upgrade tamma-bench"
        )));
    }
    Ok(())
}

/// Refuses an application role that row-level security would not bind.
async fn check_app_role(client: &Client, app_role: &str) -> Result<(), StoreError> {
    let row = client
        .query_opt(
            "SELECT rolsuper, rolbypassrls, rolname = current_user,
                    pg_has_role(oid, current_user, 'MEMBER')
             FROM pg_roles WHERE rolname = $1",
            &[&app_role],
        )
        .await
        .map_err(db_err)?
        .ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::NotFound,
                format!("no role {app_role:?}: create the application role first (see docs/deployment.md)"),
            )
        })?;
    let (superuser, bypass, is_owner, member): (bool, bool, bool, bool) = (
        row.try_get(0).map_err(db_err)?,
        row.try_get(1).map_err(db_err)?,
        row.try_get(2).map_err(db_err)?,
        row.try_get(3).map_err(db_err)?,
    );
    let why = if superuser {
        Some("is a superuser")
    } else if bypass {
        Some("has BYPASSRLS")
    } else if is_owner {
        Some("is the role running the migrations (the owner)")
    } else if member {
        Some("is a member of the owner role")
    } else {
        None
    };
    match why {
        Some(why) => Err(StoreError::new(
            StoreErrorKind::Conflict,
            format!("application role {app_role:?} {why}: row-level security would not bind it"),
        )),
        None => Ok(()),
    }
}

/// Checks, as the application role, that the schema is this build's and that row-level
/// security binds the role (not a superuser, no `BYPASSRLS`, owns no table of the store).
pub(crate) async fn check_app_connection(client: &Client) -> Result<(), StoreError> {
    let version = stored_version(client).await?;
    refuse_newer(version)?;
    if version < SCHEMA_VERSION {
        return Err(backend(format!(
            "database schema version {version} is older than this build's ({SCHEMA_VERSION}): \
             run the migrations with the owner role first"
        )));
    }
    let row = client
        .query_one(
            "SELECT r.rolsuper, r.rolbypassrls,
                    EXISTS (SELECT 1 FROM pg_class c
                            WHERE c.relname IN ('runs', 'trials', 'run_annotations', 'response_cache',
                                                'audit_entries', 'audit_checkpoints', 'jobs',
                                                'job_events', 'events', 'consumer_offsets',
                                                'agent_configs', 'credentials')
                              AND c.relnamespace IN (SELECT n.oid FROM pg_namespace n
                                                    WHERE n.nspname = ANY (current_schemas(false)))
                              AND pg_has_role(current_user, c.relowner, 'USAGE'))
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(db_err)?;
    let (superuser, bypass, owns): (bool, bool, bool) = (
        row.try_get(0).map_err(db_err)?,
        row.try_get(1).map_err(db_err)?,
        row.try_get(2).map_err(db_err)?,
    );
    if superuser || bypass || owns {
        return Err(StoreError::new(
            StoreErrorKind::Conflict,
            "the store must connect as the application role: this role is a superuser, has \
             BYPASSRLS or owns the tables, so row-level security would not bind it \
             (see docs/deployment.md)",
        ));
    }
    Ok(())
}
