// Building the page. Everything that comes from the server (names, log lines, a function's answer,
// tracebacks) goes into text nodes and attribute values and is never parsed as HTML, so nothing a
// function prints or returns can become markup or script in the console.

const SAFE_HREF = /^(#|\/(?!\/)|https?:\/\/)/;

/** An element: h('a', {href: '#/', class: 'x', onclick: f}, 'text', child, [more]). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else if (key === 'href' && !SAFE_HREF.test(String(value))) throw new Error('refusing the link ' + value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child)); // a string becomes a text node
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Keeps one row per item, by key: new items get a row from create(item), every row is brought up
 * to date by update(row, item), rows of items gone are removed, and the order follows items. Rows
 * that stay are the same elements, so a link or an open panel in them survives a refresh.
 */
export function keyedRows(parent, items, key, create, update) {
  const existing = new Map([...parent.children].map((row) => [row.dataset.key, row]));
  const wanted = [];
  for (const item of items) {
    const k = String(key(item));
    let row = existing.get(k);
    if (!row) {
      row = create(item);
      row.dataset.key = k;
    }
    existing.delete(k);
    update(row, item);
    wanted.push(row);
  }
  existing.forEach((row) => row.remove());
  wanted.forEach((row, i) => {
    if (parent.children[i] !== row) parent.insertBefore(row, parent.children[i] || null);
  });
}

/** A state with its mark: a spinner while deploying or running, a check when ready, a cross when failed. */
export function status(state, text) {
  const kind = {
    DEPLOYING: 'busy', RUNNING: 'busy', QUEUED: 'busy',
    ACTIVE: 'ok', SUCCEEDED: 'ok',
    FAILED: 'bad',
    INACTIVE: 'idle', CANCELLED: 'idle', NEW: 'idle',
  }[state] || 'idle';
  return h('span', { class: 'status status-' + kind, dataset: { state } },
    h('span', { class: 'mark', 'aria-hidden': 'true' }), text || state.toLowerCase());
}

/** An error box saying what the server said. */
export function problem(message) {
  return h('div', { class: 'problem', role: 'alert' }, message);
}

/** What a page says when the server could not answer: report(message) shows it in box, report() clears it. */
export function reporter(box) {
  return (message) => (message ? fill(box, problem(message)) : fill(box));
}

/** Repeats fn every ms milliseconds (first at once), never two at a time; returns a stop function. */
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    try {
      await fn();
    } catch (e) {
      console.warn(e);
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export function ago(iso) {
  if (!iso) return '—';
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return Math.round(seconds) + ' s ago';
  if (seconds < 3600) return Math.round(seconds / 60) + ' min ago';
  if (seconds < 86400) return Math.round(seconds / 3600) + ' h ago';
  return new Date(iso).toLocaleDateString();
}

export function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : '—';
}

export function millis(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1) return ms.toFixed(2) + ' ms';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
}

export function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}
