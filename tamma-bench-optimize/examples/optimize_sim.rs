//! Runs every strategy on the simulation harness and prints the table.
use tamma_bench_optimize::sim::{BUDGET_SHARE, evaluate};
use tamma_bench_optimize::strategy::{Guarantee, StrategyKind};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let rows = evaluate(&StrategyKind::ALL, n, 2026, Guarantee::default());
    println!(
        "| strategy | instances | ε-best found | median share | mean share | p90 share | certified | found at {:.0}% budget | prediction error |",
        100.0 * BUDGET_SHARE
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {} |",
            r.strategy.as_str(),
            r.instances,
            100.0 * r.found,
            100.0 * r.median_share,
            100.0 * r.mean_share,
            100.0 * r.p90_share,
            100.0 * r.certified,
            100.0 * r.found_within_budget,
            r.prediction_error
                .map_or("–".into(), |e| format!("{:.1} points", 100.0 * e))
        );
    }
}
