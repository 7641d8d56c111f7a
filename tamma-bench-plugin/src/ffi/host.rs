//! The host side of the ABI: opening a library (never closed again), checking its table,
//! and calls whose reply arrives through a oneshot channel.

use super::{ABI_MAJOR, Bytes, ENTRY_SYMBOL, Level, OwnedBuf, PluginV1, STATUS_DELTA, SendPtr};
use crate::host::LoadError;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};

/// The table of an opened library. The library stays loaded for the life of the process,
/// so the table is `'static`.
pub(crate) type Table = &'static PluginV1;

/// Opens the library at `path` and returns its table, after checking the ABI major
/// version (the entry symbol) and the table's size.
pub(crate) fn open(path: &Path) -> Result<Table, LoadError> {
    let at = || path.to_owned();
    // SAFETY: loading a library runs its initialisers. Plugin libraries are code the
    // operator chose to run, like the host binary itself.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| LoadError::Open {
        path: at(),
        message: e.to_string(),
    })?;
    let entry = format!("{ENTRY_SYMBOL}\0");
    // SAFETY: the symbol of ABI v1 has this signature by definition of the ABI.
    let symbol = unsafe { library.get::<extern "C" fn() -> *const PluginV1>(entry.as_bytes()) };
    let Ok(symbol) = symbol else {
        // Another major version exports another symbol: name it if we find one.
        let other = (1..=9).filter(|v| *v != ABI_MAJOR).find(|v| {
            let name = format!("tamma_bench_plugin_v{v}\0");
            // SAFETY: only the symbol's presence is checked; it is never called.
            unsafe { library.get::<*const c_void>(name.as_bytes()) }.is_ok()
        });
        return Err(match other {
            Some(major) => LoadError::AbiMismatch {
                path: at(),
                plugin: format!("v{major}"),
                host: format!("v{ABI_MAJOR}"),
            },
            None => LoadError::NotAPlugin { path: at() },
        });
    };
    let table = symbol();
    if table.is_null() {
        return Err(LoadError::NotAPlugin { path: at() });
    }
    // SAFETY: `struct_size` is the first field of every version of the table, so it can
    // be read before the size is known.
    let size = unsafe { (*table).struct_size };
    check_size(path, size)?;
    // Never unloaded: the table, its functions, threads and statics live as long as the
    // process (a library's threads may still run after its last instance is dropped).
    std::mem::forget(library);
    // SAFETY: the table has at least the fields of v1.0 (checked above) and lives in the
    // library, which is never unloaded.
    Ok(unsafe { &*table })
}

/// Refuses a table smaller than the v1.0 table this host reads.
pub(crate) fn check_size(path: &Path, size: usize) -> Result<(), LoadError> {
    if size < PluginV1::MIN_SIZE {
        return Err(LoadError::AbiMismatch {
            path: path.to_owned(),
            plugin: format!("v{ABI_MAJOR} with a table of {size} bytes"),
            host: format!(
                "v{ABI_MAJOR}.{} with a table of at least {} bytes",
                super::ABI_MINOR,
                PluginV1::MIN_SIZE
            ),
        });
    }
    Ok(())
}

/// The manifest JSON of a table.
pub(crate) fn manifest(table: Table) -> Vec<u8> {
    (table.manifest)().into_vec()
}

extern "C" fn host_log(level: Level, target: Bytes, message: Bytes) {
    let _ = catch_unwind(|| {
        // SAFETY: the plugin passes borrowed buffers valid for this call.
        let (target, message) = unsafe { (target.to_vec(), message.to_vec()) };
        let target = String::from_utf8_lossy(&target);
        let message = String::from_utf8_lossy(&message);
        match level {
            1 => tracing::error!(target: "plugin", plugin_target = %target, "{message}"),
            2 => tracing::warn!(target: "plugin", plugin_target = %target, "{message}"),
            3 => tracing::info!(target: "plugin", plugin_target = %target, "{message}"),
            4 => tracing::debug!(target: "plugin", plugin_target = %target, "{message}"),
            _ => tracing::trace!(target: "plugin", plugin_target = %target, "{message}"),
        }
    });
}

