//! Migrations: versioned, recorded, idempotent, safe to run from several processes at once,
//! and refusing a database newer than the build.

use crate::support::{Migrated, TestDb};
use tamma_bench_postgres::{PostgresStore, SCHEMA_VERSION, migrate};

#[tokio::test]
async fn migrations_are_recorded_and_a_second_run_applies_nothing() {
    let db = TestDb::create_empty().await;
    let first = migrate(&db.owner_config(), &db.app_role()).await.unwrap();
    assert_eq!(first.applied, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    assert_eq!(first.version, SCHEMA_VERSION);
    let again = migrate(&db.owner_config(), &db.app_role()).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.version, SCHEMA_VERSION);
    let owner = db.owner_client().await;
    let versions: Vec<i32> = owner
        .query(
            "SELECT version FROM tamma_schema_version ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    // Every table the application touches is owned by the owner role, not the app role.
    let owners: Vec<String> = owner
        .query(
            "SELECT DISTINCT pg_get_userbyid(relowner)::text FROM pg_class \
             WHERE relname IN ('runs', 'trials', 'run_annotations', 'response_cache', \
             'audit_entries', 'audit_checkpoints', 'public_runs', 'public_trials', 'jobs', \
             'job_events', 'agent_configs', 'credentials')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owners, vec![db.owner_role()]);
    // RLS is enabled and forced on every tenant-scoped table.
    let unforced: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN \
             ('runs', 'trials', 'run_annotations', 'response_cache', 'jobs', 'job_events', \
             'agent_configs', 'credentials') \
             AND NOT (relrowsecurity AND relforcerowsecurity)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unforced, 0);
    let forced: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN \
             ('jobs', 'job_events', 'agent_configs', 'credentials') \
             AND relrowsecurity AND relforcerowsecurity",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        forced, 4,
        "the queue's tables, the agent configurations and the credentials exist, under forced RLS"
    );
}

#[tokio::test]
async fn concurrent_migrators_apply_each_migration_once() {
    let db = TestDb::create_empty().await;
    let (owner, app) = (db.owner_config(), db.app_role());
    let runs = futures::future::join_all((0..4).map(|_| migrate(&owner, &app))).await;
    let mut applied: Vec<i32> = runs.into_iter().flat_map(|r| r.unwrap().applied).collect();
    applied.sort_unstable();
    assert_eq!(applied, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    db.store(1).await;
}

#[tokio::test]
async fn a_database_newer_than_the_build_is_refused() {
    let db = TestDb::create().await;
    let owner = db.owner_client().await;
    owner
        .execute(
            "INSERT INTO tamma_schema_version (version, name) VALUES ($1, 'from the future')",
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .unwrap();
    let e = migrate(&db.owner_config(), &db.app_role())
        .await
        .unwrap_err();
    assert!(e.message().contains("newer than this build"), "{e}");
    let e = PostgresStore::connect(db.app_config(), 1)
        .await
        .unwrap_err();
    assert!(e.message().contains("newer than this build"), "{e}");
}

#[tokio::test]
async fn the_store_refuses_a_database_not_migrated() {
    let db = TestDb::create_empty().await;
    let e = PostgresStore::connect(db.app_config(), 1)
        .await
        .unwrap_err();
    assert!(e.message().contains("run the migrations"), "{e}");
}
