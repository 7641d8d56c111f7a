// The dashboard in headless Chromium, driven by playwright-core. Run by
// tests/dashboard.rs, which starts the service and passes (environment):
//   DASH_PUBLIC_URL, DASH_INTERNAL_URL   the two listeners' origins (ending in /)
//   DASH_USER_TOKEN                      a premium customer of tenant acme
//   DASH_FREE_TOKEN                      a free customer of tenant tiny (2 requests a minute)
//   DASH_SERVICE_TOKEN                   a service of tenant acme (internal door)
//   DASH_EXPIRED_TOKEN                   an expired customer token
//   DASH_RUN_ID                          acme's stored replay run
//   DASH_MODEL_URL                       a loopback OpenAI-compatible server the service allows
//   DASH_OUT                             where screenshots and downloads go
//   DASH_CHROMIUM                        the browser (/usr/bin/chromium)
// Prints one line per step ("ok - NAME" or "not ok - NAME: why") and finally
// "E2E-SUMMARY {json}"; exits 1 at the first failed step.

import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`missing environment variable ${k}`);
    process.exit(2);
  }
  return v;
};
const PUBLIC = env('DASH_PUBLIC_URL');
const INTERNAL = env('DASH_INTERNAL_URL');
const USER = env('DASH_USER_TOKEN');
const FREE = env('DASH_FREE_TOKEN');
const SERVICE = env('DASH_SERVICE_TOKEN');
const EXPIRED = env('DASH_EXPIRED_TOKEN');
const RUN = env('DASH_RUN_ID');
const MODEL_URL = env('DASH_MODEL_URL');
const OUT = env('DASH_OUT');
const CHROMIUM = env('DASH_CHROMIUM');
// The run created from the form: large enough that the executor stores several batches
// (of 256 trials) while the page watches.
const CREATED_CASES = 1200;

const summary = { steps: [], axe: [], screenshots: [], console_errors: [], downloads: {}, live_mode: null, progress_seen: false, created_job: null };
const profile = mkdtempSync(join(tmpdir(), 'tamma-dash-chromium-'));
let context;
let current; // the page a failure is photographed from

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function step(name, fn) {
  try {
    await fn();
    summary.steps.push(name);
    console.log(`ok - ${name}`);
  } catch (e) {
    console.log(`not ok - ${name}: ${e?.stack ?? e}`);
    if (current) {
      const path = join(OUT, 'failure.png');
      await current.screenshot({ path, fullPage: true }).catch(() => {});
      console.log(`# screenshot of the failure: ${path}`);
      const text = await current.locator('main').innerText().catch(() => '');
      console.log(`# main at the failure:\n${text.slice(0, 3000)}`);
    }
    console.log(`E2E-SUMMARY ${JSON.stringify(summary)}`);
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    process.exit(1);
  }
}

async function shot(page, name, fullPage = true) {
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path, fullPage });
  summary.screenshots.push(path);
}

/** axe-core over the page: WCAG 2.1 A/AA and best practices; no serious or critical violation. */
async function audit(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return {
      passes: r.passes.length,
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })),
    };
  });
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  summary.axe.push({ page: name, passes: result.passes, violations: result.violations.length, serious: serious.length, details: result.violations });
  for (const v of result.violations) console.log(`# axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join('; ')})`);
  expect(serious.length === 0, `${name}: ${serious.length} serious accessibility violations: ${JSON.stringify(serious)}`);
}

function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = m.location()?.url ?? '';
    // The browser logs each refused API call the test provokes on purpose (a token of the
    // other door, a refused definition, the free tier's limit), the event stream's 404
    // where the service has none (the dashboard then polls), the 404 of a claimed job's
    // run before its first write (the dashboard shows "starting…") and the reports of the
    // runs the test asks for that the user may not see.
    const refused = text.match(/^Failed to load resource: the server responded with a status of (\d+)/);
    if (refused && ['403', '422', '429'].includes(refused[1])) return;
    if (refused && refused[1] === '404' && /\/(events|runs\/[^/]+|report\?runs=[^&]+)$/.test(url)) return;
    summary.console_errors.push(`${label}: ${text} (${url})`);
  });
  page.on('pageerror', (e) => summary.console_errors.push(`${label}: ${e.message}`));
}

async function signIn(page, token) {
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function downloadText(page, buttonName) {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: buttonName }).click(),
  ]);
  const path = join(OUT, download.suggestedFilename());
  await download.saveAs(path);
  summary.downloads[buttonName] = path;
  return readFileSync(path, 'utf8');
}

