//! The plugin side of the ABI: the `extern "C"` functions of the table, the runtime the
//! plugin owns, and the reply guard that calls the host back exactly once.

use super::{
    Bytes, Level, LogFn, OwnedBuf, PluginV1, ReplyFn, STATUS_CANCELLED, STATUS_DELTA, STATUS_ERROR,
    STATUS_OK, STATUS_PANIC, SendPtr,
};
use crate::guest::{Export, Plugin, log::Forwarder};
use crate::wire::WireError;
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// The table of export `E`, built at compile time (the macros put it in a `static`).
pub const fn table<E: Export>() -> PluginV1 {
    PluginV1 {
        struct_size: std::mem::size_of::<PluginV1>(),
        abi_minor: super::ABI_MINOR,
        manifest: manifest::<E>,
        set_logger,
        create: create::<E>,
        start_call,
        cancel_call,
        destroy,
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

extern "C" fn manifest<E: Export>() -> OwnedBuf {
    let json = catch_unwind(|| serde_json::to_vec(&E::manifest()).unwrap_or_default());
    OwnedBuf::from_vec(json.unwrap_or_default())
}

extern "C" fn set_logger(sink: LogFn, max_level: Level) {
    let forwarder = Forwarder {
        max_level,
        sink: Box::new(move |level, target, message| {
            sink(
                level,
                Bytes::new(target.as_bytes()),
                Bytes::new(message.as_bytes()),
            );
        }),
    };
    // Only the first host's sink counts: a library is loaded once per process.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        tracing::subscriber::set_global_default(forwarder)
    }));
}

/// One instance: the plugin object and its calls in flight.
struct Instance {
    plugin: Plugin,
    next_call: AtomicU64,
    calls: Mutex<HashMap<u64, AbortHandle>>,
}

extern "C" fn create<E: Export>(config: Bytes, out: *mut *mut c_void, error: *mut OwnedBuf) -> u32 {
    // SAFETY: the host passes a borrowed buffer valid for this call.
    let config = unsafe { config.to_vec() };
    let made = catch_unwind(|| {
        let config = serde_json::from_slice(&config)
            .map_err(|e| format!("the configuration is not JSON: {e}"))?;
        E::create(config).map_err(|e| e.to_string())
    });
    let made = match made {
        Ok(made) => made,
        Err(panic) => Err(format!(
            "the plugin panicked while starting: {}",
            panic_message(&*panic)
        )),
    };
    match made {
        Ok(plugin) => {
            let instance = Arc::new(Instance {
                plugin,
                next_call: AtomicU64::new(1),
                calls: Mutex::new(HashMap::new()),
            });
            // SAFETY: the host passes a valid pointer to write the instance to.
            unsafe { *out = Arc::into_raw(instance) as *mut c_void };
            0
        }
        Err(message) => {
            // SAFETY: the host passes a valid pointer to write the error to.
            unsafe { error.write(OwnedBuf::from_vec(message.into_bytes())) };
            1
        }
    }
}

/// Borrows the instance behind `ptr` as a new `Arc`.
///
/// # Safety
/// `ptr` must come from `create` and not have been passed to `destroy`.
unsafe fn instance(ptr: *mut c_void) -> Arc<Instance> {
    let ptr = ptr as *const Instance;
    // SAFETY: `ptr` is a live `Arc<Instance>` (caller's promise); we add one reference
    // for the clone we return, leaving the host's reference intact.
    unsafe {
        Arc::increment_strong_count(ptr);
        Arc::from_raw(ptr)
    }
}

extern "C" fn destroy(ptr: *mut c_void) {
    if !ptr.is_null() {
        // SAFETY: `ptr` comes from `create` and the host destroys it once; calls in
        // flight hold their own references.
        drop(unsafe { Arc::from_raw(ptr as *const Instance) });
    }
}

/// The host's reply function and context: called exactly once with a final status. If
/// dropped unused (the task was aborted, or unwound), it replies `cancelled` (or `panic`).
struct Reply {
    reply: ReplyFn,
    cx: SendPtr,
    sent: bool,
}

impl Reply {
    fn send(mut self, status: u32, payload: Vec<u8>) {
        self.sent = true;
        (self.reply)(self.cx.0, status, OwnedBuf::from_vec(payload));
    }

