// Creating a run (POST /api/v1/benchmarks): the benchmark manifest (TOML), its cases
// (JSON lines) and the agents (TOML), typed or loaded from files, or a whole request
// body loaded from a JSON file. The service checks everything; its error names the
// file, line and field, and is shown as it is.

import { api } from './api.js';
import { h, note } from './dom.js';

const EXAMPLE = {
  manifest: `id = "arithmetic"
name = "Arithmetic"
version = "1"
cases = "cases.jsonl"

[[scorer]]
kind = "numeric"
`,
  cases: `{"id": "add-1", "input": "What is 2 + 2? Answer with a number.", "target": "4", "tags": ["add"]}
{"id": "add-2", "input": "What is 17 + 25? Answer with a number.", "target": "42", "tags": ["add"]}
{"id": "mul-1", "input": "What is 6 * 7? Answer with a number.", "target": "42", "tags": ["mul"]}
{"id": "mul-2", "input": "What is 12 * 12? Answer with a number.", "target": "144", "tags": ["mul"]}
`,
  agents: `[[agent]]
name = "small"
provider = "openai"
model = "gpt-4o-mini"
`,
};

function fileField(id, label, accept, target) {
  const input = h('input', { type: 'file', id, accept });
  input.addEventListener('change', async () => {
    const f = input.files?.[0];
    if (f) target.value = await f.text();
  });
  return h('div', { class: 'file' }, h('label', { for: id }, label), input);
}

function area(id, label, help, rows) {
  const t = h('textarea', { id, name: id, rows, spellcheck: 'false', autocomplete: 'off', class: 'mono', 'aria-describedby': `${id}-help` });
  return [t, h('label', { for: id }, label), h('p', { id: `${id}-help`, class: 'help' }, help)];
}

function number(id, label, help, attrs) {
  const i = h('input', { type: 'number', id, name: id, inputmode: 'decimal', 'aria-describedby': `${id}-help`, ...attrs });
  return [i, h('div', { class: 'field' }, h('label', { for: id }, label), i, h('p', { id: `${id}-help`, class: 'help' }, help))];
}

/** `#/new`: the form. */
export async function newRunPage({ main, navigate }) {
  const [manifest, manifestLabel, manifestHelp] = area('manifest', 'Benchmark manifest (TOML)',
    'id, name, version, the scorers; `cases = "cases.jsonl"` names the cases below.', 9);
  const [cases, casesLabel, casesHelp] = area('cases', 'Cases (JSON lines)',
    'One case a line: id, input, target, optional tags and cluster. Leave empty when the manifest holds [[case]] tables.', 8);
  const [agents, agentsLabel, agentsHelp] = area('agents', 'Agents (TOML)',
    'One [[agent]] table per agent: name, provider, model and options. The service accepts only the providers and key variables its operator allows.', 7);
  const [epochs, epochsField] = number('epochs', 'Epochs', 'Repetitions of each case (default: the manifest’s).', { min: 1, max: 100, step: 1 });
  const [concurrency, concurrencyField] = number('concurrency', 'Concurrency', 'Trials in flight at once (default 16).', { min: 1, max: 64, step: 1 });
  const [budget, budgetField] = number('budget', 'Budget (USD)', 'Stop when the rest cannot pay for the next trial (optional).', { min: 0, step: 'any' });
  const result = h('div', { id: 'create-result', role: 'alert', class: 'result' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create run');
  const requestFile = h('input', { type: 'file', id: 'request-file', accept: '.json,application/json' });
  requestFile.addEventListener('change', async () => {
    const f = requestFile.files?.[0];
    if (!f) return;
    try {
      const body = JSON.parse(await f.text());
      manifest.value = body?.benchmark?.manifest ?? '';
      cases.value = body?.benchmark?.cases ?? '';
      agents.value = body?.agents ?? '';
      epochs.value = body?.epochs ?? '';
      concurrency.value = body?.concurrency ?? '';
      budget.value = body?.budget_usd ?? '';
      result.replaceChildren(note('info', `Loaded ${f.name}: check the fields, then create the run.`));
    } catch {
      result.replaceChildren(note('error', `${f.name} is not a JSON request body ({"benchmark": {"manifest", "cases"}, "agents", ...}).`));
    }
  });
  const form = h('form', { class: 'card create', novalidate: true, 'aria-labelledby': 'new-h' },
    h('fieldset', null, h('legend', null, 'Benchmark'),
      manifestLabel, manifest, manifestHelp, fileField('manifest-file', 'Load the manifest from a file', '.toml,text/plain', manifest),
      casesLabel, cases, casesHelp, fileField('cases-file', 'Load the cases from a file', '.jsonl,.json,.ndjson,text/plain', cases)),
    h('fieldset', null, h('legend', null, 'Agents'),
      agentsLabel, agents, agentsHelp, fileField('agents-file', 'Load the agents from a file', '.toml,text/plain', agents)),
    h('fieldset', null, h('legend', null, 'Options'), h('div', { class: 'row' }, epochsField, concurrencyField, budgetField)),
    result,
    h('div', { class: 'actions' }, submit,
      h('button', {
        type: 'button',
        onclick: () => {
          manifest.value = EXAMPLE.manifest;
          cases.value = EXAMPLE.cases;
          agents.value = EXAMPLE.agents;
          manifest.focus();
        },
      }, 'Fill in an example')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const missing = [[manifest, 'the benchmark manifest'], [agents, 'the agents']].filter(([f]) => !f.value.trim());
    if (missing.length) {
      result.replaceChildren(note('error', `Give ${missing.map(([, n]) => n).join(' and ')}.`));
      missing[0][0].focus();
      return;
    }
    const body = { benchmark: { manifest: manifest.value }, agents: agents.value };
    if (cases.value.trim()) body.benchmark.cases = cases.value;
    if (epochs.value) body.epochs = Number(epochs.value);
    if (concurrency.value) body.concurrency = Number(concurrency.value);
    if (budget.value) body.budget_usd = Number(budget.value);
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const answer = await api('/benchmarks', { method: 'POST', body });
      navigate(`/jobs?highlight=${encodeURIComponent(answer.job.id)}`, `Run queued as job ${answer.job.id}.`);
    } catch (err) {
      result.replaceChildren(note('error', h('strong', null, 'Not created: '), err.message));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create run';
    }
  });
  main.replaceChildren(
    h('h1', { tabindex: '-1', id: 'new-h' }, 'Create a run'),
    h('p', { class: 'lead' }, 'Define the benchmark and the agents here or load them from files; the service checks them and queues the run. Its progress shows on the Jobs page.'),
    h('div', { class: 'card upload' },
      h('label', { for: 'request-file' }, 'Or load a whole request (JSON, as POST /api/v1/benchmarks takes it)'),
      requestFile),
    form);
}
