//! API keys never leak through a layer: not into the cache, a recording, traces, a
//! `Debug` print or an error message.

use crate::config::{AGENTS, agents_file};
use crate::fake::{Keyed, cx, request};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tamma_bench_core::load::load_agents;
use tamma_bench_core::provider::ProviderErrorKind;
use tamma_bench_core::store::ResponseCache;
use tamma_bench_providers::layers::{LayerContext, LimiterRegistry, wrap};
use tamma_bench_sqlite::SqliteResponseCache;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const KEY_VAR: &str = "TAMMA_BENCH_LAYERS_TEST_KEY";
const KEY: &str = "sk-layers-SECRET-7f3a9c2e";

/// Runs [`key_stays_out_of_every_output`] in a child process of this test binary with the
/// fake key in its environment (setting a variable in this process would need `unsafe`).
#[test]
fn api_key_reaches_no_cache_recording_trace_debug_print_or_error() {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "secrets::key_stays_out_of_every_output",
            "--exact",
            "--nocapture",
        ])
        .env(KEY_VAR, KEY)
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The body of the key test; a no-op unless the parent set the key.
#[tokio::test]
async fn key_stays_out_of_every_output() {
    if std::env::var(KEY_VAR).as_deref() != Ok(KEY) {
        return;
    }
    const VAR: &str = KEY_VAR;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (dir, path) = agents_file(&AGENTS.replace("OPENAI_API_KEY", VAR));
    let loaded = load_agents(&path).expect("loads");
    let agent = &loaded.agents[0];
    let registry = LimiterRegistry::from_agents(&loaded.agents);
    let cache: Arc<dyn ResponseCache> =
        Arc::new(SqliteResponseCache::open(dir.path().join("cache.db")).expect("cache"));
    let cx_layers = LayerContext {
        base_dir: &loaded.base_dir,
        cache: Some(cache.clone()),
        limiters: &registry,
    };
    let keyed = Arc::new(Keyed::from_env(VAR));
    let layered = wrap(keyed.clone(), agent, &cx_layers).expect("wrap");

    let mut seen = Vec::new();
    for case in ["a", "b", "a", "denied"] {
        let mut req = request(&format!("PROMPT-SENTINEL {case}: what is 2+2?"));
        req.model = agent.model.clone();
        match layered.provider.complete(&req, &cx(case, 0)).await {
            Ok(c) => seen.push(format!("{c:?}")),
            Err(e) => {
                assert_eq!(e.kind(), ProviderErrorKind::Auth);
                seen.extend([e.to_string(), format!("{e:?}")]);
            }
        }
    }
    seen.extend([
        format!("{layered:?}"),
        format!("{registry:?}"),
        format!("{:?}", layered.adaptive_concurrency),
        format!("{keyed:?}"),
        format!(
            "{cache:?}",
            cache = SqliteResponseCache::open(dir.path().join("cache.db")).expect("cache")
        ),
    ]);
    drop(layered);

    let trace = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        trace.contains("provider_call")
            && trace.contains("agent=agent")
            && trace.contains("outcome"),
        "{trace}"
    );
    assert!(
        !trace.contains("PROMPT-SENTINEL"),
        "prompt in traces: {trace}"
    );
    assert!(!trace.contains(KEY), "key in traces");
    for s in &seen {
        assert!(!s.contains(KEY), "key in {s}");
    }
    let mut files = 0;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "key in {}",
            entry.display()
        );
        files += 1;
    }
    assert!(
        files >= 3,
        "cache db, its WAL and the recording were written"
    );
    assert!(dir.path().join("recordings/gpt.jsonl").exists());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
