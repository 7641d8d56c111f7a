//! The behaviour suite every [`ResultStore`] must pass.
//!
//! Call [`crate::store_conformance_tests!`] in a test file with an expression that makes
//! a fresh, empty store; it expands to one `#[tokio::test]` per behaviour.
