//! The C ABI between a host and a plugin library, version 1. The only module of the
//! workspace with `unsafe`.
//!
//! A plugin exports one symbol, [`ENTRY_SYMBOL`] (`tamma_bench_plugin_v1`), an
//! `extern "C" fn() -> *const PluginV1`. [`PluginV1`] is a table of `extern "C"` functions
//! whose first field is its size in bytes: fields are only ever appended, so a host reads
//! the fields it knows and refuses a table smaller than [`PluginV1::MIN_SIZE`].
//!
//! Rules every function of the table keeps:
//! - Everything crosses as bytes ([`Bytes`], borrowed for the duration of the call, copied
//!   by the callee; [`OwnedBuf`], owned by the receiver, freed with the free function of
//!   its producer). Requests and results are JSON ([`crate::wire`]).
//! - No Rust type with a layout of its own (trait object, future, waker, allocation,
//!   `String`) crosses. Each side has its own allocator, tokio and tracing.
//! - No panic crosses: every entry point of the plugin and every plugin task runs under
//!   `catch_unwind`, and a panic becomes [`STATUS_PANIC`].
//! - A call returns at once (`start_call`); the plugin reports its end through the host's
//!   [`ReplyFn`] exactly once, with a final status (and before it, for streaming, any
//!   number of [`STATUS_DELTA`] replies). `cancel_call` aborts a call; its reply is then
//!   [`STATUS_CANCELLED`], still exactly once.

pub(crate) mod guest;
#[cfg(feature = "host")]
pub(crate) mod host;

use std::ffi::c_void;

/// The ABI major version: part of the entry symbol's name.
pub const ABI_MAJOR: u32 = 1;
/// The ABI minor version this SDK writes into [`PluginV1::abi_minor`]; it grows when
/// fields are appended to the table.
pub const ABI_MINOR: u32 = 0;
/// The entry symbol of ABI major 1.
pub const ENTRY_SYMBOL: &str = "tamma_bench_plugin_v1";

/// Final status: the payload is the JSON result.
pub const STATUS_OK: u32 = 0;
/// Final status: the payload is a JSON [`crate::wire::WireError`].
pub const STATUS_ERROR: u32 = 1;
/// Final status: the call was cancelled (payload empty or a note).
pub const STATUS_CANCELLED: u32 = 2;
/// Final status: the plugin panicked; the payload is the panic message (UTF-8).
pub const STATUS_PANIC: u32 = 3;
/// Not final: a streaming delta (JSON); more replies follow.
pub const STATUS_DELTA: u32 = 4;

/// Log levels of [`LogFn`]: 1 error, 2 warn, 3 info, 4 debug, 5 trace (0: off).
pub type Level = u32;

/// Bytes borrowed for the duration of one call; the callee copies what it keeps.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Bytes {
    /// First byte (may dangle when `len` is 0).
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl Bytes {
    /// Borrows `slice` for one call.
    pub fn new(slice: &[u8]) -> Self {
        Self {
            ptr: slice.as_ptr(),
            len: slice.len(),
        }
    }

    /// A copy of the bytes.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes for the duration of this call.
    pub(crate) unsafe fn to_vec(self) -> Vec<u8> {
        if self.len == 0 || self.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the caller promises `len` readable bytes at `ptr`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

/// A buffer owned by whoever receives it, freed by calling its own `free` (the producer's
/// allocator): never by the receiver's allocator.
#[repr(C)]
#[derive(Debug)]
pub struct OwnedBuf {
    /// First byte.
    pub ptr: *mut u8,
    /// Length in bytes.
    pub len: usize,
    /// Capacity of the producer's allocation.
    pub cap: usize,
    /// The producer's free function, called once with `ptr`, `len`, `cap`.
    pub free: extern "C" fn(*mut u8, usize, usize),
}

extern "C" fn free_vec(ptr: *mut u8, len: usize, cap: usize) {
    if !ptr.is_null() {
        // SAFETY: `ptr`, `len`, `cap` come from `OwnedBuf::from_vec` of this very library
        // (the free function travels with the buffer), and each buffer is freed once.
        drop(unsafe { Vec::from_raw_parts(ptr, len, cap) });
    }
}

impl OwnedBuf {
    /// Hands `bytes` over; the receiver frees them with [`OwnedBuf::into_vec`].
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        Self {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
            free: free_vec,
        }
    }

    /// An empty buffer.
    pub fn empty() -> Self {
        Self::from_vec(Vec::new())
    }

    /// Copies the bytes into this side's allocator and frees the producer's buffer.
    pub fn into_vec(self) -> Vec<u8> {
        let copy = if self.ptr.is_null() || self.len == 0 {
            Vec::new()
        } else {
            // SAFETY: the producer made `ptr` point to `len` initialised bytes, owned by
            // this buffer until `free` is called below.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
        };
        (self.free)(self.ptr, self.len, self.cap);
        copy
    }
}

/// The host's completion callback: `(reply_cx, status, payload)`. Called exactly once
/// with a final status, possibly after [`STATUS_DELTA`] calls. The receiver owns
/// `payload`.
pub type ReplyFn = extern "C" fn(*const c_void, u32, OwnedBuf);

/// The host's log sink: `(level, target, message)`, both borrowed.
pub type LogFn = extern "C" fn(Level, Bytes, Bytes);

/// The function table of ABI v1. Fields are only ever appended.
#[repr(C)]
#[derive(Debug)]
pub struct PluginV1 {
    /// `size_of::<PluginV1>()` as the plugin was built: the fields the table has.
    pub struct_size: usize,
    /// The ABI minor version the plugin was built with.
    pub abi_minor: u32,
    /// The manifest, as JSON ([`crate::Manifest`]).
    pub manifest: extern "C" fn() -> OwnedBuf,
    /// Installs the host's log sink and the most verbose level it wants.
    pub set_logger: extern "C" fn(LogFn, Level),
    /// Makes an instance from its JSON configuration: `0` and the instance in `out`, or
    /// `1` and a UTF-8 message in `error`.
    pub create: extern "C" fn(Bytes, *mut *mut c_void, *mut OwnedBuf) -> u32,
    /// Starts operation `op` ([`crate::wire`]'s `OP_*`) of an instance on JSON input;
    /// returns the call's handle at once. The reply goes to `ReplyFn(reply_cx, ...)`.
    pub start_call: extern "C" fn(*mut c_void, u32, Bytes, ReplyFn, *const c_void) -> u64,
    /// Cancels a call; a call already finished (or handle 0) is left alone.
    pub cancel_call: extern "C" fn(*mut c_void, u64),
    /// Releases an instance; its calls in flight finish or are cancelled on their own.
    pub destroy: extern "C" fn(*mut c_void),
}

impl PluginV1 {
    /// The size of the v1.0 table: the smallest a host of ABI v1 accepts.
    pub const MIN_SIZE: usize = std::mem::size_of::<PluginV1>();
}

/// A raw pointer that may move between threads: the other side promises it is usable
/// from any thread (instances and reply contexts are).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *const c_void);

// SAFETY: the pointers wrapped are plugin instances (`Arc`s of `Send + Sync` values) and
// host reply contexts (`Arc`s of `Send + Sync` values); both sides only pass them back.
unsafe impl Send for SendPtr {}
// SAFETY: as above; nothing is dereferenced through a shared `SendPtr`.
unsafe impl Sync for SendPtr {}
