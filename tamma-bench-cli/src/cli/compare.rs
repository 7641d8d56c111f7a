//! `tamma-bench compare A B`: the paired comparison of two results over their shared
//! cases, overall and per tag.

use super::table::{Align, Table};
use super::{Exit, StoreArgs, bounds, print_json};
use anyhow::Result;
use clap::Args;
use std::io::Write;
use tamma_bench::core::compare::{Comparison, ResultRef};
use tamma_bench::core::stats::{CompareOptions, PairedComparison};

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A: `RUN_ID` (a run with one agent) or `RUN_ID/AGENT`.
    pub a: String,
    /// B: `RUN_ID` or `RUN_ID/AGENT`.
    pub b: String,
    /// Significance level of the test, in (0, 1) (the interval is at 1 − alpha).
    #[arg(
        long,
        default_value_t = 0.05,
        value_parser = bounds::open_probability,
        allow_negative_numbers = true,
    )]
    pub alpha: f64,
    /// Half-width of the practical-equivalence band, in points (1 = ±1 percentage point),
    /// 0 to 100.
    #[arg(
        long,
        value_name = "POINTS",
        default_value_t = 1.0,
        value_parser = bounds::band_points,
        allow_negative_numbers = true,
    )]
    pub band: f64,
    /// Use a paired bootstrap with this many resamples (1 to 1,000,000) instead of the t
    /// interval and test.
    #[arg(long, value_name = "N", value_parser = bounds::resamples, allow_negative_numbers = true)]
    pub bootstrap: Option<u32>,
    /// Seed of the bootstrap (any 64-bit unsigned number).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Compares and prints.
pub async fn execute(args: CompareArgs) -> Result<Exit> {
    let repo = args.store.repository().await?;
    let cx = args.store.context();
    let options = CompareOptions {
        alpha: args.alpha,
        equivalence_band: args.band / 100.0,
        bootstrap: args.bootstrap,
        seed: args.seed,
    };
    let c = repo
        .compare(
            &cx,
            &ResultRef::parse(&args.a),
            &ResultRef::parse(&args.b),
            &options,
        )
        .await?;
    if args.json {
        print_json(&c)?;
    } else {
        print_table(&c)?;
    }
    Ok(Exit::Success)
}

fn points(x: f64) -> String {
    format!("{:+.1}", 100.0 * x)
}

fn row(label: &str, c: &PairedComparison, adjusted: Option<(f64, f64)>) -> Vec<String> {
    let mut r = vec![
        label.to_owned(),
        c.n_pairs.to_string(),
        points(c.mean_diff),
        format!("[{}, {}]", points(c.ci_low), points(c.ci_high)),
        c.test.name.clone(),
        format!("{:.4}", c.test.p_value),
    ];
    r.push(adjusted.map_or_else(|| "-".into(), |(h, b)| format!("{h:.4} / {b:.4}")));
    r.push(format!("{:?}", c.verdict).to_lowercase());
    r
}

fn print_table(c: &Comparison) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "A  {}  mean {:.1}%", c.a, 100.0 * c.overall.mean_a)?;
    writeln!(out, "B  {}  mean {:.1}%", c.b, 100.0 * c.overall.mean_b)?;
    let corr = c
        .overall
        .correlation
        .map_or_else(|| "n/a".into(), |r| format!("{r:.3}"));
    writeln!(
        out,
        "{} shared cases ({} unpaired), correlation {corr}, equivalence band ±{:.1} points\n",
        c.overall.n_pairs,
        c.n_unpaired,
        100.0 * c.overall.equivalence_band
    )?;
    let (l, r) = (Align::Left, Align::Right);
    let mut t = Table::new(&[
        ("", l),
        ("pairs", r),
        ("A − B (pts)", r),
        ("95% CI", r),
        ("test", l),
        ("p", r),
        ("p holm / bh", r),
        ("verdict", l),
    ]);
    t.row(row("overall", &c.overall, None));
    for tag in &c.by_tag {
        t.row(row(
            &format!("tag {}", tag.tag),
            &tag.comparison,
            Some((tag.p_holm, tag.p_bh)),
        ));
    }
    write!(out, "{}", t.render())?;
    Ok(())
}