context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  acceptDownloads: true,
  viewport: { width: 1280, height: 900 },
  locale: 'en-US',
  timezoneId: 'UTC',
});
context.setDefaultTimeout(15000);

// ---- Public door ------------------------------------------------------------------

const page = context.pages()[0] ?? (await context.newPage());
current = page;
watch(page, 'public');
await page.goto(PUBLIC);

await step('sign-in page', async () => {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await audit(page, 'sign-in');
  await shot(page, 'sign-in', false);
});

await step('keyboard: skip link', async () => {
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement?.textContent);
  expect(first === 'Skip to content', `the first Tab stop is the skip link, not ${first}`);
  await page.keyboard.press('Enter');
  const focused = await page.evaluate(() => document.activeElement?.id);
  expect(focused === 'main', `Enter on the skip link focuses main, not ${focused}`);
});

await step('event stream parser', async () => {
  // The dashboard's own module, in the page: events split across chunks at any byte (a
  // CRLF too), CRLF and LF line ends, comments, several data lines, the last id kept for
  // an event without one, nameless events, an opening id without data, an unfinished event.
  const parsed = await page.evaluate(async () => {
    const src = document.querySelector('script[type="module"]').src.replace(/app\.js$/, 'live.js');
    const { SseParser, eventType } = await import(src);
    const out = [];
    const p = new SseParser((e) => out.push(e));
    const text = 'id: 6\n\n: keep-alive\r\nid: 7\r\nevent: job.queued\r\ndata: {"a":1}\r\n\r\nid: 8\nevent: job_started\ndata: line one\ndata: line two\n\ndata: x\n\nid: 9\ndata: half';
    const resume = [];
    for (let i = 0; i < text.length; i += 5) {
      p.push(text.slice(i, i + 5));
      if (i === 5) resume.push(p.lastEventId);
    }
    resume.push(p.lastEventId);
    return { out, types: out.map((e) => eventType(e.type)), resume };
  });
  expect(JSON.stringify(parsed.out) === JSON.stringify([
    { id: '7', type: 'job.queued', data: '{"a":1}' },
    { id: '8', type: 'job_started', data: 'line one\nline two' },
    { id: '8', type: 'message', data: 'x' },
  ]), `parsed: ${JSON.stringify(parsed.out)}`);
  expect(JSON.stringify(parsed.types) === JSON.stringify(['job.queued', 'job.started', 'message']), `types: ${parsed.types}`);
  // An id alone counts for resuming; an event not yet ended by its blank line does not.
  expect(JSON.stringify(parsed.resume) === JSON.stringify(['6', '8']), `resume after: ${parsed.resume}`);
});

await step('sign-in refuses an expired token', async () => {
  await signIn(page, EXPIRED);
  await page.getByRole('alert').filter({ hasText: 'expired' }).waitFor();
});

await step('sign-in explains a token of the other door', async () => {
  await signIn(page, SERVICE);
  await page.getByRole('alert').filter({ hasText: 'Not permitted' }).waitFor();
  const stored = await page.evaluate(() => sessionStorage.length);
  expect(stored === 0, 'a refused token is not kept');
});

await step('benchmarks list', async () => {
  await signIn(page, USER);
  await page.getByRole('heading', { level: 1, name: 'Benchmarks' }).waitFor();
  const row = page.locator('tr[data-benchmark="arith-replay"]');
  await row.waitFor();
  expect(await page.locator('tr[data-benchmark="bench-globex"]').count() === 0, 'another tenant\'s private benchmark is not listed');
  const who = await page.locator('#session').innerText();
  expect(who.includes('acme'), `the session names the tenant: ${who}`);
  await audit(page, 'benchmarks');
  await shot(page, 'benchmarks');
});

