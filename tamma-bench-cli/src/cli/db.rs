//! `tamma-bench db migrate`: create or upgrade a Postgres database's schema, as its owner,
//! and grant the application role what the workers need.

use super::{Exit, print_json};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

/// Arguments of `db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
}

/// The `db` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the pending migrations of a Postgres database, connected as the owner of its
    /// schema, and grant the application role exactly what the workers need (row-level
    /// security binds it: it must not be a superuser, BYPASSRLS, or the owner).
    /// `docs/deployment.md` tells how to create the roles.
    Migrate(MigrateArgs),
}

/// Arguments of `db migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database as its owner: `postgres://OWNER@HOST/DB`.
    #[arg(long, value_name = "URL")]
    pub owner: String,
    /// The application role the workers connect as.
    #[arg(long, value_name = "ROLE")]
    pub app_role: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct MigrateJson {
    version: i32,
    applied: Vec<i32>,
}

/// Runs `db`.
pub async fn execute(args: DbArgs) -> Result<Exit> {
    match args.command {
        DbCommand::Migrate(a) => migrate(a).await,
    }
}

async fn migrate(args: MigrateArgs) -> Result<Exit> {
    let owner: tamma_bench::postgres::Config = args
        .owner
        .parse()
        .context("--owner is not a Postgres connection string")?;
    let report = tamma_bench::postgres::migrate(&owner, &args.app_role)
        .await
        .context("migrating the database")?;
    if args.json {
        print_json(&MigrateJson {
            version: report.version,
            applied: report.applied.clone(),
        })?;
    } else if report.applied.is_empty() {
        println!(
            "schema at version {}: nothing to apply; grants for {} renewed",
            report.version, args.app_role
        );
    } else {
        println!(
            "schema at version {} (applied {:?}); grants for {} renewed",
            report.version, report.applied, args.app_role
        );
    }
    Ok(Exit::Success)
}
