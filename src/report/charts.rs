//! The report's charts as inline SVG: interval bars, the score-versus-cost scatter with
//! its Pareto front, and latency box plots (the forest plot is in `comparison.rs`).

use super::svg::{self, Scale, color, millis, pct, ticks, usd};
use super::{Escaped, ReportData};
use crate::core::stats::Estimate;
use std::fmt::Write as _;

const BAR_PAD: f64 = 6.0;

/// A small bar, `width` pixels wide, of an estimate's interval on the 0–100 scale, with
/// its mean marked.
pub(super) fn interval_bar(e: &Estimate, colour: &str, width: f64) -> String {
    let s = Scale::new((0.0, 1.0), (BAR_PAD, width - BAR_PAD));
    let mut out = format!(
        r#"<svg class="bar" data-chart="interval-bar" viewBox="0 0 {width} 18" width="{width}" height="18" role="img" aria-label="95% interval {} to {}">"#,
        pct(e.ci_low),
        pct(e.ci_high)
    );
    let _ = write!(
        out,
        "<title>mean {} · 95% CI [{}, {}] · {} · n {}</title>",
        pct(e.mean),
        pct(e.ci_low),
        pct(e.ci_high),
        e.method.as_str(),
        e.n
    );
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = s.at(t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="2" y2="16"/>"#
        );
    }
    if e.n > 0 {
        let (x0, x1, xm) = (s.at(e.ci_low), s.at(e.ci_high), s.at(e.mean));
        let _ = write!(
            out,
            r#"<rect x="{x0:.1}" y="5" width="{:.1}" height="8" rx="2" fill="{colour}" fill-opacity="0.3" stroke="{colour}"/><line x1="{xm:.1}" x2="{xm:.1}" y1="2" y2="16" stroke="{colour}" stroke-width="3"/>"#,
            (x1 - x0).max(1.0)
        );
    }
    out.push_str("</svg>");
    out
}

/// The 0–100 axis drawn above a column of interval bars `width` pixels wide.
pub(super) fn bar_axis(width: f64) -> String {
    let s = Scale::new((0.0, 1.0), (BAR_PAD, width - BAR_PAD));
    let mut out = format!(
        r#"<svg class="bar-axis" viewBox="0 0 {width} 14" width="{width}" height="14" aria-hidden="true">"#
    );
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="11" text-anchor="middle">{:.0}</text>"#,
            s.at(t),
            t * 100.0
        );
    }
    out.push_str("</svg>");
    out
}

