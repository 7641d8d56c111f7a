//! The host side (feature `host`): load a plugin library, check that it fits, and use it
//! as a core [`Provider`] or [`Scorer`], or as a source of cases.
//!
//! Libraries are opened once per path and never unloaded. Every call has a timeout
//! ([`DEFAULT_CALL_TIMEOUT`] unless set): a plugin that hangs is cut off with a `timeout`
//! error and its call is cancelled. A plugin that panics gives a `plugin` error; the host
//! keeps running.

use crate::ffi::host::{self as ffi, FinalReply, Instance, Table};
use crate::ffi::{STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, STATUS_PANIC};
use crate::manifest::{Manifest, PROTOCOL, PluginKind};
use crate::wire::{
    CompleteInputRef, Delta, OP_CASES, OP_COMPLETE, OP_COMPLETE_STREAMING, OP_SCORE, ScoreInput,
    WireError,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::{Case, Score};
use tamma_bench_core::provider::{
    CallContext, Capabilities, Completion, CompletionRequest, FactoryError, FactoryErrorKind,
    OnDelta, Provider, ProviderError, ProviderErrorKind,
};
use tamma_bench_core::scorer::{ScoreError, Scorer};
use tokio::sync::mpsc;

/// How long one call may take unless set otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a plugin could not be loaded or instantiated.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The library could not be opened.
    #[error("cannot open the plugin library {}: {message}", path.display())]
    Open {
        /// The library.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The library exports no tamma-bench plugin entry point.
    #[error("{} is not a tamma-bench plugin (no `tamma_bench_plugin_v*` symbol)", path.display())]
    NotAPlugin {
        /// The library.
        path: PathBuf,
    },
    /// The ABI major version or the table size does not fit.
    #[error("{} speaks plugin ABI {plugin}, but this host speaks ABI {host}; rebuild the plugin against a matching tamma-bench-plugin", path.display())]
    AbiMismatch {
        /// The library.
        path: PathBuf,
        /// The plugin's ABI.
        plugin: String,
        /// The host's ABI.
        host: String,
    },
    /// The manifest is missing or invalid.
    #[error("{}: invalid plugin manifest: {message}", path.display())]
    Manifest {
        /// The library.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The protocol version does not fit (see [`crate::Protocol::accepts`]).
    #[error("plugin {id:?} ({}) speaks protocol {plugin}, but this host speaks protocol {host} (needs major {}, minor at most {})", path.display(), host.major, host.minor)]
    ProtocolMismatch {
        /// The library.
        path: PathBuf,
        /// The plugin's id.
        id: String,
        /// The plugin's protocol.
        plugin: crate::Protocol,
        /// The host's protocol.
        host: crate::Protocol,
    },
    /// The plugin is of another kind than asked for.
    #[error("plugin {id:?} is a {actual} plugin, not a {expected} plugin")]
    WrongKind {
        /// The plugin's id.
        id: String,
        /// What was asked for.
        expected: PluginKind,
        /// What it is.
        actual: PluginKind,
    },
    /// The plugin refused its configuration (or panicked while starting).
    #[error("plugin {id:?} refused its configuration: {message}")]
    Config {
        /// The plugin's id.
        id: String,
        /// What it said.
        message: String,
    },
    /// No library in the plugin directories has this id.
    #[error("no plugin {id:?} in {searched}")]
    NotFound {
        /// The id asked for.
        id: String,
        /// The directories searched.
        searched: String,
    },
    /// A benchmark source failed to generate its cases, or generated unreadable ones.
    #[error("plugin {id:?}: {message}")]
    Cases {
        /// The plugin's id.
        id: String,
        /// What went wrong.
        message: String,
    },
}

impl LoadError {
    /// What a caller can do: fix the path, the plugin build or the configuration; give
    /// up on a benchmark source that fails to generate its cases.
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::Cases { .. } => Remedy::GiveUp,
            Self::Open { .. }
            | Self::NotAPlugin { .. }
            | Self::AbiMismatch { .. }
            | Self::Manifest { .. }
            | Self::ProtocolMismatch { .. }
            | Self::WrongKind { .. }
            | Self::Config { .. }
            | Self::NotFound { .. } => Remedy::FixInput,
        }
    }
}

