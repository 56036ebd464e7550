// One function: its state and URL, then tabs: overview (config, versions with rollback, traffic),
// testing, live logs and charts.
import { api, read } from './api.js';
import { h, fill, keyedRows, status, problem, reporter, every, ago, bytes } from './dom.js';
import { functionStatus } from './functions.js';
import * as testing from './testing.js';
import * as logs from './logs.js';
import * as charts from './charts.js';
import * as traffic from './traffic.js';

const TABS = [['overview', 'Overview'], ['testing', 'Testing'], ['logs', 'Logs'], ['charts', 'Charts']];

export function render(main, [name, tab = 'overview'], params) {
  const state = h('span', { id: 'function-status' });
  const url = h('span', { class: 'url' });
  const message = h('div');
  const panel = h('section', { class: 'panel', id: 'tab-' + tab });
  main.append(
    h('div', { class: 'heading' },
      h('h1', {}, h('a', { href: '#/', class: 'dim' }, 'Functions'), ' / ', name),
      state,
      h('span', { class: 'spacer' }),
      h('a', { class: 'button', href: '#/deploy?function=' + name }, 'Deploy a new version')),
    url,
    h('nav', { class: 'tabs' }, TABS.map(([id, label]) =>
      h('a', { href: `#/functions/${name}/${id}`, class: id === tab ? 'current' : null, dataset: { tab: id } }, label))),
    message,
    panel);

  const refresh = async () => {
    const current = await read('/v1/functions/' + name, reporter(message));
    if (!current) return null;
    fill(state, functionStatus(current));
    fill(url, h('a', { href: current.url, target: '_blank', rel: 'noopener noreferrer' }, current.url),
      current.config.allowUnauthenticated ? ' (public)' : ' (private: callers need a token)');
    return current;
  };

  let stopTab = () => {};
  const redraw = async () => {
    const fn = await refresh();
    if (fn && tab === 'overview') overview(panel, fn, redraw);
  };
  const stopHeader = every(2000, redraw);
  if (tab !== 'overview') {
    // These tabs draw once the function is known, and keep themselves up to date.
    refresh().then((fn) => {
      if (!fn) return;
      if (tab === 'testing') stopTab = testing.render(panel, fn) || stopTab;
      if (tab === 'logs') stopTab = logs.render(panel, fn, params) || stopTab;
      if (tab === 'charts') stopTab = charts.render(panel, fn) || stopTab;
    });
  }
  return () => {
    stopHeader();
    stopTab();
  };
}

/** Config, versions and traffic, redrawn in place on each refresh. */
function overview(panel, fn, redraw) {
  if (!panel.firstChild) {
    panel.append(
      h('h2', {}, 'Versions'),
      h('div', { id: 'rollback-message' }),
      h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['Version', 'State', 'Deployed', 'Bundle', ''].map((t) => h('th', {}, t)))),
        h('tbody', { id: 'versions' })),
      // The split between versions, calls per version, tags and the forms that change them (traffic.js).
      h('h2', {}, 'Traffic'),
      h('div', { id: 'traffic', class: 'traffic' }),
      h('h2', {}, 'Configuration'),
      h('table', { class: 'config', id: 'config' }));
  }
  keyedRows(panel.querySelector('#versions'), fn.versions, (v) => v.version,
    (v) => h('tr', { dataset: { version: v.version } }, h('td', {}, 'v' + v.version), h('td'), h('td'), h('td'), h('td')),
    (row, v) => {
      const cells = row.children;
      fill(cells[1], status(v.state), v.reason ? h('div', { class: 'reason' }, v.reason) : null);
      fill(cells[2], h('span', { title: v.createdAt }, ago(v.createdAt)));
      fill(cells[3], bytes(v.bundleBytes), h('span', { class: 'dim' }, ' ' + v.bundleDigest.replace('sha256:', '').slice(0, 12)));
      if (v.state === 'INACTIVE' && !cells[4].firstChild) {
        fill(cells[4], h('button', { class: 'rollback', dataset: { version: v.version },
          onclick: (e) => rollback(fn.name, v.version, e.target, redraw) }, 'Roll back to v' + v.version));
      } else if (v.state !== 'INACTIVE') {
        fill(cells[4]);
      }
    });
  const trafficBox = panel.querySelector('#traffic');
  if (!fn.activeVersion) {
    if (!trafficBox.firstChild) fill(trafficBox, h('span', { class: 'dim' }, 'No version serves yet.'));
  } else {
    read(`/v1/functions/${fn.name}/traffic`, () => {}).then((t) => {
      if (!t) return;
      if (trafficBox.firstChild && trafficBox.firstChild.id !== 'traffic-mode') trafficBox.replaceChildren();
      traffic.show(trafficBox, fn.name, t, redraw);
    });
  }
  fill(panel.querySelector('#config'), Object.entries(fn.config).map(([key, value]) =>
    h('tr', {}, h('th', {}, key), h('td', {}, typeof value === 'object' ? JSON.stringify(value) : String(value)))));
}

async function rollback(name, version, button, redraw) {
  const message = document.getElementById('rollback-message');
  button.disabled = true;
  fill(message, h('div', { class: 'note' }, status('DEPLOYING', 'rolling back to v' + version + '…')));
  try {
    await api('POST', `/v1/functions/${name}/rollback`, { json: { version } });
    fill(message, h('div', { class: 'note' }, status('ACTIVE', 'v' + version + ' serves again')));
  } catch (e) {
    fill(message, problem(e.message));
  } finally {
    button.disabled = false;
    redraw();
  }
}