    /// Where the call's streaming deltas go.
    fn deltas(&self) -> DeltaSink {
        DeltaSink {
            reply: self.reply,
            cx: self.cx,
        }
    }
}

/// Sends a call's [`STATUS_DELTA`] replies. It lives in the call's future, which the
/// final reply always follows (the task replies after the future ends; an aborted or
/// panicked future is dropped before its `Reply`), so no delta comes after the final
/// reply, while the host's reply context is still alive. It is never handed to plugin
/// code, only borrowed through a closure for the length of the call.
pub(crate) struct DeltaSink {
    reply: ReplyFn,
    cx: SendPtr,
}

impl DeltaSink {
    /// Sends one delta (JSON) to the host.
    pub(crate) fn send(&self, payload: Vec<u8>) {
        (self.reply)(self.cx.0, STATUS_DELTA, OwnedBuf::from_vec(payload));
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.sent {
            let (status, note) = if std::thread::panicking() {
                (STATUS_PANIC, "the plugin panicked")
            } else {
                (STATUS_CANCELLED, "cancelled")
            };
            (self.reply)(self.cx.0, status, OwnedBuf::from_vec(note.into()));
        }
    }
}

/// The runtime the plugin's calls run on: the plugin's own tokio, made on first use.
fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("tamma-bench-plugin")
                .enable_all()
                .build()
                .map_err(|e| format!("the plugin cannot start its runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Polls a future, turning a panic into an error with its message.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic_message(&*panic))),
        }
    }
}

extern "C" fn start_call(
    ptr: *mut c_void,
    op: u32,
    input: Bytes,
    reply: ReplyFn,
    reply_cx: *const c_void,
) -> u64 {
    let reply = Reply {
        reply,
        cx: SendPtr(reply_cx),
        sent: false,
    };
    // SAFETY: the host passes a borrowed buffer valid for this call.
    let input = unsafe { input.to_vec() };
    // SAFETY: the host only calls with a live instance of `create`.
    let instance = unsafe { instance(ptr) };
    // On a panic, `reply` is dropped while unwinding and replies `panic`.
    catch_unwind(AssertUnwindSafe(move || start(instance, op, input, reply))).unwrap_or(0)
}

fn start(instance: Arc<Instance>, op: u32, input: Vec<u8>, reply: Reply) -> u64 {
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(message) => {
            reply.send(STATUS_ERROR, WireError::new("plugin", message).to_bytes());
            return 0;
        }
    };
    let mut call = CatchUnwind(Box::pin(crate::guest::run(
        instance.plugin.clone(),
        op,
        input,
        reply.deltas(),
    )));
    // A first poll on the caller's thread, inside the plugin runtime's context: a call
    // that needs no waiting (a refusal, a cached answer) replies before `start_call`
    // returns, with no thread hop. A call that waits goes to the runtime, which polls it
    // again with its own waker.
    let first = {
        let _context = runtime.enter();
        Pin::new(&mut call).poll(&mut Context::from_waker(Waker::noop()))
    };
    if let Poll::Ready(outcome) = first {
        finish(reply, outcome);
        return 0;
    }
    let id = instance.next_call.fetch_add(1, Ordering::Relaxed);
    let this = instance.clone();
    // Holding the lock while spawning: the task removes its entry only after it is in.
    let mut calls = instance.calls.lock().unwrap_or_else(|e| e.into_inner());
    let task = runtime.spawn(async move {
        let outcome = call.await;
        this.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        finish(reply, outcome);
    });
    calls.insert(id, task.abort_handle());
    id
}

/// Replies the outcome of a call.
fn finish(reply: Reply, outcome: Result<Result<Vec<u8>, WireError>, String>) {
    match outcome {
        Ok(Ok(result)) => reply.send(STATUS_OK, result),
        Ok(Err(error)) => reply.send(STATUS_ERROR, error.to_bytes()),
        Err(panic) => reply.send(STATUS_PANIC, panic.into_bytes()),
    }
}

extern "C" fn cancel_call(ptr: *mut c_void, call: u64) {
    let _ = catch_unwind(|| {
        // SAFETY: the host only calls with a live instance of `create`.
        let instance = unsafe { instance(ptr) };
        let task = instance
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&call);
        if let Some(task) = task {
            // The aborted task drops its `Reply`, which replies `cancelled`.
            task.abort();
        }
    });
}
