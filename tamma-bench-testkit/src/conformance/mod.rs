//! The behaviour suites every implementation of an extension point passes, as library
//! code: each behaviour is a public `async fn` taking the implementation under test, and
//! a macro expands the whole list into one test per behaviour in the caller's test file.

pub mod agent_configs;
pub mod credentials;
pub mod events;
pub mod provider;
pub mod queue;
pub mod store;