const report = await page.evaluate(async ([run, token]) => {
  const r = await fetch(`/api/v1/report?runs=${run}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}, [RUN, USER]);

await step('benchmark page and its runs', async () => {
  await page.getByRole('link', { name: 'arith-replay' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'Benchmark arith-replay' }).waitFor();
  await page.locator(`tr[data-run="${RUN}"]`).waitFor();
  await audit(page, 'benchmark');
  await page.locator(`tr[data-run="${RUN}"] th a`).click();
});

await step('leaderboard with intervals', async () => {
  await page.getByRole('heading', { level: 1, name: `Run ${RUN}` }).waitFor();
  const rows = page.locator('table.leaderboard tbody tr');
  await rows.first().waitFor();
  expect(await rows.count() === 3, `three results, not ${await rows.count()}`);
  const first = await rows.nth(0).innerText();
  const s = report.results[0].summary.score;
  expect(first.includes('steady'), `steady leads: ${first}`);
  expect(first.includes((s.mean * 100).toFixed(1)), `the service's mean ${s.mean}: ${first}`);
  expect(first.includes(`[${(s.ci_low * 100).toFixed(1)}, ${(s.ci_high * 100).toFixed(1)}]`), `the service's interval: ${first}`);
  expect(await page.locator('table.leaderboard svg[data-chart="interval"]').count() === 3, 'an interval bar per result');
  const box = await page.locator('table.leaderboard svg[data-chart="interval"] rect.ci-band').first().boundingBox();
  expect(box && box.width > 5, 'the interval bar is drawn');
  await audit(page, 'run');
  await shot(page, 'run');
  // Ordered by a column head's button, twice: descending, then ascending.
  const score = page.locator('table.leaderboard thead th').filter({ hasText: 'Score' });
  await score.getByRole('button').click();
  await score.getByRole('button').click();
  expect(await score.getAttribute('aria-sort') === 'ascending', 'the head says the order');
  expect((await rows.nth(0).innerText()).includes('flaky'), 'the lowest score first');
  await page.locator('table.leaderboard thead th').filter({ hasText: 'Rank' }).getByRole('button').click();
  expect((await rows.nth(0).innerText()).includes('flaky'), 'rank descending: the third first');
});

await step('paired comparisons with verdicts', async () => {
  const cards = page.locator('section article.comparison');
  expect(await cards.count() === 2, 'the best against each other result');
  for (let i = 0; i < 2; i += 1) {
    const verdict = await cards.nth(i).getAttribute('data-verdict');
    const expected = report.comparisons[i].comparison.verdict;
    expect(verdict === expected, `verdict ${verdict} is the service's ${expected}`);
    const text = await cards.nth(i).locator('.headline').innerText();
    expect(/better|worse|equivalent|inconclusive/.test(text), `the verdict is said in words: ${text}`);
    expect(await cards.nth(i).locator('svg[data-chart="forest"]').count() === 1, 'a forest plot');
  }
  await cards.first().locator('details summary').click();
  await cards.first().locator('details table').waitFor();
  await shot(page, 'comparison');
});

await step('any two results compared', async () => {
  await page.getByLabel('Result A').selectOption(`${RUN}/budget`);
  await page.getByLabel('Result B').selectOption(`${RUN}/flaky`);
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  const card = page.locator('.pair-result article.comparison');
  await card.waitFor();
  const text = await card.locator('.headline').innerText();
  expect(text.includes('+15.0 points'), `budget − flaky = 15 points: ${text}`);
  await shot(page, 'pair');
});

await step('public door keeps cost internal', async () => {
  await page.getByText('Cost is internal to the platform').waitFor();
  expect(await page.locator('svg[data-chart="pareto"]').count() === 0, 'no Pareto chart for customers');
});

await step('export', async () => {
  const csv = await downloadText(page, 'Leaderboard (CSV)');
  const lines = csv.trim().split('\r\n');
  expect(lines[0].startsWith('rank,run_id,agent,provider,model,score_mean,ci_low,ci_high'), `CSV header: ${lines[0]}`);
  expect(lines.length === 4 && lines[1].includes(',steady,'), `three rows, steady first: ${csv}`);
  const json = JSON.parse(await downloadText(page, 'Report (JSON)'));
  expect(json.results.length === 3 && json.comparisons.length === 2, 'the report as the service sent it');
  const cmp = await downloadText(page, 'Comparisons (CSV)');
  expect(cmp.split('\r\n')[0].startsWith('a,b,tag,n_pairs'), 'comparisons CSV');
  const trials = (await downloadText(page, 'Trials (JSON lines)')).trim().split('\n').map((l) => JSON.parse(l));
  expect(trials.length === 120, `3 agents × 40 cases, not ${trials.length}`);
  expect(trials.every((t) => t.run_id === RUN), 'the run\'s trials');
});

await step('create a run: errors are shown as the service says them', async () => {
  await page.getByRole('link', { name: 'New run' }).click();
  await page.getByRole('heading', { level: 1, name: 'Create a run' }).waitFor();
  await audit(page, 'new-run');
  await page.getByLabel('Benchmark manifest (TOML)').fill('id = "bad"\nname = "Bad"\nversion = "1"\n[[case]]\nid = "x"\ninput = "hi"\ntarget = "4"\n');
  await page.getByLabel('Agents (TOML)').fill('[[agent]]\nname = "r"\nprovider = "replay"\nmodel = "m"\n');
  await page.getByRole('button', { name: 'Create run' }).click();
  const alert = page.locator('#create-result');
  await alert.getByText('not accepted here').waitFor();
  const text = await alert.innerText();
  expect(text.includes('agents') && text.includes('provider'), `the error names the file and field: ${text}`);
});

let created;
await step('create a run from the form', async () => {
  let cases = '';
  for (let i = 0; i < CREATED_CASES; i += 1) {
    cases += `${JSON.stringify({ id: `q${i}`, input: `What is ${i % 5} + 2?`, target: String((i % 5) + 2), tags: [i % 2 ? 'odd' : 'even'] })}\n`;
  }
  await page.getByLabel('Benchmark manifest (TOML)').fill('id = "loop-arith"\nname = "Loop arithmetic"\nversion = "1"\ncases = "cases.jsonl"\n');
  // The cases come from an uploaded file.
  await page.getByLabel('Load the cases from a file').setInputFiles({ name: 'cases.jsonl', mimeType: 'text/plain', buffer: Buffer.from(cases) });
  await page.waitForFunction((n) => document.getElementById('cases').value.includes(`"q${n - 1}"`), CREATED_CASES);
  await page.getByLabel('Agents (TOML)').fill(`[[agent]]\nname = "loop"\nprovider = "openai"\nmodel = "loop-model"\nbase_url = "${MODEL_URL}"\nprice_per_mtok_input = 1.0\nprice_per_mtok_output = 2.0\n`);
  await page.getByLabel('Concurrency').fill('4');
  await page.getByRole('button', { name: 'Create run' }).click();
  await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
  const row = page.locator('tr.highlight');
  await row.waitFor();
  created = await row.getAttribute('data-job');
  summary.created_job = created;
  await page.locator('#status').getByText(`Run queued as job ${created}`).waitFor();
});

await step('the job runs live to success', async () => {
  const deadline = Date.now() + 90000;
  let state = null;
  let shotTaken = false;
  while (Date.now() < deadline) {
    // Read in one go: the row is redrawn as the job advances.
    const seen = await page.evaluate((id) => {
      const tr = document.querySelector(`tr[data-job="${id}"]`);
      return { state: tr?.dataset.state ?? null, label: tr?.querySelector('.progress label')?.textContent ?? '' };
    }, created);
    state = seen.state;
    if (state === 'running') {
      const m = seen.label.replace(/,/g, '').match(/(\d+) of (\d+)/);
      if (m && Number(m[1]) > 0 && Number(m[1]) < CREATED_CASES && Number(m[2]) === CREATED_CASES) {
        summary.progress_seen = true;
        if (!shotTaken) {
          await shot(page, 'jobs-running');
          shotTaken = true;
        }
      }
    }
    if (state === 'succeeded' || state === 'failed' || state === 'cancelled') break;
    await page.waitForTimeout(250);
  }
  summary.live_mode = await page.locator('#live').getAttribute('data-mode');
  expect(state === 'succeeded', `the job ended ${state}`);
  expect(summary.progress_seen, 'the progress of the running run was shown');
  expect(summary.live_mode === 'live', `live updates from the event stream: ${summary.live_mode}`);
  await audit(page, 'jobs');
  await shot(page, 'jobs');
});

await step('a job submitted elsewhere appears by its event', async () => {
  // No job is active: the page has no timer, so only the stream's job.queued redraws it.
  const before = await page.locator('tr[data-job]').count();
  const id = await page.evaluate(async ([token, model]) => {
    const body = {
      benchmark: { manifest: 'id = "tiny"\nname = "Tiny"\nversion = "1"\n[[case]]\nid = "a"\ninput = "2+2?"\ntarget = "4"\n' },
      agents: `[[agent]]\nname = "loop"\nprovider = "openai"\nmodel = "m"\nbase_url = "${model}"\n`,
    };
    const r = await fetch('/api/v1/benchmarks', {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return (await r.json()).job.id;
  }, [USER, MODEL_URL]);
  await page.locator(`tr[data-job="${id}"]`).waitFor({ timeout: 10000 });
  expect(await page.locator('tr[data-job]').count() === before + 1, 'one more job');
  await page.locator(`tr[data-job="${id}"][data-state="succeeded"]`).waitFor({ timeout: 30000 });
});

await step('the created run has its report', async () => {
  await page.locator(`tr[data-job="${created}"] td a`).first().click();
  await page.locator('table.leaderboard tbody tr').first().waitFor();
  const text = await page.locator('table.leaderboard tbody tr').first().innerText();
  expect(text.includes('loop'), text);
});

await step('dark scheme', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${PUBLIC}#/runs/${RUN}`);
  await page.locator('table.leaderboard tbody tr').first().waitFor();
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg === 'rgb(13, 17, 23)', `the dark background: ${bg}`);
  await audit(page, 'run-dark');
  await shot(page, 'run-dark', false);
  await page.emulateMedia({ colorScheme: 'light' });
});

await step('narrow screen', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${PUBLIC}#/runs/${RUN}`);
  await page.locator('table.leaderboard tbody tr').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 1, `the page does not scroll sideways (${overflow}px); wide tables scroll in their box`);
  await shot(page, 'run-narrow');
  await page.setViewportSize({ width: 1280, height: 900 });
});

