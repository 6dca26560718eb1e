// Error pages. They say what happened and what to do, in plain words, and show nothing of
// what was asked for.
import { h } from '../dom.js';
import { heading } from '../ui.js';

const TEXT = {
  forbidden: ['You cannot view this page', 'This page belongs to someone else, or to another organisation.'],
  not_found: ['Page not found', 'Check the address is right, or go back to your requests.'],
  unavailable: ['Sorry, there is a problem with the service', 'Try again in a few minutes.'],
};

export function errorPage(app, err, main) {
  const [title, body] = TEXT[err && err.code] || ['Sorry, there is a problem with the service', 'Try again later.'];
  app.setTitle(title);
  main.append(h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds', id: 'error-page', 'data-code': (err && err.code) || 'internal' },
    heading(title),
    h('p', { class: 'nhsuk-body' }, body),
    h('p', { class: 'nhsuk-body' }, h('a', { href: app.home() }, homeText(app))))));
}

// Where the link back goes, in words: the home page differs by who is signed in.
function homeText(app) {
  const home = app.home();
  if (home === '/practice/queue') return 'Go to the advice queue';
  if (home === '/practice') return 'Go to the practice inbox';
  if (home.startsWith('/consult/')) return 'Go to your video consultation';
  return app.kind() === 'patient' ? 'Go to your requests' : 'Sign in';
}

export async function notFoundPage(app, _p, main) {
  errorPage(app, { code: 'not_found' }, main);
}
