//! Embedding the optimization engine: a host builds a store, the tenant-aware repository,
//! an internal tenant context, the executor writing through the repository and the
//! engine's read side over it, then runs a study over a search space.
//!
//! Offline (replayed providers): `cargo run --example optimize_study`

use std::path::Path;
use std::sync::Arc;
use tamma_bench::core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench::core::load::load_benchmark;
use tamma_bench::core::model::{TenantContext, TenantId};
use tamma_bench::core::store::MemoryStore;
use tamma_bench::optimize::SearchSpace;
use tamma_bench::optimize::host::{SpaceStudy, run_space_study};
use tamma_bench::optimize::source::RepositorySource;
use tamma_bench::privacy::{InternalContext, Repository};
use tamma_bench::providers::build_provider;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/optimize");
    let benchmark = load_benchmark(dir.join("benchmark.toml"))?;
    let space = SearchSpace::load(dir.join("space.toml"))?;

    // One provider per configuration of the space (replay: recordings next to the space).
    let mut agents = Vec::new();
    for candidate in space.candidates()? {
        let provider = build_provider(&candidate.config, &dir)?;
        agents.push(AgentRuntime::new(candidate.config, provider));
    }

    // The host's parts: a store, the repository over it (the only way results go in and
    // out), an internal context for the engine, the executor writing through the
    // repository, and the engine reading through it.
    let repo = Repository::new(Arc::new(MemoryStore::new()))?;
    let cx = TenantContext::internal(TenantId::new("tamma")?, "optimizer");
    let executor = Arc::new(Executor::new(Arc::new(repo.store_for(&cx))));
    let source = Arc::new(RepositorySource::new(
        repo,
        InternalContext::new(cx.clone())?,
    ));

    let (events, mut rx) = tokio::sync::broadcast::channel(64);
    let printer = tokio::spawn(async move {
        while let Ok(event) = rx.recv().await {
            println!(
                "event: {}",
                serde_json::to_string(&event).unwrap_or_default()
            );
        }
    });
    let study = SpaceStudy {
        id: "add-study".into(),
        space,
        agents,
        benchmark,
        budget_usd: None,
        log: None,
        incumbent: Some("add-variant=small-terse".into()),
        run_options: RunOptions::default(),
    };
    let report = run_space_study(executor, source, cx, study, Some(events)).await?;
    printer.await?;

    let r = &report.report.recommendation;
    println!(
        "\nrecommended {} ({:.1}% on {} cases, certified: {}) after {} of {} evaluations, ${:.4}",
        r.configuration,
        100.0 * r.score,
        r.n_cases,
        r.certified,
        report.evaluations,
        report.grid_evaluations,
        report.spent_usd
    );
    if let Some((name, c)) = &r.vs_incumbent {
        println!(
            "vs incumbent {name}: {:+.1} points [{:+.1}, {:+.1}], verdict {:?}",
            100.0 * c.mean_diff,
            100.0 * c.ci_low,
            100.0 * c.ci_high,
            c.verdict
        );
    }
    if let Some(e) = report.prediction_error {
        println!("score model held-out error: {:.1} points", 100.0 * e);
    }
    println!(
        "cheapest within ε: {:?}",
        report.report.cheapest_within_epsilon
    );
    for p in &report.report.pareto_front {
        println!(
            "pareto: {} score {:.3} ${:.6}/case p95 {:.0} ms",
            p.configuration, p.score, p.cost_per_case_usd, p.latency_p95_ms
        );
    }
    Ok(())
}
