// Map jobs, running and finished: live progress, throughput and ETA, failures with their
// tracebacks, cancel and redrive.
import { api, read } from './api.js';
import { h, fill, keyedRows, status, problem, reporter, every, millis, ago } from './dom.js';

export function render(main) {
  const body = h('tbody', { id: 'jobs' });
  const message = h('div'); // why the list could not be read
  const actions = h('div', { id: 'jobs-message' }); // why a cancel or redrive was refused
  const empty = h('div', { class: 'empty', hidden: true }, 'No map jobs yet. Start one with ',
    h('code', {}, 'gale map FUNCTION --input inputs.jsonl'), ' or gale.Executor().map(...) in Python.');
  main.append(h('div', { class: 'heading' }, h('h1', {}, 'Jobs')), message, actions,
    h('table', { class: 'list jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Function', 'State', 'Progress', 'Throughput', 'ETA', 'Started', ''].map((t) => h('th', {}, t)))),
      body),
    empty);
  const refresh = async () => {
    const list = await read('/v1/jobs?limit=50', reporter(message));
    if (!list) return;
    empty.hidden = list.length > 0;
    keyedRows(body, list.flatMap((job) => [{ job, key: job.id }, { job, key: job.id + ':failures' }]), (x) => x.key,
      (x) => x.key.endsWith(':failures') ? failuresRow() : jobRow(x.job),
      (row, x) => x.key.endsWith(':failures') ? null : updateJob(row, x.job, refresh));
  };
  return every(1000, refresh);
}

function jobRow(job) {
  return h('tr', { class: 'job', dataset: { job: job.id } },
    h('td', {}, h('code', { title: job.id }, job.id.slice(0, 12))),
    h('td', {}, h('a', { href: '#/functions/' + job.function }, job.function)),
    h('td'), h('td'), h('td'), h('td'), h('td'), h('td', { class: 'actions' }));
}

/** The row under a job's, holding its failures once opened. */
function failuresRow() {
  return h('tr', { class: 'failures', hidden: true }, h('td', { colspan: 8 }));
}

function updateJob(row, job, refresh) {
  const cells = row.children;
  const c = job.counts;
  const ended = c.done + c.failed + c.cancelled;
  fill(cells[2], status(job.state), job.error ? h('div', { class: 'reason' }, job.error) : null);
  fill(cells[3], bar(job), h('div', { class: 'dim progress-text' },
    `${ended} / ${job.inputs}`, c.running ? ` · ${c.running} running` : '',
    c.failed ? h('span', { class: 'errors' }, ` · ${c.failed} failed`) : '', c.cancelled ? ` · ${c.cancelled} cancelled` : ''));
  fill(cells[4], job.throughputPerSec ? job.throughputPerSec + ' /s' : '—');
  fill(cells[5], job.state === 'RUNNING' && job.etaMs !== null ? millis(job.etaMs) : '—');
  fill(cells[6], h('span', { title: job.startedAt || '' }, ago(job.startedAt)), h('div', { class: 'dim' }, millis(job.elapsedMs)));
  const actions = cells[7];
  const wanted = [job.state === 'RUNNING' ? 'cancel' : null, job.state !== 'RUNNING' && c.failed ? 'redrive' : null,
    c.failed ? 'failures' : null].filter(Boolean).join(',');
  if (actions.dataset.buttons !== wanted) { // rebuilt only when they change, so a click is never lost to a refresh
    actions.dataset.buttons = wanted;
    fill(actions,
      job.state === 'RUNNING' ? action('Cancel', 'cancel', () => api('DELETE', '/v1/jobs/' + job.id), refresh) : null,
      job.state !== 'RUNNING' && c.failed ? action('Redrive', 'redrive', () => api('POST', `/v1/jobs/${job.id}/redrive`), refresh) : null,
      c.failed ? h('button', { class: 'quiet failures-toggle', onclick: () => toggleFailures(row, job) }, 'Failures') : null);
  }
}

/** Done, failed and cancelled inputs as parts of one bar. */
function bar(job) {
  const part = (n, cls) => {
    const el = h('span', { class: cls });
    el.style.width = (100 * n / Math.max(1, job.inputs)) + '%'; // CSSOM, which the page's policy allows
    return el;
  };
  return h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': job.inputs,
    'aria-valuenow': job.counts.done + job.counts.failed + job.counts.cancelled, dataset: { job: job.id } },
  part(job.counts.done, 'done'), part(job.counts.failed, 'failed'), part(job.counts.cancelled, 'cancelled'),
  part(job.counts.running, 'running'));
}

function action(label, cls, call, refresh) {
  const button = h('button', { class: cls, onclick: async () => {
    button.disabled = true;
    try {
      await call();
    } catch (e) {
      fill(document.getElementById('jobs-message'), problem(e.message));
    } finally {
      button.disabled = false;
      refresh();
    }
  } }, label);
  return button;
}

async function toggleFailures(row, job) {
  const panel = row.nextElementSibling;
  if (!panel.hidden) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const cell = panel.firstChild;
  fill(cell, 'loading…');
  try {
    const failures = await api('GET', `/v1/jobs/${job.id}/failures?limit=20`);
    fill(cell, failures.map((f) => h('div', { class: 'failure' },
      h('div', {}, h('strong', {}, 'input ' + f.index), ': ', f.error, h('span', { class: 'dim' }, ` (${f.attempts} attempts)`)),
      h('div', { class: 'dim' }, 'input: ', h('code', {}, f.input)),
      f.traceback ? h('pre', { class: 'traceback' }, f.traceback) : null)),
    job.counts.failed > failures.length ? h('p', { class: 'dim' }, `… and ${job.counts.failed - failures.length} more`) : null);
  } catch (e) {
    fill(cell, problem(e.message));
  }
}
