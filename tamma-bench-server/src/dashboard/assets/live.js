// Live updates: the service's event stream (`GET {API}/events`, server-sent events) read
// with fetch, because EventSource cannot send an Authorization header and a token in a
// URL would end up in logs and history. Each event is `id:` (its log position),
// `event:` (its type) and `data:` (the event as JSON). A dropped stream reconnects with a
// back-off, resuming after the last position seen (`Last-Event-ID`). A service without
// the stream (404) is polled instead: `tick` fires every few seconds.

import { API, authHeaders, problem } from './api.js';

const POLL_MS = 3000;

/** Dotted event type (`job.queued`), whether the stream says `job.queued` or `job_queued`. */
export function eventType(name) {
  return String(name ?? '').replace('_', '.');
}

/** Parses a text/event-stream, calling `onEvent({id, type, data})` per event. */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    // A chunk that ended in CR: a LF opening the next one ends the same line.
    this.skipLF = false;
    // The last event id persists from event to event, as the standard says; it counts
    // (for resuming) once its event's blank line has come.
    this.id = null;
    this.lastEventId = null;
    this.reset();
  }

  reset() {
    this.data = [];
    this.type = '';
  }

  push(text) {
    const chunk = this.skipLF && text.startsWith('\n') ? text.slice(1) : text;
    this.skipLF = chunk.endsWith('\r');
    this.buffer += chunk;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === '') {
      this.lastEventId = this.id;
      if (this.data.length) {
        this.onEvent({ id: this.id, type: this.type || 'message', data: this.data.join('\n') });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}

/**
 * The live connection. Fires `event` (detail: {id, type, data}), `tick` (while polling),
 * `mode` (detail: 'connecting' | 'live' | 'polling' | 'reconnecting' | 'stopped') and
 * `unauthorized`.
 */
export class Live extends EventTarget {
  constructor() {
    super();
    this.mode = 'stopped';
    this.lastId = null;
    this.controller = null;
    this.timer = null;
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.dispatchEvent(new CustomEvent('mode', { detail: mode }));
  }

  start() {
    this.stop();
    this.controller = new AbortController();
    this.run(this.controller.signal);
  }

  stop() {
    this.controller?.abort();
    this.controller = null;
    clearInterval(this.timer);
    this.timer = null;
    this.setMode('stopped');
  }

  poll(signal) {
    this.setMode('polling');
    this.timer = setInterval(() => {
      if (!signal.aborted) this.dispatchEvent(new Event('tick'));
    }, POLL_MS);
  }

  async run(signal) {
    let wait = 1000;
    this.setMode('connecting');
    while (!signal.aborted) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (this.lastId !== null) headers['Last-Event-ID'] = this.lastId;
        const res = await fetch(`${API}/events`, { headers, signal, cache: 'no-store', credentials: 'omit' });
        if (res.status === 404 || res.status === 405 || res.status === 501) {
          this.poll(signal);
          return;
        }
        if (res.status === 401 || res.status === 403) {
          const err = await problem(res);
          this.dispatchEvent(new CustomEvent('unauthorized', { detail: err }));
          this.setMode('stopped');
          return;
        }
        if (!res.ok || !res.body) throw await problem(res);
        this.setMode('live');
        wait = 1000;
        // A reconnection may have missed events: let the pages read again.
        this.dispatchEvent(new Event('tick'));
        const parser = new SseParser((e) => this.deliver(e));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(value);
          // The stream opens with an id alone (where it starts): resume there too.
          if (parser.lastEventId !== null) this.lastId = parser.lastEventId;
        }
      } catch (e) {
        if (signal.aborted) return;
        const ra = e?.retryAfter;
        if (ra) wait = Math.max(wait, ra * 1000);
      }
      if (signal.aborted) return;
      this.setMode('reconnecting');
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 15000);
    }
  }

  deliver({ id, type, data }) {
    if (id !== null) this.lastId = id;
    let value = null;
    try {
      value = JSON.parse(data);
    } catch {
      value = null;
    }
    const t = eventType(type !== 'message' ? type : value?.payload?.type ?? value?.type);
    this.dispatchEvent(new CustomEvent('event', { detail: { id, type: t, data: value } }));
  }
}
