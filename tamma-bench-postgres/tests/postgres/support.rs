//! A fresh database per test, with its own owner and application roles, dropped at the
//! end (also when the test fails). Leftovers of test processes that died are dropped at
//! the start.
//!
//! The server is the one every development and CI machine runs (127.0.0.1:5432, user
//! `postgres`, trust auth); `TAMMA_BENCH_TEST_POSTGRES` overrides the admin connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tamma_bench_core::store::ResultStore;
use tamma_bench_postgres::{Config, PostgresStore, migrate};
use tokio_postgres::{Client, NoTls};

/// The prefix of every database and role these tests make.
const PREFIX: &str = "tbpg_";

fn admin_config() -> Config {
    let url = std::env::var("TAMMA_BENCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    url.parse()
        .expect("TAMMA_BENCH_TEST_POSTGRES is a Postgres URL")
}

/// Connects `config` and drives its connection on the current runtime.
pub async fn connect(config: &Config) -> Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .expect("the test Postgres server answers (127.0.0.1:5432)");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database of its own, migrated, with an owner and an application role.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// Makes and migrates a fresh database.
    pub async fn create() -> Self {
        let db = Self::create_empty().await;
        migrate(&db.owner_config(), &db.app_role())
            .await
            .expect("migrations apply");
        db
    }

    /// Makes a fresh, empty database (not migrated) and its roles.
    pub async fn create_empty() -> Self {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let name = format!(
            "{PREFIX}{}_{stamp}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let admin = connect(&admin_config()).await;
        drop_leftovers(&admin).await;
        let db = Self { name };
        admin
            .batch_execute(&format!(
                "CREATE ROLE {owner} LOGIN; CREATE ROLE {app} LOGIN;",
                owner = db.owner_role(),
                app = db.app_role()
            ))
            .await
            .expect("create roles");
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {} OWNER {} TEMPLATE template0",
                db.name,
                db.owner_role()
            ))
            .await
            .expect("create database");
        db
    }

    pub fn owner_role(&self) -> String {
        format!("{}_owner", self.name)
    }

    pub fn app_role(&self) -> String {
        format!("{}_app", self.name)
    }

    fn config_as(&self, user: &str) -> Config {
        let mut c = admin_config();
        c.user(user).dbname(&self.name);
        c
    }

    pub fn owner_config(&self) -> Config {
        self.config_as(&self.owner_role())
    }

    pub fn app_config(&self) -> Config {
        self.config_as(&self.app_role())
    }

    /// As the server's superuser, in this database.
    pub fn superuser_config(&self) -> Config {
        let mut c = admin_config();
        c.dbname(&self.name);
        c
    }

    /// The store, as the application role, with at most `max` connections.
    pub async fn store(&self, max: usize) -> PostgresStore {
        PostgresStore::connect(self.app_config(), max)
            .await
            .expect("the application role connects")
    }

    /// A raw connection as the application role.
    pub async fn app_client(&self) -> Client {
        connect(&self.app_config()).await
    }

    /// A raw connection as the owner role.
    pub async fn owner_client(&self) -> Client {
        connect(&self.owner_config()).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: clean up on a thread with its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let admin = connect(&admin_config()).await;
                drop_database(&admin, &name).await;
            });
        });
        let _ = cleanup.join();
    }
}

async fn drop_database(admin: &Client, name: &str) {
    // One statement each (DROP DATABASE refuses a transaction block); FORCE ends the
    // pool's connections that are still closing.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS {name}_app"),
        format!("DROP ROLE IF EXISTS {name}_owner"),
    ] {
        if let Err(e) = admin.batch_execute(&sql).await {
            eprintln!("cleanup: {sql}: {e}");
        }
    }
}

/// Drops the databases and roles of test processes that are gone (killed before their
/// guards ran). Names carry the process id; a live process's are left alone.
async fn drop_leftovers(admin: &Client) {
    let rows = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'tbpg\\_%' \
             UNION SELECT regexp_replace(rolname, '_(owner|app)$', '') FROM pg_roles \
             WHERE rolname LIKE 'tbpg\\_%'",
            &[],
        )
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<_, String>(0) else {
            continue;
        };
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            drop_database(admin, &name).await;
        }
    }
}

/// A fresh store for the conformance suite: `(guard, store)`.
pub async fn fresh_store() -> (TestDb, Arc<dyn ResultStore>) {
    let db = TestDb::create().await;
    let store = db.store(4).await;
    (db, Arc::new(store))
}

/// A fresh database for the queue conformance suite: `(guard, factory)`, the factory
/// opening a new handle (its own pool and listener, as another process would) per call.
pub async fn fresh_queues() -> (
    TestDb,
    impl tamma_bench_testkit::conformance::queue::QueueFactory,
) {
    let db = TestDb::create().await;
    let app = db.app_config();
    let factory = tamma_bench_testkit::conformance::queue::factory(move |config| {
        let app = app.clone();
        async move {
            let store = PostgresStore::connect(app, 4)
                .await
                .expect("the application role connects");
            let queue = store.queue(config).await.expect("the queue opens");
            Arc::new(queue) as Arc<dyn tamma_bench_core::queue::JobQueue>
        }
    });
    (db, factory)
}
