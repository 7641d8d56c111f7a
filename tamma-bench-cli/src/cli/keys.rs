//! `tamma-bench keys`: maintenance of the data stored under the field-encryption keys.

use super::{Exit, StoreArgs, print_json};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tamma_bench::privacy::crypto::DATA_KEYS_VAR;

/// Arguments of `keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Seal every plaintext value of the sealed columns of the tenant's runs (data written
    /// before $TAMMA_BENCH_DATA_KEYS was set) and re-seal values of older keys under the
    /// primary key, each run in one transaction. Internal contexts only; each run is
    /// audited as a write. Values are sealed as found: run it over data you trust.
    Reseal(ResealArgs),
}

/// Arguments of `keys reseal`.
#[derive(Debug, Args)]
pub struct ResealArgs {
    /// The database and the caller (an internal context: the local operator, or
    /// `--tenant ID --internal`).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `keys`.
pub async fn execute(args: KeysArgs) -> Result<Exit> {
    match args.command {
        KeysCommand::Reseal(a) => reseal(a).await,
    }
}

async fn reseal(args: ResealArgs) -> Result<Exit> {
    let Some(icx) = args.store.internal_context() else {
        bail!("keys reseal needs an internal context: pass --internal with --tenant");
    };
    if std::env::var_os(DATA_KEYS_VAR).is_none() {
        bail!("keys reseal needs the data keys: set ${DATA_KEYS_VAR}");
    }
    let repo = args.store.repository().await?;
    let report = repo.reseal(&icx).await.with_context(|| {
        format!(
            "re-sealing the runs of tenant {} in {}",
            icx.context().tenant_id,
            args.store.database().display()
        )
    })?;
    if args.json {
        print_json(&report)?;
    } else {
        println!(
            "{} of {} runs rewritten ({} trials): {} plaintext values sealed, {} re-sealed from older keys; every sealed value is under key {}",
            report.runs_changed,
            report.runs,
            report.trials_changed,
            report.values.sealed,
            report.values.rekeyed,
            report.primary_key
        );
    }
    Ok(Exit::Success)
}
