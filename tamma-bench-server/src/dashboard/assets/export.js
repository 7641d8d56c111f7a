// Downloads made in the page (a Blob and a temporary link): the data the page already
// holds, as JSON or CSV, and a run's trials read page by page from the API.

import { api, withQuery } from './api.js';

/** Saves `text` as a file named `name`. */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is defused. */
function cell(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let t = String(v);
  if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

/** CSV text (RFC 4180, CRLF) of a header and rows. */
export function csv(header, rows) {
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** The leaderboard of a report as CSV rows. */
export function leaderboardCsv(report) {
  const internal = report.audience === 'internal';
  const header = ['rank', 'run_id', 'agent', 'provider', 'model', 'score_mean', 'ci_low', 'ci_high', 'se',
    'method', 'n_cases', 'n_clusters', 'epochs', 'n_trials', 'n_infra_failures', 'n_uncertain'];
  if (internal) header.push('cost_usd', 'input_tokens', 'output_tokens', 'pareto');
  const rows = report.results.map((r, i) => {
    const s = r.summary;
    const row = [i + 1, r.run_id, s.name, s.provider, s.model, s.score.mean, s.score.ci_low, s.score.ci_high,
      s.score.se, s.score.method, s.score.n, s.score.n_clusters, s.score.k, s.n_trials, s.n_infra_failures, s.n_uncertain];
    if (internal) row.push(s.cost_usd, s.tokens?.input, s.tokens?.output, report.pareto.includes(i));
    return row;
  });
  return csv(header, rows);
}

/** The comparisons of a report as CSV rows. */
export function comparisonsCsv(report) {
  const header = ['a', 'b', 'tag', 'n_pairs', 'mean_a', 'mean_b', 'mean_diff', 'ci_low', 'ci_high', 'test',
    'p_value', 'p_holm', 'p_bh', 'verdict'];
  const rows = [];
  for (const v of report.comparisons) {
    const c = v.comparison;
    rows.push([c.a, c.b, '', c.n_pairs, c.mean_a, c.mean_b, c.mean_diff, c.ci_low, c.ci_high, c.test?.name,
      c.test?.p_value, v.p_holm, '', c.verdict]);
    for (const t of c.by_tag ?? []) {
      const p = t.comparison;
      rows.push([c.a, c.b, t.tag, p.n_pairs, p.mean_a, p.mean_b, p.mean_diff, p.ci_low, p.ci_high, p.test?.name,
        p.test?.p_value, t.p_holm, t.p_bh, p.verdict]);
    }
  }
  return csv(header, rows);
}

/**
 * A run's trials as JSON lines, read page by page from `/runs/{id}/trials`
 * (`onPage(count)` after each page).
 */
export async function trialsJsonl(runId, { signal, onPage } = {}) {
  const lines = [];
  let after = null;
  for (let page = 0; page < 100000; page += 1) {
    const body = await api(withQuery(`/runs/${encodeURIComponent(runId)}/trials`, { after, limit: 1000 }), { signal });
    const trials = body.trials ?? [];
    for (const t of trials) lines.push(JSON.stringify(t));
    onPage?.(lines.length);
    after = body.next ?? null;
    if (!after || trials.length === 0) break;
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
