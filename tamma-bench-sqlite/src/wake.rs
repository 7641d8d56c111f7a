//! Wake-ups within one process, per database file: a counter that a commit bumps and
//! waiters watch. Other processes sharing the file are not woken (they poll).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tokio::sync::watch;

/// A process-wide set of channels, one per file (by canonical path).
pub(crate) type Registry = OnceLock<Mutex<HashMap<PathBuf, watch::Sender<u64>>>>;

/// The channel of the file at `path` in `registry`, made on first use.
pub(crate) fn channel(registry: &'static Registry, path: &Path) -> watch::Sender<u64> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mut channels = registry
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    channels
        .entry(key)
        .or_insert_with(|| watch::Sender::new(0))
        .clone()
}
