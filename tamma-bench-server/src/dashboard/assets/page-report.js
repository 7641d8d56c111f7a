// A run (or several side by side): the leaderboard with confidence intervals, the paired
// comparisons with their verdicts, any two results compared, scores per tag, and for
// internal users cost and the score/cost Pareto chart. Every number comes from the
// service's `/report` and `/compare` (the library's statistics); this file only lays
// them out.

import { api, INTERNAL, withQuery } from './api.js';
import { badge, h, link, note, table } from './dom.js';
import { count, interval, method, pct, points, pValue, short, testName, usd, when } from './format.js';
import { forestPlot, intervalBar, paretoChart } from './charts.js';
import { comparisonsCsv, download, leaderboardCsv, trialsJsonl } from './export.js';
import { normalizeRun, statusBadge } from './page-benchmarks.js';

const VERDICTS = {
  better: 'A is better',
  worse: 'A is worse',
  equivalent: 'equivalent',
  inconclusive: 'inconclusive',
};

/** The verdict as a badge with words. */
function verdictBadge(v, adjustedP) {
  const starred = (v === 'better' || v === 'worse') && Number.isFinite(adjustedP) && adjustedP >= 0.05;
  const b = badge(VERDICTS[v] ?? v, `verdict-${v}`);
  if (starred) b.append(h('sup', { title: 'not significant after the multiplicity correction' }, '*'));
  return b;
}

/** Short names of results: the agent alone for one run, `run/agent` across runs. */
function labeller(report) {
  const many = new Set(report.results.map((r) => r.run_id)).size > 1;
  return (r) => (many ? `${short(r.run_id, 10)}/${r.summary.name}` : r.summary.name);
}

function leaderboard(report, label) {
  const internal = report.audience === 'internal';
  const columns = [
    { label: 'Rank', num: true, sort: 'rank', sorted: 'ascending' }, { label: 'Result' },
    { label: 'Score', num: true, sort: 'score' }, { label: '95% interval', sort: 'low' }, { label: 'Interval (0–100)' },
    { label: 'Model' }, { label: 'Cases', num: true }, { label: 'Infra failures', num: true, sort: 'infra' }, { label: 'Uncertain', num: true },
  ];
  if (internal) columns.push({ label: 'Cost', num: true, sort: 'cost' }, { label: 'Tokens', num: true, sort: 'tokens' }, { label: 'Pareto' });
  const rows = report.results.map((r, i) => {
    const s = r.summary;
    const sc = s.score;
    const clusters = sc.n_clusters ? `, ${count(sc.n_clusters)} clusters` : '';
    const tokens = (s.tokens?.input ?? 0) + (s.tokens?.output ?? 0);
    const cells = [
      h('td', { class: 'num' }, i + 1),
      h('th', { scope: 'row' }, label(r)),
      h('td', { class: 'num score' }, pct(sc.mean)),
      h('td', null, sc.method === 'insufficient' ? 'too few cases' : interval(sc.ci_low, sc.ci_high),
        h('span', { class: 'muted small' }, ` ${method(sc.method)}`)),
      h('td', null, intervalBar(sc)),
      h('td', null, h('span', { class: 'muted' }, `${s.provider} · `), s.model),
      h('td', { class: 'num' }, `${count(sc.n)}${clusters}`, sc.k > 1 ? ` × ${sc.k} epochs` : ''),
      h('td', { class: 'num' }, count(s.n_infra_failures)),
      h('td', { class: 'num' }, count(s.n_uncertain)),
    ];
    if (internal) {
      cells.push(
        h('td', { class: 'num' }, usd(s.cost_usd)),
        h('td', { class: 'num' }, count(tokens)),
        h('td', null, report.pareto.includes(i) ? badge('on the front', 'front') : h('span', { class: 'muted' }, 'dominated')));
    }
    return h('tr', {
      dataset: {
        result: `${r.run_id}/${s.name}`, sortRank: i + 1, sortScore: sc.mean, sortLow: sc.ci_low,
        sortInfra: s.n_infra_failures, sortCost: s.cost_usd, sortTokens: tokens,
      },
    }, cells);
  });
  return h('section', { 'aria-labelledby': 'leaderboard-h' },
    h('h2', { id: 'leaderboard-h' }, 'Leaderboard'),
    h('p', { class: 'help' }, 'Mean score out of 100 with its 95% confidence interval; each case counts once (the mean of its scored epochs). Infrastructure failures and scorer errors are left out and counted. Ordered by mean, then by the interval’s low end; the buttons in the column heads order by that column.'),
    table({ caption: 'Results by score', className: 'leaderboard', columns, rows }));
}

