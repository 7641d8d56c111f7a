//! `tamma-bench runs` (list a tenant's runs) and `tamma-bench show` (one run's metadata
//! and summary).

use super::table::{Align, Table, summary_table};
use super::{Exit, RunRecord, StoreArgs, print_json};
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::io::Write;
use tamma_bench::core::model::{Run, RunSummary};
use tamma_bench::privacy::{PublicResult, RunView};

/// Arguments of `runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Print a JSON array of runs on stdout.
    #[arg(long)]
    pub json: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run.
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Print one JSON object on stdout: the summary (as `run --json`) and the run's record.
    #[arg(long)]
    pub json: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `show --json` prints.
#[derive(Debug, Serialize)]
struct ShowOutput<'a> {
    #[serde(flatten)]
    summary: &'a RunSummary,
    run: RunRecord<'a>,
}

/// Lists the tenant's runs, newest first: whole records for an internal context, the
/// public fields of its own and public runs for an external tenant.
pub async fn list(args: RunsArgs) -> Result<Exit> {
    let cx = args.store.context();
    let repo = args.store.repository().await?;
    let Some(icx) = args.store.internal_context() else {
        return list_external(&repo.runs(&cx).await?, args.json);
    };
    let runs = repo.internal_runs(&icx).await?;
    if args.json {
        print_json(&runs.iter().map(RunRecord::new).collect::<Vec<_>>())?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        writeln!(out, "no runs yet for tenant {}", cx.tenant_id)?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new(&[
        ("run", Align::Left),
        ("benchmark", Align::Left),
        ("status", Align::Left),
        ("agents", Align::Left),
        ("created (UTC)", Align::Left),
        ("epochs", Align::Right),
        ("cases", Align::Right),
    ]);
    for run in &runs {
        table.row(vec![
            run.id.clone(),
            format!("{}@{}", run.benchmark_id, run.benchmark_version),
            run.status.as_str().to_owned(),
            agent_names(run),
            tamma_bench::core::model::utc_rfc3339(run.created_at_ms),
            run.epochs.to_string(),
            run.n_cases.to_string(),
        ]);
    }
    write!(out, "{}", table.render())?;
    out.flush()?;
    Ok(Exit::Success)
}

/// Shows one run: the whole record and summary for an internal context, the public
/// results for an external tenant.
pub async fn show(args: ShowArgs) -> Result<Exit> {
    let cx = args.store.context();
    let repo = args.store.repository().await?;
    let Some(icx) = args.store.internal_context() else {
        let run = repo.run(&cx, &args.run_id).await?;
        let results = repo.results(&cx, &args.run_id).await?;
        return show_external(&run, &results, args.json);
    };
    let (run, summary) = repo.internal_summary(&icx, &args.run_id).await?;
    if args.json {
        print_json(&ShowOutput {
            summary: &summary,
            run: RunRecord::new(&run),
        })?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    write_header(&mut out, &run)?;
    writeln!(out)?;
    write!(out, "{}", summary_table(&summary).render())?;
    out.flush()?;
    Ok(Exit::Success)
}

/// The run's id, benchmark, status and times, one a line.
pub(super) fn write_header(out: &mut impl Write, run: &Run) -> std::io::Result<()> {
    let epochs = if run.epochs == 1 { "epoch" } else { "epochs" };
    writeln!(out, "run        {}", run.id)?;
    writeln!(
        out,
        "benchmark  {}@{} ({} cases, {} {epochs})",
        run.benchmark_id, run.benchmark_version, run.n_cases, run.epochs
    )?;
    writeln!(out, "status     {}", run.status.as_str())?;
    writeln!(
        out,
        "created    {}",
        tamma_bench::core::model::utc_rfc3339(run.created_at_ms)
    )?;
    writeln!(
        out,
        "updated    {}",
        tamma_bench::core::model::utc_rfc3339(run.updated_at_ms)
    )
}

fn agent_names(run: &Run) -> String {
    run.agents
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `runs` for an external tenant: the public fields of its own and public runs.
fn list_external(runs: &[RunView], json: bool) -> Result<Exit> {
    if json {
        print_json(&runs)?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        writeln!(out, "no runs visible to this tenant")?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new(&[
        ("run", Align::Left),
        ("benchmark", Align::Left),
        ("status", Align::Left),
        ("owner", Align::Left),
        ("agents", Align::Left),
        ("created (UTC)", Align::Left),
    ]);
    for run in runs {
        table.row(vec![
            run.id.clone(),
            format!("{}@{}", run.benchmark_id, run.benchmark_version),
            run.status.as_str().to_owned(),
            if run.own { "you" } else { "public" }.to_owned(),
            run.agents
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            run.created_at.clone(),
        ]);
    }
    write!(out, "{}", table.render())?;
    out.flush()?;
    Ok(Exit::Success)
}

/// What `show --json` prints for an external tenant.
#[derive(Debug, Serialize)]
struct PublicShowOutput<'a> {
    run: &'a RunView,
    results: &'a [PublicResult],
}

/// `show` for an external tenant: the run's public fields and public results.
fn show_external(run: &RunView, results: &[PublicResult], json: bool) -> Result<Exit> {
    if json {
        print_json(&PublicShowOutput { run, results })?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "run        {}", run.id)?;
    writeln!(
        out,
        "benchmark  {}@{} ({} cases, {} epochs)",
        run.benchmark_id, run.benchmark_version, run.n_cases, run.epochs
    )?;
    writeln!(out, "status     {}", run.status.as_str())?;
    writeln!(out, "updated    {}\n", run.updated_at)?;
    let mut table = Table::new(&[
        ("agent", Align::Left),
        ("model", Align::Left),
        ("score", Align::Right),
        ("95% CI", Align::Right),
        ("n", Align::Right),
    ]);
    for r in results {
        table.row(vec![
            r.agent.clone(),
            format!("{}/{}", r.provider, r.model),
            format!("{:.1}%", 100.0 * r.score.mean),
            format!(
                "[{:.1}, {:.1}]",
                100.0 * r.score.ci_low,
                100.0 * r.score.ci_high
            ),
            r.score.n.to_string(),
        ]);
    }
    write!(out, "{}", table.render())?;
    out.flush()?;
    Ok(Exit::Success)
}
