// Sign-in: the admin token, or an access key, checked against the server before it is kept.
import { api, signIn, signOut } from './api.js';
import { h, fill, problem } from './dom.js';

export function render(main, _, params) {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password',
    required: true, autofocus: true, placeholder: 'admin token or access key' });
  const message = h('div', { class: 'message' });
  const button = h('button', { type: 'submit', id: 'signin' }, 'Sign in');
  const form = h('form', { class: 'card signin', onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    fill(message);
    signIn(input.value);
    try {
      await api('GET', '/v1/functions');
      const then = params.get('then');
      location.hash = then && then.startsWith('#/') && !then.startsWith('#/signin') ? then : '#/';
    } catch (err) {
      signOut();
      fill(message, problem(err.status === 401
        ? 'The server refused that token. Copy it again from the data dir: cat .gale/admin-token'
        : 'Could not reach Gale: ' + err.message));
    } finally {
      button.disabled = false;
    }
  } },
  h('h1', {}, 'Sign in to Gale'),
  h('label', { for: 'token' }, 'Token'),
  input,
  h('p', { class: 'hint' }, 'The admin token is in the server\'s data dir (', h('code', {}, 'cat .gale/admin-token'),
    '), or use an access key. It is kept in this tab only, until you sign out or close it.'),
  button,
  message);
  main.append(form);
  input.focus();
}