/** The headline and forest plot of one paired comparison (`c` is a Comparison). */
export function comparisonCard(c, nameA, nameB, { pHolm, family } = {}) {
  const card = h('article', { class: 'card comparison', dataset: { verdict: c.verdict, a: c.a, b: c.b } });
  card.append(h('h3', null, h('span', { class: 'side' }, 'A'), ` ${nameA} `, h('span', { class: 'vs' }, 'versus'),
    ' ', h('span', { class: 'side' }, 'B'), ` ${nameB}`));
  if (!c.n_pairs) {
    card.append(note('empty', 'No shared case: the two results have no case in common.'));
    return card;
  }
  const corr = Number.isFinite(c.correlation) ? c.correlation.toFixed(2) : '—';
  card.append(h('p', { class: 'headline' },
    verdictBadge(c.verdict, family > 1 ? pHolm : undefined), ' ',
    'A − B = ', h('strong', null, `${points(c.mean_diff)} points`),
    `, 95% CI ${interval(c.ci_low, c.ci_high, true)} (${method(c.method)}). `,
    `Test: ${testName(c.test?.name)}, p = ${pValue(c.test?.p_value)}`,
    family > 1 ? ` (Holm over the ${family} comparisons with the best: ${pValue(pHolm)})` : '',
    `. ${count(c.n_pairs)} shared cases${c.n_clusters ? `, ${count(c.n_clusters)} clusters` : ''}, correlation ${corr}, ${count(c.n_unpaired)} unpaired. `,
    `Means over the shared cases: A ${pct(c.mean_a)}, B ${pct(c.mean_b)}.`));
  card.append(h('figure', { class: 'chart-scroll', tabindex: '0', role: 'group', 'aria-label': `Forest plot: ${nameA} minus ${nameB}` },
    forestPlot(c, nameA, nameB)));
  if (c.by_tag?.length) {
    const rows = c.by_tag.map((t) => {
      const p = t.comparison;
      return h('tr', null,
        h('th', { scope: 'row' }, t.tag),
        h('td', { class: 'num' }, count(p.n_pairs)),
        h('td', { class: 'num' }, pct(p.mean_a)),
        h('td', { class: 'num' }, pct(p.mean_b)),
        h('td', { class: 'num' }, points(p.mean_diff)),
        h('td', null, interval(p.ci_low, p.ci_high, true)),
        h('td', null, testName(p.test?.name)),
        h('td', { class: 'num' }, pValue(p.test?.p_value)),
        h('td', { class: 'num' }, pValue(t.p_holm)),
        h('td', { class: 'num' }, pValue(t.p_bh)),
        h('td', null, verdictBadge(p.verdict, t.p_holm)));
    });
    card.append(h('details', null, h('summary', null, `Per tag (${c.by_tag.length})`),
      table({
        caption: `Per tag: ${nameA} versus ${nameB}`,
        className: 'compact',
        columns: [{ label: 'Tag' }, { label: 'Pairs', num: true }, { label: 'A', num: true }, { label: 'B', num: true },
          { label: 'A − B', num: true }, { label: '95% CI' }, { label: 'Test' }, { label: 'p', num: true },
          { label: 'p (Holm)', num: true }, { label: 'p (BH)', num: true }, { label: 'Verdict' }],
        rows,
      })));
  }
  return card;
}

function comparisons(report, label, signal) {
  const section = h('section', { 'aria-labelledby': 'comparisons-h' },
    h('h2', { id: 'comparisons-h' }, 'Paired comparisons'));
  if (!report.comparisons.length) {
    section.append(note('empty', 'Only one result has scored cases: nothing to compare.'));
  } else {
    section.append(h('p', { class: 'help' },
      'The best result (A) against each other result (B), case by case over the cases both scored. ',
      h('strong', null, 'better'), ' or ', h('strong', null, 'worse'),
      ' only when the test is significant at 5% and the whole interval lies outside the ±1-point equivalence band; ',
      h('strong', null, 'equivalent'), ' when the interval lies inside it; otherwise ', h('strong', null, 'inconclusive'), '.'));
    const best = report.results[0];
    for (const v of report.comparisons) {
      section.append(comparisonCard(v.comparison, label(best), label(report.results[v.other]),
        { pHolm: v.p_holm, family: report.comparisons.length }));
    }
  }
  if (report.results.length >= 2) section.append(pairForm(report, label, signal));
  return section;
}

