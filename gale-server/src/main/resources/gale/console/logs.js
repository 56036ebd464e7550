// The Logs tab: the function's lines as they are written (server-sent events), filtered on the
// server by request id and level.
import { stream } from './api.js';
import { h, fill, problem, time } from './dom.js';

const MAX_LINES = 2000;

export function render(panel, fn, params) {
  const requestId = h('input', { id: 'logs-request-id', placeholder: 'request id', spellcheck: 'false',
    value: params.get('requestId') || '' });
  const level = h('select', { id: 'logs-level' },
    [['debug', 'all levels'], ['info', 'info and above'], ['warning', 'warnings and errors'], ['error', 'errors']]
      .map(([value, label]) => h('option', { value, selected: params.get('level') === value }, label)));
  const state = h('span', { class: 'live', id: 'logs-state' }, 'connecting…');
  const lines = h('tbody', { id: 'log-lines' });
  const scroller = h('div', { class: 'log-scroll' },
    h('table', { class: 'logs' }, h('thead', {}, h('tr', {}, ['Time', 'Level', 'Version', 'Request', 'Line'].map((t) => h('th', {}, t)))), lines));
  const message = h('div');
  panel.append(h('form', { class: 'row filters', onsubmit: (e) => e.preventDefault() },
    h('label', { for: 'logs-request-id' }, 'Request id'), requestId,
    h('label', { for: 'logs-level' }, 'Level'), level,
    h('button', { type: 'button', class: 'quiet', onclick: () => fill(lines) }, 'Clear'),
    state), message, scroller);

  let stop = () => {};
  const follow = () => {
    stop();
    fill(lines);
    fill(message);
    const query = new URLSearchParams({ tail: '200', level: level.value });
    if (requestId.value.trim()) query.set('requestId', requestId.value.trim());
    stop = stream(`/v1/functions/${fn.name}/logs/stream?${query}`, (event) => {
      if (event.event !== 'log') return;
      const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
      lines.append(line(JSON.parse(event.data), requestId, follow));
      while (lines.children.length > MAX_LINES) lines.firstChild.remove();
      if (atBottom) scroller.scrollTop = scroller.scrollHeight;
    }, (s, why) => {
      state.className = 'live live-' + s;
      fill(state, s === 'live' ? 'live' : s === 'reconnecting' ? 'reconnecting…' : 'stopped');
      if (s === 'error') fill(message, problem(why));
    });
  };
  let typing = null;
  requestId.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(follow, 300);
  });
  level.addEventListener('change', follow);
  follow();
  return () => {
    clearTimeout(typing);
    stop();
  };
}

function line(entry, requestId, follow) {
  return h('tr', { class: 'level-' + entry.level, dataset: { seq: entry.seq, requestId: entry.requestId || '' } },
    h('td', { class: 'time', title: entry.time }, time(entry.time)),
    h('td', {}, h('span', { class: 'level' }, entry.level), entry.stream === 'gale' ? h('span', { class: 'dim' }, ' gale') : null),
    h('td', {}, 'v' + entry.version),
    h('td', {}, entry.requestId ? h('a', { href: '#', class: 'request', title: 'only this call\'s lines', onclick: (e) => {
      e.preventDefault();
      requestId.value = entry.requestId;
      follow();
    } }, entry.requestId.slice(-8)) : ''),
    h('td', { class: 'message' }, entry.message));
}
