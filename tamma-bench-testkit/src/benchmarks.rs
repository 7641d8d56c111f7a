//! Synthetic benchmarks: the arithmetic benchmark of the throughput benches and the
//! peak-memory example.

use tamma_bench_core::model::{Benchmark, Case, CaseInput, Target, Visibility};
use tamma_bench_core::scorer::ScorerSpec;

/// `cases` arithmetic cases (`case-0000`, ...) run `epochs` times, named `id`: the
/// answer "4" (see [`crate::providers::FixedProvider`]) gets every other one right.
pub fn arithmetic(id: &str, name: &str, cases: u64, epochs: u32) -> Benchmark {
    let cases = (0..cases)
        .map(|i| Case {
            id: format!("case-{i:04}"),
            input: CaseInput::Text(format!("What is {i} + 4 - {i}?")),
            target: Target::One(if i % 2 == 0 { "4" } else { "5" }.into()),
            tags: vec![],
            cluster: None,
            metadata: Default::default(),
        })
        .collect();
    Benchmark {
        id: id.into(),
        name: name.into(),
        version: "1".into(),
        description: String::new(),
        visibility: Visibility::Private,
        system: None,
        prompt: "{{input}}".into(),
        cases,
        scorers: vec![ScorerSpec::default_exact()],
        epochs,
    }
}