/// A plugin that cannot be built, for a host's [`ProviderFactory`] or [`CaseSource`].
///
/// [`ProviderFactory`]: tamma_bench_core::provider::ProviderFactory
/// [`CaseSource`]: tamma_bench_core::load::CaseSource
impl From<LoadError> for FactoryError {
    fn from(e: LoadError) -> Self {
        let kind = match &e {
            LoadError::NotFound { .. } => FactoryErrorKind::NotFound,
            LoadError::Config { .. } | LoadError::WrongKind { .. } => FactoryErrorKind::Invalid,
            _ => FactoryErrorKind::Failed,
        };
        FactoryError::new(kind, e.to_string()).with_source(e)
    }
}

/// A loaded, compatible plugin library.
#[derive(Clone)]
pub struct PluginLibrary {
    path: PathBuf,
    table: Table,
    manifest: Manifest,
    /// The manifest's configuration schema, compiled once.
    config_schema: Arc<jsonschema::Validator>,
}

impl fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginLibrary")
            .field("path", &self.path)
            .field("id", &self.manifest.id)
            .field("kind", &self.manifest.kind)
            .field("version", &self.manifest.version)
            .finish()
    }
}

/// Libraries already opened, by canonical path.
fn opened() -> &'static Mutex<HashMap<PathBuf, PluginLibrary>> {
    static OPENED: OnceLock<Mutex<HashMap<PathBuf, PluginLibrary>>> = OnceLock::new();
    OPENED.get_or_init(Mutex::default)
}

