//! The job queue as the CLI opens it, and the `--queue-config` option that `submit`,
//! `worker`, `jobs` and `cancel` share.

use super::{Opened, StoreArgs};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench::core::load::load_queue_config;
use tamma_bench::core::queue::{JobQueue, QueueConfig};

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

    /// The queue of `store`'s database with this configuration.
    pub async fn open(&self, store: &StoreArgs) -> Result<Arc<dyn JobQueue>> {
        let opened = store.database().open(true).await?;
        self.open_in(store, &opened).await
    }

    /// The queue in a database already opened for `store`.
    pub async fn open_in(&self, store: &StoreArgs, opened: &Opened) -> Result<Arc<dyn JobQueue>> {
        open_queue(store, opened, self.config()?).await
    }
}

/// Opens the job queue in the command's database: its tables in the results database
/// (the SQLite file, created when missing, for the processes of one machine; or the
/// Postgres database, for workers on many machines, woken by `LISTEN/NOTIFY`).
pub async fn open_queue(
    _store: &StoreArgs,
    opened: &Opened,
    config: QueueConfig,
) -> Result<Arc<dyn JobQueue>> {
    Ok(opened.queue(config).await?)
}