await step('unknown pages and runs', async () => {
  await page.goto(`${PUBLIC}#/no-such-page`);
  await page.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
  await page.goto(`${PUBLIC}#/runs/%E0%A4%A`);
  await page.getByText('no such run visible to you').waitFor();
  await page.goto(`${PUBLIC}#/runs/globex-secret`);
  await page.getByText('no such run visible to you').waitFor();
});

await step('sign out', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  const stored = await page.evaluate(() => sessionStorage.length);
  expect(stored === 0, 'the token is forgotten');
});

// A free tenant over its allowance: the 429 is said plainly.
await step('rate limit shown', async () => {
  const free = await context.newPage();
  current = free;
  watch(free, 'free');
  await free.goto(PUBLIC);
  await signIn(free, FREE);
  await free.locator('main h1').waitFor();
  await free.goto(`${PUBLIC}#/jobs`);
  await free.getByText('Too many requests for your tenant').waitFor();
  await free.getByRole('button', { name: 'Try again' }).waitFor();
  await shot(free, 'rate-limited', false);
  await free.close();
  current = page;
});

// ---- Internal door ----------------------------------------------------------------

const internal = await context.newPage();
current = internal;
watch(internal, 'internal');
await internal.goto(INTERNAL);

await step('internal sign-in', async () => {
  await internal.getByRole('heading', { name: 'Internal dashboard: sign in' }).waitFor();
  await signIn(internal, SERVICE);
  await internal.getByRole('heading', { level: 1, name: 'Benchmarks' }).waitFor();
  for (const name of ['Cost', 'Studies', 'Insights']) {
    await internal.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).waitFor();
  }
  await audit(internal, 'internal-benchmarks');
});

