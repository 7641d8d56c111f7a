//! `tamma-bench optimize`: find the best configuration of a search space on a benchmark,
//! within a budget, with the ε-best guarantee; each round is stored as a run.

use super::{Exit, StoreArgs, bounds, print_json};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tamma_bench::core::executor::{AgentRuntime, Executor, RunOptions};
use tamma_bench::core::load::load_benchmark;
use tamma_bench::optimize::host::{SpaceStudy, StudyReport, run_space_study};
use tamma_bench::optimize::source::RepositorySource;
use tamma_bench::optimize::{SearchSpace, StrategyKind};
use tamma_bench::privacy::InternalContext;
use tamma_bench::providers::build_provider;

/// Arguments of `optimize`.
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Benchmark manifest (TOML).
    #[arg(value_name = "BENCHMARK")]
    pub benchmark: PathBuf,
    /// Search space (TOML; `tamma-bench schema space`).
    #[arg(long, value_name = "SPACE")]
    pub space: PathBuf,
    /// Most USD the study may spend, 0 to 1e9 (default: the space's
    /// `constraints.budget_usd`).
    #[arg(long, value_name = "USD", value_parser = bounds::usd, allow_negative_numbers = true)]
    pub budget_usd: Option<f64>,
    /// Strategy (default: the space's, else `lucb`).
    #[arg(long, value_name = "NAME", value_parser = parse_strategy)]
    pub strategy: Option<StrategyKind>,
    /// Study id; names the runs (`ID-rROUND-gGROUP`). The same id resumes.
    #[arg(long, value_name = "ID")]
    pub study_id: Option<String>,
    /// Append-only study log (JSON lines); resuming replays it.
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// The configuration in production, to compare against.
    #[arg(long, value_name = "NAME")]
    pub incumbent: Option<String>,
    /// Trials in flight at once (1 to 65,536).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        value_parser = bounds::concurrency,
        allow_negative_numbers = true,
    )]
    pub concurrency: usize,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

pub(super) fn parse_strategy(s: &str) -> Result<StrategyKind, String> {
    StrategyKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "unknown strategy {s:?}; expected one of {}",
            names.join(", ")
        )
    })
}

/// Runs the study and prints its report.
pub async fn execute(args: OptimizeArgs) -> Result<Exit> {
    let cx = args.store.context();
    if args.store.internal_context().is_none() {
        bail!(
            "optimize reads agent configurations and costs: it needs an internal context (drop --tenant, or add --internal)"
        );
    }
    let benchmark = load_benchmark(&args.benchmark)?;
    let mut space = SearchSpace::load(&args.space)?;
    if let Some(s) = args.strategy {
        space.strategy = Some(s);
    }
    let base_dir = args
        .space
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut agents = Vec::new();
    for candidate in space.candidates()? {
        let provider = build_provider(&candidate.config, &base_dir).with_context(|| {
            format!(
                "{}: configuration {}",
                args.space.display(),
                candidate.config.name
            )
        })?;
        agents.push(AgentRuntime::new(candidate.config, provider));
    }
    // Rounds are written and read back through the repository: authorized, audited,
    // redacted and sealed like any run; the engine reads as an internal context.
    let repo = args.store.repository_at(true).await?;
    // Rounds are internal data: the study's store keeps every one private.
    let icx = InternalContext::new(cx.clone())?;
    let executor = Arc::new(Executor::new(Arc::new(repo.store_for_study(&icx))));
    let source = Arc::new(RepositorySource::for_context(repo, cx.clone())?);
    let id = args.study_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{}-s{}",
            space.name.as_deref().unwrap_or("study"),
            benchmark.id,
            space.seed
        )
    });
    let study = SpaceStudy {
        id,
        space,
        agents,
        benchmark,
        budget_usd: args.budget_usd,
        log: args.log.clone(),
        incumbent: args.incumbent.clone(),
        run_options: RunOptions {
            concurrency: args.concurrency.max(1),
            ..RunOptions::default()
        },
    };
    let report = run_space_study(executor, source, cx, study, None).await?;
    if args.json {
        print_json(&report)?;
    } else {
        print_report(&report)?;
    }
    Ok(Exit::Success)
}

fn print_report(report: &StudyReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let r = &report.report.recommendation;
    writeln!(
        out,
        "study      {} ({})",
        report.study,
        report.strategy.as_str()
    )?;
    writeln!(
        out,
        "evaluated  {} of {} grid evaluations ({:.1}%) in {} rounds, ${:.6} spent",
        report.evaluations,
        report.grid_evaluations,
        100.0 * report.evaluations as f64 / report.grid_evaluations.max(1) as f64,
        report.rounds,
        report.spent_usd
    )?;
    writeln!(
        out,
        "recommend  {}: {:.1}% over {} cases; {} ({:?})",
        r.configuration,
        100.0 * r.score,
        r.n_cases,
        if r.certified {
            "ε-best certified"
        } else {
            "not certified"
        },
        r.reason
    )?;
    for (what, c) in [
        ("runner-up", &r.vs_runner_up),
        ("incumbent", &r.vs_incumbent),
    ] {
        if let Some((name, c)) = c {
            writeln!(
                out,
                "vs {what:<9} {name}: {:+.1} points [{:+.1}, {:+.1}] over {} cases, {:?}",
                100.0 * c.mean_diff,
                100.0 * c.ci_low,
                100.0 * c.ci_high,
                c.n_pairs,
                c.verdict
            )?;
        }
    }
    writeln!(
        out,
        "cost       ${:.6}/case; p95 latency {:.0} ms",
        r.cost_per_case_usd, r.latency_p95_ms
    )?;
    if let Some(c) = &report.report.cheapest_within_epsilon {
        writeln!(out, "cheapest within ε: {c}")?;
    }
    writeln!(out, "pareto front (score, $/case, p95 ms):")?;
    for p in &report.report.pareto_front {
        writeln!(
            out,
            "  {:<40} {:>6.1}% {:>12.6} {:>8.0}",
            p.configuration,
            100.0 * p.score,
            p.cost_per_case_usd,
            p.latency_p95_ms
        )?;
    }
    if let Some(e) = report.prediction_error {
        writeln!(
            out,
            "prediction held-out error {:.1} points (score model, configurations left out)",
            100.0 * e
        )?;
    }
    for w in &report.weaknesses {
        writeln!(
            out,
            "weakness   tag {}: {:.1}% vs {:.1}% elsewhere",
            w.tag,
            100.0 * w.mean_on_tag,
            100.0 * w.mean_elsewhere
        )?;
    }
    out.flush()?;
    Ok(())
}
