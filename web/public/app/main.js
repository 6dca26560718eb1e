// Parley's browser app: boot, the router and the page frame (header, connection banner).
// Plain ES modules and no framework: the pages are small, and every byte is served by
// parley serve from its own origin.
import { initAll } from '/vendor/nhsuk-frontend.min.js';
import { Connection } from './conn.js';
import { State } from './state.js';
import { h, replace } from './dom.js';
import * as api from './api.js';
import { signinPage } from './pages/signin.js';
import { patientHome, patientNew, patientRequest } from './pages/patient.js';
import { inboxPage, practiceRequest, templatesPage } from './pages/practice.js';
import { totpPage } from './pages/totp.js';
import { consultationsPage, staffCallPage } from './pages/consult.js';
import { adviceListPage, adviceQueuePage, adviceNewPage, adviceRequestPage } from './pages/advice.js';
import { casesListPage, caseNewPage, casePage } from './pages/cases.js';
import { agreementsPage } from './pages/agreements.js';
import { joinPage, guestPage, waitingRoomPage, patientCallPage } from './pages/join.js';
import { errorPage, notFoundPage } from './pages/errors.js';
import { practiceAccessPage, patientAccessPage } from './pages/access.js';

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported');

// A consultation link is /join#TOKEN. early.js took the token out of the address bar before
// the page was drawn, so it is not left in the browser's history or on the screen; from here
// it is kept only in the app's memory (PROTOCOL 8.1, step 2). (If early.js did not run, it is
// done here.)
let joinToken = window.parleyJoinToken || null;
delete window.parleyJoinToken;
const linkPath = location.pathname.replace(/\/+$/, '');
if (!joinToken && (linkPath === '/join' || linkPath === '/guest') && location.hash.length > 1) {
  joinToken = location.hash.slice(1);
  history.replaceState(null, '', linkPath);
}

const routes = [
  [/^\/signin$/, signinPage, 'any'],
  [/^\/patient$/, patientHome, 'patient'],
  [/^\/patient\/new$/, patientNew, 'patient'],
  [/^\/patient\/access$/, patientAccessPage, 'patient'],
  [/^\/patient\/requests\/(\d+)$/, patientRequest, 'patient'],
  [/^\/practice$/, inboxPage, 'staff'],
  [/^\/practice\/requests\/(\d+)$/, practiceRequest, 'staff'],
  [/^\/practice\/patients\/(\d+)\/access$/, practiceAccessPage, 'staff'],
  [/^\/practice\/templates$/, templatesPage, 'staff'],
  [/^\/practice\/totp$/, totpPage, 'staff'],
  [/^\/practice\/consultations$/, consultationsPage, 'staff'],
  [/^\/practice\/consultations\/(\d+)\/call$/, staffCallPage, 'staff'],
  [/^\/practice\/advice$/, adviceListPage, 'staff'],
  [/^\/practice\/advice\/new$/, adviceNewPage, 'staff'],
  [/^\/practice\/advice\/(\d+)$/, adviceRequestPage, 'staff'],
  [/^\/practice\/queue$/, adviceQueuePage, 'staff'],
  [/^\/practice\/cases$/, casesListPage, 'staff'],
  [/^\/practice\/cases\/new$/, caseNewPage, 'staff'],
  [/^\/practice\/cases\/(\d+)$/, casePage, 'staff'],
  [/^\/practice\/agreements$/, agreementsPage, 'staff'],
  [/^\/join$/, joinPage, 'any'],
  [/^\/guest$/, guestPage, 'any'],
  // A patient's, or an interpreter's or carer's (a guest, PROTOCOL 8.3).
  [/^\/consult\/(\d+)$/, waitingRoomPage, 'patient guest'],
  [/^\/consult\/(\d+)\/call$/, patientCallPage, 'patient guest'],
];

// Pages that use the camera and microphone: leaving them turns both off.
const MEDIA_PAGES = /^\/(consult\/\d+(\/call)?|practice\/consultations\/\d+\/call)$/;

