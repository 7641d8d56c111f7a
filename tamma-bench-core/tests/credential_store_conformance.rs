//! The in-memory credential store passes the behaviour suite every credential store
//! passes (SQLite and Postgres run it in their crates).

use std::sync::Arc;
use tamma_bench_core::store::{CredentialStore, MemoryCredentialStore};

tamma_bench_testkit::credential_store_conformance_tests!((
    (),
    Arc::new(MemoryCredentialStore::new()) as Arc<dyn CredentialStore>
));
