//! `tamma-bench report`: one self-contained HTML file with the leaderboard, per-tag
//! scores, paired comparisons, score versus cost and latency of one or more runs.

use super::export::PendingFile;
use super::{Exit, StoreArgs};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use tamma_bench::report::{collect, render};

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The runs to show, side by side.
    #[arg(value_name = "RUN_ID", required = true)]
    pub run_ids: Vec<String>,
    /// The HTML file to write (replaced only once complete).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Writes the report of runs the caller may read, through the tenant-aware repository:
/// the whole report for an internal context; for an external tenant its own and public
/// runs without internal fields (no cost, tokens or Pareto front).
pub async fn execute(args: ReportArgs) -> Result<Exit> {
    let cx = args.store.context();
    let repo = args.store.repository().await?;
    let data = collect(&repo, &cx, &args.run_ids).await?;
    let html = render(&data);
    let (pending, mut file) = PendingFile::create(&args.out)?;
    file.write_all(html.as_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    pending.commit(file)?;
    let runs = if data.runs.len() == 1 { "run" } else { "runs" };
    eprintln!(
        "wrote {}: {} results from {} {runs}",
        args.out.display(),
        data.results.len(),
        data.runs.len()
    );
    Ok(Exit::Success)
}