impl PluginLibrary {
    /// Opens the library at `path` (once per process) and checks its ABI, table size and
    /// protocol; refusals name both versions.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let mut opened = opened().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(library) = opened.get(&key) {
            return Ok(library.clone());
        }
        let table = ffi::open(path)?;
        let manifest: Manifest =
            serde_json::from_slice(&ffi::manifest(table)).map_err(|e| LoadError::Manifest {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if !PROTOCOL.accepts(manifest.protocol) {
            return Err(LoadError::ProtocolMismatch {
                path: path.to_owned(),
                id: manifest.id,
                plugin: manifest.protocol,
                host: PROTOCOL,
            });
        }
        let config_schema = jsonschema::validator_for(&manifest.config_schema)
            .map(Arc::new)
            .map_err(|e| LoadError::Manifest {
                path: path.to_owned(),
                message: format!("`config_schema` is not a valid JSON Schema: {e}"),
            })?;
        ffi::install_logger(table);
        let library = Self {
            path: path.to_owned(),
            table,
            manifest,
            config_schema,
        };
        opened.insert(key, library.clone());
        Ok(library)
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it says about itself.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn instance(
        &self,
        kind: PluginKind,
        config: &serde_json::Value,
    ) -> Result<Arc<Instance>, LoadError> {
        if self.manifest.kind != kind {
            return Err(LoadError::WrongKind {
                id: self.manifest.id.clone(),
                expected: kind,
                actual: self.manifest.kind,
            });
        }
        // The plugin's own schema is checked here, so a bad field is named the same way
        // for every plugin, before any plugin code runs.
        let errors: Vec<String> = self
            .config_schema
            .iter_errors(config)
            .map(|e| match e.instance_path.to_string() {
                p if p.is_empty() => e.to_string(),
                p => format!(
                    "field `{}`: {e}",
                    p.trim_start_matches('/').replace('/', ".")
                ),
            })
            .collect();
        if !errors.is_empty() {
            return Err(LoadError::Config {
                id: self.manifest.id.clone(),
                message: format!(
                    "configuration does not fit the plugin's schema: {}",
                    errors.join("; ")
                ),
            });
        }
        let config = serde_json::to_vec(config).unwrap_or_else(|_| b"{}".to_vec());
        Instance::create(self.table, &config)
            .map(Arc::new)
            .map_err(|message| LoadError::Config {
                id: self.manifest.id.clone(),
                message,
            })
    }

    /// A provider instance configured by `config`.
    pub fn provider(&self, config: &serde_json::Value) -> Result<PluginProvider, LoadError> {
        Ok(PluginProvider {
            id: self.manifest.id.clone(),
            instance: self.instance(PluginKind::Provider, config)?,
            timeout: DEFAULT_CALL_TIMEOUT,
            streams: self.manifest.protocol.minor >= STREAMING_SINCE_MINOR,
            capabilities: self.provider_capabilities(),
        })
    }

    /// What the provider plugin supports: the capability names among its manifest's
    /// `features` (`streaming`, `tools`, `usage`, `seed`, `retries`), none when it names
    /// none; `streaming` only from a plugin whose protocol has the streaming operation.
    pub fn provider_capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::from_names(self.manifest.features.iter().map(String::as_str));
        caps.streaming &= self.manifest.protocol.minor >= STREAMING_SINCE_MINOR;
        caps
    }

    /// A scorer instance configured by `config`.
    pub fn scorer(&self, config: &serde_json::Value) -> Result<PluginScorer, LoadError> {
        Ok(PluginScorer {
            id: self.manifest.id.clone(),
            instance: self.instance(PluginKind::Scorer, config)?,
            timeout: DEFAULT_CALL_TIMEOUT,
        })
    }

    /// The cases a benchmark-source plugin generates from `config`.
    pub async fn cases(&self, config: &serde_json::Value) -> Result<Vec<Case>, LoadError> {
        let instance = self.instance(PluginKind::BenchmarkSource, config)?;
        let id = &self.manifest.id;
        let failed = |message: String| LoadError::Cases {
            id: id.clone(),
            message,
        };
        let bytes = call(&instance, OP_CASES, b"{}", DEFAULT_CALL_TIMEOUT, id)
            .await
            .map_err(|e| failed(e.message))?;
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("bad cases: {e}")))
    }
}

/// Runs one call with a timeout, turning every way it can fail into a [`WireError`].
async fn call(
    instance: &Arc<Instance>,
    op: u32,
    input: &[u8],
    timeout: Duration,
    id: &str,
) -> Result<Vec<u8>, WireError> {
    let pending = instance.call(op, input, None);
    match tokio::time::timeout(timeout, pending).await {
        Ok(reply) => outcome(reply, id),
        // Dropping the pending call (inside `timeout`) cancelled it in the plugin.
        Err(_) => Err(timed_out(id, timeout)),
    }
}

/// Runs one streaming call with a timeout: hands each delta's text to `on_delta` as it
/// arrives, then the final reply as [`call`] does. Every delta the plugin sent before its
/// final reply is handed over before this returns.
async fn call_streaming(
    instance: &Arc<Instance>,
    op: u32,
    input: &[u8],
    timeout: Duration,
    id: &str,
    on_delta: &OnDelta<'_>,
) -> Result<Vec<u8>, WireError> {
    let (deltas, mut received) = mpsc::unbounded_channel();
    // Owned by the future below: a timeout drops it, which cancels the call.
    let mut pending = instance.call(op, input, Some(deltas));
    let emit = |payload: Vec<u8>| match serde_json::from_slice::<Delta>(&payload) {
        Ok(delta) => on_delta(&delta.text),
        Err(e) => tracing::warn!("plugin {id:?} sent an unreadable delta, skipped: {e}"),
    };
    // Deltas first: each one the plugin sent is handed over before the end. The plugin
    // sends its deltas before its final reply, so once that is in, all are queued.
    let streamed = std::future::poll_fn(move |task| {
        while let Poll::Ready(Some(delta)) = received.poll_recv(task) {
            emit(delta);
        }
        let reply = std::task::ready!(Pin::new(&mut pending).poll(task));
        while let Ok(delta) = received.try_recv() {
            emit(delta);
        }
        Poll::Ready(reply)
    });
    match tokio::time::timeout(timeout, streamed).await {
        Ok(reply) => outcome(reply, id),
        // Dropping the pending call (inside `timeout`) cancelled it in the plugin.
        Err(_) => Err(timed_out(id, timeout)),
    }
}

