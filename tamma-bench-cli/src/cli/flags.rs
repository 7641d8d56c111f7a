//! `tamma-bench flags`: how each feature flag of a deployment's configuration evaluates
//! for a tenant and a user, and why.

use super::table::{Align, Table};
use super::{Exit, parse_tenant, print_json};
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use tamma_bench::core::config::Config;
use tamma_bench::core::flags::{Reason, Subject};
use tamma_bench::core::model::TenantId;

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_VAR: &str = "TAMMA_BENCH_CONFIG";

/// Arguments of `flags`.
#[derive(Debug, Args)]
pub struct FlagsArgs {
    /// The configuration file (TOML; see docs/configuration.md). Without it: the defaults
    /// and the TAMMA_BENCH__SECTION__KEY variables alone.
    #[arg(long, value_name = "FILE", env = CONFIG_VAR)]
    pub config: Option<PathBuf>,
    /// Evaluate for this tenant (its allow and deny lists).
    #[arg(long, value_name = "ID", value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    /// Evaluate for this user (user lists and the percentage rollout).
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One flag's evaluation, as printed.
#[derive(Debug, Serialize)]
struct FlagRow<'a> {
    name: &'a str,
    /// The evaluation for the subject.
    enabled: bool,
    reason: Reason,
    /// The definition.
    switch: bool,
    percentage: f64,
    description: &'a str,
    owner: Option<&'a str>,
    created: Option<&'a str>,
}

/// The whole answer, as printed with `--json`.
#[derive(Debug, Serialize)]
struct FlagsReport<'a> {
    config: Option<String>,
    digest: String,
    environment: &'static str,
    tenant: Option<&'a str>,
    user: Option<&'a str>,
    flags: Vec<FlagRow<'a>>,
}

/// Runs `flags`.
pub fn execute(args: &FlagsArgs) -> Result<Exit> {
    let env = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    let config = match &args.config {
        Some(path) => Config::load(path, env)?,
        None => Config::from_env(env)?,
    };
    let flags = config.flag_set()?;
    let subject = Subject::new(
        args.tenant.as_ref().map(TenantId::as_str),
        args.user.as_deref(),
    );
    let rows: Vec<FlagRow<'_>> = flags
        .evaluate_all(&subject)
        .into_iter()
        .map(|(d, e)| FlagRow {
            name: &d.name,
            enabled: e.enabled,
            reason: e.reason,
            switch: d.enabled,
            percentage: d.percentage,
            description: &d.description,
            owner: d.owner.as_deref(),
            created: d.created.as_deref(),
        })
        .collect();
    let report = FlagsReport {
        config: args.config.as_ref().map(|p| p.display().to_string()),
        digest: config.digest(),
        environment: config.environment.as_str(),
        tenant: subject.tenant,
        user: subject.user,
        flags: rows,
    };
    if args.json {
        print_json(&report)?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new(&[
        ("FLAG", Align::Left),
        ("ON", Align::Left),
        ("REASON", Align::Left),
        ("ROLLOUT", Align::Right),
        ("OWNER", Align::Left),
        ("DESCRIPTION", Align::Left),
    ]);
    for r in &report.flags {
        table.row(vec![
            r.name.to_owned(),
            if r.enabled { "yes" } else { "no" }.to_owned(),
            r.reason.to_string(),
            format!("{}%", r.percentage),
            r.owner.unwrap_or("-").to_owned(),
            r.description.to_owned(),
        ]);
    }
    let mut out = std::io::stdout().lock();
    if report.flags.is_empty() {
        writeln!(out, "no flags defined")?;
    } else {
        write!(out, "{}", table.render())?;
    }
    out.flush()?;
    eprintln!(
        "{} flag(s) from {} (environment {}, digest {}) for tenant {}, user {}",
        report.flags.len(),
        report
            .config
            .as_deref()
            .unwrap_or("the defaults and environment"),
        report.environment,
        &report.digest[..12],
        report.tenant.unwrap_or("-"),
        report.user.unwrap_or("-"),
    );
    Ok(Exit::Success)
}
