//! SVG building blocks shared by the charts: linear scales with round ticks, axes, the
//! colour of each result and the number formats.

use super::Escaped;
use std::fmt::Write as _;

/// Colours of results, by rank (Okabe–Ito, distinguishable with colour-blindness).
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#6B4C9A", "#8C6D31",
];

/// The colour of the result at `rank`.
pub(super) fn color(rank: usize) -> &'static str {
    PALETTE[rank % PALETTE.len()]
}

/// A linear map from a domain to pixels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    /// Maps `[d0, d1]` onto `[r0, r1]` (an empty domain maps to the middle).
    pub(super) fn new((d0, d1): (f64, f64), (r0, r1): (f64, f64)) -> Self {
        Self { d0, d1, r0, r1 }
    }

    /// The pixel position of `x`, clamped to the range.
    pub(super) fn at(&self, x: f64) -> f64 {
        if self.d1 <= self.d0 || self.d1.is_nan() || self.d0.is_nan() || !x.is_finite() {
            return (self.r0 + self.r1) / 2.0;
        }
        let t = ((x - self.d0) / (self.d1 - self.d0)).clamp(0.0, 1.0);
        self.r0 + t * (self.r1 - self.r0)
    }
}

/// A round step (1, 2 or 5 × 10^k) that cuts `[lo, hi]` into about `count` parts.
fn step(lo: f64, hi: f64, count: usize) -> f64 {
    let raw = (hi - lo) / count.max(1) as f64;
    if raw.is_nan() || raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Round ticks covering `[lo, hi]` (widened to the nearest ticks), and the domain they span.
pub(super) fn ticks(lo: f64, hi: f64, count: usize) -> (Vec<f64>, (f64, f64)) {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let s = step(lo, hi, count);
    let (start, end) = ((lo / s + 1e-9).floor(), (hi / s - 1e-9).ceil());
    let ticks: Vec<f64> = (0..=(end - start) as i64)
        .map(|i| (start + i as f64) * s)
        .collect();
    (ticks, (start * s, end * s))
}

/// Decimals needed to tell ticks `step` apart.
fn decimals(ticks: &[f64]) -> usize {
    match ticks {
        [a, b, ..] => (-(b - a).abs().log10().floor()).max(0.0) as usize,
        _ => 0,
    }
}

/// Tick labels, with as many decimals as the step needs.
pub(super) fn tick_labels(ticks: &[f64], unit: &str) -> Vec<String> {
    let d = decimals(ticks);
    ticks
        .iter()
        .map(|t| format!("{}{unit}", minus(&format!("{:.*}", d, t + 0.0))))
        .collect()
}

/// A horizontal axis at `y` from a scale: a baseline, ticks, labels, grid lines up to
/// `grid_top` and a title under it.
pub(super) fn x_axis(
    out: &mut String,
    scale: &Scale,
    ticks: &[(f64, String)],
    y: f64,
    grid_top: f64,
    title: &str,
) {
    for (t, label) in ticks {
        let x = scale.at(*t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{grid_top:.1}" y2="{y:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y + 16.0,
            Escaped(label)
        );
    }
    let (x0, x1) = (scale.r0, scale.r1);
    let _ = write!(
        out,
        r#"<line class="axis" x1="{x0:.1}" x2="{x1:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        y + 36.0,
        Escaped(title)
    );
}

/// A vertical axis at `x`, with grid lines across to `grid_right` and a rotated title.
pub(super) fn y_axis(
    out: &mut String,
    scale: &Scale,
    ticks: &[(f64, String)],
    x: f64,
    grid_right: f64,
    title: &str,
) {
    for (t, label) in ticks {
        let y = scale.at(*t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" x2="{grid_right:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x - 6.0,
            y + 4.0,
            Escaped(label)
        );
    }
    let (y0, y1) = (scale.r0, scale.r1);
    let mid = (y0 + y1) / 2.0;
    let _ = write!(
        out,
        r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{y0:.1}" y2="{y1:.1}"/><text class="axis-title" transform="translate({:.1} {mid:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        x - 46.0,
        Escaped(title)
    );
}

/// Opens a chart's `<svg>`: `name` is what the page's self-check reports it as.
pub(super) fn open(out: &mut String, name: &str, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" data-chart="{name}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        Escaped(label)
    );
}

/// `s` with ASCII hyphen-minus signs replaced by the typographic minus.
pub(super) fn minus(s: &str) -> String {
    s.replace('-', "\u{2212}")
}

/// A score in `[0, 1]` as points out of 100, one decimal.
pub(super) fn pct(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

/// A difference of scores in points, signed.
pub(super) fn points(x: f64) -> String {
    minus(&format!("{:+.1}", x * 100.0))
}

/// A p-value, with enough digits to read.
pub(super) fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "< 0.0001".to_owned()
    } else if p < 0.01 {
        format!("{p:.4}")
    } else {
        format!("{p:.3}")
    }
}

/// A cost in US dollars with three significant digits.
pub(super) fn usd(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "$0".to_owned();
    }
    let digits = (2 - x.abs().log10().floor() as i64).max(2) as usize;
    format!("${x:.digits$}")
}

/// Milliseconds, as ms below 1 s and seconds above.
pub(super) fn millis(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// An integer with thin-space thousands separators.
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, domain) = ticks(0.012, 0.087, 5);
        assert_eq!(domain, (0.0, 0.1));
        assert_eq!(t.len(), 6);
        assert_eq!(
            tick_labels(&t, ""),
            ["0.00", "0.02", "0.04", "0.06", "0.08", "0.10"]
        );
        let (t, domain) = ticks(0.0, 0.0121, 4);
        assert_eq!(domain, (0.0, 0.015), "{t:?}");
        let (t, _) = ticks(0.0, 0.0, 4);
        assert!(t.len() >= 2);
    }

    #[test]
    fn numbers_read_as_a_person_writes_them() {
        assert_eq!(usd(7e-5), "$0.0000700");
        assert_eq!(usd(12.346), "$12.35");
        assert_eq!(points(-0.031), "\u{2212}3.1");
        assert_eq!(count(1_234_567), "1\u{2009}234\u{2009}567");
        assert_eq!(p_value(0.5), "0.500");
    }
}
