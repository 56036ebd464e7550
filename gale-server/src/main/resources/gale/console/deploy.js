// Deploy from the browser: a zip or a folder (zipped here), entry point, runtime and settings, sent
// as `gale deploy` sends them; then the version goes DEPLOYING -> ACTIVE, or FAILED with the reason,
// with the deploy's own log lines beside it.
import { Zip, ZipDeflate } from './vendor/fflate-0.8.3/browser.js';
import { api, stream } from './api.js';
import { h, fill, status, problem } from './dom.js';

/** Settings as text fields: the config key, its label, and a hint (the defaults of docs/api.md). */
const FIELDS = [
  ['entryPoint', 'Entry point', 'the function name with - as _', 'prediction, lambda_handler, app.app'],
  ['entryModule', 'Entry module', 'main.py', 'main.py'],
  ['command', 'Command (process runtime)', 'none', 'Rscript serve.R'],
  ['memory', 'Memory', '256MB', '512MB'],
  ['timeout', 'Timeout', '60s', '30s'],
  ['concurrency', 'Concurrency', '1', '1'],
  ['minInstances', 'Min instances', '0', '0'],
  ['maxInstances', 'Max instances', '10', '10'],
];
const NUMBERS = new Set(['concurrency', 'minInstances', 'maxInstances']);
/** Never uploaded from a folder: version control and Python's byte-code caches. */
const SKIPPED = /(^|\/)(\.git|__pycache__)(\/|$)|\.pyc$|(^|\/)\.DS_Store$/;

export function render(main, _, params) {
  const name = h('input', { id: 'deploy-name', required: true, pattern: '[a-z]([a-z0-9\\-]{0,61}[a-z0-9])?', spellcheck: 'false',
    placeholder: 'hello', value: params.get('function') || '' });
  const folder = h('input', { type: 'file', id: 'deploy-folder', webkitdirectory: true, multiple: true });
  const zip = h('input', { type: 'file', id: 'deploy-zip', accept: '.zip,application/zip' });
  const runtime = h('select', { id: 'deploy-runtime' }, ['python3', 'java21', 'process'].map((r) => h('option', { value: r }, r)));
  const inputs = Object.fromEntries(FIELDS.map(([key, , fallback, example]) =>
    [key, h('input', { id: 'deploy-' + key, name: key, spellcheck: 'false', placeholder: `${example} (default ${fallback})` })]));
  const env = h('textarea', { id: 'deploy-env', rows: 3, spellcheck: 'false', placeholder: 'MODEL=churn\nTHRESHOLD=0.5' });
  const open = h('input', { type: 'checkbox', id: 'deploy-public' });
  const button = h('button', { type: 'submit', id: 'deploy-submit' }, 'Deploy');
  const progress = h('div', { id: 'deploy-progress' });
  const prefill = h('p', { class: 'hint' });
  let stopWatching = () => {};

  const form = h('form', { class: 'card deploy', onsubmit: async (e) => {
    e.preventDefault();
    stopWatching();
    button.disabled = true;
    try {
      stopWatching = await deploy(name.value.trim(), await bundle(folder, zip, progress),
        settings(runtime, inputs, env, open), progress);
    } catch (err) {
      fill(progress, problem(err.message));
    } finally {
      button.disabled = false;
    }
  } },
  h('h1', {}, 'Deploy a function'),
  prefill,
  h('label', { for: 'deploy-name' }, 'Name'), name,
  h('fieldset', {}, h('legend', {}, 'Source: a folder, or a zip of one'),
    h('label', { for: 'deploy-folder' }, 'Folder'), folder,
    h('label', { for: 'deploy-zip' }, 'or zip'), zip,
    h('p', { class: 'hint' }, 'A folder is zipped in the browser, without .git and __pycache__; its .gcloudignore and .galeignore are not applied (gale deploy applies them).')),
  h('div', { class: 'grid' },
    h('label', { for: 'deploy-runtime' }, 'Runtime'), runtime,
    FIELDS.map(([key, label]) => [h('label', { for: 'deploy-' + key }, label), inputs[key]]),
    h('label', { for: 'deploy-env' }, 'Environment (KEY=value lines)'), env,
    h('label', { for: 'deploy-public' }, 'Public (no token needed to call it)'), open),
  h('p', { class: 'hint' }, 'Settings left empty come from the bundle\'s gale.toml, or the defaults.'),
  button);
  main.append(h('div', { class: 'deploy-page' }, form, progress));

  if (params.get('function')) fillFrom(params.get('function'), { runtime, inputs, env, open, prefill });
  return () => stopWatching();
}

