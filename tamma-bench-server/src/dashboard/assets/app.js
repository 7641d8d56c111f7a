// The application: sign-in state, the hash router (#/path?query), the navigation, the
// live connection and the status messages. Pages are functions that render into <main>
// and say which events make them read their data again.

import { ApiError, claims, clearToken, DOOR, INTERNAL, token } from './api.js';
import { h, link, note } from './dom.js';
import { when } from './format.js';
import { Live } from './live.js';
import { renderSignIn } from './page-signin.js';
import { benchmarkPage, benchmarksPage } from './page-benchmarks.js';
import { reportPage } from './page-report.js';
import { jobsPage } from './page-jobs.js';
import { newRunPage } from './page-new.js';
import { costPage, insightsPage, studiesPage } from './page-internal.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const session = document.getElementById('session');
const status = document.getElementById('status');
const liveBadge = document.getElementById('live');

const ROUTES = [
  { path: /^\/$/, page: benchmarksPage, title: 'Benchmarks', nav: 'Benchmarks' },
  { path: /^\/benchmarks\/([^/]+)$/, page: benchmarkPage, title: 'Benchmark', navOf: '/' },
  { path: /^\/runs\/([^/]+)$/, page: reportPage, title: 'Run', navOf: '/' },
  { path: /^\/compare$/, page: reportPage, title: 'Comparison', navOf: '/' },
  ...(INTERNAL ? [{ path: /^\/cost$/, page: costPage, title: 'Cost analysis', nav: 'Cost' }] : []),
  { path: /^\/jobs$/, page: jobsPage, title: 'Jobs', nav: 'Jobs' },
  ...(INTERNAL
    ? [
      { path: /^\/studies$/, page: studiesPage, title: 'Optimization studies', nav: 'Studies' },
      { path: /^\/insights$/, page: insightsPage, title: 'Insights', nav: 'Insights' },
    ]
    : [{ path: /^\/new$/, page: newRunPage, title: 'Create a run', nav: 'New run' }]),
];

const NAV_PATHS = { Benchmarks: '/', Cost: '/cost', Jobs: '/jobs', Studies: '/studies', Insights: '/insights', 'New run': '/new' };

const live = new Live();
let current = null; // the page shown: { controller, types, timer, loading }
let signedIn = false;
let pendingMessage = null;
let booting = true;

/**
 * Announces `text` in the status region (as an error when `error`). A `transient` message
 * (a refresh that failed, newer data on offer) is cleared by the next successful refresh.
 */
function say(text, error = false, transient = false) {
  status.replaceChildren(text ? note(error ? 'error' : 'info', text) : '');
  status.dataset.transient = transient ? 'yes' : '';
}

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, q = ''] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(q) };
}

/** Goes to `path` (in the application), with a message to announce there. */
function navigate(path, message) {
  pendingMessage = message ?? null;
  if (location.hash === `#${path}`) render(true);
  else location.hash = path;
}

function renderNav(active) {
  nav.replaceChildren(...ROUTES.filter((r) => r.nav).map((r) => {
    const href = NAV_PATHS[r.nav];
    const a = link(href, r.nav);
    if (href === active) a.setAttribute('aria-current', 'page');
    return h('li', null, a);
  }));
}

function renderSession() {
  if (!signedIn) {
    session.replaceChildren();
    return;
  }
  const c = claims();
  const who = [c.sub, c.tenant && `tenant ${c.tenant}`, c.tier].filter(Boolean).join(' · ');
  const out = h('button', { type: 'button', class: 'small', id: 'signout' }, 'Sign out');
  out.addEventListener('click', () => signOut('You are signed out.'));
  session.replaceChildren(
    h('span', { class: 'who', title: Number.isFinite(c.exp) ? `token valid until ${when(c.exp * 1000)}` : '' }, who || 'signed in'),
    out);
}

function signOut(message) {
  clearToken();
  signedIn = false;
  live.stop();
  stopPage();
  renderSession();
  renderNav(null);
  showSignIn(message);
}

function showSignIn(message) {
  document.title = `Sign in · tamma-bench`;
  renderSignIn(main, {
    message,
    onSignedIn: () => {
      signedIn = true;
      renderSession();
      live.start();
      say('Signed in.');
      render(true);
    },
  });
  // On the first load the user starts at the top of the page (the skip link first).
  if (!booting) main.querySelector('h1')?.focus();
}

function stopPage() {
  if (!current) return;
  current.controller.abort();
  clearInterval(current.timer);
  current = null;
}