/// The error of a call cut off by the host's timeout.
fn timed_out(id: &str, timeout: Duration) -> WireError {
    WireError::new(
        "timeout",
        format!("plugin {id:?} did not answer within {timeout:?}; the call was cancelled"),
    )
}

/// The result of a call's final reply (`None`: it ended without one).
fn outcome(reply: Option<FinalReply>, id: &str) -> Result<Vec<u8>, WireError> {
    let text = |payload: &[u8]| String::from_utf8_lossy(payload).into_owned();
    match reply {
        Some((STATUS_OK, payload)) => Ok(payload),
        Some((STATUS_ERROR, payload)) => {
            Err(serde_json::from_slice(&payload).unwrap_or_else(|_| {
                WireError::new(
                    "plugin",
                    format!("plugin {id:?} failed: {}", text(&payload)),
                )
            }))
        }
        Some((STATUS_PANIC, payload)) => Err(WireError::new(
            "plugin",
            format!("plugin {id:?} panicked: {}", text(&payload)),
        )),
        Some((STATUS_CANCELLED, _)) => Err(WireError::new(
            "cancelled",
            format!("plugin {id:?} cancelled the call"),
        )),
        Some((status, _)) => Err(WireError::new(
            "plugin",
            format!("plugin {id:?} replied with unknown status {status}"),
        )),
        None => Err(WireError::new(
            "plugin",
            format!("plugin {id:?} dropped the call without a reply"),
        )),
    }
}

/// A provider plugin instance: a core [`Provider`].
pub struct PluginProvider {
    id: String,
    instance: Arc<Instance>,
    timeout: Duration,
    /// Whether the plugin speaks a protocol with the streaming operation (1.1 and later).
    streams: bool,
    /// From the manifest.
    capabilities: Capabilities,
}

/// The protocol minor version (of major 1) that added `OP_COMPLETE_STREAMING`.
const STREAMING_SINCE_MINOR: u32 = 1;

impl PluginProvider {
    /// Sets how long one call may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for PluginProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration lives in the plugin and may hold secrets: never shown.
        f.debug_struct("PluginProvider")
            .field("id", &self.id)
            .field("config", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait]
impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let input = complete_input(request, cx)?;
        let bytes = call(&self.instance, OP_COMPLETE, &input, self.timeout, &self.id)
            .await
            .map_err(WireError::into_provider_error)?;
        self.completion(&bytes)
    }

    /// Streams through the plugin's own `complete_streaming` (a plugin that does not
    /// stream sends its whole text as one delta, the trait's default); the host's timeout
    /// covers the whole call and dropping the future cancels it in the plugin. A plugin
    /// of protocol 1.0 has no streaming operation: its completion is sent as one delta.
    async fn complete_streaming(
        &self,
        request: &CompletionRequest,
        cx: &CallContext,
        on_delta: &OnDelta<'_>,
    ) -> Result<Completion, ProviderError> {
        if !self.streams {
            let completion = self.complete(request, cx).await?;
            if !completion.text.is_empty() {
                on_delta(&completion.text);
            }
            return Ok(completion);
        }
        let input = complete_input(request, cx)?;
        let bytes = call_streaming(
            &self.instance,
            OP_COMPLETE_STREAMING,
            &input,
            self.timeout,
            &self.id,
            on_delta,
        )
        .await
        .map_err(WireError::into_provider_error)?;
        self.completion(&bytes)
    }
}