class App {
  constructor() {
    this.main = document.getElementById('maincontent');
    this.state = new State();
    this.conn = null;
    this.info = null;      // session.info reply
    this.cleanup = null;   // the current page's teardown
    this.flash = null;     // a message for the next page (e.g. "You have signed out")
    this.renderId = 0;
    this.joinToken = joinToken; // from a consultation link, until it is used
    this.media = null;     // the camera and microphone (media.js), from the waiting room into a call
    this.call = null;      // the call in progress (call.js); its RTCPeerConnection is call.pc
  }

  // A fresh connection for a fresh session: after sign-in, or at boot.
  startConnection() {
    if (this.conn) this.conn.close();
    this.state = new State();
    this.info = null;
    const conn = new Connection(`wss://${location.host}/`);
    this.conn = conn;
    conn.addEventListener('event', (e) => this.state.apply(e.detail));
    conn.addEventListener('state', (e) => this.onConnState(conn, e.detail));
    this.ready = new Promise((resolve) => {
      conn.addEventListener('ready', () => resolve(true), { once: true });
      conn.addEventListener('state', (e) => { if (e.detail.state === 'signed-out') resolve(false); });
    });
    conn.start();
    return this.ready;
  }

  onConnState(conn, { state, why }) {
    if (conn !== this.conn) return;
    const banner = document.getElementById('connection');
    if (state === 'offline') {
      replace(banner, h('div', { class: 'nhsuk-width-container' },
        h('p', { class: 'nhsuk-body-s parley-connection__text' },
          why === 'offline'
            ? "You're offline. Anything you send now will be sent when you're back online."
            : 'Connection lost. Reconnecting… Anything you send now will be sent when Parley is back.')));
      banner.className = 'parley-connection parley-connection--offline';
    } else if (state === 'ready' || state === 'connecting') {
      if (state === 'ready') { replace(banner); banner.className = 'parley-connection'; }
    } else if (state === 'signed-out') {
      replace(banner);
      banner.className = 'parley-connection';
      if (this.info && why !== 'closed') {
        this.info = null;
        this.flash = why && why.startsWith('You have signed out') ? why : 'Your session has ended. Sign in again to carry on.';
        this.setHeader();
        this.navigate('/signin', { replace: true });
      }
    }
  }

  async loadInfo() {
    this.info = await this.conn.request('session.info');
    this.setHeader();
    return this.info;
  }

  kind() { return this.info ? this.info.user.kind : null; }
  // A session opened from a consultation link may see that consultation only (PROTOCOL 8.8).
  scope() { return this.info && this.info.consultation_id ? this.info.consultation_id : null; }
  home() {
    if (this.scope()) return `/consult/${this.scope()}`;
    if (this.kind() === 'staff' && !this.orgsOf('practice').length && this.orgsOf('specialist_service').length) return '/practice/queue';
    return this.kind() === 'patient' ? '/patient' : this.kind() === 'staff' ? '/practice' : '/signin';
  }

  // The staff member's organisations of one kind: 'practice' or 'specialist_service'.
  orgsOf(kind) {
    return ((this.info && this.info.organisations) || []).filter((o) => o.kind === kind);
  }

  setHeader() {
    const account = document.getElementById('account');
    const nav = document.getElementById('nav');
    const list = document.getElementById('nav-list');
    if (!this.info) {
      account.hidden = true; nav.hidden = true;
      return;
    }
    replace(document.getElementById('account-name'),
      h('span', { class: 'nhsuk-header__account-text' }, this.info.user.display_name));
    account.hidden = false;
    let items;
    if (this.scope()) items = [];
    else if (this.kind() === 'patient') items = [['/patient', 'Your requests'], ['/patient/new', 'Start a request']];
    else {
      items = [];
      if (this.orgsOf('practice').length) {
        items.push(['/practice', 'Inbox'], ['/practice/consultations', 'Video consultations'], ['/practice/templates', 'Reply templates'],
          ['/practice/advice', 'Advice']);
      }
      if (this.orgsOf('specialist_service').length) items.push(['/practice/queue', 'Advice queue']);
      // Case discussions (PROTOCOL 12): the practice's staff open them; both may be members.
      if (this.orgsOf('practice').length || this.orgsOf('specialist_service').length) items.push(['/practice/cases', 'Case discussions']);
      // Information-sharing agreements (PROTOCOL 11.1): their admins keep them.
      if ((this.info.organisations || []).some((o) => (o.roles || []).includes('practice_admin'))) items.push(['/practice/agreements', 'Agreements']);
    }
    replace(list, items.map(([href, text]) => h('li', { class: 'nhsuk-header__navigation-item' },
      h('a', { class: 'nhsuk-header__navigation-link', href }, text))));
    nav.hidden = items.length === 0;
    this.markNav();
  }

