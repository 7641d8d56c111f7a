// The caller's jobs, live: the job list is read again on each job event of the stream
// (or each polling tick), and a running run job shows its trials done so far, read from
// its run every few seconds while it runs.

import { api, INTERNAL, withQuery } from './api.js';
import { badge, h, link, note, table } from './dom.js';
import { ago, count, short, when } from './format.js';
import { progressBar } from './page-report.js';

const ACTIVE = new Set(['queued', 'running']);

/** Trials done and planned of a run (either door's `/runs/{id}`), or null before it starts. */
async function runProgress(runId, signal) {
  try {
    const body = await api(`/runs/${encodeURIComponent(runId)}`, { signal });
    const run = body.run;
    const agents = INTERNAL ? body.summary.agents : body.results.map((r) => r.metrics);
    const done = agents.reduce((n, a) => n + (a.n_trials ?? 0), 0);
    const total = run.n_cases * run.epochs * Math.max(1, run.agents.length);
    return { done, total, status: run.status };
  } catch (e) {
    if (e?.status === 404) return null;
    throw e;
  }
}

function stateBadge(state) {
  return badge(state, `job-${state}`);
}

/** `#/jobs` (and the studies list at the internal door, with `kind`). */
export async function jobsPage({ main, query, signal, refreshOn, live }, { kind = null, title = 'Jobs', intro, extra } = {}) {
  const highlight = query.get('highlight');
  const body = await api(withQuery('/jobs', { limit: 200 }), { signal });
  const jobs = body.jobs.filter((j) => !kind || j.kind === kind);
  const progress = new Map();
  await Promise.all(jobs.filter((j) => j.state === 'running' && j.kind === 'run').map(async (j) => {
    progress.set(j.id, await runProgress(j.run_id, signal));
  }));
  const heading = h('h1', { tabindex: '-1' }, title);
  const parts = [heading];
  if (intro) parts.push(h('p', { class: 'lead' }, intro));
  if (extra) parts.push(extra);
  if (!jobs.length) {
    parts.push(note('empty', kind === 'study' ? 'No optimization study yet.' : 'No job yet. ',
      !INTERNAL && !kind ? link('/new', 'Create a run') : ''));
  } else {
    const rows = jobs.map((j) => {
      const cancel = ACTIVE.has(j.state) && !j.cancel_requested
        ? h('button', {
          type: 'button', class: 'small', 'aria-label': `Cancel job ${j.id}`,
          onclick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await api(`/jobs/${encodeURIComponent(j.id)}/cancel`, { method: 'POST', signal });
            } catch (err) {
              live.say(err.message, true);
            }
            live.refresh();
          },
        }, 'Cancel')
        : null;
      const p = progress.get(j.id);
      const runCell = j.kind === 'run'
        ? link(`/runs/${encodeURIComponent(j.run_id)}`, h('span', { class: 'mono', title: j.run_id }, short(j.run_id, 14)))
        : h('span', { class: 'mono', title: j.run_id }, short(j.run_id, 14));
      return h('tr', { dataset: { job: j.id, state: j.state }, class: j.id === highlight ? 'highlight' : null },
        h('th', { scope: 'row' }, h('span', { class: 'mono', title: j.id }, short(j.id, 12))),
        h('td', null, j.kind),
        h('td', null, stateBadge(j.state), j.cancel_requested && j.state === 'running' ? h('span', { class: 'muted small' }, ' cancelling…') : ''),
        h('td', null, runCell),
        h('td', { class: 'progress-cell' },
          p ? progressBar(p.done, p.total, j.id)
            : j.state === 'succeeded' ? 'done'
              : j.state === 'running' ? 'starting…' : '—'),
        h('td', null, j.tier),
        h('td', { class: 'num' }, `${j.attempts}/${j.max_attempts}`),
        h('td', null, h('span', { title: when(j.submitted_at_ms) }, ago(j.submitted_at_ms))),
        h('td', { class: 'wrap' }, j.last_error ? h('span', { class: 'error-text' }, j.last_error) : ''),
        h('td', null, cancel));
    });
    parts.push(table({
      caption: kind === 'study' ? 'Studies, newest first' : 'Your tenant’s jobs, newest first',
      className: 'jobs',
      columns: [{ label: 'Job' }, { label: 'Kind' }, { label: 'State' }, { label: 'Run' }, { label: 'Progress' },
        { label: 'Tier' }, { label: 'Attempts', num: true }, { label: 'Submitted' }, { label: 'Last error' }, { label: 'Actions' }],
      rows,
    }));
    parts.push(h('p', { class: 'help' }, `${count(jobs.length)} jobs. States change live; a running run shows its trials as they are stored.`));
  }
  main.replaceChildren(...parts);
  const running = jobs.some((j) => ACTIVE.has(j.state));
  refreshOn(['job.queued', 'job.started', 'job.finished', 'job.failed', 'tick'], { every: running ? 2000 : null });
}
