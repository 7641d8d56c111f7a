//! The in-memory event log passes the behaviour suite every event log passes: every
//! handle the suite opens shares one log.

use std::sync::Arc;
use tamma_bench_core::events::{EventLog, MemoryEventLog};
use tamma_bench_testkit::conformance::events::factory;

tamma_bench_testkit::event_log_conformance_tests!({
    let log = Arc::new(MemoryEventLog::new());
    let open = factory(move || {
        let log = log.clone();
        async move { log as Arc<dyn EventLog> }
    });
    ((), open)
});
