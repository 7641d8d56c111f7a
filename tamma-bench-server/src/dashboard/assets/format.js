// Formatting only: numbers as the HTML report prints them (scores in points out of 100),
// dates, money. No statistic is computed here; the service sends them.

const MINUS = '\u2212';

function finite(x) {
  return typeof x === 'number' && Number.isFinite(x);
}

/** A score in [0, 1] as points out of 100, one decimal: `62.5`. */
export function pct(x) {
  return finite(x) ? (x * 100).toFixed(1) : '—';
}

/** A difference of scores as signed points: `+3.2`, `−1.0`. */
export function points(d) {
  if (!finite(d)) return '—';
  const v = (d * 100).toFixed(1);
  if (v === '0.0' || v === '-0.0') return '0.0';
  return d > 0 ? `+${v}` : `${MINUS}${v.slice(1)}`;
}

/** An interval in points: `[48.1, 75.0]`. */
export function interval(lo, hi, signed = false) {
  const f = signed ? points : pct;
  return `[${f(lo)}, ${f(hi)}]`;
}

/** A p-value: `< 0.001`, `0.012`, `0.43`. */
export function pValue(p) {
  if (!finite(p)) return '—';
  if (p < 0.001) return '< 0.001';
  if (p < 0.01) return p.toFixed(3);
  return p.toFixed(2);
}

/** US dollars with a precision that suits the amount. */
export function usd(x) {
  if (!finite(x)) return '—';
  if (x === 0) return '$0';
  if (Math.abs(x) < 1) return `$${x.toPrecision(2)}`;
  return `$${x.toFixed(2)}`;
}

/** A whole number with separators. */
export function count(n) {
  return finite(n) ? Math.round(n).toLocaleString('en') : '—';
}

const DATE = new Intl.DateTimeFormat('en', {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  timeZone: 'UTC', timeZoneName: 'short',
});

/** A time (RFC 3339 text or ms since the epoch) in UTC. */
export function when(t) {
  if (t === null || t === undefined) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : DATE.format(d);
}

/** How long ago, roughly: `12 s ago`, `3 min ago`. */
export function ago(ms) {
  if (!finite(ms)) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const METHODS = {
  wilson: 'Wilson',
  t: 'Student t',
  clustered: 'cluster-robust t',
  cluster_bootstrap: 'cluster bootstrap',
  clopper_pearson: 'Clopper–Pearson',
  insufficient: 'too few cases for an interval',
};

/** An interval method by name. */
export function method(m) {
  return METHODS[m] ?? String(m ?? '—');
}

/** The first characters of an id, for tables. */
export function short(id, n = 8) {
  const s = String(id ?? '');
  return s.length > n + 1 ? `${s.slice(0, n)}…` : s;
}

const TESTS = {
  paired_t: 'paired t-test',
  paired_t_clustered: 'paired t-test, cluster-robust',
  mcnemar_exact: 'McNemar’s exact test',
  paired_bootstrap: 'paired bootstrap',
};

/** A test by name (as the library names it). */
export function testName(name) {
  if (!name) return '—';
  return TESTS[name] ?? String(name).replace(/_/g, ' ');
}
