//! `tamma-bench run`: load the inputs, build the providers, run through the executor with
//! a progress bar and Ctrl-C handling, print the summary.

use super::interrupt::{resume_command, watch_ctrl_c};
use super::progress::{follow, progress_bar};
use super::{Exit, RunRecord, StoreArgs, bounds, print_json, runs, table};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tamma_bench::agents::{build_agents, judge_factory, needs_cache, open_cache_beside};
use tamma_bench::core::executor::{Executor, RunOptions, RunReport, validate_run_id};
use tamma_bench::core::load::{check_agents_against, load_agents, load_benchmark_with};
use tamma_bench::core::model::{RunStatus, RunSummary};
use tamma_bench::core::store::ResponseCache;
use tamma_bench::plugin::host::PluginDirs;
use tamma_bench::plugins::PluginCases;
use tamma_bench::providers::KeySource;
use tokio_util::sync::CancellationToken;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Benchmark manifest (TOML).
    #[arg(value_name = "BENCHMARK")]
    pub benchmark: PathBuf,
    /// Agents file (TOML, `[[agent]]` tables).
    #[arg(long, value_name = "AGENTS")]
    pub agents: PathBuf,
    /// Repetitions of each case per agent, 1 to 10,000 (default: the benchmark's
    /// `epochs`).
    #[arg(long, value_name = "N", value_parser = bounds::epochs, allow_negative_numbers = true)]
    pub epochs: Option<u32>,
    /// Trials in flight at once, over all agents (1 to 65,536).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        value_parser = bounds::concurrency,
        allow_negative_numbers = true,
    )]
    pub concurrency: usize,
    /// Run id: a new one is made when absent; an existing id of this tenant resumes that
    /// run (with the same benchmark and agents files), skipping the trials already stored.
    #[arg(long, value_name = "ID", value_parser = parse_run_id)]
    pub run_id: Option<String>,
    /// Stop scheduling trials when the remaining budget (USD, at the agents' prices) cannot
    /// cover the next one (0 to 1e9).
    #[arg(long, value_name = "USD", value_parser = bounds::usd, allow_negative_numbers = true)]
    pub budget_usd: Option<f64>,
    /// Print the summary as one JSON object on stdout (and no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Folder of plugin libraries: `provider = "plugin:ID"` agents, `source = "plugin:ID"`
    /// benchmarks, `kind = "plugin"` scorers (repeatable; searched before the agents
    /// file's `plugin_dir`).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Vec<PathBuf>,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Run ids are safe in shells, paths and logs (the executor's rule).
fn parse_run_id(s: &str) -> Result<String, String> {
    validate_run_id(s)
        .map(|()| s.to_owned())
        .map_err(|e| e.to_string())
}

/// What `run --json` prints: the run's summary, its stored record, and what this
/// execution did.
#[derive(Debug, Serialize)]
struct RunOutput<'a> {
    #[serde(flatten)]
    summary: &'a RunSummary,
    run: RunRecord<'a>,
    execution: Execution,
}

/// What one execution of `run` did (a resumed run adds to what is stored).
#[derive(Debug, Serialize)]
struct Execution {
    written: u64,
    skipped: u64,
    spent_usd: f64,
}

/// Runs the benchmark and prints its summary.
pub async fn execute(args: RunArgs) -> Result<Exit> {
    let cx = args.store.context();
    let loaded = load_agents(&args.agents)?;
    let plugins = PluginDirs::new(args.plugin_dir.iter().chain(&loaded.plugin_dir).cloned());
    let cases = PluginCases(&plugins);
    let benchmark = load_benchmark_with(&args.benchmark, Some(&cases))?;
    check_agents_against(&loaded, &benchmark)?;
    let opened = args.store.database().open(true).await?;
    // The response cache (only opened when an agent asks for one) lives in the same
    // Postgres database, or in a file beside the SQLite one.
    let cache = if !needs_cache(&loaded.agents) {
        None
    } else if let Some(pg) = &opened.postgres {
        Some(Arc::new(pg.response_cache(cx.tenant_id.clone())) as Arc<dyn ResponseCache>)
    } else {
        Some(open_cache_beside(&args.store.db).with_context(|| {
            format!(
                "cannot open the response cache beside {}",
                args.store.db.display()
            )
        })?)
    };
    // The CLI reads keys from its own environment: the operator's machine, the operator's
    // keys.
    let built = build_agents(&loaded, cache, &plugins, &KeySource::ProcessEnv)?;
    // The executor writes through the repository: authorized, audited, secrets redacted
    // and sensitive fields sealed at write.
    let repo = super::repository_over(opened.store, opened.audit)?;
    let executor = Executor::new(Arc::new(repo.store_for(&cx)));

    let bar = progress_bar(!args.json && std::io::stderr().is_terminal());
    let progress = tokio::spawn(follow(executor.subscribe(), bar.clone()));
    let (cancel, finished) = (CancellationToken::new(), CancellationToken::new());
    tokio::spawn(watch_ctrl_c(cancel.clone(), finished.clone(), bar.clone()));
    let options = RunOptions {
        run_id: args.run_id.clone(),
        epochs: args.epochs,
        concurrency: args.concurrency,
        budget_usd: args.budget_usd,
        cancel,
        // Retries: an agent's own `[agent.layers.retry]`, else the executor's default
        // (`RunOptions::retry`); never both.
        // Judges of model-graded scorers: any built-in provider kind or plugin; their
        // relative paths (a judge's recording) resolve against the benchmark's folder.
        // Scorer plugins come from the same plugin directories.
        providers: Some(judge_factory(
            args.benchmark.parent().unwrap_or(Path::new("")),
            &plugins,
            KeySource::ProcessEnv,
        )),
        ..RunOptions::default()
    };
    let result = executor
        .run(&cx, &benchmark, built.runtimes.clone(), options)
        .await;
    if let Ok(report) = &result {
        // The adaptive-concurrency history belongs with the run (internal data).
        built
            .store_adaptive_history(executor.store().as_ref(), &cx.tenant_id, &report.run.id)
            .await?;
    }
    finished.cancel();
    drop(executor); // closes the event channel, which ends `follow`
    let _ = progress.await;
    bar.finish_and_clear();
    let report = result?;

    if args.json {
        print_json(&RunOutput {
            summary: &report.summary,
            run: RunRecord::new(&report.run),
            execution: Execution {
                written: report.written,
                skipped: report.skipped,
                spent_usd: report.spent_usd,
            },
        })?;
    } else {
        print_report(&report)?;
    }
    let id = &report.run.id;
    match report.run.status {
        RunStatus::Completed => Ok(Exit::Success),
        RunStatus::Interrupted => {
            eprintln!(
                "run {id} was interrupted; its finished trials are saved. Resume it with:\n  {}",
                resume_command(id)
            );
            Ok(Exit::Interrupted)
        }
        RunStatus::BudgetExhausted => {
            eprintln!(
                "run {id} stopped: the budget is exhausted. Resume it with a larger --budget-usd:\n  {}",
                resume_command(id)
            );
            Ok(Exit::BudgetExhausted)
        }
        other => bail!("run {id} ended with status {}", other.as_str()),
    }
}

fn print_report(report: &RunReport) -> Result<()> {
    let mut out = std::io::stdout().lock();
    runs::write_header(&mut out, &report.run)?;
    writeln!(
        out,
        "this time  {} trials written, {} already stored, ${:.6} spent\n",
        report.written, report.skipped, report.spent_usd
    )?;
    write!(out, "{}", table::summary_table(&report.summary).render())?;
    out.flush()?;
    Ok(())
}