  markNav() {
    for (const a of document.querySelectorAll('.nhsuk-header__navigation-link')) {
      const here = location.pathname === a.getAttribute('href') ||
        (a.getAttribute('href') !== '/patient' && a.getAttribute('href') !== '/practice' && location.pathname.startsWith(a.getAttribute('href')));
      if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
  }

  navigate(path, opts = {}) {
    if (opts.replace) history.replaceState({}, '', path); else history.pushState({}, '', path);
    this.route();
  }

  setTitle(t) { document.title = `${t} - Parley - NHS`; }

  async route() {
    const id = ++this.renderId;
    if (this.cleanup) { try { this.cleanup(); } catch { /* page already gone */ } this.cleanup = null; }
    let path = location.pathname.replace(/\/+$/, '') || '/';
    if (this.media && !MEDIA_PAGES.test(path)) { this.media.stop(); this.media = null; }
    if (path === '/') { this.navigate(this.info ? this.home() : '/signin', { replace: true }); return; }
    const match = routes.find(([re]) => re.test(path));
    if (!match) { this.show(notFoundPage, [], id); return; }
    const [re, page, who] = match;
    if (who !== 'any') {
      if (!this.info) { this.navigate('/signin', { replace: true }); return; }
      if (!who.split(' ').includes(this.kind())) { this.navigate(this.home(), { replace: true }); return; }
      if (this.info.must_enrol_totp && page !== totpPage) { this.navigate('/practice/totp', { replace: true }); return; }
      if (this.scope() && path !== this.home() && path !== `${this.home()}/call`) { this.navigate(this.home(), { replace: true }); return; }
    } else if (this.info && page === signinPage) {
      this.navigate(this.home(), { replace: true }); return;
    }
    // A specialist service's staff with no practice have no inbox: their home is the queue.
    if (path === '/practice' && this.kind() === 'staff' && this.home() !== '/practice') { this.navigate(this.home(), { replace: true }); return; }
    path = path.match(re).slice(1);
    this.show(page, path, id);
  }

  async show(page, params, id) {
    const main = this.main;
    replace(main);
    this.markNav();
    try {
      const cleanup = await page(this, params, main, () => id !== this.renderId);
      if (id !== this.renderId) { if (cleanup) cleanup(); return; }
      this.cleanup = cleanup || null;
    } catch (e) {
      if (id !== this.renderId) return;
      if (e && e.code === 'unauthorised') return; // the state handler takes the user to sign-in
      replace(main);
      errorPage(this, e, main);
    }
    if (id !== this.renderId) return;
    initAll(main);
    const h1 = main.querySelector('h1');
    // Move focus to the new page's heading, as a full page load would, so screen readers
    // announce it. The first render after boot keeps the browser's own start point.
    if (h1 && this.rendered) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: false }); }
    this.rendered = true;
  }

  async signOut() {
    try { await api.logout(); } catch { /* the session may already be gone */ }
    if (this.conn) this.conn.close();
    this.info = null;
    this.setHeader();
    this.flash = 'You have signed out.';
    this.navigate('/signin', { replace: true });
  }
}

const app = new App();
window.parley = app; // for debugging from the console; holds no secrets

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || a.target || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || a.hasAttribute('download')) return;
  if (url.pathname === location.pathname && url.hash) return;
  e.preventDefault();
  app.navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => app.route());
document.getElementById('sign-out').addEventListener('click', () => app.signOut());

(async () => {
  initAll(document.querySelector('header'));
  const ok = await app.startConnection();
  if (ok) {
    try { await app.loadInfo(); } catch { /* shown as signed out */ }
  }
  document.getElementById('loading')?.remove();
  app.route();
})();
