// The internal door's own views: cost analysis (every benchmark's latest results with
// cost, tokens and score per dollar, and the score/cost Pareto chart of a run, from the
// service's report), optimization studies (queued with POST /optimizations, followed as
// jobs) and the insights the optimizer logged.

import { api, withQuery } from './api.js';
import { h, link, note, table } from './dom.js';
import { count, interval, pct, short, usd, when } from './format.js';
import { paretoChart } from './charts.js';
import { loadBenchmarks } from './page-benchmarks.js';
import { jobsPage } from './page-jobs.js';

/** `#/cost`: cost analysis across benchmarks, and a run's Pareto chart. */
export async function costPage({ main, query, signal, navigate, refreshOn }) {
  const benchmarks = await loadBenchmarks(signal);
  const heading = h('h1', { tabindex: '-1' }, 'Cost analysis');
  if (!benchmarks.length) {
    main.replaceChildren(heading, note('empty', 'No run of your tenant yet.'));
    return;
  }
  const rows = benchmarks.flatMap((b) => (b.latest_results ?? []).map((r) => {
    const p = r.public;
    return h('tr', { dataset: { result: p.id } },
      h('th', { scope: 'row' }, link(`/benchmarks/${encodeURIComponent(b.id)}`, b.id)),
      h('td', null, link(`/runs/${encodeURIComponent(p.run_id)}`, h('span', { class: 'mono', title: p.run_id }, short(p.run_id, 12)))),
      h('td', null, p.agent),
      h('td', null, `${p.provider} · ${p.model}`),
      h('td', { class: 'num' }, pct(p.score.mean)),
      h('td', null, interval(p.score.ci_low, p.score.ci_high)),
      h('td', { class: 'num' }, usd(r.cost.cost_usd)),
      h('td', { class: 'num' }, usd(r.cost.cost_per_case_usd)),
      h('td', { class: 'num' }, count(r.cost.tokens?.input)),
      h('td', { class: 'num' }, count(r.cost.tokens?.output)),
      h('td', { class: 'num' }, Number.isFinite(r.optimization.score_per_usd) ? (r.optimization.score_per_usd * 100).toFixed(1) : '—'),
      h('td', { class: 'num' }, count(r.internal_metrics.n_cache_hits)));
  }));
  const chosen = query.get('run') ?? benchmarks[0].runs[0]?.id;
  const select = h('select', { id: 'pareto-run', name: 'run' },
    benchmarks.flatMap((b) => b.runs.slice(0, 10).map((r) => h('option', { value: r.id, selected: r.id === chosen }, `${b.id} · ${r.id}`))));
  const chart = h('div', { class: 'chart-box chart-scroll', tabindex: '0', role: 'group', 'aria-label': 'Score versus cost chart' });
  select.addEventListener('change', () => navigate(`/cost?run=${encodeURIComponent(select.value)}`));
  main.replaceChildren(heading,
    h('p', { class: 'lead' }, 'What each configuration costs for what it scores: the latest run of every benchmark.'),
    table({
      caption: 'Latest results with their cost',
      className: 'cost',
      columns: [{ label: 'Benchmark' }, { label: 'Run' }, { label: 'Agent' }, { label: 'Model' }, { label: 'Score', num: true },
        { label: '95% interval' }, { label: 'Cost', num: true }, { label: 'Per case', num: true }, { label: 'Input tokens', num: true },
        { label: 'Output tokens', num: true }, { label: 'Points per USD', num: true }, { label: 'Cache hits', num: true }],
      rows,
    }),
    h('section', { 'aria-labelledby': 'cost-pareto-h' },
      h('h2', { id: 'cost-pareto-h' }, 'Score versus cost'),
      h('div', { class: 'field inline' }, h('label', { for: 'pareto-run' }, 'Run'), select),
      chart));
  if (chosen) {
    try {
      const report = await api(withQuery('/report', { runs: chosen }), { signal });
      chart.replaceChildren(paretoChart(report.results, report.pareto),
        h('p', { class: 'help' }, 'On the Pareto front: ',
          report.pareto.map((i) => report.results[i].summary.name).join(', ') || 'none', '. ',
          link(`/runs/${encodeURIComponent(chosen)}`, 'Open the run’s full report'), '.'));
    } catch (err) {
      chart.replaceChildren(note('error', err.message));
    }
  }
  refreshOn(['benchmark.completed']);
}

