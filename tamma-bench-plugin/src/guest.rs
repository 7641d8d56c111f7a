//! The plugin side: what a plugin implements, the export macros, and the glue that runs a
//! call and forwards the plugin's logs to the host.
//!
//! A plugin implements the ordinary core [`Provider`] or [`Scorer`] (or
//! [`BenchmarkSource`]), with a constructor from its JSON configuration, and exports it
//! with [`export_provider!`](crate::export_provider), [`export_scorer!`](crate::export_scorer)
//! or [`export_benchmark_source!`](crate::export_benchmark_source) (the crate's
//! documentation has a complete plugin). The constructor is any
//! `fn(serde_json::Value) -> Result<T, E>` with `E: Display`, usually
//! [`PluginError`] (`PluginError::config("...")`); its message reaches the host's user
//! as the plugin's refusal of its configuration.

use crate::PluginError;
use crate::ffi::guest::DeltaSink;
use crate::manifest::Manifest;
use crate::wire::{
    CompleteInput, Delta, OP_CASES, OP_COMPLETE, OP_COMPLETE_STREAMING, OP_SCORE, ScoreInput,
    WireError,
};
use std::sync::Arc;
use tamma_bench_core::model::Case;
use tamma_bench_core::provider::{CallContext, Provider};
use tamma_bench_core::scorer::Scorer;

/// A plugin that generates the cases of a benchmark (`source = "plugin:ID"`), configured
/// by the manifest's `[source_config]` table.
pub trait BenchmarkSource: Send + Sync {
    /// The cases; an id may be left empty (the host fills in the content hash).
    fn cases(&self) -> Result<Vec<Case>, PluginError>;
}

/// What an instance of a plugin is.
#[derive(Clone)]
#[non_exhaustive]
pub enum Plugin {
    /// A provider.
    Provider(Arc<dyn Provider>),
    /// A scorer.
    Scorer(Arc<dyn Scorer>),
    /// A benchmark source.
    BenchmarkSource(Arc<dyn BenchmarkSource>),
}

/// What the export macros implement: the manifest and the constructor. Not for hand
/// implementation.
#[doc(hidden)]
pub trait Export: 'static {
    /// The manifest.
    fn manifest() -> Manifest;
    /// An instance from its configuration.
    fn create(config: serde_json::Value) -> Result<Plugin, PluginError>;
}

/// Runs one operation: `Ok(result JSON)` or `Err(error)`; a streaming operation sends its
/// deltas to `deltas` on the way.
pub(crate) async fn run(
    plugin: Plugin,
    op: u32,
    input: Vec<u8>,
    deltas: DeltaSink,
) -> Result<Vec<u8>, WireError> {
    let bad_input = |e: serde_json::Error| WireError::new("plugin", format!("bad input: {e}"));
    let encode = |r: Result<Vec<u8>, serde_json::Error>| {
        r.map_err(|e| WireError::new("plugin", format!("cannot encode the result: {e}")))
    };
    match (plugin, op) {
        (Plugin::Provider(p), OP_COMPLETE) => {
            let input: CompleteInput = serde_json::from_slice(&input).map_err(bad_input)?;
            let cx = CallContext::from(input.context);
            match p.complete(&input.request, &cx).await {
                Ok(c) => encode(serde_json::to_vec(&c)),
                Err(e) => Err(WireError::from(&e)),
            }
        }
        (Plugin::Provider(p), OP_COMPLETE_STREAMING) => {
            let input: CompleteInput = serde_json::from_slice(&input).map_err(bad_input)?;
            let cx = CallContext::from(input.context);
            let on_delta = |text: &str| {
                let delta = Delta {
                    text: text.to_owned(),
                };
                deltas.send(serde_json::to_vec(&delta).unwrap_or_default());
            };
            match p.complete_streaming(&input.request, &cx, &on_delta).await {
                Ok(c) => encode(serde_json::to_vec(&c)),
                Err(e) => Err(WireError::from(&e)),
            }
        }
        (Plugin::Scorer(s), OP_SCORE) => {
            let input: ScoreInput = serde_json::from_slice(&input).map_err(bad_input)?;
            match s.score(&input.case, &input.completion).await {
                Ok(score) => encode(serde_json::to_vec(&score)),
                Err(e) => Err(WireError::from(&e)),
            }
        }
        (Plugin::BenchmarkSource(s), OP_CASES) => match s.cases() {
            Ok(cases) => encode(serde_json::to_vec(&cases)),
            Err(e) => Err(WireError::new(
                match e.kind() {
                    crate::PluginErrorKind::Config => "invalid_config",
                    _ => "plugin",
                },
                e.message(),
            )),
        },
        (_, op) => Err(WireError::new(
            "plugin",
            format!("operation {op} is not one this plugin's kind offers"),
        )),
    }
}

/// Exports a provider: `export_provider!(constructor, manifest)`, where `constructor` is
/// a `fn(serde_json::Value) -> Result<P, E>` (`P: Provider`, `E: Display`) and
/// `manifest` an expression of type [`Manifest`](crate::Manifest). Writes the
/// `tamma_bench_plugin_v1` entry point; use it once per library.
#[macro_export]
macro_rules! export_provider {
    ($constructor:expr, $manifest:expr $(,)?) => {
        $crate::__export!(Provider, $constructor, $manifest);
    };
}

