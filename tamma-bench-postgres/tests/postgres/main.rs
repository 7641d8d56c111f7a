//! The Postgres backend against the real server: the store conformance suite, migrations,
//! row-level security (fixed cases and a property test of generated raw SQL), the audit
//! log and the response cache, the event log and its outbox, the agent configuration
//! registry, the credential store, and many writers at once. Each test makes its own
//! database and roles and drops them at the end.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

mod audit;
mod cache;
mod concurrency;
mod events;
mod migrations;
mod queue;
mod rls;
mod rls_properties;
mod support;

mod conformance {
    tamma_bench_testkit::store_conformance_tests!(crate::support::fresh_store().await);
}

mod queue_conformance {
    tamma_bench_testkit::queue_conformance_tests!(crate::support::fresh_queues().await);
}

mod credential_conformance {
    tamma_bench_testkit::credential_store_conformance_tests!(
        crate::support::fresh_credential_store().await
    );
}

mod event_log_conformance {
    tamma_bench_testkit::event_log_conformance_tests!(crate::support::fresh_event_logs().await);
}

mod agent_config_conformance {
    tamma_bench_testkit::agent_config_conformance_tests!(
        crate::support::fresh_agent_configs().await
    );
}
