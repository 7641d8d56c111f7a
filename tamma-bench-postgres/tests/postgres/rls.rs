//! Row-level security as the application role, with raw SQL: the wall holds whatever
//! the query says.

use crate::support::{Migrated, TestDb};
use tamma_bench_core::model::{AgentConfig, TenantContext, TenantId, Visibility};
use tamma_bench_core::provider::Completion;
use tamma_bench_core::queue::{JobKind, JobQueue, NewJob, QueueConfig};
use tamma_bench_core::store::{
    AgentConfigId, AgentConfigStore, AuditRecord, AuditStore, CredentialName, CredentialStore,
    ResponseCache, ResultStore,
};
use tamma_bench_postgres::{PostgresStore, migrate};
use tamma_bench_testkit::conformance::store::{run, trial};
use tokio_postgres::Client;

/// The tenant-scoped tables.
pub const TENANT_TABLES: [&str; 8] = [
    "runs",
    "trials",
    "run_annotations",
    "response_cache",
    "jobs",
    "job_events",
    "agent_configs",
    "credentials",
];

/// The tenants [`seed`] writes.
pub const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// Rows [`seed`] writes per tenant, by table of [`TENANT_TABLES`].
pub const SEEDED_PER_TENANT: [i64; 8] = [2, 10, 2, 3, 2, 2, 3, 2];

/// Through the store: per tenant, a public and a private run with 5 trials each, an
/// annotation on each run, 3 cache entries, two queued jobs (one per run, each with its
/// `submitted` event), an agent configuration `shared` in two versions and one of the
/// tenant's own id, two credentials; and one audit entry.
pub async fn seed(store: &PostgresStore) {
    let queue = store.queue(QueueConfig::default()).await.unwrap();
    let agent_configs = store.agent_configs();
    for t in TENANTS {
        let cx = TenantContext::internal(TenantId::new(t).unwrap(), "operator");
        let shared = AgentConfigId::new("shared").unwrap();
        let own = AgentConfigId::new(format!("{t}-own")).unwrap();
        for (id, expected) in [(&shared, None), (&shared, Some(1)), (&own, None)] {
            let config = AgentConfig::new(t, "openai", format!("{t}-secret-model"));
            agent_configs
                .put(&cx.tenant_id, id, &config, expected, "operator")
                .await
                .unwrap();
        }
        for suffix in ["pub", "priv"] {
            let job = NewJob {
                run_id: Some(format!("{t}-{suffix}")),
                ..NewJob::new(JobKind::Run, serde_json::json!({ "secret": t }))
            };
            queue.submit(&cx, job).await.unwrap();
        }
        for (suffix, visibility) in [("pub", Visibility::Public), ("priv", Visibility::Private)] {
            let mut r = run(&format!("{t}-{suffix}"), t);
            r.visibility = visibility;
            store.begin_run(&r).await.unwrap();
            store
                .append_trials((0..5).map(|c| trial(&r, c, 0)).collect())
                .await
                .unwrap();
            store
                .annotate_run(&r.tenant_id, &r.id, "note", serde_json::json!(t))
                .await
                .unwrap();
        }
        let tenant = TenantId::new(t).unwrap();
        let credentials = store.credential_store();
        for name in [format!("{t}-key-0"), "OPENAI_API_KEY".to_owned()] {
            let name = CredentialName::new(name).unwrap();
            let sealed = format!("sealed {t}").into_bytes();
            credentials.put(&tenant, &name, sealed).await.unwrap();
        }
        let cache = store.response_cache(tenant.clone());
        for k in 0..3 {
            let c = Completion {
                text: format!("{t} answer {k}"),
                ..Default::default()
            };
            cache
                .put(&format!("{t}-key-{k}"), &tenant, &c, 0, None)
                .await
                .unwrap();
        }
    }
    store
        .audit_store()
        .append(
            AuditRecord {
                index: 0,
                entry: b"first".to_vec(),
                chain_hash: vec![7; 32],
            },
            None,
        )
        .await
        .unwrap();
}

