//! Benchmarks: the visible runs grouped by benchmark id and version.

use super::run::Run;
use crate::graphql::paging::{self, Page};
use async_graphql::connection::{Connection, OpaqueCursor};
use async_graphql::{Object, Result};
use std::collections::BTreeMap;
use tamma_bench::privacy::RunView;

/// A benchmark (id and version) and the runs of it the caller can see.
#[derive(Debug, Clone)]
pub struct Benchmark {
    id: String,
    version: String,
    /// Newest first.
    runs: Vec<RunView>,
}

/// A benchmark version with the runs of it you can see: your own and public ones.
#[Object]
impl Benchmark {
    /// Benchmark id.
    async fn id(&self) -> &str {
        &self.id
    }

    /// Benchmark version.
    async fn version(&self) -> &str {
        &self.version
    }

    /// How many runs of it you can see.
    async fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Those runs, newest first, a page at a time.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn runs(
        &self,
        #[graphql(desc = "Items of the page: 0 to 100, 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the item the page starts after.")] after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<String>, Run>> {
        paging::slice(
            self.runs.clone(),
            Page::new(first, after)?,
            |r| r.id.clone(),
            Run,
        )
    }
}

/// `runs` (newest first) grouped by benchmark id and version, in that order.
pub(crate) fn group(runs: Vec<RunView>) -> Vec<Benchmark> {
    let mut groups: BTreeMap<(String, String), Vec<RunView>> = BTreeMap::new();
    for run in runs {
        groups
            .entry((run.benchmark_id.clone(), run.benchmark_version.clone()))
            .or_default()
            .push(run);
    }
    groups
        .into_iter()
        .map(|((id, version), runs)| Benchmark { id, version, runs })
        .collect()
}

/// A benchmark's cursor: its id and version.
pub(crate) fn cursor(b: &Benchmark) -> (String, String) {
    (b.id.clone(), b.version.clone())
}
