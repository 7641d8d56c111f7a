//! `tamma-bench plan`: how many cases detect an effect, or what effect n cases detect.

use super::{Exit, bounds, print_json};
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use tamma_bench::core::stats::PowerPlan;

/// Arguments of `plan`. Give `--effect` to get `n`, or `--cases` to get the effect.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The minimum difference to detect, in points (3 = 3 percentage points), 0.01 to 100.
    #[arg(
        long,
        value_name = "POINTS",
        required_unless_present = "cases",
        value_parser = bounds::effect_points,
        allow_negative_numbers = true,
    )]
    pub effect: Option<f64>,
    /// Instead: the number of cases available (1 to 1e9); prints the detectable effect.
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "effect",
        value_parser = bounds::cases,
        allow_negative_numbers = true,
    )]
    pub cases: Option<u64>,
    /// Desired power, in (0, 1).
    #[arg(
        long,
        default_value_t = 0.8,
        value_parser = bounds::open_probability,
        allow_negative_numbers = true,
    )]
    pub power: f64,
    /// Two-sided significance level, in (0, 1).
    #[arg(
        long,
        default_value_t = 0.05,
        value_parser = bounds::open_probability,
        allow_negative_numbers = true,
    )]
    pub alpha: f64,
    /// Baseline pass rate of pass/fail scores, in [0, 1] (variance p(1 − p) for both
    /// agents).
    #[arg(
        long,
        value_name = "P",
        conflicts_with = "variance",
        value_parser = bounds::pass_rate,
        allow_negative_numbers = true,
    )]
    pub baseline: Option<f64>,
    /// Instead of --baseline: the variance of a case's score (same for both agents), in
    /// (0, 0.25] (scores lie in [0, 1]).
    #[arg(
        long,
        value_name = "VAR",
        value_parser = bounds::score_variance,
        allow_negative_numbers = true,
    )]
    pub variance: Option<f64>,
    /// Correlation of the two agents' scores on the same case (0 for unpaired designs), in
    /// [-1, 1].
    #[arg(
        long,
        default_value_t = 0.5,
        value_parser = bounds::correlation,
        allow_negative_numbers = true,
    )]
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
    // Each number is in its range already (`bounds`); what is left is which were given.
    let variance = match (args.baseline, args.variance) {
        (Some(p), None) => p * (1.0 - p),
        (None, Some(v)) => v,
        (None, None) => 0.25,
        (Some(_), Some(_)) => bail!("give --baseline or --variance, not both"),
    };
    let plan = PowerPlan {
        alpha: args.alpha,
        power: args.power,
        variance_a: variance,
        variance_b: variance,
        correlation: args.correlation,
    };
    let (n, effect) = match (args.effect, args.cases) {
        (Some(points), _) => (plan.cases_needed(points / 100.0), points),
        (None, Some(n)) => (n, 100.0 * plan.detectable_effect(n)),
        (None, None) => bail!("give --effect or --cases"),
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