await step('internal cost analysis and Pareto chart', async () => {
  await internal.getByRole('link', { name: 'Cost', exact: true }).click();
  await internal.getByRole('heading', { level: 1, name: 'Cost analysis' }).waitFor();
  await internal.locator('table.cost tbody tr').first().waitFor();
  const chart = internal.locator('svg[data-chart="pareto"]');
  await chart.waitFor();
  const front = await chart.locator('g.point.on-front').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-result')).sort());
  expect(JSON.stringify(front) === JSON.stringify(['budget', 'steady']), `the service's front: ${front}`);
  expect(await chart.locator('g.point').count() === 3, 'three points');
  await audit(internal, 'cost');
  await shot(internal, 'cost');
});

await step('internal run report with cost and Pareto chart', async () => {
  await internal.goto(`${INTERNAL}#/runs/${RUN}`);
  await internal.locator('svg[data-chart="pareto"]').waitFor();
  const head = await internal.locator('table.leaderboard thead').innerText();
  expect(head.includes('Cost'), `a cost column: ${head}`);
  await audit(internal, 'internal-run');
  await shot(internal, 'internal-run');
});

await step('internal insights', async () => {
  await internal.getByRole('link', { name: 'Insights' }).click();
  await internal.getByRole('heading', { level: 1, name: 'Insights' }).waitFor();
  await internal.getByText('steady leads arith-replay').waitFor();
  await audit(internal, 'insights');
});

await step('internal studies', async () => {
  await internal.getByRole('link', { name: 'Studies' }).click();
  await internal.getByRole('heading', { level: 1, name: 'Optimization studies' }).waitFor();
  await internal.getByText('Start a study').first().click();
  await internal.getByLabel('Search space (TOML)').waitFor();
  await audit(internal, 'studies');
});

await step('no script error nor CSP violation', async () => {
  expect(summary.console_errors.length === 0, summary.console_errors.join('\n'));
});

console.log(`E2E-SUMMARY ${JSON.stringify(summary)}`);
await context.close();
rmSync(profile, { recursive: true, force: true });
