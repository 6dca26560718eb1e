// The one WebSocket to the server (subprotocol parley.v1, docs/PROTOCOL.md sections 3 and 5).
//
// It hides drops from the pages:
// - reconnects with exponential back-off and jitter (1 s doubling to 30 s), or at once when the
//   browser says it is back online;
// - resumes the event stream from the highest cursor seen, so nothing is missed or repeated;
// - keeps every request that has no reply yet and sends it again after reconnecting. Messages
//   carry a txn_id chosen once when the user pressed Send, so a resend is answered with the
//   stored original ("duplicate": true) and is never stored twice.
//
// Unsent messages live only in this page's memory. They are not written to browser storage,
// so no clinical text is left behind on a shared computer; the page warns before it is closed
// with messages still waiting.

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const HEARTBEAT_MS = 25000;
const HEARTBEAT_TIMEOUT_MS = 10000;

export class ConnError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Request types that are safe to send again after a drop: reads, and writes that are
// idempotent by txn_id or by value. Anything else fails with "unavailable" when the connection
// drops before its reply, and the page asks the user to try again.
const RESENDABLE = new Set([
  'session.info', 'conversation.get', 'conversation.list', 'conversation.history',
  'conversation.create', 'conversation.send', 'conversation.note', 'conversation.assign',
  'conversation.set_status', 'receipt.mark', 'org.staff', 'template.list', 'patient.lookup',
  'consult.get', 'consult.list', 'consult.wait', 'media.ice_servers',
]);
// Requests worth nothing later: dropped rather than queued while offline.
const EPHEMERAL = new Set(['typing.set', 'ping']);

