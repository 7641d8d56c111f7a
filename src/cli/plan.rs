//! `tamma-bench plan`: how many cases detect an effect, or what effect n cases detect.

use super::{Exit, print_json};
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use tamma_bench::core::stats::PowerPlan;

/// Arguments of `plan`. Give `--effect` to get `n`, or `--cases` to get the effect.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The minimum difference to detect, in points (3 = 3 percentage points).
    #[arg(long, value_name = "POINTS", required_unless_present = "cases")]
    pub effect: Option<f64>,
    /// Instead: the number of cases available; prints the detectable effect.
    #[arg(long, value_name = "N", conflicts_with = "effect")]
    pub cases: Option<u64>,
    /// Desired power.
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    /// Two-sided significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Baseline pass rate of pass/fail scores (variance p(1 − p) for both agents).
    #[arg(long, value_name = "P", conflicts_with = "variance")]
    pub baseline: Option<f64>,
    /// Instead of --baseline: the variance of a case's score (same for both agents).
    #[arg(long, value_name = "VAR")]
    pub variance: Option<f64>,
    /// Correlation of the two agents' scores on the same case (0 for unpaired designs).
    #[arg(long, default_value_t = 0.5)]
    pub correlation: f64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct PlanOutput {
    n: u64,
    effect_points: f64,
    power: f64,
    alpha: f64,
    variance: f64,
    correlation: f64,
    method: &'static str,
}

/// Plans and prints.
pub fn execute(args: &PlanArgs) -> Result<Exit> {
    let variance = match (args.baseline, args.variance) {
        (Some(p), None) if (0.0..=1.0).contains(&p) => p * (1.0 - p),
        (None, Some(v)) if v > 0.0 => v,
        (None, None) => 0.25,
        _ => bail!("--baseline must be in [0, 1] and --variance > 0"),
    };
    let in_unit = |x: f64| 0.0 < x && x < 1.0;
    if !(in_unit(args.power) && in_unit(args.alpha) && (-1.0..=1.0).contains(&args.correlation)) {
        bail!("--power and --alpha must be in (0, 1), --correlation in [-1, 1]");
    }
    let plan = PowerPlan {
        alpha: args.alpha,
        power: args.power,
        variance_a: variance,
        variance_b: variance,
        correlation: args.correlation,
    };
    let (n, effect) = match (args.effect, args.cases) {
        (Some(points), _) if points > 0.0 => (plan.cases_needed(points / 100.0), points),
        (None, Some(n)) if n > 0 => (n, 100.0 * plan.detectable_effect(n)),
        _ => bail!("--effect must be > 0 points, or --cases > 0"),
    };
    let out = PlanOutput {
        n,
        effect_points: effect,
        power: args.power,
        alpha: args.alpha,
        variance,
        correlation: args.correlation,
        method: "n = (z_{1-alpha/2} + z_{power})^2 * (2 var (1 - correlation)) / effect^2 (Miller 2024, sec. 5)",
    };
    if args.json {
        print_json(&out)?;
    } else {
        println!(
            "{n} cases detect a difference of {effect:.2} points with {:.0}% power at alpha {} \
             (score variance {variance:.4}, correlation {})",
            100.0 * args.power,
            args.alpha,
            args.correlation
        );
    }
    Ok(Exit::Success)
}
