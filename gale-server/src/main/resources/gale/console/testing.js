// The Testing tab: calls the function at /fn/NAME exactly as any client would, and shows what came
// back: status, headers, body, duration, cold start and request id (which leads to its log lines).
import { authHeaders } from './api.js';
import { h, fill, problem, millis } from './dom.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const SHOWN_BODY = 256 * 1024;

export function render(panel, fn) {
  const method = h('select', { id: 'test-method' }, METHODS.map((m) => h('option', { value: m }, m)));
  const path = h('input', { id: 'test-path', value: '/', placeholder: '/', spellcheck: 'false' });
  const query = h('input', { id: 'test-query', placeholder: 'name=gale&limit=5', spellcheck: 'false' });
  const headers = h('textarea', { id: 'test-headers', rows: 3, spellcheck: 'false', placeholder: 'Content-Type: application/json' });
  const body = h('textarea', { id: 'test-body', rows: 6, spellcheck: 'false', placeholder: '{"x": 1}' });
  const send = h('button', { type: 'submit', id: 'test-send' }, 'Send');
  const result = h('div', { id: 'test-result' });
  const form = h('form', { class: 'testing', onsubmit: async (e) => {
    e.preventDefault();
    send.disabled = true;
    try {
      fill(result, await call(fn, method.value, path.value, query.value, headers.value, body.value));
    } catch (err) {
      fill(result, problem(err.message));
    } finally {
      send.disabled = false;
    }
  } },
  h('div', { class: 'row' }, method, h('span', { class: 'prefix' }, '/fn/' + fn.name), path, h('span', { class: 'prefix' }, '?'), query),
  h('label', { for: 'test-headers' }, 'Headers, one per line'), headers,
  h('label', { for: 'test-body' }, 'Body'), body,
  h('div', {}, send, fn.config.allowUnauthenticated ? null
    : h('span', { class: 'hint' }, ' The function is private: the call carries your token (Gale removes the admin token before the function sees the request).')));
  panel.append(form, result);
}

async function call(fn, method, path, query, headerText, body) {
  const target = '/fn/' + fn.name + (path.startsWith('/') ? path : '/' + path) + (query.trim() ? '?' + query.trim().replace(/^\?/, '') : '');
  const headers = fn.config.allowUnauthenticated ? new Headers() : authHeaders();
  for (const line of headerText.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`The header line "${line}" has no name: write Name: value`);
    headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim()); // throws on a name no header can have
  }
  const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'manual' };
  if (method !== 'GET' && method !== 'HEAD' && body) init.body = body;
  const started = performance.now();
  const res = await fetch(target, init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const duration = performance.now() - started;
  const requestId = res.headers.get('X-Gale-Request-Id');
  const cold = res.headers.get('X-Gale-Cold-Start');
  return h('div', { class: 'response' },
    h('dl', { class: 'facts' },
      h('dt', {}, 'Status'), h('dd', { id: 'test-status', class: res.ok ? 'ok' : 'bad' }, res.type === 'opaqueredirect' ? 'redirect' : String(res.status)),
      h('dt', {}, 'Duration'), h('dd', { id: 'test-duration' }, millis(duration)),
      h('dt', {}, 'Cold start'), h('dd', { id: 'test-cold' }, cold === 'true' ? 'yes' : cold === 'false' ? 'no' : '—'),
      h('dt', {}, 'Request id'), h('dd', {}, requestId
        ? h('a', { id: 'test-request-id', href: `#/functions/${fn.name}/logs?requestId=${encodeURIComponent(requestId)}`,
          title: 'its log lines' }, requestId) : '—'),
      res.headers.get('X-Gale-Error') ? [h('dt', {}, 'Failed'), h('dd', { class: 'bad' }, res.headers.get('X-Gale-Error'))] : null),
    h('h3', {}, 'Headers'),
    h('table', { class: 'config headers' }, [...res.headers].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
    h('h3', {}, 'Body ', h('span', { class: 'dim' }, bytes.length + ' bytes')),
    h('pre', { id: 'test-body-out', class: 'body' }, shown(bytes, res.headers.get('Content-Type') || '')));
}

/** The body as text (JSON indented); other bytes are only counted. */
function shown(bytes, type) {
  if (bytes.length === 0) return '(empty)';
  const textual = /^(text\/|application\/(json|.*\+json|xml|javascript|x-www-form-urlencoded))/.test(type) || type === '';
  if (!textual) return `(${type}: ${bytes.length} bytes, not shown)`;
  let text = new TextDecoder().decode(bytes.subarray(0, SHOWN_BODY));
  if (/json/.test(type)) {
    try {
      text = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // shown as it came
    }
  }
  return bytes.length > SHOWN_BODY ? text + `\n… (${bytes.length - SHOWN_BODY} more bytes)` : text;
}
