//! The in-memory agent configuration registry passes the behaviour suite every registry
//! passes: every handle the suite opens shares one registry.

use std::sync::Arc;
use tamma_bench_core::store::{AgentConfigStore, MemoryAgentConfigStore};
use tamma_bench_testkit::conformance::agent_configs::factory;

tamma_bench_testkit::agent_config_conformance_tests!({
    let store = Arc::new(MemoryAgentConfigStore::new());
    let open = factory(move || {
        let store = store.clone();
        async move { store as Arc<dyn AgentConfigStore> }
    });
    ((), open)
});
