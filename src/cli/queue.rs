//! The job queue as the CLI opens it, and the `--queue-config` option that `submit`,
//! `worker`, `jobs` and `cancel` share.

use super::StoreArgs;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench::core::load::load_queue_config;
use tamma_bench::core::queue::{JobQueue, QueueConfig};
use tamma_bench::sqlite::SqliteQueue;

/// The queue's configuration.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// Queue configuration (TOML: tiers, leases, attempts; `tamma-bench schema queue`).
    /// Every process of a deployment must use the same. Default: the platform's tiers
    /// (internal-optimization, external-premium, external-free).
    #[arg(long, value_name = "FILE")]
    pub queue_config: Option<PathBuf>,
}

impl QueueArgs {
    /// The configuration: the file's (checked, errors with file, line and field), or the
    /// default.
    pub fn config(&self) -> Result<QueueConfig> {
        match &self.queue_config {
            Some(path) => Ok(load_queue_config(path)?),
            None => Ok(QueueConfig::default()),
        }
    }

    /// The queue of `store` with this configuration.
    pub fn open(&self, store: &StoreArgs) -> Result<Arc<dyn JobQueue>> {
        open_queue(store, self.config()?)
    }
}

/// Opens the job queue: its tables in the results database `--db` (created when
/// missing), for the processes of one machine.
pub fn open_queue(store: &StoreArgs, config: QueueConfig) -> Result<Arc<dyn JobQueue>> {
    let queue = SqliteQueue::open(&store.db, config)
        .with_context(|| format!("cannot open the job queue in {}", store.db.display()))?;
    Ok(Arc::new(queue))
}