const SPACE_EXAMPLE = `name = "cfg"
strategy = "grid"

[base]
provider = "openai"
model = "gpt-4o-mini"

[[dimension]]
field = "temperature"
values = [0.0, 0.7]
`;

/** `#/studies`: start an optimization study; the studies as jobs. */
export async function studiesPage(ctx) {
  const { navigate } = ctx;
  const manifest = h('textarea', { id: 'study-manifest', rows: 6, class: 'mono', spellcheck: 'false' });
  const cases = h('textarea', { id: 'study-cases', rows: 5, class: 'mono', spellcheck: 'false' });
  const space = h('textarea', { id: 'study-space', rows: 8, class: 'mono', spellcheck: 'false', 'aria-describedby': 'study-space-help' });
  space.value = SPACE_EXAMPLE;
  const budget = h('input', { id: 'study-budget', type: 'number', min: 0, step: 'any' });
  const strategy = h('select', { id: 'study-strategy' },
    ['', 'grid', 'uniform', 'random', 'racing', 'halving', 'lucb', 'predicted'].map((s) => h('option', { value: s }, s || 'as the space says')));
  const result = h('div', { role: 'alert', class: 'result' });
  const form = h('form', { class: 'card' },
    h('h2', null, 'Start a study'),
    h('label', { for: 'study-manifest' }, 'Benchmark manifest (TOML)'), manifest,
    h('label', { for: 'study-cases' }, 'Cases (JSON lines)'), cases,
    h('label', { for: 'study-space' }, 'Search space (TOML)'), space,
    h('p', { id: 'study-space-help', class: 'help' }, 'Dimensions over agent fields, a strategy and constraints (docs/optimization.md).'),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'study-budget' }, 'Budget (USD)'), budget),
      h('div', { class: 'field' }, h('label', { for: 'study-strategy' }, 'Strategy'), strategy)),
    result,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Start study')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { benchmark: { manifest: manifest.value }, space: space.value };
    if (cases.value.trim()) body.benchmark.cases = cases.value;
    if (budget.value) body.budget_usd = Number(budget.value);
    if (strategy.value) body.strategy = strategy.value;
    try {
      const answer = await api('/optimizations', { method: 'POST', body });
      navigate(`/studies?highlight=${encodeURIComponent(answer.job.id)}`, `Study queued as job ${answer.job.id}.`);
    } catch (err) {
      result.replaceChildren(note('error', h('strong', null, 'Not started: '), err.message));
    }
  });
  return jobsPage(ctx, {
    kind: 'study',
    title: 'Optimization studies',
    intro: 'Studies search a space of configurations for the best one under a budget; each runs as a job on the workers.',
    extra: h('details', { class: 'start-study' }, h('summary', null, 'Start a study'), form),
  });
}

/** `#/insights`: the latest insights. */
export async function insightsPage({ main, signal, refreshOn }) {
  const body = await api(withQuery('/analytics/insights', { limit: 50 }), { signal });
  const heading = h('h1', { tabindex: '-1' }, 'Insights');
  if (!body.insights.length) {
    main.replaceChildren(heading, note('empty', 'No insight yet: they are written as benchmarks complete.'));
  } else {
    main.replaceChildren(heading,
      h('ol', { class: 'insights' }, body.insights.map((i) => h('li', { class: 'card', dataset: { insight: i.id } },
        h('p', null, i.text),
        h('p', { class: 'muted small' }, when(i.at), ' · run ', link(`/runs/${encodeURIComponent(i.run_id)}`, h('span', { class: 'mono' }, i.run_id)))))));
  }
  refreshOn(['insight.generated']);
}
