//! Example benchmark-source plugin: `arith` generates `count` addition and multiplication
//! cases from `seed` (the same seed gives the same cases).
//!
//! ```toml
//! source = "plugin:arith"
//! [source_config]
//! seed = 7
//! count = 20
//! ```

use serde::Deserialize;
use tamma_bench_plugin::core::model::{Case, CaseInput, Target};
use tamma_bench_plugin::{BenchmarkSource, Manifest, PluginError};

/// The configuration (`[source_config]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Seed of the generator.
    #[serde(default)]
    seed: u64,
    /// How many cases (1 to 10,000).
    #[serde(default = "default_count")]
    count: u32,
    /// Largest operand.
    #[serde(default = "default_max")]
    max: u64,
}

fn default_count() -> u32 {
    10
}

fn default_max() -> u64 {
    99
}

/// The source.
struct Arithmetic(Config);

impl Arithmetic {
    fn from_config(config: serde_json::Value) -> Result<Self, PluginError> {
        let config: Config =
            serde_json::from_value(config).map_err(|e| PluginError::config(e.to_string()))?;
        if !(1..=10_000).contains(&config.count) {
            return Err(PluginError::config(format!(
                "count: expected 1 to 10000, got {}",
                config.count
            )));
        }
        if config.max == 0 || config.max > 1_000_000 {
            return Err(PluginError::config(format!(
                "max: expected 1 to 1000000, got {}",
                config.max
            )));
        }
        Ok(Self(config))
    }
}

/// SplitMix64: a small, good, dependency-free generator.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BenchmarkSource for Arithmetic {
    fn cases(&self) -> Result<Vec<Case>, PluginError> {
        let Config { seed, count, max } = self.0;
        let mut state = seed;
        let cases = (0..count)
            .map(|i| {
                let a = next(&mut state) % (max + 1);
                let b = next(&mut state) % (max + 1);
                let (op, answer, tag) = if next(&mut state).is_multiple_of(2) {
                    ('+', a + b, "addition")
                } else {
                    ('*', a * b, "multiplication")
                };
                Case {
                    id: format!("arith-{seed}-{i}"),
                    input: CaseInput::Text(format!(
                        "What is {a} {op} {b}? Answer with the number only."
                    )),
                    target: Target::One(answer.to_string()),
                    tags: vec![tag.to_owned()],
                    cluster: None,
                    metadata: Default::default(),
                }
            })
            .collect();
        tamma_bench_plugin::tracing::debug!(count, seed, "generated arithmetic cases");
        Ok(cases)
    }
}

tamma_bench_plugin::export_benchmark_source!(
    Arithmetic::from_config,
    Manifest::benchmark_source("arith", env!("CARGO_PKG_VERSION"))
        .with_description("arithmetic cases (addition, multiplication) from a seed")
        .with_features(&["seeded"])
        .with_config_schema(serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "seed": {"type": "integer", "minimum": 0, "default": 0},
                "count": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 10},
                "max": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 99}
            }
        }))
);
