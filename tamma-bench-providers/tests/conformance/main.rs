//! Provider conformance: the test kit's suite (`tamma_bench_testkit::conformance::provider`),
//! run against every HTTP provider pointed at a loopback server (wiremock) that answers
//! in that vendor's wire format.
//!
//! Tests are named `VENDOR::BEHAVIOUR`. A new provider joins the suite with one vendor
//! fixture below and one `provider_conformance_tests!` line; a new generic behaviour, with
//! one line in the kit's list (the plugin suite runs the same list). Behaviours bound to
//! the in-tree providers' own types are in `conformance/specifics.rs`.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

mod specifics;

use std::sync::Arc;
use tamma_bench_providers::http::{
    AnthropicProvider, GeminiProvider, HttpConfig, OpenAiProvider, SecretString,
};
use tamma_bench_testkit::conformance::provider::{Endpoint, Vendor, vendors};

/// The in-tree providers' configuration for an endpoint of the suite.
fn http(e: Endpoint) -> HttpConfig {
    let mut c = HttpConfig::new(e.base_url);
    if let Some(key) = e.api_key {
        c = c.with_api_key(SecretString::new(key));
    }
    if let Some(timeout) = e.timeout {
        c = c.with_timeout(timeout);
    }
    c
}

fn openai() -> Vendor {
    vendors::openai(
        |e| Arc::new(OpenAiProvider::new(http(e)).expect("openai provider")),
        |e| {
            format!(
                "{:?}",
                OpenAiProvider::new(http(e)).expect("openai provider")
            )
        },
    )
}

fn anthropic() -> Vendor {
    vendors::anthropic(
        |e| Arc::new(AnthropicProvider::new(http(e)).expect("anthropic provider")),
        |e| {
            format!(
                "{:?}",
                AnthropicProvider::new(http(e)).expect("anthropic provider")
            )
        },
    )
}

fn gemini() -> Vendor {
    vendors::gemini(
        |e| Arc::new(GeminiProvider::new(http(e)).expect("gemini provider")),
        |e| {
            format!(
                "{:?}",
                GeminiProvider::new(http(e)).expect("gemini provider")
            )
        },
    )
}

mod openai {
    tamma_bench_testkit::provider_conformance_tests!(super::openai());
}

mod anthropic {
    tamma_bench_testkit::provider_conformance_tests!(super::anthropic());
}

mod gemini {
    tamma_bench_testkit::provider_conformance_tests!(super::gemini());
}