/// Score (with its interval) against total cost, the Pareto front drawn through the
/// results that no other beats on both; dominated results hollow.
pub(super) fn cost_chart(data: &ReportData, labels: &[String]) -> String {
    let (w, h) = (780.0, 440.0);
    let (left, right, top, bottom) = (72.0, 600.0, 20.0, 380.0);
    let scored: Vec<usize> = (0..data.results.len())
        .filter(|&i| data.results[i].summary.score.n > 0)
        .collect();
    let max_cost = scored
        .iter()
        .map(|&i| data.results[i].summary.cost_usd)
        .fold(0.0, f64::max);
    let (x_ticks, x_dom) = ticks(0.0, max_cost, 5);
    let lo = scored
        .iter()
        .map(|&i| data.results[i].summary.score.ci_low)
        .fold(1.0, f64::min);
    let hi = scored
        .iter()
        .map(|&i| data.results[i].summary.score.ci_high)
        .fold(0.0, f64::max);
    let (y_ticks, y_dom) = ticks(lo * 100.0, hi * 100.0, 5);
    let y_dom = (y_dom.0.max(0.0), y_dom.1.min(100.0));
    let y_ticks: Vec<f64> = y_ticks
        .into_iter()
        .filter(|t| (y_dom.0..=y_dom.1).contains(t))
        .collect();
    let (xs, ys) = (
        Scale::new(x_dom, (left, right)),
        Scale::new(y_dom, (bottom, top)),
    );

    let mut out = String::new();
    svg::open(
        &mut out,
        "score-vs-cost",
        w,
        h,
        "Score against cost, with the Pareto front",
    );
    let x_labels: Vec<(f64, String)> = x_ticks
        .iter()
        .zip(svg::tick_labels(&x_ticks, ""))
        .map(|(t, l)| {
            (
                *t,
                if *t == 0.0 {
                    "$0".to_owned()
                } else {
                    format!("${l}")
                },
            )
        })
        .collect();
    let y_labels: Vec<(f64, String)> = y_ticks
        .iter()
        .copied()
        .zip(svg::tick_labels(&y_ticks, ""))
        .collect();
    svg::x_axis(&mut out, &xs, &x_labels, bottom, top, "total cost (USD)");
    svg::y_axis(
        &mut out,
        &ys,
        &y_labels,
        left,
        right,
        "score (points of 100, 95% CI)",
    );

    let at = |i: usize| {
        let s = &data.results[i].summary;
        (xs.at(s.cost_usd), ys.at(s.score.mean * 100.0))
    };
    let mut front: Vec<usize> = data.pareto.clone();
    front.sort_by(|&a, &b| {
        data.results[a]
            .summary
            .cost_usd
            .total_cmp(&data.results[b].summary.cost_usd)
    });
    if front.len() > 1 {
        let pts: Vec<String> = front
            .iter()
            .map(|&i| {
                let (x, y) = at(i);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="front" points="{}"/>"#,
            pts.join(" ")
        );
    }
    for &i in &scored {
        let r = &data.results[i];
        let e = &r.summary.score;
        let (x, y) = at(i);
        let (y0, y1) = (ys.at(e.ci_low * 100.0), ys.at(e.ci_high * 100.0));
        let c = color(i);
        let on_front = data.pareto.contains(&i);
        let (fill, radius) = if on_front { (c, 6.0) } else { ("#fff", 5.0) };
        let (anchor, dx) = if x > right - 120.0 {
            ("end", -10.0)
        } else {
            ("start", 10.0)
        };
        let _ = write!(
            out,
            r#"<g class="point"><title>{} · score {} [{}, {}] · cost {}{}</title><line x1="{x:.1}" x2="{x:.1}" y1="{y0:.1}" y2="{y1:.1}" stroke="{c}" stroke-width="1.5"/><line x1="{:.1}" x2="{:.1}" y1="{y0:.1}" y2="{y0:.1}" stroke="{c}"/><line x1="{:.1}" x2="{:.1}" y1="{y1:.1}" y2="{y1:.1}" stroke="{c}"/><circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="{fill}" stroke="{c}" stroke-width="2"/><text class="label" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text></g>"#,
            Escaped(&labels[i]),
            pct(e.mean),
            pct(e.ci_low),
            pct(e.ci_high),
            usd(r.summary.cost_usd),
            if on_front {
                " · on the Pareto front"
            } else {
                ""
            },
            x - 4.0,
            x + 4.0,
            x - 4.0,
            x + 4.0,
            x + dx,
            y - 6.0,
            Escaped(&labels[i]),
        );
    }
    // Legend, right of the plot.
    let lx = right + 24.0;
    let _ = write!(
        out,
        r##"<g class="legend"><circle cx="{lx}" cy="{}" r="6" fill="#444" stroke="#444" stroke-width="2"/><text x="{}" y="{}">on the Pareto front</text><circle cx="{lx}" cy="{}" r="5" fill="#fff" stroke="#444" stroke-width="2"/><text x="{}" y="{}">dominated</text><line class="front" x1="{}" x2="{}" y1="{}" y2="{}"/><text x="{}" y="{}">front: score ↑, cost ↓</text><line x1="{lx}" x2="{lx}" y1="{}" y2="{}" stroke="#444" stroke-width="1.5"/><text x="{}" y="{}">95% interval of the score</text></g>"##,
        top + 10.0,
        lx + 14.0,
        top + 14.0,
        top + 34.0,
        lx + 14.0,
        top + 38.0,
        lx - 8.0,
        lx + 8.0,
        top + 58.0,
        top + 58.0,
        lx + 14.0,
        top + 62.0,
        top + 74.0,
        top + 94.0,
        lx + 14.0,
        top + 88.0,
    );
    out.push_str("</svg>");
    out
}

/// Box plots of latency, one row per result: box from the 25th to the 75th percentile,
/// the median marked, whiskers from the 5th to the 95th, dots at the extremes.
pub(super) fn latency_chart(data: &ReportData, labels: &[String]) -> String {
    let (row_h, top) = (34.0, 12.0);
    let (left, right) = (180.0, 560.0);
    let bottom = top + row_h * data.results.len() as f64;
    let (w, h) = (780.0, bottom + 46.0);
    let max = data
        .results
        .iter()
        .map(|r| r.latency.max)
        .fold(0.0, f64::max);
    // The axis in seconds when latencies run to seconds; positions stay in ms.
    let (unit, per) = if max >= 2000.0 {
        ("s", 1000.0)
    } else {
        ("ms", 1.0)
    };
    let (t, dom) = ticks(0.0, max / per, 6);
    let xs = Scale::new((dom.0 * per, dom.1 * per), (left, right));
    let mut out = String::new();
    svg::open(&mut out, "latency", w, h, "Latency distribution per result");
    let labels_t: Vec<(f64, String)> = t
        .iter()
        .map(|v| v * per)
        .zip(svg::tick_labels(&t, ""))
        .collect();
    svg::x_axis(
        &mut out,
        &xs,
        &labels_t,
        bottom,
        top,
        &format!("latency ({unit}), trials with an output"),
    );
    for (i, r) in data.results.iter().enumerate() {
        let y = top + row_h * (i as f64 + 0.5);
        let l = &r.latency;
        let c = color(i);
        let _ = write!(
            out,
            r#"<text class="row-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 10.0,
            y + 4.0,
            Escaped(&truncate(&labels[i], 24))
        );
        if l.n == 0 {
            let _ = write!(
                out,
                r#"<text class="note" x="{left}" y="{:.1}">no trial with an output</text>"#,
                y + 4.0
            );
            continue;
        }
        let [x_min, x05, x25, x50, x75, x95, x_max] =
            [l.min, l.p05, l.p25, l.p50, l.p75, l.p95, l.max].map(|v| xs.at(v));
        let _ = write!(
            out,
            r##"<g><title>{}: min {} · p5 {} · p25 {} · median {} · p75 {} · p95 {} · max {} · n {}</title><line x1="{x05:.1}" x2="{x95:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{c}"/><line x1="{x05:.1}" x2="{x05:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}"/><line x1="{x95:.1}" x2="{x95:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}"/><rect x="{x25:.1}" y="{:.1}" width="{:.1}" height="16" fill="{c}" fill-opacity="0.25" stroke="{c}"/><line x1="{x50:.1}" x2="{x50:.1}" y1="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="3"/><circle cx="{x_min:.1}" cy="{y:.1}" r="2.5" fill="#fff" stroke="{c}"/><circle cx="{x_max:.1}" cy="{y:.1}" r="2.5" fill="#fff" stroke="{c}"/><text class="row-value" x="{:.1}" y="{:.1}">median {} · p95 {} · n {}</text></g>"##,
            Escaped(&labels[i]),
            millis(l.min),
            millis(l.p05),
            millis(l.p25),
            millis(l.p50),
            millis(l.p75),
            millis(l.p95),
            millis(l.max),
            l.n,
            y - 5.0,
            y + 5.0,
            y - 5.0,
            y + 5.0,
            y - 8.0,
            (x75 - x25).max(1.5),
            y - 10.0,
            y + 10.0,
            right + 14.0,
            y + 4.0,
            millis(l.p50),
            millis(l.p95),
            l.n
        );
    }
    out.push_str("</svg>");
    out
}

/// `s` cut to `max` characters, with an ellipsis when cut (the full text is in a tooltip).
pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}
