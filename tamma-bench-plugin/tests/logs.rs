//! Plugin logs reach the host's `tracing` subscriber. Its own test binary: the log sink
//! is installed when a library is first opened, with the host's verbosity at that time.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::sync::{Arc, Mutex};
use tamma_bench_core::provider::Provider;
use tamma_bench_plugin::host::PluginLibrary;
use tamma_bench_testkit::plugins;
use tamma_bench_testkit::providers::{call_context, request};

/// Collects the events of the `plugin` target.
struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={v:?} ", f.name()));
            }
        }
        if event.metadata().target() == "plugin" {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
    }
}

#[test]
fn plugin_logs_reach_the_host_subscriber() {
    use tracing_subscriber::layer::SubscriberExt;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let library = PluginLibrary::open(plugins::library("tamma-bench-plugin-behaviours")).unwrap();
    let p = library.provider(&json!({})).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(p.complete(&request("log:hello from the plugin"), &call_context()));
    assert_eq!(c.unwrap().text, "logged");
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|l| l.contains("hello from the plugin") && l.contains("answer=42")),
        "{seen:?}"
    );
}