/// The JSON input of a completion call.
fn complete_input(request: &CompletionRequest, cx: &CallContext) -> Result<Vec<u8>, ProviderError> {
    let input = CompleteInputRef {
        request,
        context: cx.into(),
    };
    serde_json::to_vec(&input)
        .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidRequest, e.to_string()))
}

impl PluginProvider {
    /// The completion of a final reply.
    fn completion(&self, bytes: &[u8]) -> Result<Completion, ProviderError> {
        serde_json::from_slice(bytes).map_err(|e| {
            ProviderError::new(
                ProviderErrorKind::Plugin,
                format!(
                    "plugin {:?} answered an unreadable completion: {e}",
                    self.id
                ),
            )
        })
    }
}

/// A scorer plugin instance: a core [`Scorer`].
pub struct PluginScorer {
    id: String,
    instance: Arc<Instance>,
    timeout: Duration,
}

impl fmt::Debug for PluginScorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginScorer")
            .field("id", &self.id)
            .finish()
    }
}

#[async_trait]
impl Scorer for PluginScorer {
    fn name(&self) -> &str {
        &self.id
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let input = ScoreInput {
            case: case.clone(),
            completion: completion.clone(),
        };
        let input = serde_json::to_vec(&input).unwrap_or_default();
        let bytes = call(&self.instance, OP_SCORE, &input, self.timeout, &self.id)
            .await
            .map_err(|e| e.into_score_error(&self.id))?;
        serde_json::from_slice(&bytes).map_err(|e| ScoreError::Failed {
            scorer: self.id.clone(),
            message: format!("unreadable score: {e}"),
        })
    }
}

/// Directories to look for plugins in, by id.
#[derive(Debug, Clone, Default)]
pub struct PluginDirs {
    dirs: Vec<PathBuf>,
}

impl PluginDirs {
    /// Searches `dirs`, in order.
    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            dirs: dirs.into_iter().collect(),
        }
    }

    /// Whether there is no directory to search.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The library whose manifest id is `id`: a file named after the id
    /// (`lib<id>.so`, with `-` or `_`) is tried first, then every library in the
    /// directories. Incompatible libraries met on the way are skipped (with a warning),
    /// unless one of them is the one named after the id.
    pub fn find(&self, id: &str) -> Result<PluginLibrary, LoadError> {
        let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        for dir in &self.dirs {
            for name in [id.to_owned(), id.replace('-', "_")] {
                let path = dir.join(format!("{prefix}{name}{suffix}"));
                if path.is_file() {
                    let library = PluginLibrary::open(&path)?;
                    if library.manifest.id == id {
                        return Ok(library);
                    }
                }
            }
        }
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
                .collect();
            paths.sort();
            for path in paths {
                match PluginLibrary::open(&path) {
                    Ok(library) if library.manifest.id == id => return Ok(library),
                    Ok(_) | Err(LoadError::NotAPlugin { .. }) => {}
                    Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
                }
            }
        }
        Err(LoadError::NotFound {
            id: id.to_owned(),
            searched: if self.dirs.is_empty() {
                "no plugin directory (give --plugin-dir or plugin_dir in the agents file)".into()
            } else {
                self.dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_smaller_than_v1_0_is_refused_naming_both_sizes() {
        let e = ffi::check_size(Path::new("libold.so"), 16).expect_err("too small");
        let text = e.to_string();
        assert!(text.contains("table of 16 bytes"), "{text}");
        assert!(
            text.contains(&format!(
                "at least {} bytes",
                crate::ffi::PluginV1::MIN_SIZE
            )),
            "{text}"
        );
        assert!(ffi::check_size(Path::new("x"), crate::ffi::PluginV1::MIN_SIZE + 8).is_ok());
    }
}
