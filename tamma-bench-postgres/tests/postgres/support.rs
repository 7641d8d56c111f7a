//! A fresh database per test (the test kit's [`TestDb`]: its own owner and application
//! roles, dropped at the end, also when the test fails), migrated by this crate.

use std::sync::Arc;
use tamma_bench_core::store::ResultStore;
use tamma_bench_postgres::{PostgresStore, migrate};
pub use tamma_bench_testkit::postgres::{TestDb, connect};

/// What these tests add to the kit's database: the migrations and the store.
pub trait Migrated: Sized {
    /// Makes and migrates a fresh database.
    async fn create() -> Self;
    /// The store, as the application role, with at most `max` connections.
    async fn store(&self, max: usize) -> PostgresStore;
}

impl Migrated for TestDb {
    async fn create() -> Self {
        let db = Self::create_empty().await;
        migrate(&db.owner_config(), &db.app_role())
            .await
            .expect("migrations apply");
        db
    }

    async fn store(&self, max: usize) -> PostgresStore {
        PostgresStore::connect(self.app_config(), max)
            .await
            .expect("the application role connects")
    }
}

/// A fresh store for the conformance suite: `(guard, store)`.
pub async fn fresh_store() -> (TestDb, Arc<dyn ResultStore>) {
    let db = TestDb::create().await;
    let store = db.store(4).await;
    (db, Arc::new(store))
}

/// A fresh credential store for its conformance suite: `(guard, store)`.
pub async fn fresh_credential_store() -> (TestDb, Arc<dyn tamma_bench_core::store::CredentialStore>)
{
    let db = TestDb::create().await;
    let store = db.store(4).await;
    (db, Arc::new(store.credential_store()))
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

/// A fresh database for the event log suite: `(guard, factory)`, the factory opening a
/// new log handle (its own pool and listener, as another process would) per call.
pub async fn fresh_event_logs() -> (
    TestDb,
    impl tamma_bench_testkit::conformance::events::EventLogFactory,
) {
    let db = TestDb::create().await;
    let app = db.app_config();
    let factory = tamma_bench_testkit::conformance::events::factory(move || {
        let app = app.clone();
        async move {
            let store = PostgresStore::connect(app, 4)
                .await
                .expect("the application role connects");
            let log = store.events().await.expect("the event log opens");
            Arc::new(log) as Arc<dyn tamma_bench_core::events::EventLog>
        }
    });
    (db, factory)
}

/// A fresh database for the agent configuration suite: `(guard, factory)`, the factory
/// opening a new registry handle (its own pool, as another process would) per call.
pub async fn fresh_agent_configs() -> (
    TestDb,
    impl tamma_bench_testkit::conformance::agent_configs::AgentConfigStoreFactory,
) {
    let db = TestDb::create().await;
    let app = db.app_config();
    let factory = tamma_bench_testkit::conformance::agent_configs::factory(move || {
        let app = app.clone();
        async move {
            let store = PostgresStore::connect(app, 4)
                .await
                .expect("the application role connects");
            Arc::new(store.agent_configs()) as Arc<dyn tamma_bench_core::store::AgentConfigStore>
        }
    });
    (db, factory)
}
