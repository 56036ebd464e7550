// The console is a client of the same /v1 API as the gale CLI. The token the user signed in with
// (the admin token or an access key) lives in this tab's sessionStorage only: it is sent as an
// Authorization header, never as a cookie, so no other page can make the browser use it.

const KEY = 'gale.token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

let unauthorized = () => {};

/** What to do when the server refuses the token (the app sends the user to sign in again). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function authHeaders(extra) {
  const headers = new Headers(extra || {});
  const t = token();
  if (t) headers.set('Authorization', 'Bearer ' + t);
  return headers;
}

/**
 * Calls the admin API. Resolves to the JSON answer (null when there is none); rejects with an
 * ApiError carrying the server's own message, which says what went wrong and what to do.
 */
export async function api(method, path, { json, form, signal } = {}) {
  const init = { method, headers: authHeaders(), signal, credentials: 'omit', cache: 'no-store' };
  if (json !== undefined) {
    init.headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(json);
  }
  if (form) init.body = form;
  const res = await fetch(path, init);
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) {
    if (res.status === 401) unauthorized();
    throw new ApiError(res.status, (body && body.error) || `${res.status} ${res.statusText}`);
  }
  return body;
}

/**
 * Reads an API path for a page: the answer, or null after report(message) said why there is none
 * (report() with no message clears what it said before).
 */
export async function read(path, report) {
  try {
    const answer = await api('GET', path);
    report();
    return answer;
  } catch (e) {
    report(e.message);
    return null;
  }
}

/**
 * Follows a server-sent event stream of the API. EventSource cannot send an Authorization header,
 * so this reads the stream with fetch: onEvent({event, id, data}) for each event, onState('live' |
 * 'reconnecting' | 'error', message) as the connection goes. After a drop it reconnects with
 * Last-Event-ID, so nothing is missed or shown twice. Returns a function that stops it.
 */
export function stream(path, onEvent, onState = () => {}) {
  const abort = new AbortController();
  let lastId = null;
  (async () => {
    while (!abort.signal.aborted) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (lastId !== null) headers.set('Last-Event-ID', lastId);
        const res = await fetch(path, { headers, signal: abort.signal, credentials: 'omit', cache: 'no-store' });
        if (!res.ok) {
          const body = await res.json().catch(() => null);
          onState('error', (body && body.error) || `${res.status} ${res.statusText}`);
          if (res.status === 401) unauthorized();
          if (res.status < 500) return; // a bad filter or a gone function: trying again changes nothing
        } else {
          await readEvents(res.body, (event) => {
            if (event.id !== null) lastId = event.id;
            onEvent(event);
          }, () => onState('live'));
        }
      } catch (e) {
        if (abort.signal.aborted) return;
      }
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return () => abort.abort();
}

/** Parses text/event-stream (the WHATWG format): fields per line, an empty line ends an event, ':' starts a comment. */
async function readEvents(body, onEvent, onOpen) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { event: 'message', id: null, data: [] };
  onOpen();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (event.data.length) onEvent({ event: event.event, id: event.id, data: event.data.join('\n') });
        event = { event: 'message', id: null, data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? '' : line.slice(colon + 1);
      if (text.startsWith(' ')) text = text.slice(1);
      if (field === 'data') event.data.push(text);
      else if (field === 'event') event.event = text;
      else if (field === 'id') event.id = text;
    }
  }
}