/** Any two results, compared by the service (`/compare?a=&b=`). */
function pairForm(report, label, signal) {
  const options = report.results.map((r) => h('option', { value: `${r.run_id}/${r.summary.name}` }, label(r)));
  const a = h('select', { id: 'pair-a', name: 'a' }, options.map((o) => o.cloneNode(true)));
  const b = h('select', { id: 'pair-b', name: 'b' }, options.map((o) => o.cloneNode(true)));
  b.selectedIndex = Math.min(1, options.length - 1);
  const out = h('div', { class: 'pair-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'card pair', 'aria-labelledby': 'pair-h' },
    h('h3', { id: 'pair-h' }, 'Compare any two results'),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'pair-a' }, 'Result A'), a),
      h('div', { class: 'field' }, h('label', { for: 'pair-b' }, 'Result B'), b),
      h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Compare'))),
    out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (a.value === b.value) {
      out.replaceChildren(note('error', 'Pick two different results.'));
      return;
    }
    out.replaceChildren(note('info', 'Comparing…'));
    try {
      const c = await api(withQuery('/compare', { a: a.value, b: b.value }), { signal });
      out.replaceChildren(comparisonCard(c, a.selectedOptions[0].textContent, b.selectedOptions[0].textContent));
    } catch (err) {
      out.replaceChildren(note('error', err.message));
    }
  });
  return form;
}

function byTag(report, label) {
  const tags = [...new Set(report.results.flatMap((r) => r.by_tag.map((t) => t.tag)))].sort();
  if (!tags.length) return null;
  const rows = tags.map((tag) => h('tr', null, h('th', { scope: 'row' }, tag), report.results.map((r) => {
    const t = r.by_tag.find((x) => x.tag === tag);
    if (!t) return h('td', null, '—');
    const sc = t.score;
    return h('td', null, h('span', { class: 'score' }, pct(sc.mean)), ' ',
      h('span', { class: 'muted small' }, sc.method === 'insufficient' ? '(no interval)' : interval(sc.ci_low, sc.ci_high)));
  })));
  return h('section', { 'aria-labelledby': 'tags-h' },
    h('h2', { id: 'tags-h' }, 'Score per tag'),
    table({
      caption: 'Mean score per tag with its 95% interval',
      className: 'compact',
      columns: [{ label: 'Tag' }, ...report.results.map((r) => ({ label: label(r) }))],
      rows,
    }));
}

function pareto(report, label) {
  const section = h('section', { 'aria-labelledby': 'pareto-h' }, h('h2', { id: 'pareto-h' }, 'Score versus cost'));
  if (report.audience !== 'internal') {
    section.append(note('info', 'Cost is internal to the platform: the score/cost chart and its Pareto front are on the internal dashboard.'));
    return section;
  }
  const scored = report.results.filter((r) => r.summary.score.n > 0);
  if (!scored.length) {
    section.append(note('empty', 'No result has scored cases yet.'));
    return section;
  }
  section.append(h('p', { class: 'help' },
    'Each result’s mean score (with its 95% interval as a bar) against its total cost. Filled points joined by the dashed line are the Pareto front: no other result is both better and cheaper.'),
  h('figure', { class: 'chart-box chart-scroll', tabindex: '0', role: 'group', 'aria-label': 'Score versus cost chart' }, paretoChart(report.results, report.pareto, label)),
  table({
    caption: 'Cost analysis',
    className: 'compact',
    columns: [{ label: 'Result' }, { label: 'Score', num: true }, { label: 'Cost', num: true },
      { label: 'Cost per case', num: true }, { label: 'Input tokens', num: true }, { label: 'Output tokens', num: true },
      { label: 'Pareto front' }],
    rows: report.results.map((r, i) => {
      const s = r.summary;
      return h('tr', null, h('th', { scope: 'row' }, label(r)),
        h('td', { class: 'num' }, pct(s.score.mean)),
        h('td', { class: 'num' }, usd(s.cost_usd)),
        h('td', { class: 'num' }, s.n_cases ? usd(s.cost_usd / s.n_cases) : '—'),
        h('td', { class: 'num' }, count(s.tokens?.input)),
        h('td', { class: 'num' }, count(s.tokens?.output)),
        h('td', null, report.pareto.includes(i) ? 'yes' : 'no'));
    }),
  }));
  return section;
}