/// Exports a scorer (a core `Scorer`): `export_scorer!(constructor, manifest)`, like
/// [`export_provider!`].
#[macro_export]
macro_rules! export_scorer {
    ($constructor:expr, $manifest:expr $(,)?) => {
        $crate::__export!(Scorer, $constructor, $manifest);
    };
}

/// Exports a [`BenchmarkSource`]: `export_benchmark_source!(constructor, manifest)`,
/// like [`export_provider!`].
#[macro_export]
macro_rules! export_benchmark_source {
    ($constructor:expr, $manifest:expr $(,)?) => {
        $crate::__export!(BenchmarkSource, $constructor, $manifest);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export {
    ($variant:ident, $constructor:expr, $manifest:expr) => {
        $crate::__export_type!($variant, $constructor, $manifest);

        /// The plugin's entry point (tamma-bench plugin ABI v1).
        // The SDK's one exported symbol; exporting it is what `unsafe_code` flags.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tamma_bench_plugin_v1() -> *const $crate::ffi::PluginV1 {
            static TABLE: $crate::ffi::PluginV1 = $crate::__table::<__TammaBenchPluginExport>();
            &TABLE
        }
    };
}

/// The type the export macros implement [`Export`](crate::guest::Export) on:
/// `__TammaBenchPluginExport`.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_type {
    ($variant:ident, $constructor:expr, $manifest:expr) => {
        #[doc(hidden)]
        pub struct __TammaBenchPluginExport;

        impl $crate::guest::Export for __TammaBenchPluginExport {
            fn manifest() -> $crate::Manifest {
                $manifest
            }

            fn create(
                config: $crate::serde_json::Value,
            ) -> ::std::result::Result<$crate::guest::Plugin, $crate::PluginError> {
                match ($constructor)(config) {
                    ::std::result::Result::Ok(value) => ::std::result::Result::Ok(
                        $crate::guest::Plugin::$variant(::std::sync::Arc::new(value)),
                    ),
                    ::std::result::Result::Err(e) => ::std::result::Result::Err(
                        $crate::PluginError::config(::std::string::ToString::to_string(&e)),
                    ),
                }
            }
        }
    };
}

/// Exports a deliberately broken plugin, for the host's refusal tests only (the
/// `incompatible` fixture): `__export_for_tests!(MODE, Provider, constructor, manifest)`,
/// the other arguments as for [`export_provider!`](crate::export_provider). `MODE` is
/// - `abi_v2`: the library exports `tamma_bench_plugin_v2` (an ABI major that does not
///   exist yet) and no v1 entry point; a v1 host only sees the symbol, never calls it;
/// - `short_table`: the v1 entry point's table claims a `struct_size` one field short of
///   [`PluginV1::MIN_SIZE`](crate::ffi::PluginV1::MIN_SIZE) (all the fields are there,
///   so a host that read it anyway would still read initialised memory).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_for_tests {
    (abi_v2, $variant:ident, $constructor:expr, $manifest:expr $(,)?) => {
        $crate::__export_type!($variant, $constructor, $manifest);

        /// The entry point of a plugin ABI v2, which a v1 host must refuse.
        // Exporting a symbol is what `unsafe_code` flags.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tamma_bench_plugin_v2() -> *const ::std::ffi::c_void {
            ::std::ptr::null()
        }
    };
    (short_table, $variant:ident, $constructor:expr, $manifest:expr $(,)?) => {
        $crate::__export_type!($variant, $constructor, $manifest);

        /// An ABI v1 entry point whose table is smaller than v1.0's.
        // Exporting a symbol is what `unsafe_code` flags.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tamma_bench_plugin_v1() -> *const $crate::ffi::PluginV1 {
            static TABLE: $crate::ffi::PluginV1 = $crate::ffi::PluginV1 {
                struct_size: ::std::mem::offset_of!($crate::ffi::PluginV1, destroy),
                ..$crate::__table::<__TammaBenchPluginExport>()
            };
            &TABLE
        }
    };
}

pub(crate) mod log {
    //! Forwards the plugin's `tracing` events to the host's log sink.

    use std::fmt::Write;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    /// The numeric level of the ABI (1 error ... 5 trace).
    pub(crate) fn level_number(level: &Level) -> u32 {
        match *level {
            Level::ERROR => 1,
            Level::WARN => 2,
            Level::INFO => 3,
            Level::DEBUG => 4,
            Level::TRACE => 5,
        }
    }

    /// Where events go: `(level, target, message)`.
    pub(crate) type Sink = Box<dyn Fn(u32, &str, &str) + Send + Sync>;

    /// A subscriber that formats each event and hands it to `sink`; spans are ignored.
    pub(crate) struct Forwarder {
        pub(crate) max_level: u32,
        pub(crate) sink: Sink,
    }

    struct Message(String);

    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            if field.name() == "message" {
                let _ = write!(self.0, "{value:?}");
            } else {
                let _ = write!(self.0, "{}={value:?}", field.name());
            }
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                if !self.0.is_empty() {
                    self.0.push(' ');
                }
                self.0.push_str(value);
            } else {
                self.record_debug(field, &value);
            }
        }
    }

    impl Subscriber for Forwarder {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            level_number(metadata.level()) <= self.max_level
        }

        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut message = Message(String::new());
            event.record(&mut message);
            let metadata = event.metadata();
            (self.sink)(
                level_number(metadata.level()),
                metadata.target(),
                &message.0,
            );
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }
}
