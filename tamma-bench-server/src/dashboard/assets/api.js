// The REST client: the door's API prefix (from the page's <meta>), the bearer token kept
// in this tab's sessionStorage, and errors turned into plain sentences.

function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
}

/** `/api/v1` or `/internal/v1`. */
export const API = meta('tamma-api');
/** `public` or `internal`. */
export const DOOR = meta('tamma-door');
export const INTERNAL = DOOR === 'internal';

const KEY = `tamma-bench.token.${DOOR}`;

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** The claims of the token, decoded for display only (the service verifies it). */
export function claims(t = token()) {
  try {
    const part = String(t).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

/** An API error with a sentence fit to show as it is. */
export class ApiError extends Error {
  constructor(status, code, message, { retryAfter = null, requestId = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }
}

/** The sentence for an error answer. */
function sentence(status, body, retryAfter) {
  const said = body?.error?.message;
  switch (status) {
    case 401:
      return 'Your token was refused: it is missing, expired or not valid for this service. Sign in again with a fresh token.';
    case 403:
      return INTERNAL
        ? `Not permitted: ${said ?? 'this token is not accepted here'}. The internal dashboard takes a service token.`
        : `Not permitted: ${said ?? 'this token is not accepted here'}. The public dashboard takes a customer token; service tokens open the internal dashboard.`;
    case 429:
      return `Too many requests for your tenant: try again in ${retryAfter ?? 'a few'} seconds.`;
    case 503:
      return 'The service is unavailable right now: try again in a moment.';
    default:
      return said ?? `The service answered ${status}.`;
  }
}

/** Turns a non-2xx response into an ApiError. */
export async function problem(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const ra = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
  const retryAfter = Number.isFinite(ra) ? ra : null;
  return new ApiError(res.status, body?.error?.code ?? 'http', sentence(res.status, body, retryAfter), {
    retryAfter,
    requestId: res.headers.get('x-request-id'),
  });
}

/** The headers every API request carries. */
export function authHeaders(extra = {}) {
  const headers = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  return headers;
}

/**
 * Calls `path` (under the door's prefix) and returns the parsed JSON. A 401 also fires
 * `tamma:unauthorized` on window, so the application can ask for a new token.
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: authHeaders(), credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(`${API}${path}`, init);
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The service could not be reached: check the connection and try again.');
  }
  if (!res.ok) {
    const err = await problem(res);
    if (res.status === 401) window.dispatchEvent(new CustomEvent('tamma:unauthorized', { detail: err }));
    throw err;
  }
  if (res.status === 204) return null;
  return res.json();
}

/** `path` with a query string of the defined values of `params`. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
