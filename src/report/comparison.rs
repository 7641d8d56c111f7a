//! The paired-comparison section: for each comparison with the best result, the
//! headline (difference, interval, test, verdict), a forest plot of the difference
//! overall and per tag against the practical-equivalence band, and the per-tag table
//! with the multiplicity-adjusted p-values.

use super::charts::truncate;
use super::svg::{self, Scale, count, minus, p_value, pct, points, ticks};
use super::{Escaped, ReportData, VersusBest};
use crate::core::compare::Comparison;
use crate::core::stats::{CompareOptions, Method, PairedComparison, Verdict};
use std::fmt::Write as _;

/// The colour that marks a verdict.
fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "#1a7f37",
        Verdict::Worse => "#cf222e",
        Verdict::Equivalent => "#0969da",
        Verdict::Inconclusive => "#6e7781",
    }
}

/// The verdict as a word.
fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::Equivalent => "equivalent",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// A forest plot of A − B: overall, then per tag, on one axis in points, with the
/// practical-equivalence band shaded and zero marked.
fn forest_plot(v: &VersusBest, a: &str, b: &str) -> String {
    let c = &v.comparison;
    let mut rows: Vec<(&str, &PairedComparison)> = vec![("overall", &c.overall)];
    rows.extend(c.by_tag.iter().map(|t| (t.tag.as_str(), &t.comparison)));
    let (row_h, top) = (26.0, 34.0);
    let (left, right) = (180.0, 560.0);
    let bottom = top + row_h * rows.len() as f64;
    let (w, h) = (780.0, bottom + 52.0);
    let band = c.overall.equivalence_band * 100.0;
    // The axis spans the band and every interval (rows with too few pairs have none).
    let shown = || {
        rows.iter()
            .filter(|(_, p)| p.method != Method::Insufficient)
    };
    let lo = shown().map(|(_, p)| p.ci_low * 100.0).fold(-band, f64::min);
    let hi = shown().map(|(_, p)| p.ci_high * 100.0).fold(band, f64::max);
    // A difference of scores in [0, 1] lies within ±100 points; so does the axis.
    let (t, dom) = ticks(lo.max(-100.0), hi.min(100.0), 6);
    let xs = Scale::new(dom, (left, right));
    let mut out = String::new();
    svg::open(
        &mut out,
        "comparison",
        w,
        h,
        "Paired difference A minus B, overall and per tag",
    );
    let (b0, b1) = (xs.at(-band), xs.at(band));
    let _ = write!(
        out,
        r#"<rect class="band" x="{b0:.1}" y="{top}" width="{:.1}" height="{:.1}"/><text class="note" x="{:.1}" y="{:.1}" text-anchor="middle">equivalence band ±{band} pt</text>"#,
        (b1 - b0).max(1.0),
        bottom - top,
        (b0 + b1) / 2.0,
        top - 8.0
    );
    let labels: Vec<(f64, String)> = t.iter().copied().zip(svg::tick_labels(&t, "")).collect();
    svg::x_axis(&mut out, &xs, &labels, bottom, top, "A − B (points)");
    let z = xs.at(0.0);
    let _ = write!(
        out,
        r#"<line class="zero" x1="{z:.1}" x2="{z:.1}" y1="{top}" y2="{bottom:.1}"/>"#
    );
    let _ = write!(
        out,
        r#"<text class="note" x="{:.1}" y="{:.1}" text-anchor="end">← favours B ({})</text><text class="note" x="{:.1}" y="{:.1}" text-anchor="start">favours A ({}) →</text>"#,
        z - 6.0,
        bottom + 50.0,
        Escaped(b),
        z + 6.0,
        bottom + 50.0,
        Escaped(a)
    );
    for (k, (name, p)) in rows.iter().enumerate() {
        let y = top + row_h * (k as f64 + 0.5);
        let colour = verdict_color(p.verdict);
        let class = if k == 0 {
            "row-label strong"
        } else {
            "row-label"
        };
        let (diff, ci) = (
            points(p.mean_diff),
            format!("[{}, {}]", points(p.ci_low), points(p.ci_high)),
        );
        let _ = write!(
            out,
            r#"<g><title>{}: {diff} {ci} · n {} · {}</title><text class="{class}" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text class="row-value" x="{:.1}" y="{:.1}">{diff} {ci} · n {}</text>"#,
            Escaped(name),
            p.n_pairs,
            verdict_name(p.verdict),
            left - 10.0,
            y + 4.0,
            Escaped(&truncate(name, 24)),
            right + 14.0,
            y + 4.0,
            p.n_pairs
        );
        if p.method == Method::Insufficient {
            let _ = write!(
                out,
                r#"<text class="note" x="{:.1}" y="{:.1}">too few pairs for an interval</text></g>"#,
                left + 6.0,
                y + 4.0
            );
            continue;
        }
        let (x0, x1, xm) = (
            xs.at(p.ci_low * 100.0),
            xs.at(p.ci_high * 100.0),
            xs.at(p.mean_diff * 100.0),
        );
        let _ = write!(
            out,
            r#"<line x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"/><line x1="{x0:.1}" x2="{x0:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}"/><line x1="{x1:.1}" x2="{x1:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}"/><rect x="{:.1}" y="{:.1}" width="9" height="9" transform="rotate(45 {xm:.1} {y:.1})" fill="{colour}"/></g>"#,
            y - 5.0,
            y + 5.0,
            y - 5.0,
            y + 5.0,
            xm - 4.5,
            y - 4.5,
        );
    }
    out.push_str("</svg>");
    out
}

