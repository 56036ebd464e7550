// The functions list: each function's state, runtime, versions, instances and last hour of calls.
import { read } from './api.js';
import { h, fill, keyedRows, status, reporter, every, ago } from './dom.js';

/** A function's state as its mark shows it: the newest version deploying or failed beside the one serving. */
export function functionStatus(fn) {
  if (fn.latestState === 'DEPLOYING') {
    return status('DEPLOYING', 'deploying v' + fn.latestVersion);
  }
  if (fn.state === 'ACTIVE') {
    const serving = status('ACTIVE', 'active v' + fn.activeVersion);
    if (fn.latestState === 'FAILED' && fn.latestVersion !== fn.activeVersion) {
      return h('span', {}, serving, h('span', { class: 'reason', title: fn.latestReason || '' },
        'v' + fn.latestVersion + ' failed: ' + (fn.latestReason || '')));
    }
    return serving;
  }
  if (fn.state === 'FAILED') {
    return h('span', {}, status('FAILED', 'failed v' + fn.latestVersion),
      h('span', { class: 'reason', title: fn.latestReason || '' }, fn.latestReason || ''));
  }
  return status(fn.state, fn.state === 'NEW' ? 'no version yet' : undefined);
}

export function render(main) {
  const body = h('tbody', { id: 'functions' });
  const message = h('div');
  const empty = h('div', { class: 'empty', hidden: true }, 'No functions yet. ', h('a', { href: '#/deploy' }, 'Deploy one'),
    ' from the browser, or with ', h('code', {}, 'gale deploy NAME --source DIR'), '.');
  main.append(
    h('div', { class: 'heading' }, h('h1', {}, 'Functions'), h('a', { class: 'button', href: '#/deploy' }, 'Deploy')),
    message,
    h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['Function', 'Status', 'Runtime', 'Version', 'Instances', 'Calls (1 h)', 'Errors (1 h)', 'Last call']
        .map((t) => h('th', {}, t)))),
      body),
    empty);
  return every(2000, async () => {
    const list = await read('/v1/functions', reporter(message));
    if (!list) return;
    list.sort((a, b) => a.name.localeCompare(b.name));
    empty.hidden = list.length > 0;
    keyedRows(body, list, (fn) => fn.name, (fn) => {
      const link = h('a', { href: '#/functions/' + fn.name, class: 'name' }, fn.name);
      return h('tr', { dataset: { function: fn.name } }, h('td', {}, link), ...Array.from({ length: 7 }, () => h('td')));
    }, (row, fn) => {
      const cells = row.children;
      fill(cells[1], functionStatus(fn));
      fill(cells[2], fn.config.runtime || '—');
      fill(cells[3], fn.activeVersion ? 'v' + fn.activeVersion : '—',
        fn.latestVersion && fn.latestVersion !== fn.activeVersion ? h('span', { class: 'dim' }, ' (latest v' + fn.latestVersion + ')') : null);
      fill(cells[4], String(fn.instances), fn.startingInstances ? h('span', { class: 'dim' }, ' +' + fn.startingInstances + ' starting') : null);
      fill(cells[5], String(fn.lastHour.calls));
      cells[6].className = fn.lastHour.errors ? 'errors' : '';
      fill(cells[6], String(fn.lastHour.errors), fn.lastHour.errors
        ? h('span', { class: 'dim' }, ` (${fn.lastHour.functionErrors} function, ${fn.lastHour.platformErrors} platform)`) : null);
      fill(cells[7], h('span', { title: fn.lastCall || '' }, ago(fn.lastCall)));
    });
  });
}
