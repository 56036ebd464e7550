// The function page's traffic section (docs/traffic.md): the split between versions as bars, each version's
// calls and errors in the last hour (how a canary is judged), the tags with their URLs, and forms to set the
// split (like `gale traffic NAME --to v3=90,v4=10`) and the tags. Built once; update() redraws it in place, so
// what the user is typing survives the page's refresh.
import { api } from './api.js';
import { h, fill, keyedRows, status, problem } from './dom.js';

const views = new WeakMap();

/** Draws the section into box (once) and brings it up to date with traffic, the answer of GET .../traffic. */
export function show(box, name, traffic, redraw) {
  let view = views.get(box);
  if (!view) {
    view = mount(box, name, redraw);
    views.set(box, view);
  }
  view(traffic);
}

function mount(box, name, redraw) {
  const mode = h('div', { id: 'traffic-mode', class: 'note' });
  const bars = h('div', { class: 'split', id: 'traffic-bars' });
  const rows = h('tbody', { id: 'traffic-versions' });
  const tags = h('div', { id: 'traffic-tags', class: 'note' });
  const message = h('div', { id: 'traffic-message' });
  const to = h('input', { id: 'traffic-to', placeholder: 'v3=90,v4=10', spellcheck: 'false', 'aria-label': 'Split' });
  const tagName = h('input', { id: 'tag-name', placeholder: 'canary', spellcheck: 'false', 'aria-label': 'Tag' });
  const tagVersion = h('input', { id: 'tag-version', placeholder: 'v4', spellcheck: 'false', 'aria-label': 'Version of the tag' });
  let filled = false;

  const change = async (body, what) => {
    fill(message, h('div', { class: 'note' }, status('DEPLOYING', what + '…')));
    try {
      const now = await api('PUT', `/v1/functions/${name}/traffic`, { json: body });
      fill(message, h('div', { class: 'note', id: 'traffic-done' }, status('ACTIVE', what + ': ' + describe(now))));
      to.value = now.pinned ? describe(now) : '';
    } catch (e) {
      fill(message, problem(e.message));
    } finally {
      redraw();
    }
  };
  let current = { tags: {} };

  box.append(
    mode,
    bars,
    h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Version', 'State', 'Traffic', 'Calls (1 h)', 'Errors (1 h)', 'Tags', 'URL'].map((t) => h('th', {}, t)))),
      rows),
    tags,
    h('form', { class: 'row', id: 'traffic-form', onsubmit: (e) => {
      e.preventDefault();
      let split;
      try {
        split = parse(to.value);
      } catch (err) {
        fill(message, problem(err.message));
        return;
      }
      change({ to: split }, 'split set');
    } },
    h('label', { for: 'traffic-to' }, 'Split'), to,
    h('button', { type: 'submit', id: 'traffic-set' }, 'Set split'),
    h('button', { type: 'button', id: 'traffic-latest', onclick: () => change({ toLatest: true }, 'all calls to the ACTIVE version') },
      'All to the latest version')),
    h('form', { class: 'row', id: 'tag-form', onsubmit: (e) => {
      e.preventDefault();
      const tag = tagName.value.trim();
      const version = tagVersion.value.trim().replace(/^v/, '');
      change({ tags: { ...current.tags, [tag]: version } }, 'tag ' + tag + ' set');
      tagName.value = '';
      tagVersion.value = '';
    } },
    h('label', { for: 'tag-name' }, 'Tag'), tagName, h('label', { for: 'tag-version' }, 'for'), tagVersion,
    h('button', { type: 'submit', id: 'tag-add' }, 'Add tag')),
    message);

  return (traffic) => {
    current = traffic;
    fill(mode, traffic.pinned
      ? 'Split pinned: a deploy does not change it; "All to the latest version" follows new versions again.'
      : 'All calls go to the ACTIVE version, and to each new version a deploy makes ACTIVE.');
    const shares = traffic.versions.filter((v) => v.percent > 0);
    keyedRows(bars, shares, (v) => v.version,
      (v) => h('div', { class: 'share', dataset: { version: v.version } }),
      (bar, v) => {
        bar.style.flexGrow = String(v.percent); // CSSOM, which the console's style-src 'self' allows
        fill(bar, 'v' + v.version + ' · ' + v.percent + '%');
      });
    keyedRows(rows, traffic.versions, (v) => v.version,
      (v) => h('tr', { dataset: { version: v.version } }, h('td', {}, 'v' + v.version), h('td'), h('td'), h('td'), h('td'), h('td'), h('td')),
      (row, v) => {
        const c = row.children;
        fill(c[1], status(v.state));
        fill(c[2], v.percent + '%');
        fill(c[3], String(v.lastHour.calls));
        fill(c[4], v.lastHour.errors + (v.lastHour.calls ? ` (${(100 * v.lastHour.errors / v.lastHour.calls).toFixed(1)}%)` : ''));
        fill(c[5], v.tags.join(', ') || '—');
        fill(c[6], h('a', { href: v.url, target: '_blank', rel: 'noopener noreferrer', class: 'dim' }, v.url));
      });
    fill(tags, Object.keys(traffic.tagUrls).length === 0 ? h('span', { class: 'dim' }, 'No tags.')
      : Object.entries(traffic.tagUrls).map(([tag, url]) => h('div', { class: 'tag', dataset: { tag } },
        h('strong', {}, tag), ' → v' + traffic.tags[tag] + ' ',
        h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url), ' ',
        h('button', { type: 'button', class: 'remove-tag', onclick: () => {
          const rest = { ...current.tags };
          delete rest[tag];
          change({ tags: rest }, 'tag ' + tag + ' removed');
        } }, 'Remove'))));
    if (!filled) {
      to.value = traffic.pinned ? describe(traffic) : '';
      filled = true;
    }
  };
}

/** "v3=90,v4=10" as {"3": 90, "4": 10}; the server checks that the percents add up to 100. */
function parse(text) {
  const split = {};
  for (const part of text.split(',')) {
    const m = /^\s*v?(\d+)\s*=\s*(-?\d+(?:\.\d+)?)\s*%?\s*$/.exec(part);
    if (!m) throw new Error(`'${part.trim()}' is not vN=PERCENT; write the split like v3=90,v4=10`);
    split[m[1]] = Number(m[2]);
  }
  return split;
}

function describe(traffic) {
  return Object.entries(traffic.to).map(([v, p]) => `v${v}=${p}`).join(',');
}