/** Starts from the settings of the version that serves now, when redeploying. */
async function fillFrom(fnName, { runtime, inputs, env, open, prefill }) {
  let fn;
  try {
    fn = await api('GET', '/v1/functions/' + fnName);
  } catch {
    return; // a new function: nothing to start from
  }
  const c = fn.config || {};
  if (c.runtime) runtime.value = c.runtime;
  for (const [key, input] of Object.entries(inputs)) if (c[key] !== undefined && c[key] !== null) input.value = String(c[key]);
  env.value = Object.entries(c.env || {}).map(([k, v]) => k + '=' + v).join('\n');
  open.checked = !!c.allowUnauthenticated;
  fill(prefill, `Filled in from v${fn.activeVersion || fn.latestVersion} of ${fn.name}.`);
}

function settings(runtime, inputs, env, open) {
  const config = { runtime: runtime.value };
  for (const [key, input] of Object.entries(inputs)) {
    const value = input.value.trim();
    if (value) config[key] = NUMBERS.has(key) && /^\d+$/.test(value) ? Number(value) : value;
  }
  const vars = {};
  for (const line of env.value.split('\n')) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`The environment line "${line}" is not KEY=value`);
    vars[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  if (Object.keys(vars).length) config.env = vars;
  if (open.checked) config.allowUnauthenticated = true;
  return config;
}

/** The zip to upload: the chosen zip as it is, or the chosen folder zipped here. */
async function bundle(folder, zip, progress) {
  if (zip.files.length) return zip.files[0];
  if (!folder.files.length) throw new Error('Choose a folder, or a zip of one.');
  const files = [...folder.files]
    .map((file) => ({ file, path: file.webkitRelativePath.split('/').slice(1).join('/') })) // inside the chosen folder
    .filter(({ path }) => path && !SKIPPED.test(path));
  if (!files.length) throw new Error('The folder has no files to deploy.');
  fill(progress, status('DEPLOYING', `zipping ${files.length} files…`));
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    const archive = new Zip((err, data, final) => {
      if (err) return reject(err);
      chunks.push(data);
      if (final) resolve(new Blob(chunks, { type: 'application/zip' }));
    });
    (async () => {
      for (const { file, path } of files) {
        const entry = new ZipDeflate(path, { level: 6 });
        archive.add(entry);
        const reader = file.stream().getReader();
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          entry.push(value, false);
        }
        entry.push(new Uint8Array(0), true);
      }
      archive.end();
    })().catch(reject);
  });
  return done;
}

/** Uploads, then follows the new version to ACTIVE or FAILED; returns what stops following. */
async function deploy(name, zip, config, progress) {
  fill(progress, status('DEPLOYING', 'uploading…'));
  const form = new FormData();
  form.append('bundle', zip, 'bundle.zip');
  form.append('config', JSON.stringify(config));
  const version = await api('POST', `/v1/functions/${encodeURIComponent(name)}/versions`, { form });
  const state = h('div', { id: 'deploy-state' });
  const log = h('pre', { class: 'deploy-log', id: 'deploy-log' });
  fill(progress, h('h2', {}, `${name} v${version.version}`), state, log);
  const show = (v) => fill(state, status(v.state, `v${v.version} ${v.state}`),
    v.reason ? h('div', { class: 'reason' }, v.reason) : null,
    v.state === 'ACTIVE' ? h('a', { class: 'button', href: '#/functions/' + name }, 'Open ' + name) : null);
  show(version);
  const stopLog = stream(`/v1/functions/${name}/logs/stream?tail=1000`, (event) => {
    const entry = JSON.parse(event.data);
    if (event.event === 'log' && entry.version === version.version) log.append(entry.message + '\n');
  });
  let stopped = false;
  (async () => {
    while (!stopped) {
      const v = await api('GET', `/v1/functions/${name}/versions/${version.version}`).catch(() => null);
      if (v) show(v);
      if (v && v.state !== 'DEPLOYING') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    setTimeout(stopLog, 2000); // the last lines of the deploy may still come
  })();
  return () => {
    stopped = true;
    stopLog();
  };
}
