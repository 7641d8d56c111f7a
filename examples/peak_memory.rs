//! Peak memory and throughput of one large run into SQLite.
//!
//! Runs 1 agent × 1,000 cases × (TRIALS / 1,000) epochs through the real `Executor` into
//! a `SqliteStore` in a temporary directory, answered at once by an in-process provider
//! and scored by `exact`, then prints one JSON line:
//! `{"trials", "seconds", "trials_per_s", "peak_rss_mb", "summary_seconds"}`.
//! `peak_rss_mb` is the process's peak resident set (`VmHWM`, MiB) at the end of the run;
//! `summary_seconds` is how long a second pass of the summary over the stored trials
//! takes afterwards (the run itself ends with one such pass, which `seconds` includes).
//!
//! The memory store keeps every trial by design, so bounded memory is measured with
//! SQLite. Run each size in its own process, since the peak is per process:
//!
//! ```text
//! cargo run --release --example peak_memory -- 100000
//! cargo run --release --example peak_memory -- 1000000
//! ```

use std::sync::Arc;
use std::time::Instant;
use tamma_bench_core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench_core::model::{AgentConfig, TenantContext};
use tamma_bench_sqlite::SqliteStore;
use tamma_bench_testkit::benchmarks::arithmetic;
use tamma_bench_testkit::providers::FixedProvider;

const CASES: u64 = 1_000;

/// Answers "4" at once: the executor and the store are all that is measured.
fn zero() -> Arc<FixedProvider> {
    Arc::new(FixedProvider::new("4").named("zero"))
}

/// The peak resident set of this process in MiB, from `VmHWM` in `/proc/self/status`.
fn peak_rss_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/self/status"))?
        .trim()
        .parse()?;
    Ok(kib / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let trials: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    anyhow::ensure!(
        trials >= CASES && trials.is_multiple_of(CASES),
        "TRIALS must be a positive multiple of {CASES} (1 agent × {CASES} cases × epochs)"
    );
    let epochs = u32::try_from(trials / CASES)?;
    let benchmark = arithmetic("peak-memory", "Peak memory", CASES, epochs);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("peak.db"))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let (seconds, peak_rss_mb, summary_seconds) = runtime.block_on(async {
        let executor = Executor::new(store.clone());
        let agent = AgentRuntime::new(AgentConfig::new("a", "zero", "m"), zero());
        let started = Instant::now();
        let report = executor
            .run(
                &TenantContext::local_operator(),
                &benchmark,
                vec![agent],
                RunOptions::default(),
            )
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(report.written == trials, "wrote {} trials", report.written);
        // The peak of the run, before the extra summary pass below adds its own.
        let peak = peak_rss_mib()?;
        let started = Instant::now();
        let summary = tamma_bench_core::summary::summarize(store.as_ref(), &report.run).await?;
        anyhow::ensure!(
            summary.agents[0].n_trials == trials,
            "summary is incomplete"
        );
        Ok((seconds, peak, started.elapsed().as_secs_f64()))
    })?;

    let line = serde_json::json!({
        "trials": trials,
        "seconds": seconds,
        "trials_per_s": trials as f64 / seconds,
        "peak_rss_mb": peak_rss_mb,
        "summary_seconds": summary_seconds,
    });
    println!("{line}");
    Ok(())
}
