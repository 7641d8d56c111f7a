//! The `tamma-bench` command line: argument parsing, the options every command shares, and
//! one module per command. Each command builds from the library crates and prints; no
//! domain logic lives here.

mod audit;
mod bounds;
mod bridge;
mod compare;
mod db;
mod events;
mod export;
mod flags;
mod interrupt;
mod jobs;
mod keys;
mod optimize;
mod plan;
mod plugin;
mod progress;
mod queue;
mod report;
mod run;
mod runs;
mod schema;
mod serve;
mod submit;
mod table;
mod worker;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tamma_bench::core::model::{Run, TenantContext, TenantId, Tier};
use tamma_bench::core::store::{AuditStore, ResultStore};
use tamma_bench::privacy::audit::AuditLog;
use tamma_bench::privacy::{InternalContext, Repository};

/// The exit statuses, shown in `--help`.
const EXIT_CODES: &str = "\
Exit status:
  0    success (for `run`: the run completed)
  1    error: invalid input file, store failure, unknown run, ...
  2    invalid command line
  3    `run` was interrupted by Ctrl-C; resume with the same command and --run-id ID
  4    `run` stopped because the budget was exhausted; resume with --run-id ID and a larger
       --budget-usd
  130  a second Ctrl-C stopped `run` at once (trials in flight are lost), or a second
       Ctrl-C / SIGTERM stopped `worker` at once (its jobs resume elsewhere after their lease)

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=info) to see more than warnings.";

/// Benchmark LLM agents with honest statistics.
#[derive(Debug, Parser)]
#[command(name = "tamma-bench", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run (or resume) a benchmark with a set of agents and print the summary.
    #[command(after_help = EXIT_CODES)]
    Run(run::RunArgs),
    /// List the runs of the tenant, newest first.
    Runs(runs::RunsArgs),
    /// Show a run's metadata and summary.
    Show(runs::ShowArgs),
    /// Export a run's trials as JSON lines or CSV.
    Export(export::ExportArgs),
    /// Print the JSON Schema of an input file.
    Schema(schema::SchemaArgs),
    /// Compare two results (`RUN_ID` or `RUN_ID/AGENT`) case by case: difference, interval,
    /// test, verdict, and per tag with Holm / Benjamini-Hochberg corrections.
    Compare(compare::CompareArgs),
    /// Plan: cases needed to detect an effect, or the effect n cases detect.
    Plan(plan::PlanArgs),
    /// Write a self-contained HTML report of runs: leaderboard, per-tag scores, paired
    /// comparison, score versus cost with its Pareto front, latency.
    Report(report::ReportArgs),
    /// Find the best configuration of a search space on a benchmark within a budget, with
    /// an ε-best guarantee (racing / best-arm identification; each round is a stored run).
    Optimize(optimize::OptimizeArgs),
    /// Check the tamper-evident audit log (`audit verify`), or create its signing key.
    Audit(audit::AuditArgs),
    /// Maintain data under the field-encryption keys: `keys reseal` seals legacy
    /// plaintext and moves values of older keys onto the primary key.
    Keys(keys::KeysArgs),
    /// Inspect a plugin library: check that it fits this host and print its manifest.
    Plugin(plugin::PluginArgs),
    /// Maintain a Postgres database: `db migrate` creates or upgrades its schema as the
    /// owner and grants the application role what it needs.
    Db(db::DbArgs),
    /// Print the event log as the tenant sees it (its own events and public ones;
    /// internal ones only with --internal), or follow it with --follow.
    Events(events::EventsArgs),
    /// Publish the event log to NATS JetStream for the deployment's services (stream per
    /// deployment, subject per event type, de-duplicated by event id).
    Bridge(bridge::BridgeArgs),
    /// Queue a benchmark run (or, with --space, an optimization study) for the workers;
    /// prints the job's id.
    Submit(submit::SubmitArgs),
    /// Run queued jobs until Ctrl-C or SIGTERM, then drain: jobs in flight stop at a
    /// trial boundary and go back to the queue, and the next worker resumes them.
    Worker(worker::WorkerArgs),
    /// Serve the public and internal HTTP APIs (and, on SQLite, run queued jobs in the
    /// same process) until Ctrl-C or SIGTERM (docs/api.md).
    Serve(serve::ServeArgs),
    /// List the tenant's jobs (id, tier, state, attempts, run, age, last error);
    /// `jobs show JOB` prints one with its history.
    Jobs(jobs::JobsArgs),
    /// Show one job with its history (as `jobs show JOB`).
    Job(jobs::JobArgs),
    /// Cancel a job: a queued one at once, a running one at its next trial boundary.
    Cancel(jobs::JobArgs),
    /// Show how each feature flag of a configuration evaluates for a tenant and a user,
    /// and why.
    Flags(flags::FlagsArgs),
}

/// Where results are stored and who is asking: shared by every command that reads or
/// writes runs.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// SQLite database file.
    #[arg(long, value_name = "PATH", default_value = "tamma-bench.db")]
    pub db: PathBuf,
    /// The database instead of --db: `postgres://ROLE@HOST/DB` (the application role of
    /// a migrated Postgres database: see `tamma-bench db migrate`), or `sqlite:PATH`.
    #[arg(
        long,
        value_name = "URL",
        env = DATABASE_VAR,
        conflicts_with = "db",
        value_parser = Database::parse,
        hide_env_values = true
    )]
    pub database: Option<Database>,
    /// Act as tenant ID (1-128 characters of [A-Za-z0-9._:-]), an external tenant on the
    /// free tier unless --internal is given; default: the local operator.
    #[arg(long, value_name = "ID", value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    /// Act in an internal context (of --tenant, or of the local operator): internal fields
    /// (agent configuration, cost, raw outputs) are shown.
    #[arg(long)]
    pub internal: bool,
}

