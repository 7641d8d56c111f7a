//! What a call through a plugin library costs over the same provider in-process: the
//! fixture provider, called directly and through the loaded `cdylib` (JSON both ways, the
//! plugin's runtime, the reply callback, the host's oneshot).
//!
//! `cargo bench -p tamma-bench-plugin --bench overhead`

#![allow(clippy::unwrap_used)] // a bench: a failure is the bench failing
#![allow(missing_docs)] // `criterion_main!` writes an undocumented `main`

#[path = "../tests/fixtures/behaviours/src/provider.rs"]
mod provider;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::json;
use tamma_bench_core::provider::Provider;
use tamma_bench_plugin::host::PluginLibrary;
use tamma_bench_testkit::plugins;
use tamma_bench_testkit::providers::{call_context, request};

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let library = PluginLibrary::open(plugins::library("tamma-bench-plugin-behaviours")).unwrap();
    let plugin = library.provider(&json!({})).unwrap();
    let local = provider::Behaviours::from_config(json!({})).unwrap();
    let cx = call_context();
    let mut group = c.benchmark_group("provider_call");
    // `echo:` answers without waiting (the plugin replies within `start_call`); `yield:`
    // waits once, like any call that does I/O (the plugin's runtime takes it over, and the
    // reply wakes the host's task from another thread).
    let long = "x".repeat(4096);
    for (name, prompt) in [
        ("echo_short", "echo:4".to_owned()),
        ("echo_4KiB", format!("echo:{long}")),
        ("yield_short", "yield:4".to_owned()),
        ("yield_4KiB", format!("yield:{long}")),
    ] {
        let req = request(&prompt);
        group.bench_with_input(BenchmarkId::new("in_process", name), &req, |b, req| {
            b.iter(|| runtime.block_on(local.complete(req, &cx)).unwrap());
        });
        group.bench_with_input(BenchmarkId::new("plugin", name), &req, |b, req| {
            b.iter(|| runtime.block_on(plugin.complete(req, &cx)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
