// Charts as inline SVG, drawn from the numbers the service computed (intervals, verdicts,
// the Pareto front): nothing statistical is derived here. Each chart is an image with a
// text alternative (role="img", <title>, <desc>) and its data also appears in a table.

import { s } from './dom.js';
import { pct, points, usd } from './format.js';

let serial = 0;
function uid(prefix) {
  serial += 1;
  return `${prefix}-${serial}`;
}

/** Round tick values covering [lo, hi]. */
function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 1;
    return ticks(lo - pad, hi + pad, n);
  }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((m) => m >= raw) ?? raw;
  const start = Math.floor(lo / step) * step;
  const out = [];
  for (let v = start; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

function scale([d0, d1], [r0, r1]) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

function frame(kind, width, height, title, desc) {
  const t = uid(`${kind}-title`);
  const d = uid(`${kind}-desc`);
  return s('svg', {
    class: `chart chart-${kind}`, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': `${t} ${d}`, 'data-chart': kind, preserveAspectRatio: 'xMidYMid meet',
  }, s('title', { id: t }, title), s('desc', { id: d }, desc));
}

/** A small bar: the 95% interval on the 0–100 scale with the mean marked. */
export function intervalBar(score, { width = 160, height = 22 } = {}) {
  const x = scale([0, 1], [4, width - 4]);
  const insufficient = score?.method === 'insufficient';
  const svg = frame('interval', width, height, `Score ${pct(score?.mean)} out of 100`,
    insufficient
      ? 'Too few cases for an interval.'
      : `95% confidence interval from ${pct(score?.ci_low)} to ${pct(score?.ci_high)}.`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  const y = height / 2;
  svg.append(s('line', { class: 'axis-track', x1: x(0), x2: x(1), y1: y, y2: y }));
  if (!insufficient && Number.isFinite(score?.ci_low)) {
    svg.append(s('rect', {
      class: 'ci-band', x: x(score.ci_low), y: y - 5, height: 10,
      width: Math.max(1, x(score.ci_high) - x(score.ci_low)), rx: 2,
    }));
  }
  if (Number.isFinite(score?.mean)) {
    svg.append(s('line', { class: 'ci-mean', x1: x(score.mean), x2: x(score.mean), y1: y - 8, y2: y + 8 }));
  }
  return svg;
}

/**
 * A forest plot of a paired comparison: A − B in points, overall then per tag, with the
 * practical-equivalence band shaded and zero marked.
 */
export function forestPlot(comparison, nameA, nameB) {
  const rows = [{ name: 'overall', c: comparison, strong: true },
    ...(comparison.by_tag ?? []).map((t) => ({ name: t.tag, c: t.comparison }))];
  const band = (comparison.equivalence_band ?? 0.01) * 100;
  const shown = rows.filter((r) => r.c.method !== 'insufficient' && Number.isFinite(r.c.ci_low));
  const lo = Math.max(-100, Math.min(-band, ...shown.map((r) => r.c.ci_low * 100)));
  const hi = Math.min(100, Math.max(band, ...shown.map((r) => r.c.ci_high * 100)));
  const t = ticks(lo, hi, 6);
  const width = 800;
  const left = 150;
  const right = 540;
  const rowH = 26;
  const top = 30;
  const bottom = top + rowH * rows.length;
  const height = bottom + 50;
  const x = scale([t[0], t[t.length - 1]], [left, right]);
  const overall = comparison;
  const svg = frame('forest', width, height,
    `Paired difference, ${nameA} minus ${nameB}`,
    `Overall ${points(overall.mean_diff)} points, 95% interval ${points(overall.ci_low)} to ${points(overall.ci_high)}, verdict ${overall.verdict}; ${rows.length - 1} tag rows.`);
  svg.append(s('rect', { class: 'band', x: x(-band), y: top, width: Math.max(1, x(band) - x(-band)), height: bottom - top }));
  svg.append(s('text', { class: 'chart-note', x: (x(-band) + x(band)) / 2, y: top - 10, 'text-anchor': 'middle' },
    `equivalence band ±${band} pt`));
  for (const v of t) {
    svg.append(s('line', { class: 'grid', x1: x(v), x2: x(v), y1: top, y2: bottom }));
    svg.append(s('text', { class: 'tick', x: x(v), y: bottom + 16, 'text-anchor': 'middle' }, points(v / 100)));
  }
  svg.append(s('line', { class: 'zero', x1: x(0), x2: x(0), y1: top, y2: bottom }));
  svg.append(s('text', { class: 'chart-note', x: x(0) - 6, y: bottom + 36, 'text-anchor': 'end' }, `← favours B (${nameB})`));
  svg.append(s('text', { class: 'chart-note', x: x(0) + 6, y: bottom + 36 }, `favours A (${nameA}) →`));
  rows.forEach((r, k) => {
    const y = top + rowH * (k + 0.5);
    const c = r.c;
    const g = s('g', { class: `row verdict-${c.verdict}` });
    const label = r.name.length > 22 ? `${r.name.slice(0, 21)}…` : r.name;
    g.append(s('text', { class: r.strong ? 'row-label strong' : 'row-label', x: left - 10, y: y + 4, 'text-anchor': 'end' }, label));
    g.append(s('text', { class: 'row-value', x: right + 12, y: y + 4 },
      `${points(c.mean_diff)} [${points(c.ci_low)}, ${points(c.ci_high)}] · ${c.verdict}`));
    if (c.method === 'insufficient' || !Number.isFinite(c.ci_low)) {
      g.append(s('text', { class: 'chart-note', x: left + 6, y: y + 4 }, 'too few pairs for an interval'));
    } else {
      const [x0, x1, xm] = [x(c.ci_low * 100), x(c.ci_high * 100), x(c.mean_diff * 100)];
      g.append(s('line', { class: 'ci', x1: x0, x2: x1, y1: y, y2: y }));
      g.append(s('line', { class: 'ci', x1: x0, x2: x0, y1: y - 5, y2: y + 5 }));
      g.append(s('line', { class: 'ci', x1: x1, x2: x1, y1: y - 5, y2: y + 5 }));
      g.append(s('rect', { class: 'diamond', x: xm - 4.5, y: y - 4.5, width: 9, height: 9, transform: `rotate(45 ${xm} ${y})` }));
    }
    svg.append(g);
  });
  return svg;
}

/**
 * Score against cost: each result's mean with its interval as an error bar; the results
 * on the Pareto front (indices the service computed) filled and joined by a dashed line.
 */
export function paretoChart(results, front, label = (r) => r.summary.name) {
  const width = 720;
  const height = 400;
  const m = { left: 64, right: 24, top: 20, bottom: 56 };
  const pts = results.map((r, i) => ({
    i, r, cost: r.summary.cost_usd, score: r.summary.score,
    onFront: front.includes(i),
  })).filter((p) => Number.isFinite(p.cost) && p.r.summary.score.n > 0);
  const maxCost = Math.max(...pts.map((p) => p.cost), 0);
  const xt = ticks(0, maxCost > 0 ? maxCost : 1, 5);
  const lowest = Math.min(...pts.map((p) => (Number.isFinite(p.score.ci_low) ? p.score.ci_low : p.score.mean)), 1);
  const yt = ticks(Math.max(0, Math.floor(lowest * 10) / 10) * 100, 100, 5);
  const x = scale([xt[0], xt[xt.length - 1]], [m.left, width - m.right]);
  const y = scale([yt[0] / 100, yt[yt.length - 1] / 100], [height - m.bottom, m.top]);
  const frontNames = pts.filter((p) => p.onFront).map((p) => label(p.r)).join(', ');
  const svg = frame('pareto', width, height, 'Score versus cost, with the Pareto front',
    `${pts.length} results. On the Pareto front (no other result is both better and cheaper): ${frontNames || 'none'}.`);
  for (const v of yt) {
    svg.append(s('line', { class: 'grid', x1: m.left, x2: width - m.right, y1: y(v / 100), y2: y(v / 100) }));
    svg.append(s('text', { class: 'tick', x: m.left - 8, y: y(v / 100) + 4, 'text-anchor': 'end' }, String(v)));
  }
  for (const v of xt) {
    svg.append(s('line', { class: 'grid', x1: x(v), x2: x(v), y1: m.top, y2: height - m.bottom }));
    svg.append(s('text', { class: 'tick', x: x(v), y: height - m.bottom + 18, 'text-anchor': 'middle' }, usd(v)));
  }
  svg.append(s('text', { class: 'axis-label', x: (m.left + width - m.right) / 2, y: height - 12, 'text-anchor': 'middle' }, 'total cost (USD)'));
  svg.append(s('text', { class: 'axis-label', x: 16, y: (m.top + height - m.bottom) / 2, 'text-anchor': 'middle', transform: `rotate(-90 16 ${(m.top + height - m.bottom) / 2})` }, 'score (points of 100)'));
  const line = pts.filter((p) => p.onFront).sort((a, b) => a.cost - b.cost);
  if (line.length > 1) {
    svg.append(s('polyline', { class: 'front', points: line.map((p) => `${x(p.cost)},${y(p.score.mean)}`).join(' ') }));
  }
  for (const p of pts) {
    const g = s('g', { class: p.onFront ? 'point on-front' : 'point', 'data-result': label(p.r) });
    g.append(s('title', null, `${label(p.r)}: ${pct(p.score.mean)} [${pct(p.score.ci_low)}, ${pct(p.score.ci_high)}], ${usd(p.cost)}${p.onFront ? ', on the Pareto front' : ''}`));
    if (p.score.method !== 'insufficient' && Number.isFinite(p.score.ci_low)) {
      g.append(s('line', { class: 'ci', x1: x(p.cost), x2: x(p.cost), y1: y(p.score.ci_low), y2: y(p.score.ci_high) }));
    }
    g.append(s('circle', { cx: x(p.cost), cy: y(p.score.mean), r: 6 }));
    g.append(s('text', { class: 'point-label', x: x(p.cost) + 9, y: y(p.score.mean) - 8 }, label(p.r)));
    svg.append(g);
  }
  return svg;
}
