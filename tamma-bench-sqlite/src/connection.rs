//! Opening a database file, and running a connection's work on tokio's blocking pool.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tamma_bench_core::store::{StoreError, StoreErrorKind};

/// How long a writer waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating if needed) the database at `path`: WAL journal, `synchronous = NORMAL`
/// (durable at each checkpoint, never corrupt), foreign keys enforced.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Backend,
            format!("cannot open {}: {e}", path.display()),
        )
        .with_source(e)
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(StoreError::backend)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .map_err(StoreError::backend)?;
    Ok(conn)
}

/// One connection, used on tokio's blocking pool by whoever holds a clone.
#[derive(Clone)]
pub(crate) struct SharedConnection(Arc<Mutex<Connection>>);

impl SharedConnection {
    pub(crate) fn new(conn: Connection) -> Self {
        Self(Arc::new(Mutex::new(conn)))
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A connection stays usable after a panic in another thread: every change is
            // one statement or runs in a transaction that rolls back when dropped.
            f(&mut conn.lock().unwrap_or_else(|p| p.into_inner()))
        })
        .await
        .map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("store task failed: {e}"))
                .with_source(e)
        })?
    }
}