pub(super) fn comparison_section(out: &mut String, data: &ReportData, labels: &[String]) {
    out.push_str(r#"<section id="comparison"><h2>Paired comparison with the best result</h2>"#);
    if data.comparisons.is_empty() {
        out.push_str(r#"<p class="empty">Only one result has scored cases: nothing to compare.</p></section>"#);
        return;
    }
    out.push_str(r#"<p class="explain">The best result (A) against each other result (B), case by case over the cases both scored. <b>better</b> or <b>worse</b> only when the test is significant at 5% <i>and</i> the whole interval lies outside the equivalence band; <b>equivalent</b> when the interval lies inside it; otherwise <b>inconclusive</b>.</p>"#);
    for v in &data.comparisons {
        comparison_card(out, v, &labels[0], &labels[v.other], data.comparisons.len());
    }
    out.push_str("</section>\n");
}

/// Whether verdict `v` is *better* or *worse* by the test on its own but would not be
/// by `p_adjusted` (the p-value adjusted across the family of comparisons).
fn only_unadjusted(v: Verdict, p_adjusted: Option<f64>) -> bool {
    matches!(v, Verdict::Better | Verdict::Worse)
        && p_adjusted.is_some_and(|p| p >= CompareOptions::default().alpha)
}

/// The verdict as a coloured badge, with an asterisk when [`only_unadjusted`] (explained
/// under the card).
fn verdict_badge(v: Verdict, p_adjusted: Option<f64>) -> String {
    let mark = if only_unadjusted(v, p_adjusted) {
        r#"<sup title="not significant after the multiplicity correction">*</sup>"#
    } else {
        ""
    };
    format!(
        r#"<span class="badge" style="background:{}">{}{mark}</span>"#,
        verdict_color(v),
        verdict_name(v)
    )
}

fn comparison_card(out: &mut String, v: &VersusBest, a: &str, b: &str, family: usize) {
    let c = &v.comparison;
    let o = &c.overall;
    let _ = write!(
        out,
        r#"<article class="card"><h3><span class="mono">A</span> {} <span class="vs">versus</span> <span class="mono">B</span> {}</h3>"#,
        Escaped(a),
        Escaped(b)
    );
    if o.n_pairs == 0 {
        out.push_str(r#"<p class="empty">No shared case: the two results have no case id in common.</p></article>"#);
        return;
    }
    let overall_p = (family > 1).then_some(v.p_holm);
    let corr = o
        .correlation
        .map_or("—".to_owned(), |r| minus(&format!("{r:.2}")));
    let clusters = o
        .n_clusters
        .map(|g| format!(", {g} clusters"))
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"<p class="headline">{} A − B = <b>{} points</b>, 95% CI [{}, {}] ({}). Test: {}, p = {}{}. {} shared cases{clusters}, correlation {corr}, {} unpaired. Means over the shared cases: A {}, B {}.</p>"#,
        verdict_badge(o.verdict, overall_p),
        points(o.mean_diff),
        points(o.ci_low),
        points(o.ci_high),
        o.method.as_str(),
        Escaped(&o.test.name),
        p_value(o.test.p_value),
        if family > 1 {
            format!(
                " (Holm over the {family} comparisons with the best: {})",
                p_value(v.p_holm)
            )
        } else {
            String::new()
        },
        count(o.n_pairs),
        count(c.n_unpaired),
        pct(o.mean_a),
        pct(o.mean_b),
    );
    let _ = write!(out, "<figure>{}</figure>", forest_plot(v, a, b));
    if !c.by_tag.is_empty() {
        tag_table(out, c);
    }
    let starred = only_unadjusted(o.verdict, overall_p)
        || c.by_tag
            .iter()
            .any(|t| only_unadjusted(t.comparison.verdict, Some(t.p_holm)));
    if starred {
        out.push_str(r#"<p class="footnote"><sup>*</sup> significant on its own, but not after Holm's correction across the family: read it as inconclusive.</p>"#);
    }
    out.push_str("</article>");
}

/// Per tag: pairs, means, difference, interval, test and the adjusted p-values.
fn tag_table(out: &mut String, c: &Comparison) {
    out.push_str(r#"<table class="compact"><thead><tr><th>tag</th><th class="num">pairs</th><th class="num">A</th><th class="num">B</th><th class="num">A − B</th><th>95% CI</th><th>test</th><th class="num">p</th><th class="num">p (Holm)</th><th class="num">p (BH)</th><th>verdict</th></tr></thead><tbody>"#);
    for t in &c.by_tag {
        let p = &t.comparison;
        let _ = write!(
            out,
            r#"<tr><td class="tag">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>[{}, {}]</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            Escaped(&t.tag),
            count(p.n_pairs),
            pct(p.mean_a),
            pct(p.mean_b),
            points(p.mean_diff),
            points(p.ci_low),
            points(p.ci_high),
            Escaped(&p.test.name),
            p_value(p.test.p_value),
            p_value(t.p_holm),
            p_value(t.p_bh),
            verdict_badge(p.verdict, Some(t.p_holm))
        );
    }
    out.push_str("</tbody></table>");
}