pub use tamma_bench::database::{DATABASE_VAR, Database, Opened};

impl StoreArgs {
    /// The caller's context: `--tenant ID` alone is that external tenant (free tier);
    /// `--internal` is an internal context (of `--tenant` or the local tenant); neither is
    /// the local operator's internal context.
    pub fn context(&self) -> TenantContext {
        match (&self.tenant, self.internal) {
            (None, _) => TenantContext::local_operator(),
            (Some(id), true) => TenantContext::internal(id.clone(), "operator"),
            (Some(id), false) => TenantContext::external(id.clone(), Tier::Free, "cli"),
        }
    }

    /// The caller's context as an internal one, when it is internal.
    pub fn internal_context(&self) -> Option<InternalContext> {
        InternalContext::new(self.context()).ok()
    }

    /// The database: `--database` (or `$TAMMA_BENCH_DATABASE`), else the `--db` file.
    pub fn database(&self) -> Database {
        self.database
            .clone()
            .unwrap_or_else(|| Database::Sqlite(self.db.clone()))
    }

    /// The tenant-aware repository over the store (which must exist).
    pub async fn repository(&self) -> Result<Repository> {
        self.repository_at(false).await
    }

    /// The tenant-aware repository over the store, creating an SQLite database when
    /// `create` is set. Every access is appended to the tamper-evident audit log in the
    /// same database, its checkpoints signed with `$TAMMA_BENCH_AUDIT_SIGNING_KEY` when set
    /// (else unsigned: chained entries, no checkpoints); sensitive and restricted fields
    /// are sealed with the keyset of `$TAMMA_BENCH_DATA_KEYS` when set, plaintext in
    /// sealed columns refused unless `$TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT=1`. A set but
    /// unusable key is an error, never a silent fallback.
    pub async fn repository_at(&self, create: bool) -> Result<Repository> {
        let opened = self.database().open(create).await?;
        repository_over(opened.store, opened.audit)
    }
}

/// The audit log over `audit`, its checkpoints signed with the key of the environment
/// when one is set.
pub fn audit_log(audit: Arc<dyn AuditStore>) -> Result<Arc<AuditLog>> {
    Ok(tamma_bench::database::audit_log(audit)?)
}

/// The repository over `store`, audited into `audit`, with the keys of the environment.
pub fn repository_over(
    store: Arc<dyn ResultStore>,
    audit: Arc<dyn AuditStore>,
) -> Result<Repository> {
    Ok(tamma_bench::database::repository_over(store, audit)?)
}

fn parse_tenant(s: &str) -> Result<TenantId, String> {
    TenantId::new(s).map_err(|e| e.to_string())
}

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done (for `run`: the run completed).
    Success,
    /// The run was interrupted by Ctrl-C.
    Interrupted,
    /// The run stopped because the budget was exhausted.
    BudgetExhausted,
}

impl Exit {
    /// The process exit status (see [`EXIT_CODES`]).
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Interrupted => 3,
            Self::BudgetExhausted => 4,
        }
    }
}

/// The exit status of a command that failed.
pub const EXIT_ERROR: u8 = 1;

/// Runs the command.
pub async fn dispatch(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Run(args) => run::execute(args).await,
        Command::Runs(args) => runs::list(args).await,
        Command::Show(args) => runs::show(args).await,
        Command::Export(args) => export::execute(args).await,
        Command::Schema(args) => schema::execute(&args),
        Command::Compare(args) => compare::execute(args).await,
        Command::Plan(args) => plan::execute(&args),
        Command::Report(args) => report::execute(args).await,
        Command::Optimize(args) => optimize::execute(args).await,
        Command::Audit(args) => audit::execute(args).await,
        Command::Keys(args) => keys::execute(args).await,
        Command::Plugin(args) => plugin::execute(&args),
        Command::Db(args) => db::execute(args).await,
        Command::Events(args) => events::execute(args).await,
        Command::Bridge(args) => bridge::execute(args).await,
        Command::Submit(args) => submit::execute(args).await,
        Command::Worker(args) => worker::execute(args).await,
        Command::Serve(args) => serve::execute(args).await,
        Command::Jobs(args) => jobs::list(args).await,
        Command::Job(args) => jobs::show(args).await,
        Command::Cancel(args) => jobs::cancel(args).await,
        Command::Flags(args) => flags::execute(&args),
    }
}

/// Whether `error` is a write to a closed pipe (`tamma-bench export ... | head`): the
/// reader has what it wanted, so this is not worth an error message.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    error.chain().any(|e| {
        // serde_json and csv do not expose their I/O errors as `source()`.
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
            || e.downcast_ref::<csv::Error>().is_some_and(
                |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

/// Prints `value` as one pretty-printed JSON document on stdout.
fn print_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A run's stored record with its times also in UTC RFC 3339 (`created_at`, `updated_at`).
#[derive(Debug, Serialize)]
struct RunRecord<'a> {
    #[serde(flatten)]
    run: &'a Run,
    created_at: String,
    updated_at: String,
}

impl<'a> RunRecord<'a> {
    fn new(run: &'a Run) -> Self {
        Self {
            run,
            created_at: tamma_bench::core::model::utc_rfc3339(run.created_at_ms),
            updated_at: tamma_bench::core::model::utc_rfc3339(run.updated_at_ms),
        }
    }
}
