//! `tamma-bench submit`: queue a benchmark run (or, with `--space`, an optimization
//! study) for the workers; prints the job's id.

use super::queue::QueueArgs;
use super::{Exit, StoreArgs, bounds, print_json};
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use tamma_bench::core::model::{TenantContext, Tier};
use tamma_bench::core::queue::{Job, NewJob};
use tamma_bench::jobs::{RunJob, StudyJob};
use tamma_bench::optimize::StrategyKind;

/// Arguments of `submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Benchmark manifest (TOML).
    #[arg(value_name = "BENCHMARK")]
    pub benchmark: PathBuf,
    /// Agents file (TOML, `[[agent]]` tables): queue a run.
    #[arg(
        long,
        value_name = "AGENTS",
        required_unless_present = "space",
        conflicts_with = "space"
    )]
    pub agents: Option<PathBuf>,
    /// Search space (TOML): queue an optimization study instead (internal contexts only).
    #[arg(long, value_name = "SPACE")]
    pub space: Option<PathBuf>,
    /// For an external tenant (`--tenant ID`): its tier, `free` (the default) or
    /// `premium`, which decides the queue tier. For an internal context: the queue tier
    /// by name (default `internal-optimization`).
    #[arg(long, value_name = "NAME")]
    pub tier: Option<String>,
    /// Repetitions of each case per agent, 1 to 10,000 (default: the benchmark's).
    #[arg(long, value_name = "N", value_parser = bounds::epochs, allow_negative_numbers = true)]
    pub epochs: Option<u32>,
    /// Trials in flight at once for this job (1 to 65,536).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        value_parser = bounds::concurrency,
        allow_negative_numbers = true,
    )]
    pub concurrency: usize,
    /// Budget in USD: a run stops scheduling when it cannot cover the next trial; a study
    /// spends at most this (0 to 1e9).
    #[arg(long, value_name = "USD", value_parser = bounds::usd, allow_negative_numbers = true)]
    pub budget_usd: Option<f64>,
    /// Folder of plugin libraries (repeatable; searched before the agents file's
    /// `plugin_dir`). The workers load plugins from the same (absolute) folders.
    #[arg(long, value_name = "DIR", conflicts_with = "space")]
    pub plugin_dir: Vec<PathBuf>,
    /// A study's strategy (default: the space's, else `lucb`).
    #[arg(long, value_name = "NAME", requires = "space", value_parser = super::optimize::parse_strategy)]
    pub strategy: Option<StrategyKind>,
    /// A study's incumbent configuration, to compare against.
    #[arg(long, value_name = "NAME", requires = "space")]
    pub incumbent: Option<String>,
    /// Print the job as one JSON object instead of its id.
    #[arg(long)]
    pub json: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Queue configuration.
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// What `submit --json` prints.
#[derive(Debug, Serialize)]
struct Submitted<'a> {
    id: &'a str,
    kind: &'static str,
    tier: &'a str,
    state: &'static str,
    run_id: &'a str,
    max_attempts: u32,
}

/// Loads the inputs, submits the job and prints its id.
pub async fn execute(args: SubmitArgs) -> Result<Exit> {
    let (cx, tier) = context(&args)?;
    let job: NewJob = match &args.space {
        Some(space) => {
            if !cx.is_internal() {
                bail!(
                    "a study reads agent configurations and costs: it needs an internal context (drop --tenant, or add --internal)"
                );
            }
            let mut study = StudyJob::from_files(&args.benchmark, space)?;
            study.budget_usd = args.budget_usd;
            study.strategy = args.strategy;
            study.incumbent = args.incumbent.clone();
            study.concurrency = args.concurrency;
            study.to_new_job()?
        }
        None => {
            let Some(agents) = &args.agents else {
                bail!("give --agents FILE (a run) or --space FILE (a study)");
            };
            let mut run = RunJob::from_files(&args.benchmark, agents, &args.plugin_dir)?;
            run.epochs = args.epochs;
            run.concurrency = args.concurrency;
            run.budget_usd = args.budget_usd;
            run.to_new_job()?
        }
    };
    let job = NewJob { tier, ..job };
    let queue = args.queue.open(&args.store).await?;
    let job: Job = queue.submit(&cx, job).await?;
    if args.json {
        print_json(&Submitted {
            id: job.id.as_str(),
            kind: job.kind.as_str(),
            tier: &job.tier,
            state: job.state.as_str(),
            run_id: &job.run_id,
            max_attempts: job.max_attempts,
        })?;
    } else {
        println!("{}", job.id);
        eprintln!(
            "queued {} job {} in tier {} (run {}); follow it with: tamma-bench jobs show {}",
            job.kind.as_str(),
            job.id,
            job.tier,
            job.run_id,
            job.id
        );
    }
    Ok(Exit::Success)
}

/// The submitter's context and the job's tier: an external tenant's `--tier` is its
/// context's tier (free or premium), an internal context's names the queue tier.
fn context(args: &SubmitArgs) -> Result<(TenantContext, Option<String>)> {
    let cx = args.store.context();
    if cx.is_internal() {
        return Ok((cx, args.tier.clone()));
    }
    let tier = match args.tier.as_deref() {
        None => return Ok((cx, None)),
        Some(name) => external_tier(name)?,
    };
    let mut cx = cx;
    cx.tier = tier;
    Ok((cx, None))
}

/// An external tenant's tier by name (`free`, `premium`, or the queue tier's name).
fn external_tier(name: &str) -> Result<Tier> {
    use tamma_bench::core::queue::tiers;
    match name {
        "free" | tiers::FREE => Ok(Tier::Free),
        "premium" | tiers::PREMIUM => Ok(Tier::Premium),
        other => bail!(
            "an external tenant's --tier is `free` or `premium` (queue tiers {} and {}), not {other:?}",
            tiers::FREE,
            tiers::PREMIUM,
        ),
    }
}
