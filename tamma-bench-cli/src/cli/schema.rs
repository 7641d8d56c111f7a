//! `tamma-bench schema`: the JSON Schema of each input file, for editors and validators.

use super::{Exit, print_json};
use anyhow::Result;
use clap::{Args, ValueEnum};
use tamma_bench::core::model::{AgentsFile, BenchmarkManifest, Case};

/// Arguments of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file.
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

/// The input files that have a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The benchmark manifest (TOML).
    Benchmark,
    /// One line of a cases file (JSONL).
    Cases,
    /// The agents file (TOML).
    Agents,
    /// An optimization search space (TOML).
    Space,
    /// The job queue's configuration (TOML, `--queue-config`).
    Queue,
    /// A deployment's configuration (TOML; docs/configuration.md).
    Config,
}

/// Prints the schema, pretty-printed.
pub fn execute(args: &SchemaArgs) -> Result<Exit> {
    let schema = match args.kind {
        SchemaKind::Benchmark => schemars::schema_for!(BenchmarkManifest),
        SchemaKind::Cases => schemars::schema_for!(Case),
        SchemaKind::Agents => schemars::schema_for!(AgentsFile),
        SchemaKind::Space => schemars::schema_for!(tamma_bench::optimize::SearchSpace),
        SchemaKind::Queue => schemars::schema_for!(tamma_bench::core::queue::QueueConfig),
        SchemaKind::Config => tamma_bench::core::config::Config::json_schema(),
    };
    print_json(&schema)?;
    Ok(Exit::Success)
}