/// Sets the tenant for the transaction `client` has open.
pub async fn set_tenant(client: &Client, tenant: &str) {
    client
        .execute("SELECT set_config('tamma.tenant_id', $1, true)", &[&tenant])
        .await
        .unwrap();
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

async fn seeded() -> (TestDb, PostgresStore, Client) {
    let db = TestDb::create().await;
    let store = db.store(2).await;
    seed(&store).await;
    let app = db.app_client().await;
    (db, store, app)
}

#[tokio::test]
async fn without_a_tenant_every_tenant_scoped_table_shows_no_row() {
    let (_db, _store, app) = seeded().await;
    for (table, per_tenant) in TENANT_TABLES.iter().zip(SEEDED_PER_TENANT) {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(count(&app, &sql).await, 0, "{table} without a tenant");
        // Set to nothing, or reset after a transaction that set it: still nothing.
        app.batch_execute("BEGIN").await.unwrap();
        set_tenant(&app, "").await;
        assert_eq!(count(&app, &sql).await, 0, "{table} with an empty tenant");
        set_tenant(&app, "acme").await;
        assert_eq!(count(&app, &sql).await, per_tenant, "{table} for acme");
        app.batch_execute("COMMIT").await.unwrap();
        assert_eq!(count(&app, &sql).await, 0, "{table} after the transaction");
    }
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_rows_even_when_filtering_for_another() {
    let (_db, _store, app) = seeded().await;
    app.batch_execute("BEGIN").await.unwrap();
    set_tenant(&app, "acme").await;
    for table in TENANT_TABLES {
        let rows = app
            .query(&format!("SELECT DISTINCT tenant_id FROM {table}"), &[])
            .await
            .unwrap();
        let seen: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(seen, vec!["acme".to_owned()], "{table}");
        let spoofed = format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = 'globex' OR tenant_id <> 'acme' OR true"
        );
        let n = count(&app, &spoofed).await;
        let own = count(&app, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(n, own, "{table}: a filter for others adds nothing");
    }
    // Updates aimed at another tenant's rows touch none.
    let n = app
        .execute(
            "UPDATE runs SET status = 'failed' WHERE tenant_id = 'globex'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n = app
        .execute("DELETE FROM response_cache WHERE tenant_id = 'globex'", &[])
        .await
        .unwrap();
    assert_eq!(n, 0);
    app.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn rows_for_another_tenant_are_refused_on_insert() {
    let (_db, _store, app) = seeded().await;
    let attempts = [
        "INSERT INTO runs (tenant_id, id, benchmark_id, benchmark_version, visibility, fingerprint, \
         agents_json, epochs, n_cases, status, created_at_ms, updated_at_ms) \
         VALUES ('globex', 'forged', 'b', '1', 'public', 'f', '[]', 1, 1, 'running', 0, 0)",
        "INSERT INTO run_annotations (tenant_id, run_id, key, value_json) \
         VALUES ('globex', 'globex-pub', 'forged', '1')",
        "INSERT INTO response_cache (tenant_id, key, completion_json, created_at_ms) \
         VALUES ('globex', 'forged', '{}', 0)",
        "INSERT INTO agent_configs (tenant_id, id, version, config_json, author, created_at_ms, digest) \
         VALUES ('globex', 'shared', 3, '{}', 'mallory', 0, '')",
        "INSERT INTO credentials (tenant_id, name, sealed, updated_at_ms) \
         VALUES ('globex', 'OPENAI_API_KEY', 'forged', 0)",
    ];
    for sql in attempts {
        for tenant in [None, Some("acme")] {
            app.batch_execute("BEGIN").await.unwrap();
            if let Some(t) = tenant {
                set_tenant(&app, t).await;
            }
            let e = app.execute(sql, &[]).await.unwrap_err();
            assert_eq!(
                e.code(),
                Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
                "{sql} as {tenant:?}: {e}"
            );
            app.batch_execute("ROLLBACK").await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_application_role_cannot_change_or_remove_agent_configuration_versions() {
    let (_db, store, app) = seeded().await;
    for sql in [
        "UPDATE agent_configs SET config_json = '{}'",
        "DELETE FROM agent_configs",
        "TRUNCATE agent_configs",
    ] {
        // Not even its own tenant's: a version is history.
        app.batch_execute("BEGIN").await.unwrap();
        set_tenant(&app, "acme").await;
        let e = app.execute(sql, &[]).await.unwrap_err();
        assert_eq!(
            e.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {e}"
        );
        app.batch_execute("ROLLBACK").await.unwrap();
    }
    let acme = TenantId::new("acme").unwrap();
    let shared = AgentConfigId::new("shared").unwrap();
    let history = store.agent_configs().history(&acme, &shared).await.unwrap();
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|v| v.config.model == "acme-secret-model")
    );
}

#[tokio::test]
async fn the_application_role_cannot_change_or_remove_audit_entries() {
    let (db, _store, app) = seeded().await;
    for sql in [
        "UPDATE audit_entries SET entry = 'x'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "UPDATE audit_checkpoints SET note = 'x'",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ] {
        let e = app.execute(sql, &[]).await.unwrap_err();
        assert_eq!(
            e.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {e}"
        );
    }
    // Not even the owner: the tables refuse changes to anyone.
    let owner = db.owner_client().await;
    for sql in [
        "UPDATE audit_entries SET entry = 'x'",
        "DELETE FROM audit_entries",
    ] {
        let e = owner.execute(sql, &[]).await.unwrap_err();
        assert!(
            e.to_string().contains("append-only") || format!("{e:?}").contains("append-only"),
            "{sql}: {e:?}"
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_entries WHERE entry = 'first'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_pooled_connection_carries_no_tenant_into_the_next_transaction() {
    let db = TestDb::create().await;
    // One connection: every call reuses it.
    let store = db.store(1).await;
    seed(&store).await;
    let acme = TenantId::new("acme").unwrap();
    assert_eq!(store.list_runs(&acme).await.unwrap().len(), 2);
    let client = store.pool().get().await.unwrap();
    let setting: Option<String> = client
        .query_one("SELECT current_setting('tamma.tenant_id', true)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        setting.as_deref().is_none_or(str::is_empty),
        "the tenant of the last transaction is gone: {setting:?}"
    );
    for table in TENANT_TABLES {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} on the reused connection");
    }
}

#[tokio::test]
async fn public_views_show_public_runs_of_every_tenant_and_only_public_columns() {
    let (_db, store, app) = seeded().await;
    for tenant in [None, Some("acme")] {
        app.batch_execute("BEGIN").await.unwrap();
        if let Some(t) = tenant {
            set_tenant(&app, t).await;
        }
        let rows = app
            .query("SELECT * FROM public_runs ORDER BY id", &[])
            .await
            .unwrap();
        let ids: Vec<String> = rows.iter().map(|r| r.get("id")).collect();
        assert_eq!(ids, vec!["acme-pub", "globex-pub", "initech-pub"]);
        let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
        assert!(!columns.contains(&"fingerprint"), "{columns:?}");
        let agents: String = rows[0].get("agents_json");
        assert_eq!(
            agents,
            r#"[{"name": "a", "model": "m", "provider": "replay"}]"#
        );
        let rows = app.query("SELECT * FROM public_trials", &[]).await.unwrap();
        assert_eq!(rows.len(), 15, "5 trials of each public run");
        assert!(
            rows.iter()
                .all(|r| r.get::<_, String>("run_id").ends_with("-pub"))
        );
        let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
        for internal in [
            "output",
            "outcome_json",
            "cost_usd",
            "input_tokens",
            "tenant_id",
        ] {
            assert!(!columns.contains(&internal), "{internal} in {columns:?}");
        }
        app.batch_execute("ROLLBACK").await.unwrap();
    }
    // The store reads public runs through the view: no internal field crosses tenants.
    let public = store.list_public_runs().await.unwrap();
    assert_eq!(public.len(), 3);
    assert!(public.iter().all(|r| r.fingerprint.is_empty()));
}

#[tokio::test]
async fn roles_that_row_level_security_would_not_bind_are_refused() {
    let db = TestDb::create().await;
    let e = PostgresStore::connect(db.owner_config(), 1)
        .await
        .unwrap_err();
    assert!(e.message().contains("application role"), "{e}");
    let e = PostgresStore::connect(db.superuser_config(), 1)
        .await
        .unwrap_err();
    assert!(e.message().contains("application role"), "{e}");
    for role in ["postgres".to_owned(), db.owner_role()] {
        let e = migrate(&db.owner_config(), &role).await.unwrap_err();
        assert!(e.message().contains("row-level security"), "{role}: {e}");
    }
    let admin = crate::support::connect(&db.superuser_config()).await;
    admin
        .batch_execute(&format!("ALTER ROLE {} BYPASSRLS", db.app_role()))
        .await
        .unwrap();
    let e = migrate(&db.owner_config(), &db.app_role())
        .await
        .unwrap_err();
    assert!(e.message().contains("BYPASSRLS"), "{e}");
    let e = PostgresStore::connect(db.app_config(), 1)
        .await
        .unwrap_err();
    assert!(e.message().contains("application role"), "{e}");
}
