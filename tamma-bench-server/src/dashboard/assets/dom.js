// Building the DOM without markup: every string becomes a text node, so a name taken
// from a user's file (an agent, a tag, a run id) is never parsed as HTML. No innerHTML
// anywhere in the application.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Sets attributes and listeners: `on*` functions are listeners, `false`/null are skipped. */
function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: `h('a', {href: '#/'}, 'Home')`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  return append(el, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  return append(el, children);
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Text for screen readers only. */
export function sr(text) {
  return h('span', { class: 'sr-only' }, text);
}

/** A link inside the application. */
export function link(path, ...children) {
  return h('a', { href: `#${path}` }, ...children);
}

/** Orders the rows of `body` by their `data-sort-KEY` numbers; ascending or not. */
function sortRows(body, key, ascending) {
  const value = (tr) => {
    const v = Number.parseFloat(tr.dataset[`sort${key[0].toUpperCase()}${key.slice(1)}`]);
    return Number.isFinite(v) ? v : ascending ? Infinity : -Infinity;
  };
  const rows = [...body.rows].sort((a, b) => (ascending ? value(a) - value(b) : value(b) - value(a)));
  body.append(...rows);
}

/**
 * A table with a caption, column heads and rows; wrapped so that it scrolls on narrow
 * screens. A column with `sort: KEY` gets a button in its head that orders the rows by
 * their `data-sort-KEY` attribute (the head says the order in `aria-sort`).
 */
export function table({ caption, columns, rows, className = '', label }) {
  const body = h('tbody', null, rows);
  const heads = columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label));
  columns.forEach((c, i) => {
    if (!c.sort) return;
    const th = heads[i];
    if (c.sorted) th.setAttribute('aria-sort', c.sorted);
    const button = h('button', { type: 'button', class: 'sort' }, c.label);
    button.addEventListener('click', () => {
      const ascending = th.getAttribute('aria-sort') === 'descending';
      for (const other of heads) other.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      sortRows(body, c.sort, ascending);
    });
    th.replaceChildren(button);
  });
  const head = h('thead', null, h('tr', null, heads));
  const t = h('table', { class: className || null }, caption ? h('caption', null, caption) : null, head, body);
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label ?? caption ?? 'table', tabindex: '0' }, t);
}

/** A badge naming a state with words (colour is never the only cue). */
export function badge(text, kind = text) {
  return h('span', { class: `badge badge-${String(kind).replace(/[^a-z_-]/gi, '')}` }, text);
}

/** A message block: kind is `info`, `error` or `empty`. */
export function note(kind, ...children) {
  return h('p', { class: `note note-${kind}` }, ...children);
}
