//! Provider conformance: the same behaviours, run against every HTTP provider pointed at a
//! loopback server (wiremock) that answers in that vendor's wire format.
//!
//! Tests are named `VENDOR::BEHAVIOUR`; a behaviour is an `async fn(&Vendor)` in one of
//! the modules below, and a vendor is a fixture in `conformance/vendors.rs`. A new
//! provider joins the suite with one fixture and one line in [`conformance!`]'s callers;
//! a new generic behaviour, with one line in `conformance/generic.rs` (the plugin suite
//! runs the same list).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

#[path = "conformance/answers.rs"]
mod answers;
#[path = "conformance/common.rs"]
mod common;
#[path = "conformance/failures.rs"]
mod failures;
#[path = "conformance/generic.rs"]
#[macro_use]
mod generic;
#[path = "conformance/lifecycle.rs"]
mod lifecycle;
#[path = "conformance/server.rs"]
mod server;
#[path = "conformance/specifics.rs"]
mod specifics;
#[path = "conformance/vendors.rs"]
mod vendors;

/// One test per `module::behaviour`, in a module named after the vendor.
macro_rules! behaviours {
    ($vendor:ident, $fixture:path; $($module:ident::$behaviour:ident),* $(,)?) => {
        mod $vendor {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    crate::$module::$behaviour(&$fixture()).await;
                }
            )*
        }
    };
}

/// The whole suite for one vendor.
macro_rules! conformance {
    ($vendor:ident, $fixture:path) => {
        with_generic_behaviours!(behaviours!($vendor, $fixture;));
    };
}

conformance!(openai, crate::vendors::openai);
conformance!(anthropic, crate::vendors::anthropic);
conformance!(gemini, crate::vendors::gemini);
