//! Feature flag evaluation from memory: one `FlagSet::evaluate` for each path (a percentage
//! rollout that hashes the user, an allow-list hit, a disabled flag, an unknown flag), in
//! a set of 50 flags with 100-entry allow and deny lists. The target is under a
//! microsecond per evaluation; see `docs/performance.md`.
//!
//! ```text
//! cargo bench --bench flags
//! ```

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tamma_bench_core::flags::{FlagDefinition, FlagSet, Subject};

fn flags() -> FlagSet {
    let defs = (0..50)
        .map(|i| {
            let mut f = FlagDefinition::new(format!("flag-{i}"));
            f.enabled = i != 1;
            f.percentage = 25.0;
            f.tenants.allow = (0..100).map(|t| format!("tenant-{t}")).collect();
            f.users.deny = (0..100).map(|u| format!("denied-{u}")).collect();
            f
        })
        .collect();
    FlagSet::new(defs).expect("valid flags")
}

fn evaluate(c: &mut Criterion) {
    let set = flags();
    let mut group = c.benchmark_group("flags");
    let rollout = Subject::new(Some("other-tenant"), Some("user-12345"));
    group.bench_function("rollout (hashes the user)", |b| {
        b.iter(|| set.evaluate(black_box("flag-7"), black_box(&rollout)))
    });
    let allowed = Subject::new(Some("tenant-42"), Some("user-12345"));
    group.bench_function("tenant allowed", |b| {
        b.iter(|| set.evaluate(black_box("flag-7"), black_box(&allowed)))
    });
    group.bench_function("disabled", |b| {
        b.iter(|| set.evaluate(black_box("flag-1"), black_box(&rollout)))
    });
    group.bench_function("unknown flag", |b| {
        b.iter(|| set.evaluate(black_box("no-such-flag"), black_box(&rollout)))
    });
    group.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
