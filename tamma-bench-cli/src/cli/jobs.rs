//! `tamma-bench jobs` (the tenant's jobs, once or every second with `--watch`),
//! `tamma-bench jobs show JOB` / `tamma-bench job JOB` (one job with its history) and
//! `tamma-bench cancel JOB`.

use super::queue::QueueArgs;
use super::table::{Align, Table};
use super::{Exit, StoreArgs, print_json};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tamma_bench::core::model::{now_ms, utc_rfc3339};
use tamma_bench::core::queue::{Job, JobEvent, JobFilter, JobId, JobState};

/// Arguments of `jobs`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JobsArgs {
    /// One job.
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
    /// Only jobs in this state (repeatable): queued, running, succeeded, failed,
    /// cancelled.
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: Vec<JobState>,
    /// Print a JSON array of jobs (without their payloads).
    #[arg(long)]
    pub json: bool,
    /// Print the list again every second until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Queue configuration.
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// The `jobs` subcommands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// One job with its history.
    Show(JobArgs),
}

/// Arguments of `jobs show`, `job` and `cancel`.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job's id.
    #[arg(value_name = "JOB", value_parser = parse_job_id)]
    pub job: JobId,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Queue configuration.
    #[command(flatten)]
    pub queue: QueueArgs,
}

fn parse_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s).ok_or_else(|| {
        let names: Vec<&str> = JobState::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown state {s:?}; expected one of {}", names.join(", "))
    })
}

fn parse_job_id(s: &str) -> Result<JobId, String> {
    JobId::new(s).map_err(|e| e.to_string())
}

/// Lists the caller's jobs (or runs `jobs show`).
pub async fn list(args: JobsArgs) -> Result<Exit> {
    if let Some(JobsCommand::Show(job)) = args.command {
        return show(job).await;
    }
    let cx = args.store.context();
    let queue = args.queue.open(&args.store).await?;
    let filter = JobFilter {
        states: args.state.clone(),
        limit: None,
    };
    if !args.watch {
        let jobs = queue.list(&cx, &filter).await?;
        return print_jobs(&jobs, args.json, cx.is_internal()).map(|()| Exit::Success);
    }
    let clear = !args.json && std::io::stdout().is_terminal();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let jobs = queue.list(&cx, &filter).await?;
        if clear {
            write!(std::io::stdout(), "\x1b[2J\x1b[H")?;
        }
        print_jobs(&jobs, args.json, cx.is_internal())?;
        if !clear {
            writeln!(std::io::stdout())?;
        }
        tokio::select! {
            _ = &mut stop => return Ok(Exit::Success),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

fn print_jobs(jobs: &[Job], json: bool, internal: bool) -> Result<()> {
    if json {
        let records: Vec<serde_json::Value> = jobs.iter().map(|j| record(j, internal)).collect();
        return print_json(&records);
    }
    let mut out = std::io::stdout().lock();
    if jobs.is_empty() {
        writeln!(out, "no jobs")?;
        return Ok(out.flush()?);
    }
    let mut table = Table::new(&[
        ("job", Align::Left),
        ("kind", Align::Left),
        ("tier", Align::Left),
        ("state", Align::Left),
        ("attempts", Align::Right),
        ("run", Align::Left),
        ("age", Align::Right),
        ("last error", Align::Left),
    ]);
    let now = now_ms();
    for j in jobs {
        table.row(vec![
            j.id.to_string(),
            j.kind.as_str().to_owned(),
            j.tier.clone(),
            state_label(j),
            format!("{}/{}", j.attempts, j.max_attempts),
            j.run_id.clone(),
            age(now - j.submitted_at_ms),
            j.last_error.as_deref().map(one_line).unwrap_or_default(),
        ]);
    }
    write!(out, "{}", table.render())?;
    Ok(out.flush()?)
}

/// The state, with a pending cancellation shown.
fn state_label(j: &Job) -> String {
    if j.cancel_requested && !j.state.is_terminal() {
        format!("{} (cancelling)", j.state)
    } else {
        j.state.to_string()
    }
}

/// A job as JSON for the listings: its record without the payload, its times also in
/// UTC RFC 3339. An external caller is not shown which worker (host, process) ran it.
fn record(job: &Job, internal: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(job).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("payload");
        if !internal {
            o.remove("worker");
        }
        for (ms, name) in [
            (Some(job.submitted_at_ms), "submitted_at"),
            (job.started_at_ms, "started_at"),
            (job.finished_at_ms, "finished_at"),
        ] {
            if let Some(ms) = ms {
                o.insert(name.to_owned(), utc_rfc3339(ms).into());
            }
        }
    }
    v
}

/// Shows one job with its history.
pub async fn show(args: JobArgs) -> Result<Exit> {
    let cx = args.store.context();
    let queue = args.queue.open(&args.store).await?;
    let Some(job) = queue.get(&cx, &args.job).await? else {
        bail!("no job {} for this tenant", args.job);
    };
    let mut history = queue.history(&cx, &args.job).await?;
    let internal = cx.is_internal();
    if !internal {
        for e in &mut history {
            e.worker = None;
        }
    }
    if args.json {
        let mut v = record(&job, internal);
        if let Some(o) = v.as_object_mut() {
            o.insert("history".into(), serde_json::to_value(&history)?);
        }
        print_json(&v)?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "job        {} ({})", job.id, job.kind.as_str())?;
    writeln!(out, "tier       {} (priority {})", job.tier, job.priority)?;
    writeln!(out, "state      {}", state_label(&job))?;
    writeln!(out, "attempts   {} of {}", job.attempts, job.max_attempts)?;
    writeln!(out, "run        {}", job.run_id)?;
    writeln!(out, "submitted  {}", utc_rfc3339(job.submitted_at_ms))?;
    if let Some(w) = job.worker.as_ref().filter(|_| internal) {
        writeln!(out, "worker     {w}")?;
    }
    if let Some(e) = &job.last_error {
        writeln!(out, "last error {}", one_line(e))?;
    }
    writeln!(out, "history")?;
    write!(out, "{}", history_table(&history).render())?;
    out.flush()?;
    Ok(Exit::Success)
}

fn history_table(history: &[JobEvent]) -> Table {
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("at", Align::Left),
        ("event", Align::Left),
        ("state", Align::Left),
        ("worker", Align::Left),
        ("message", Align::Left),
    ]);
    for e in history {
        table.row(vec![
            e.seq.to_string(),
            utc_rfc3339(e.at_ms),
            e.kind.as_str().to_owned(),
            e.state.to_string(),
            e.worker.clone().unwrap_or_default(),
            e.message.as_deref().map(one_line).unwrap_or_default(),
        ]);
    }
    table
}

/// Cancels a job.
pub async fn cancel(args: JobArgs) -> Result<Exit> {
    let cx = args.store.context();
    let queue = args.queue.open(&args.store).await?;
    let job = queue.cancel(&cx, &args.job).await?;
    if args.json {
        print_json(&record(&job, cx.is_internal()))?;
    } else if job.state == JobState::Cancelled {
        println!("job {}: cancelled", job.id);
    } else {
        println!(
            "job {}: cancellation requested; its worker stops it at the next trial boundary (finished trials are kept)",
            job.id
        );
    }
    Ok(Exit::Success)
}

/// `ms` as a short age: `42s`, `7m`, `3h`, `2d`.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The first line of `text`, at most 80 characters.
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}
