// The cost report (docs/cost.md): what each function used over a period — calls, GB-seconds,
// CPU-seconds — and what exactly that would cost on each platform, beside an always-on VM.
import { read } from './api.js';
import { h, fill, reporter } from './dom.js';

const PERIODS = [['1d', 'Last day'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];

export function render(main, _match, params) {
  const since = PERIODS.some(([p]) => p === params.get('since')) ? params.get('since') : '30d';
  const message = h('div');
  const report = h('div', { id: 'cost-report' }, 'loading…');
  main.append(h('div', { class: 'heading' }, h('h1', {}, 'Cost')),
    h('nav', { class: 'tabs', id: 'cost-periods' }, PERIODS.map(([p, label]) =>
      h('a', { href: '#/cost?since=' + p, class: p === since ? 'current' : null, dataset: { since: p } }, label))),
    message, report);
  const controller = new AbortController();
  read('/v1/cost?since=' + encodeURIComponent(since), reporter(message)).then((data) => {
    if (data && !controller.signal.aborted) fill(report, ...draw(data));
    else if (!data) fill(report);
  });
  return () => controller.abort();
}

function draw(data) {
  const platforms = (data.total.platforms || []).map((p) => ({ id: p.platform, label: p.label }));
  const head = ['Function', 'Calls', 'GB-s (calls)', 'GB-s (instances)', 'CPU-s', ...platforms.map((p) => p.label), 'Always-on VM'];
  const rows = data.rows.map((r) => h('tr', { class: 'cost-row', dataset: { function: r.function } },
    h('td', {}, h('a', { class: 'name', href: '#/functions/' + r.function }, r.function),
      h('div', { class: 'dim' }, `${r.memoryMb} MB · v${r.versions.join(', v')}`)),
    h('td', { class: 'calls' }, String(r.calls)),
    h('td', {}, number(r.gbSeconds.requestBased)),
    h('td', {}, number(r.gbSeconds.instanceBased)),
    h('td', {}, number(r.cpuSeconds)),
    platforms.map((p) => priceCell(r.platforms.find((x) => x.platform === p.id), r.cheapest)),
    vmCell(r.vm)));
  const total = h('tr', { class: 'cost-total' },
    h('td', {}, h('strong', {}, 'Total')),
    h('td', {}, h('strong', {}, String(data.total.calls))),
    h('td', {}, number(sum(data.rows, (r) => r.gbSeconds.requestBased))),
    h('td', {}, number(sum(data.rows, (r) => r.gbSeconds.instanceBased))),
    h('td', {}, number(data.total.cpuSeconds)),
    platforms.map((p) => priceCell(data.total.platforms.find((x) => x.platform === p.id), data.total.cheapest)),
    vmCell(data.total.vm));
  return [
    h('p', { class: 'dim' }, `${when(data.since)} to ${when(data.until)} · ${data.source.description}`
      + (data.freeTier ? ' · free allowances taken off' : ' · without free allowances')),
    data.rows.length === 0
      ? h('div', { class: 'empty' }, 'No function ran in this period.')
      : h('table', { class: 'list cost' }, h('thead', {}, h('tr', {}, head.map((t) => h('th', {}, t)))),
        h('tbody', { id: 'cost-rows' }, rows, total)),
    h('p', { id: 'cost-summary' }, data.summary),
    h('p', { class: 'dim' }, 'Prices in ', data.currency, ': ', h('code', {}, 'gale cost --show-prices'),
      ' shows them with their sources; ', h('code', {}, 'gale cost'), ' prints the same report.'),
  ];
}

function priceCell(p, cheapest) {
  if (!p) return h('td', { class: 'dim' }, '—');
  if (p.cost === null) return h('td', { class: 'dim', title: p.notOffered || '' }, 'not offered');
  const best = cheapest && cheapest.platform === p.platform;
  return h('td', { title: quantities(p.quantities) }, best ? h('strong', {}, money(p.cost)) : money(p.cost));
}

function vmCell(vm) {
  if (!vm) return h('td', { class: 'dim' }, '—');
  if (vm.cost === null) return h('td', { class: 'dim', title: vm.note || '' }, 'none big enough');
  return h('td', {}, money(vm.cost), h('div', { class: 'dim' }, vm.label));
}

function quantities(q) {
  if (!q) return '';
  return [q.requests !== undefined ? q.requests + ' requests' : null,
    q.memorySeconds !== undefined ? number(q.memorySeconds) + ' ' + (q.memoryUnit || '') : null,
    q.cpuSeconds !== undefined ? number(q.cpuSeconds) + ' ' + (q.cpuUnit || '') : null].filter(Boolean).join(', ');
}

function when(iso) {
  return new Date(iso).toLocaleString();
}

function sum(rows, f) {
  return rows.reduce((a, r) => a + (f(r) || 0), 0);
}

function number(n) {
  if (n === null || n === undefined) return '—';
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toPrecision(2);
}

/** Small amounts keep two significant digits, as gale cost prints them ($0.0026). */
function money(n) {
  if (n === 0) return '$0';
  if (n >= 1) return '$' + n.toFixed(2);
  return '$' + n.toPrecision(2);
}
