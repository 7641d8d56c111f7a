//! `tamma-bench audit`: verify the tamper-evident audit log; create its signing key.

use super::{Exit, print_json};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use tamma_bench::privacy::audit::{
    AuditSigner, AuditVerifier, Tamper, VERIFIER_KEY_VAR, VerifyReport, verify, verify_chain,
};

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit log and report the first altered, deleted, reordered or truncated
    /// entry (exit status 1 when one is found). Every command that reads or writes runs
    /// appends to this log.
    Verify(VerifyArgs),
    /// Create a checkpoint signing key: the secret goes to --out (mode 600), the verifier
    /// key is printed.
    Keygen(KeygenArgs),
}

/// Arguments of `audit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// SQLite database file.
    #[arg(long, value_name = "PATH", default_value = "tamma-bench.db")]
    pub db: PathBuf,
    /// The database instead of --db: `postgres://ROLE@HOST/DB` or `sqlite:PATH`.
    #[arg(
        long,
        value_name = "URL",
        env = super::DATABASE_VAR,
        conflicts_with = "db",
        value_parser = super::Database::parse,
        hide_env_values = true
    )]
    pub database: Option<super::Database>,
    /// The verifier key (`NAME+HEX8+BASE64`); default: $TAMMA_BENCH_AUDIT_VERIFIER_KEY.
    /// Without one, only the hash chain is checked (not the signed checkpoints, so a
    /// rewritten chain or a truncation goes unnoticed), and a warning says so.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// A signed checkpoint kept outside the database (repeatable): catches truncation even
    /// when the stored checkpoints were removed too.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `audit keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key name, which is also the log's origin (e.g. `bench.example.com/audit`).
    #[arg(long)]
    pub name: String,
    /// Where to write the secret signer key (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Runs `audit`.
pub async fn execute(args: AuditArgs) -> Result<Exit> {
    match args.command {
        AuditCommand::Verify(a) => run_verify(a).await,
        AuditCommand::Keygen(a) => keygen(&a),
    }
}

#[derive(Serialize)]
struct ReportJson {
    intact: bool,
    signatures_checked: bool,
    entries: u64,
    checkpoints: usize,
    signed_size: u64,
    unsigned_entries: u64,
    root: String,
    first_bad_index: Option<u64>,
    problem: Option<String>,
}

fn describe(t: &Tamper) -> (Option<u64>, String) {
    match t {
        Tamper::Entry { index, detail, .. } => (Some(*index), detail.clone()),
        Tamper::Checkpoint { position, detail } => {
            (None, format!("checkpoint #{position}: {detail}"))
        }
    }
}

async fn run_verify(args: VerifyArgs) -> Result<Exit> {
    let key = args
        .key
        .or_else(|| std::env::var(VERIFIER_KEY_VAR).ok())
        .filter(|k| !k.trim().is_empty());
    let verifier = key.as_deref().map(AuditVerifier::parse).transpose()?;
    if verifier.is_none() && !args.checkpoints.is_empty() {
        bail!("--checkpoint needs the verifier key: pass --key or set {VERIFIER_KEY_VAR}");
    }
    let trusted = args
        .checkpoints
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| super::Database::Sqlite(args.db.clone()));
    let store = database.open(false).await?.audit;
    let report: VerifyReport = match &verifier {
        Some(v) => verify(store.as_ref(), v, &trusted).await?,
        None => verify_chain(store.as_ref()).await?,
    };
    if verifier.is_none() {
        eprintln!(
            "warning: no verifier key (--key or {VERIFIER_KEY_VAR}): checked the hash chain \
             only, not the signed checkpoints; a rewritten chain or a truncated log would \
             not be detected"
        );
    }
    let (first_bad_index, problem) = report.tamper.as_ref().map(describe).unzip();
    if args.json {
        print_json(&ReportJson {
            intact: report.is_intact(),
            signatures_checked: verifier.is_some(),
            entries: report.entries,
            checkpoints: report.checkpoints,
            signed_size: report.signed_size,
            unsigned_entries: report.unsigned_entries(),
            root: hex_lower(&report.root),
            first_bad_index: first_bad_index.flatten(),
            problem: problem.clone(),
        })?;
    } else {
        println!(
            "{} entries, {} valid checkpoints, signed through entry {}; root {}",
            report.entries,
            report.checkpoints,
            report.signed_size,
            hex_lower(&report.root)
        );
        if verifier.is_some() && report.unsigned_entries() > 0 {
            println!(
                "warning: the last {} entries are not covered by a checkpoint yet",
                report.unsigned_entries()
            );
        }
    }
    match problem {
        None => Ok(Exit::Success),
        Some(p) => bail!("the audit log was tampered with: {p}"),
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn keygen(args: &KeygenArgs) -> Result<Exit> {
    use std::io::Write as _;
    let signer = AuditSigner::generate(&args.name)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    writeln!(file, "{}", signer.to_secret_string().as_str())?;
    println!("{}", signer.verifier());
    Ok(Exit::Success)
}