/// Sends the plugin's logs to this process's `tracing`, at the verbosity it has now.
pub(crate) fn install_logger(table: Table) {
    use tracing::level_filters::LevelFilter;
    let max = match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        LevelFilter::DEBUG => 4,
        _ => 5,
    };
    (table.set_logger)(host_log, max);
}

/// A live instance of a plugin; destroyed when the last call and handle are gone.
#[derive(Debug)]
pub(crate) struct Instance {
    table: Table,
    ptr: SendPtr,
}

impl Instance {
    /// Makes an instance from its configuration JSON.
    pub(crate) fn create(table: Table, config: &[u8]) -> Result<Self, String> {
        let mut out: *mut c_void = std::ptr::null_mut();
        let mut error = OwnedBuf::empty();
        let status = (table.create)(Bytes::new(config), &mut out, &mut error);
        let message = error.into_vec();
        if status == 0 && !out.is_null() {
            Ok(Self {
                table,
                ptr: SendPtr(out),
            })
        } else {
            Err(String::from_utf8_lossy(&message).into_owned())
        }
    }

    /// Starts operation `op` on `input`; the call is cancelled if the returned future is
    /// dropped before it finishes.
    pub(crate) fn call(
        self: &Arc<Self>,
        op: u32,
        input: &[u8],
        deltas: Option<mpsc::UnboundedSender<Vec<u8>>>,
    ) -> PendingCall {
        let (tx, rx) = oneshot::channel();
        let slot = Arc::new(Slot {
            done: Mutex::new(Some(tx)),
            deltas,
        });
        // The plugin holds this reference until its final reply.
        let cx = Arc::into_raw(slot) as *const c_void;
        let id = (self.table.start_call)(
            self.ptr.0 as *mut c_void,
            op,
            Bytes::new(input),
            on_reply,
            cx,
        );
        PendingCall {
            rx,
            id,
            instance: self.clone(),
            finished: false,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        (self.table.destroy)(self.ptr.0 as *mut c_void);
    }
}

/// A final reply: status and payload.
pub(crate) type FinalReply = (u32, Vec<u8>);

/// Where a call's reply goes.
struct Slot {
    done: Mutex<Option<oneshot::Sender<FinalReply>>>,
    deltas: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

extern "C" fn on_reply(cx: *const c_void, status: u32, payload: OwnedBuf) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let payload = payload.into_vec();
        let cx = cx as *const Slot;
        if status == STATUS_DELTA {
            // SAFETY: the plugin still holds the reference it was given (a delta is never
            // the final reply), so the slot is alive while we borrow it.
            let slot = unsafe { &*cx };
            if let Some(deltas) = &slot.deltas {
                let _ = deltas.send(payload);
            }
            return;
        }
        // SAFETY: the final reply comes exactly once and hands back the reference the
        // call gave the plugin; it is released here.
        let slot = unsafe { Arc::from_raw(cx) };
        let sender = slot.done.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(sender) = sender {
            let _ = sender.send((status, payload));
        }
    }));
}

/// A call in flight: resolves to its final `(status, payload)`; dropping it cancels the
/// call in the plugin.
#[derive(Debug)]
pub(crate) struct PendingCall {
    rx: oneshot::Receiver<FinalReply>,
    id: u64,
    instance: Arc<Instance>,
    finished: bool,
}

impl Future for PendingCall {
    /// `None` if the plugin dropped the reply without answering.
    type Output = Option<FinalReply>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = Pin::new(&mut self.rx).poll(cx);
        match polled {
            Poll::Ready(reply) => {
                self.finished = true;
                Poll::Ready(reply.ok())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if !self.finished {
            let table = self.instance.table;
            (table.cancel_call)(self.instance.ptr.0 as *mut c_void, self.id);
        }
    }
}