function exports(report, runIds, signal) {
  const stamp = runIds.length === 1 ? runIds[0] : `${runIds.length}-runs`;
  const status = h('span', { class: 'help', role: 'status' });
  const buttons = [
    h('button', { type: 'button', onclick: () => download(`report-${stamp}.json`, 'application/json', `${JSON.stringify(report, null, 2)}\n`) }, 'Report (JSON)'),
    h('button', { type: 'button', onclick: () => download(`leaderboard-${stamp}.csv`, 'text/csv', leaderboardCsv(report)) }, 'Leaderboard (CSV)'),
    h('button', { type: 'button', disabled: !report.comparisons.length, onclick: () => download(`comparisons-${stamp}.csv`, 'text/csv', comparisonsCsv(report)) }, 'Comparisons (CSV)'),
  ];
  if (!INTERNAL && runIds.length === 1) {
    const b = h('button', { type: 'button' }, 'Trials (JSON lines)');
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const text = await trialsJsonl(runIds[0], { signal, onPage: (n) => { status.textContent = `${count(n)} trials read…`; } });
        download(`trials-${stamp}.jsonl`, 'application/x-ndjson', text);
        status.textContent = 'Trials downloaded.';
      } catch (err) {
        status.textContent = err.message;
      } finally {
        b.disabled = false;
      }
    });
    buttons.push(b);
  }
  return h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Export' }, h('span', { class: 'toolbar-label' }, 'Export:'), buttons, status);
}

function runHeader(run, results) {
  const total = run.n_cases * run.epochs * Math.max(1, run.agents.length);
  const done = results.reduce((n, r) => n + (r.summary.n_trials ?? 0), 0);
  const items = [
    ['Benchmark', link(`/benchmarks/${encodeURIComponent(run.benchmark_id)}`, run.benchmark_id), ` v${run.version}`],
    ['Status', statusBadge(run.status)],
    ['Agents', String(run.agents.length)],
    ['Cases', count(run.n_cases)],
    ['Epochs', count(run.epochs)],
    ['Visibility', run.visibility ?? '—'],
    ['Started', when(run.created)],
  ];
  const dl = h('dl', { class: 'facts' }, items.map(([k, ...v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
  const box = h('div', { class: 'run-head' }, dl);
  if (run.status === 'running') {
    box.append(progressBar(done, total, `run-${run.id}`));
  }
  return box;
}

/** A labelled progress bar of `done` of `total` trials. */
export function progressBar(done, total, key) {
  const id = `progress-${String(key).replace(/[^A-Za-z0-9_-]/g, '')}`;
  const value = Math.min(done, total);
  return h('div', { class: 'progress' },
    h('label', { for: id }, `Trials stored: ${count(value)} of ${count(total)}`),
    h('progress', { id, max: Math.max(1, total), value }));
}

/** `#/runs/ID` and `#/compare?runs=A,B`: the report of one or more runs. */
export async function reportPage({ main, params, query, signal, refreshOn }) {
  const runIds = params[0] ? [params[0]] : String(query.get('runs') ?? '').split(',').filter(Boolean);
  if (!runIds.length) {
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Compare runs'), note('error', 'No run selected.'));
    return;
  }
  const report = await api(withQuery('/report', { runs: runIds.join(',') }), { signal });
  const label = labeller(report);
  const single = runIds.length === 1;
  const runs = report.runs.map(normalizeRun);
  const heading = single ? `Run ${runIds[0]}` : `${runIds.length} runs compared`;
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, link('/', 'Benchmarks'), ' / ',
    runs[0] ? link(`/benchmarks/${encodeURIComponent(runs[0].benchmark_id)}`, runs[0].benchmark_id) : '', ' / ',
    single ? h('span', { class: 'mono' }, runIds[0]) : 'comparison');
  const parts = [crumbs, h('h1', { tabindex: '-1', class: single ? 'mono-title' : null }, heading)];
  if (single && runs[0]) {
    parts.push(runHeader(runs[0], report.results));
  } else {
    parts.push(table({
      caption: 'Runs in this report',
      className: 'compact',
      columns: [{ label: 'Run' }, { label: 'Benchmark' }, { label: 'Status' }, { label: 'Cases', num: true }, { label: 'Started' }],
      rows: runs.map((r) => h('tr', null, h('th', { scope: 'row' }, link(`/runs/${encodeURIComponent(r.id)}`, h('span', { class: 'mono' }, r.id))),
        h('td', null, `${r.benchmark_id} v${r.version}`), h('td', null, statusBadge(r.status)), h('td', { class: 'num' }, count(r.n_cases)),
        h('td', null, when(r.created)))),
    }));
  }
  parts.push(exports(report, runIds, signal));
  if (!report.results.length) {
    parts.push(note('empty', 'No result yet: the run has no trial stored.'));
  } else {
    parts.push(leaderboard(report, label), comparisons(report, label, signal), pareto(report, label), byTag(report, label));
  }
  main.replaceChildren(...parts.filter(Boolean));
  // A running run is read again as it advances (the event log has no per-trial event) and
  // when the stream says a run completed or a job ended; a finished run does not change.
  if (runs.some((r) => r.status === 'running')) {
    refreshOn(['benchmark.completed', 'job.finished', 'job.failed', 'tick'], { every: 3000 });
  }
}