/** Renders the page of the current hash; `fresh` when it is a navigation (focus moves). */
async function render(fresh) {
  if (!signedIn) return;
  const initial = booting;
  const { path, query } = parseHash();
  const route = ROUTES.find((r) => r.path.test(path));
  const navPath = route?.nav ? NAV_PATHS[route.nav] : route?.navOf ?? null;
  renderNav(navPath);
  const previousScroll = fresh ? 0 : window.scrollY;
  stopPage();
  const controller = new AbortController();
  const page = { controller, types: new Set(), timer: null, loading: true };
  current = page;
  if (!route) {
    document.title = 'Not found · tamma-bench';
    main.replaceChildren(h('h1', { tabindex: '-1' }, 'Not found'), note('error', 'No such page. ', link('/', 'Go to the benchmarks'), '.'));
    main.querySelector('h1')?.focus();
    return;
  }
  const params = path.match(route.path).slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p; // a malformed escape: the id as typed (the service will not know it)
    }
  });
  if (fresh) {
    main.setAttribute('aria-busy', 'true');
    if (!main.firstChild || main.querySelector('.signin')) main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  }
  const ctx = {
    main: document.createElement('div'),
    params,
    query,
    signal: controller.signal,
    navigate,
    live: { say, refresh: () => render(false) },
    refreshOn(types, { every = null } = {}) {
      page.types = new Set(types);
      if (every) page.timer = setInterval(() => refresh(page), every);
    },
  };
  try {
    await route.page(ctx);
    page.loading = false;
    if (controller.signal.aborted) return;
    main.replaceChildren(...ctx.main.childNodes);
    main.removeAttribute('aria-busy');
    const h1 = main.querySelector('h1');
    document.title = `${h1?.textContent ?? route.title} · tamma-bench`;
    if (fresh) {
      if (!initial) h1?.focus();
      window.scrollTo(0, 0);
      say(pendingMessage ?? '');
      pendingMessage = null;
    } else {
      window.scrollTo(0, previousScroll);
      if (status.dataset.transient) say('');
    }
  } catch (err) {
    page.loading = false;
    if (controller.signal.aborted || err?.name === 'AbortError') return;
    main.removeAttribute('aria-busy');
    if (err instanceof ApiError && err.status === 401) return; // the sign-in form takes over
    if (!fresh) {
      // A refresh that failed (a 429, the service away) keeps what is shown and says why.
      say(`Could not update: ${err?.message ?? err}`, true, true);
      return;
    }
    main.replaceChildren(h('h1', { tabindex: '-1' }, route.title),
      note('error', err instanceof ApiError ? err.message : `Something went wrong: ${err?.message ?? err}`),
      err?.requestId ? h('p', { class: 'help' }, `Request id: ${err.requestId}`) : '',
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => render(true) }, 'Try again')));
    if (fresh) main.querySelector('h1')?.focus();
  }
}

/** Reads the current page again, unless the user is working in it: then offers to. */
function refresh(page) {
  if (current !== page || page.loading || document.visibilityState === 'hidden') return;
  // Redrawing would take the user's focus, choices or open sections away.
  const el = document.activeElement;
  const focused = el && main.contains(el) && el.matches('input, textarea, select, button, a, summary');
  const chosen = main.querySelector('input[type=checkbox]:checked, details[open]');
  if (focused || chosen) {
    if (status.dataset.transient === 'offer') return;
    const button = h('button', { type: 'button', class: 'small' }, 'Show the latest');
    button.addEventListener('click', () => render(false));
    status.replaceChildren(note('info', 'New data is available. ', button));
    status.dataset.transient = 'offer';
    return;
  }
  render(false);
}

live.addEventListener('event', (e) => {
  if (current?.types.has(e.detail.type)) refresh(current);
});
live.addEventListener('tick', () => {
  if (current?.types.size) refresh(current);
});
live.addEventListener('mode', (e) => {
  const labels = {
    connecting: 'Connecting…', live: 'Live', polling: 'Updating every 3 s', reconnecting: 'Reconnecting…', stopped: 'Offline',
  };
  liveBadge.hidden = e.detail === 'stopped';
  liveBadge.textContent = labels[e.detail] ?? e.detail;
  liveBadge.dataset.mode = e.detail;
});
live.addEventListener('unauthorized', (e) => signOut(e.detail?.message));
window.addEventListener('tamma:unauthorized', (e) => {
  if (signedIn) signOut(e.detail?.message);
});
window.addEventListener('hashchange', () => render(true));
// A tab brought back reads its page again (refreshes pause while it is hidden).
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && current?.types.size) refresh(current);
});
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

document.documentElement.dataset.door = DOOR;
if (token()) {
  const exp = claims().exp;
  if (Number.isFinite(exp) && exp * 1000 < Date.now()) {
    clearToken();
    showSignIn('Your token has expired: sign in again.');
  } else {
    signedIn = true;
    renderSession();
    live.start();
    render(true);
  }
} else {
  showSignIn();
}
booting = false;
