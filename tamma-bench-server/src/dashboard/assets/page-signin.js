// Sign-in: the user pastes a bearer token (a JWT from the platform's identity service).
// It is checked with one API call before it is kept, in this tab's sessionStorage only.

import { api, clearToken, claims, INTERNAL, setToken } from './api.js';
import { h } from './dom.js';
import { when } from './format.js';

/** Renders the sign-in form into `main`; `onSignedIn()` after a token is accepted. */
export function renderSignIn(main, { message, onSignedIn }) {
  const error = h('div', { id: 'signin-error', class: 'note note-error', role: 'alert', hidden: !message }, message ?? '');
  const field = h('textarea', {
    id: 'token', name: 'token', rows: 5, required: true, autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', 'aria-describedby': 'token-help signin-error', class: 'mono',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', { tabindex: '-1' }, INTERNAL ? 'Internal dashboard: sign in' : 'Sign in'),
    h('p', null, INTERNAL
      ? 'Paste a service token (a JWT for the internal API). It opens the internal views: cost analysis, optimization studies and insights.'
      : 'Paste your access token (a JWT issued for the tamma-bench API).'),
    h('label', { for: 'token' }, 'Bearer token'),
    field,
    h('p', { id: 'token-help', class: 'help' },
      'The token stays in this browser tab (session storage) and is sent only to this service, in the Authorization header. Closing the tab or signing out forgets it.'),
    error,
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = field.value.trim().replace(/^Bearer\s+/i, '');
    const fail = (text) => {
      error.textContent = text;
      error.hidden = false;
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    };
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value)) {
      fail('That does not look like a JWT: three parts of base64url text separated by dots.');
      return;
    }
    const exp = claims(value).exp;
    if (Number.isFinite(exp) && exp * 1000 < Date.now()) {
      fail(`This token expired at ${when(exp * 1000)}. Ask for a fresh one.`);
      return;
    }
    button.disabled = true;
    button.textContent = 'Checking…';
    setToken(value);
    try {
      await api('/jobs?limit=1');
      onSignedIn();
    } catch (err) {
      clearToken();
      fail(err.message);
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
  main.replaceChildren(form);
  return form;
}
