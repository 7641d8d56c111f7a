// Benchmarks and their runs. The public door lists what the caller may read (public runs
// and its own); the internal door lists its tenant's benchmarks whole.

import { api, INTERNAL } from './api.js';
import { badge, h, link, note, table } from './dom.js';
import { count, short, when } from './format.js';

/** A run as both doors describe it (RunView at the public door, Run at the internal). */
export function normalizeRun(r) {
  return {
    id: r.id,
    benchmark_id: r.benchmark_id,
    version: r.benchmark_version,
    status: r.status,
    visibility: r.visibility,
    own: r.own ?? true,
    agents: (r.agents ?? []).map((a) => ({ name: a.name, provider: a.provider, model: a.model })),
    epochs: r.epochs,
    n_cases: r.n_cases,
    created: r.created_at ?? r.created_at_ms,
  };
}

/** The benchmarks, each with its runs newest first (as far as the door lists them). */
export async function loadBenchmarks(signal) {
  if (INTERNAL) {
    const body = await api('/benchmarks', { signal });
    return body.benchmarks.map((b) => ({
      id: b.id,
      version: b.version,
      run_count: b.run_count,
      runs: b.runs.map(normalizeRun),
      latest_results: b.latest_results,
    }));
  }
  const body = await api('/benchmarks', { signal });
  return body.benchmarks.map((b) => ({
    id: b.id,
    version: b.version,
    run_count: b.run_count,
    runs: [normalizeRun(b.latest_run)],
  }));
}

/** A run's status as a badge. */
export function statusBadge(status) {
  return badge(String(status ?? 'unknown').replace('_', ' '), status);
}

function agentsText(agents) {
  const names = agents.map((a) => a.name);
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} +${names.length - 3}` : names.join(', ');
}

/** `#/`: the benchmarks. */
export async function benchmarksPage({ main, signal, refreshOn }) {
  const benchmarks = await loadBenchmarks(signal);
  const heading = h('h1', { tabindex: '-1' }, 'Benchmarks');
  if (!benchmarks.length) {
    main.replaceChildren(heading, note('empty', 'No benchmark run is visible to you yet. ',
      INTERNAL ? 'Runs of your tenant appear here once they start.' : link('/new', 'Create a run'), '.'));
    return;
  }
  const rows = benchmarks.map((b) => {
    const latest = b.runs[0];
    return h('tr', { dataset: { benchmark: b.id } },
      h('th', { scope: 'row' }, link(`/benchmarks/${encodeURIComponent(b.id)}`, b.id)),
      h('td', null, b.version),
      h('td', { class: 'num' }, count(b.run_count)),
      h('td', null, link(`/runs/${encodeURIComponent(latest.id)}`, h('span', { class: 'mono', title: latest.id }, short(latest.id, 14)))),
      h('td', null, statusBadge(latest.status)),
      h('td', null, agentsText(latest.agents)),
      h('td', { class: 'num' }, count(latest.n_cases)),
      h('td', null, when(latest.created)));
  });
  main.replaceChildren(heading,
    h('p', { class: 'lead' }, INTERNAL
      ? 'Every benchmark your tenant has run. Open one for its runs, or a run for its leaderboard, comparisons and cost.'
      : 'The benchmarks you may read: your own runs and public results. Open one for its runs, or a run for its leaderboard and comparisons.'),
    table({
      caption: 'Benchmarks, with their latest run',
      className: 'benchmarks',
      columns: [{ label: 'Benchmark' }, { label: 'Version' }, { label: 'Runs', num: true }, { label: 'Latest run' },
        { label: 'Status' }, { label: 'Agents' }, { label: 'Cases', num: true }, { label: 'Started' }],
      rows,
    }));
  refreshOn(['benchmark.completed', 'results.published', 'job.started', 'job.finished', 'job.failed']);
}

/** `#/benchmarks/ID`: a benchmark's runs, to open or to compare. */
export async function benchmarkPage({ main, params, signal, navigate, refreshOn }) {
  const id = params[0];
  let runs;
  if (INTERNAL) {
    const found = (await loadBenchmarks(signal)).find((b) => b.id === id);
    if (!found) {
      main.replaceChildren(h('h1', { tabindex: '-1' }, `Benchmark ${id}`), note('error', 'No run of this benchmark is visible to you.'));
      return;
    }
    runs = found.runs;
  } else {
    const body = await api(`/benchmarks/${encodeURIComponent(id)}`, { signal });
    runs = body.runs.map(normalizeRun);
  }
  const form = h('form', { class: 'compare-form' });
  const rows = runs.map((r) => {
    const boxId = `pick-${r.id}`;
    return h('tr', { dataset: { run: r.id } },
      h('td', { class: 'pick' },
        h('input', { type: 'checkbox', id: boxId, name: 'run', value: r.id }),
        h('label', { for: boxId, class: 'sr-only' }, `Select run ${r.id} for comparison`)),
      h('th', { scope: 'row' }, link(`/runs/${encodeURIComponent(r.id)}`, h('span', { class: 'mono' }, r.id))),
      h('td', null, r.version),
      h('td', null, statusBadge(r.status)),
      h('td', null, agentsText(r.agents)),
      h('td', { class: 'num' }, count(r.n_cases)),
      h('td', { class: 'num' }, count(r.epochs)),
      h('td', null, r.visibility ?? '—'),
      h('td', null, when(r.created)));
  });
  const status = h('p', { class: 'help', id: 'compare-help' },
    'Select two or more runs to see them in one leaderboard with paired comparisons (at most 20).');
  form.append(
    table({
      caption: `Runs of ${id}, newest first`,
      className: 'runs',
      columns: [{ label: 'Select' }, { label: 'Run' }, { label: 'Version' }, { label: 'Status' }, { label: 'Agents' },
        { label: 'Cases', num: true }, { label: 'Epochs', num: true }, { label: 'Visibility' }, { label: 'Started' }],
      rows,
    }),
    status,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', 'aria-describedby': 'compare-help' }, 'Compare selected runs'),
      h('button', {
        type: 'button',
        onclick: () => navigate(`/compare?runs=${encodeURIComponent(runs.slice(0, 20).map((r) => r.id).join(','))}`),
      }, runs.length > 20 ? 'Compare the latest 20 runs' : 'Compare all runs')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const picked = [...form.querySelectorAll('input[name=run]:checked')].map((i) => i.value);
    if (picked.length < 1 || picked.length > 20) {
      status.textContent = picked.length ? 'Select at most 20 runs.' : 'Select at least one run.';
      status.classList.add('note-error');
      return;
    }
    navigate(`/compare?runs=${encodeURIComponent(picked.join(','))}`);
  });
  main.replaceChildren(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, link('/', 'Benchmarks'), ' / ', id),
    h('h1', { tabindex: '-1' }, `Benchmark ${id}`),
    form);
  refreshOn(['benchmark.completed', 'job.started', 'job.finished', 'job.failed']);
}
