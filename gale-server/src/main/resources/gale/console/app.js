// The console's pages, one per address after '#': each page's render(main, params) draws it and
// returns what stops its timers and streams when the user moves on.
import { token, signOut, onUnauthorized } from './api.js';
import { problem } from './dom.js';
import * as signin from './signin.js';
import * as functions from './functions.js';
import * as fn from './function.js';
import * as deploy from './deploy.js';
import * as jobs from './jobs.js';
import * as cost from './cost.js';

const pages = [
  { path: /^\/signin$/, page: signin, nav: null, open: true },
  { path: /^\/?$/, page: functions, nav: 'functions' },
  { path: /^\/functions\/([a-z][a-z0-9-]*)(?:\/(overview|testing|logs|charts))?$/, page: fn, nav: 'functions' },
  { path: /^\/deploy$/, page: deploy, nav: 'deploy' },
  { path: /^\/jobs$/, page: jobs, nav: 'jobs' },
  { path: /^\/cost$/, page: cost, nav: 'cost' },
];

let leave = null;

function route() {
  if (leave) leave();
  leave = null;
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query || '');
  const main = document.getElementById('main');
  main.replaceChildren();
  const match = pages.map((p) => ({ p, m: p.path.exec(path) })).find((x) => x.m);
  if (!match) {
    main.append(problem('The console has no page ' + location.hash + '.'));
    return;
  }
  if (!match.p.open && !token()) {
    location.replace('#/signin?then=' + encodeURIComponent(location.hash));
    return;
  }
  document.getElementById('nav').hidden = !token();
  document.getElementById('signout').hidden = !token();
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('current', link.dataset.nav === match.p.nav);
  }
  leave = match.p.page.render(main, match.m.slice(1), params) || null;
}

onUnauthorized(() => { // the token was revoked, or the server's data dir changed
  if (location.hash.startsWith('#/signin')) return; // the sign-in page says so itself
  signOut();
  location.hash = '#/signin?then=' + encodeURIComponent(location.hash);
});

document.getElementById('signout').addEventListener('click', () => {
  signOut();
  location.hash = '#/signin';
});

window.addEventListener('hashchange', route);
route();