export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.state = 'connecting'; // connecting | ready | offline | signed-out
    this.session = null;       // the session.ready push
    this.cursor = null;        // highest event cursor processed; null = not subscribed yet
    this.nextId = 1;
    this.queue = [];           // requests in order: {id, frame, resolve, reject, sent}
    this.attempt = 0;
    this.retryTimer = null;
    this.heartbeat = null;
    this.lastActivity = 0;
    this.closing = false;
  }

  start() {
    window.addEventListener('offline', () => this.dropped('the browser is offline'));
    window.addEventListener('online', () => this.reconnectNow());
    // A heartbeat finds a dead connection the browser has not noticed. It is sent only after
    // the user did something, because every request counts as session activity and an
    // unattended screen must still time out.
    for (const ev of ['keydown', 'pointerdown']) {
      window.addEventListener(ev, () => { this.lastActivity = Date.now(); }, { passive: true });
    }
    window.addEventListener('beforeunload', (e) => {
      if (this.unsentCount() > 0) { e.preventDefault(); e.returnValue = ''; }
    });
    this.connect();
  }

  unsentCount() {
    return this.queue.filter((q) => q.durable).length;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.state === 'signed-out' || this.closing) return;
    // navigator.onLine is only a hint (a machine with only loopback reports false while the
    // server is right there): try anyway, and let a failed connection say otherwise.
    this.setState('connecting');
    this.readyHere = false;
    let ws;
    try {
      ws = new WebSocket(this.url, 'parley.v1');
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      this.onFrame(f);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.onClosed(e.code, e.reason);
    };
  }

  setState(state, why) {
    const prev = this.state;
    this.state = state;
    if (prev !== state || why) this.dispatchEvent(new CustomEvent('state', { detail: { state, why } }));
  }

  onFrame(f) {
    if (Object.prototype.hasOwnProperty.call(f, 'ok')) return this.onReply(f);
    switch (f.type) {
      case 'session.ready':
        this.readyHere = true;
        this.session = f;
        this.attempt = 0;
        this.setState('ready');
        this.subscribe();
        this.flush();
        this.startHeartbeat();
        this.dispatchEvent(new CustomEvent('ready', { detail: f }));
        break;
      case 'session.error':
      case 'session.ended':
        // The server closes the socket itself (4401) right after this push.
        if (f.error && f.error.code === 'unauthorised') this.signedOut(f.error.message, true);
        break;
      case 'event':
        if (typeof f.cursor === 'number') {
          if (this.cursor !== null && f.cursor <= this.cursor) return; // already applied
          this.cursor = f.cursor;
        }
        this.dispatchEvent(new CustomEvent('event', { detail: f.event }));
        break;
      case 'events.live':
        this.cursor = f.cursor;
        this.dispatchEvent(new CustomEvent('live', { detail: f.cursor }));
        break;
      case 'events.error':
        setTimeout(() => this.subscribe(), 1000);
        break;
      default:
        break;
    }
    return undefined;
  }

  subscribe() {
    const fields = this.cursor === null ? {} : { cursor: this.cursor };
    this.send({ id: `s${this.nextId++}`, type: 'events.subscribe', ...fields });
  }

  onReply(f) {
    const i = this.queue.findIndex((q) => q.id === f.id);
    if (i < 0) return;
    const q = this.queue[i];
    if (f.ok) {
      this.queue.splice(i, 1);
      q.resolve(f);
      return;
    }
    const { code, message } = f.error || {};
    // Not executed, nothing stored: try again shortly, in the same order.
    if ((code === 'rate_limited' || code === 'unavailable') && q.resendable) {
      q.sent = false;
      setTimeout(() => this.flush(), 1000 + Math.random() * 1000);
      return;
    }
    this.queue.splice(i, 1);
    const err = new ConnError(code || 'internal', message || 'something went wrong');
    if (f.error && f.error.node) err.node = f.error.node; // "moved": the node to go to
    q.reject(err);
  }

  // A call held by another node of a cluster (error "moved"): talk to that node from now on.
  // If it cannot be reached, the next attempt goes back to the address the page started with
  // (the load balancer), which sends us wherever the call is by then.
  moveTo(url) {
    if (!url || url === this.url) return;
    if (!this.home) this.home = this.url;
    this.url = url;
    this.attempt = 0;
    this.dropped('moving to the server holding the call');
  }

  onClosed(code, reason) {
    this.stopHeartbeat();
    if (this.home && this.url !== this.home && !this.readyHere) this.url = this.home;
    if (code === 4401) {
      this.signedOut(reason === 'signed out' ? 'You have signed out.' : 'Your session has ended. Sign in again.');
      return;
    }
    this.dropped(reason || 'connection lost');
  }

  // The connection is gone or about to be: keep what is resendable, fail the rest.
  dropped(why) {
    if (this.state === 'signed-out') return;
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; try { ws.close(); } catch { /* closed */ } }
    this.stopHeartbeat();
    for (const q of [...this.queue]) {
      if (q.resendable) { q.sent = false; continue; }
      this.queue.splice(this.queue.indexOf(q), 1);
      q.reject(new ConnError('unavailable', 'The connection was lost. Try again.'));
    }
    this.setState('offline', navigator.onLine ? 'reconnecting' : 'offline');
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.retryTimer || this.state === 'signed-out') return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt++;
    const delay = base * (0.7 + Math.random() * 0.6);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.state === 'ready' || this.state === 'signed-out') return;
    this.attempt = 0;
    this.connect();
  }

  signedOut(why, serverCloses = false) {
    if (this.state === 'signed-out') return;
    this.stopHeartbeat();
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      // Let the server's Close arrive first where it is on its way; close ourselves only if
      // it does not come.
      if (serverCloses) setTimeout(() => { try { ws.close(); } catch { /* closed */ } }, 3000);
      else try { ws.close(); } catch { /* closed */ }
    }
    for (const q of this.queue.splice(0)) q.reject(new ConnError('unauthorised', why));
    this.setState('signed-out', why);
  }

  close() {
    this.closing = true;
    this.signedOut('closed');
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (this.state !== 'ready' || Date.now() - this.lastActivity > HEARTBEAT_MS) return;
      const ws = this.ws;
      const t = setTimeout(() => { if (ws === this.ws) this.dropped('no answer from the server'); }, HEARTBEAT_TIMEOUT_MS);
      this.request('ping', {}).then(() => clearTimeout(t), () => clearTimeout(t));
    }, HEARTBEAT_MS);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // Send everything unsent, oldest first, once the session is ready.
  flush() {
    if (this.state !== 'ready') return;
    for (const q of this.queue) {
      if (q.sent) continue;
      if (!this.send(q.frame)) break;
      q.sent = true;
    }
  }

  // Returns a promise of the reply. Requests made while offline wait for the connection,
  // except ephemeral ones (typing), which are dropped.
  request(type, fields = {}) {
    if (this.state === 'signed-out') return Promise.reject(new ConnError('unauthorised', 'signed out'));
    if (EPHEMERAL.has(type) && this.state !== 'ready') return Promise.resolve({ ok: true, dropped: true });
    return new Promise((resolve, reject) => {
      const id = `r${this.nextId++}`;
      const q = {
        id, frame: { id, type, ...fields }, resolve, reject, sent: false,
        resendable: RESENDABLE.has(type), durable: 'txn_id' in fields,
      };
      this.queue.push(q);
      this.flush();
    });
  }
}

// A fresh transaction id for one user action (PROTOCOL 1.4).
export function txnId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
