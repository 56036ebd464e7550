// The Charts tab: the function's last hour in 10-second buckets, from /v1/functions/NAME/metrics
// (recorded where /metrics is, with the same latency buckets).
import uPlot from './vendor/uplot-1.6.30/uPlot.esm.js';
import { read } from './api.js';
import { h, fill, reporter, every } from './dom.js';

const CHARTS = [
  { id: 'calls', title: 'Calls per 10 s', series: [['calls', 'calls', '#1f6fd1']] },
  { id: 'errors', title: 'Errors per 10 s, by who failed',
    series: [['functionErrors', 'function', '#c62828'], ['platformErrors', 'platform', '#ef8f00']] },
  { id: 'latency', title: 'Latency (ms)', series: [['p50Ms', 'p50', '#2e7d32'], ['p99Ms', 'p99', '#7b1fa2']] },
  { id: 'cold', title: 'Cold starts per 10 s', series: [['coldStarts', 'cold starts', '#00838f']] },
  { id: 'instances', title: 'Instances', series: [['instances', 'instances', '#546e7a']] },
];

/** How far back the charts look; the server keeps an hour. */
const RANGES = [[15 * 60, 'last 15 minutes'], [60 * 60, 'last hour']];

export function render(panel, fn) {
  const totals = h('span', { id: 'chart-totals', class: 'dim' });
  const range = h('select', { id: 'chart-range', class: 'chart-range' }, RANGES.map(([s, label]) => h('option', { value: s }, label)));
  const message = h('div');
  const grid = h('div', { class: 'charts' });
  panel.append(h('p', {}, totals, range), message, grid);
  let last = null;
  const plots = CHARTS.map((chart) => {
    const box = h('div', { class: 'chart', id: 'chart-' + chart.id });
    grid.append(box);
    return { chart, box, plot: null };
  });
  const resize = new ResizeObserver(() => plots.forEach((p) => p.plot && p.plot.setSize(size(p.box))));
  resize.observe(grid);
  const draw = (m) => {
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    fill(totals, `Last hour: ${sum(m.calls)} calls, ${sum(m.functionErrors)} function errors, `
      + `${sum(m.platformErrors)} platform errors, ${sum(m.coldStarts)} cold starts. Showing the `);
    const from = m.time.length - Math.round(Number(range.value) / m.bucketSeconds);
    for (const p of plots) {
      const data = [m.time, ...p.chart.series.map(([key]) => m[key])].map((column) => column.slice(Math.max(0, from)));
      if (p.plot) {
        p.plot.setData(data);
      } else {
        p.plot = new uPlot(options(p.chart, size(p.box)), data, p.box);
      }
    }
  };
  range.addEventListener('change', () => last && draw(last));
  const stop = every(10000, async () => {
    const m = await read(`/v1/functions/${fn.name}/metrics`, reporter(message));
    if (m) draw(last = m);
  });
  return () => {
    stop();
    resize.disconnect();
    plots.forEach((p) => p.plot && p.plot.destroy());
  };
}

function size(box) {
  return { width: Math.max(280, box.clientWidth - 8), height: 170 };
}

function options(chart, { width, height }) {
  return {
    title: chart.title,
    width,
    height,
    cursor: { drag: { x: false, y: false } },
    scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{}, { size: 50 }],
    series: [{}, ...chart.series.map(([, label, stroke]) => ({ label, stroke, width: 1.5, spanGaps: false,
      points: { show: chart.id === 'latency', size: 4 }, // a latency between buckets without calls is a dot, not nothing
      fill: chart.series.length === 1 ? stroke + '22' : undefined }))],
  };
}
