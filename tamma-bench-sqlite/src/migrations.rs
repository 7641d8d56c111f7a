//! The schema of the results database and its migrations.

use rusqlite::Connection;
use tamma_bench_core::store::{StoreError, StoreErrorKind};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: runs and trials.
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        benchmark_id TEXT NOT NULL,
        benchmark_version TEXT NOT NULL,
        visibility TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        agents_json TEXT NOT NULL,
        epochs INTEGER NOT NULL,
        n_cases INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX runs_by_tenant ON runs (tenant_id, created_at_ms);
    CREATE TABLE trials (
        run_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        case_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        outcome_kind TEXT NOT NULL,
        headline REAL,
        outcome_json TEXT NOT NULL,
        output TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        cost_usd REAL NOT NULL,
        attempts INTEGER NOT NULL,
        cache_hit INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        cluster TEXT,
        tags_json TEXT,
        UNIQUE (run_id, agent, case_id, epoch)
    );",
    // 2: run annotations (internal run-level data: adaptive-concurrency history, ...).
    "CREATE TABLE run_annotations (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value_json TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    );",
    // 3: the audit log (append-only; see `crate::audit`).
    crate::audit::AUDIT_TABLES,
    // 4: the job queue (jobs, and their append-only history; see `crate::queue`).
    crate::queue::QUEUE_TABLES,
    // 5: the event log (append-only) and its consumers' offsets; see `crate::events`.
    crate::events::EVENT_TABLES,
    // 6: the agent configuration registry (versions, never changed); see
    // `crate::agent_configs`.
    crate::agent_configs::AGENT_CONFIG_TABLES,
    // 7: tenants' sealed provider credentials; see `crate::credentials`.
    crate::credentials::CREDENTIAL_TABLES,
];

/// Opens (creating if needed) the results database at `path` and applies its pending
/// migrations.
pub(crate) fn open_results(path: &std::path::Path) -> Result<Connection, StoreError> {
    let mut conn = crate::connection::open(path)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Applies the migrations the database has not run yet, in one transaction; refuses a
/// database written by a newer build.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(StoreError::backend)?;
    let version: usize = tx
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(StoreError::backend)? as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::new(
            StoreErrorKind::Backend,
            format!(
                "database schema version {version} is newer than this build knows ({}); upgrade tamma-bench",
                MIGRATIONS.len()
            ),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql).map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("migration {}: {e}", i + 1))
                .with_source(e)
        })?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(StoreError::backend)?;
    }
    tx.commit().map_err(StoreError::backend)
}
