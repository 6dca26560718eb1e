// What this page knows about conversations, kept current by replies and events. Events are
// applied idempotently (messages by id, pending sends by txn_id), so a replay after a
// reconnect or a reply racing its own event changes nothing twice.

export class State extends EventTarget {
  constructor() {
    super();
    this.convs = new Map();    // id -> conversation
    this.msgs = new Map();     // conversation id -> Map(message id -> message)
    this.pending = new Map();  // conversation id -> [{txn_id, body, kind, failed}]
    this.receipts = new Map(); // conversation id -> {patient: {delivered_seq, read_seq}, staff: {...}}
    this.typing = new Map();   // conversation id -> {role, user_id, until}
    this.consults = new Map(); // consultation id -> consultation (PROTOCOL 8.2)
  }

  changed(what, conversationId) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, conversationId } }));
  }

  putConv(c) {
    const old = this.convs.get(c.id) || {};
    this.convs.set(c.id, { ...old, ...c });
    this.changed('conversation', c.id);
  }

  putConsult(k) {
    const old = this.consults.get(k.id) || {};
    this.consults.set(k.id, { ...old, ...k });
  }

  // A consult.* event (PROTOCOL 8.5): the consultation's status and times move with it, and
  // pages hear of it with the event itself (for presence: joined, left, reconnected).
  applyConsult(ev) {
    if (ev.type === 'consult.speaker' || ev.type === 'consult.slots') {
      // Ephemeral, like typing (PROTOCOL 8.9): no cursor, nothing stored, no list to reload.
      const what = ev.type === 'consult.speaker' ? 'speaker' : 'slots';
      this.dispatchEvent(new CustomEvent('change', { detail: { what, consultationId: ev.consultation_id, event: ev } }));
      return;
    }
    const k = this.consults.get(ev.consultation_id);
    if (ev.type === 'consult.booked' && ev.consultation) this.putConsult(ev.consultation);
    else if (k) for (const f of ['status', 'started_at', 'ended_at', 'duration_seconds']) if (f in ev) k[f] = ev[f];
    this.dispatchEvent(new CustomEvent('change', {
      detail: { what: 'consult', conversationId: ev.conversation_id, consultationId: ev.consultation_id, event: ev },
    }));
    this.changed('list', ev.conversation_id);
  }

  messages(convId) {
    let m = this.msgs.get(convId);
    if (!m) { m = new Map(); this.msgs.set(convId, m); }
    return m;
  }

  putMessage(m) {
    this.messages(m.conversation_id).set(m.id, m);
    const p = this.pending.get(m.conversation_id);
    if (p) {
      const rest = p.filter((x) => x.txn_id !== m.txn_id);
      if (rest.length !== p.length) this.pending.set(m.conversation_id, rest);
    }
    const c = this.convs.get(m.conversation_id);
    if (c && m.kind === 'message' && m.seq > (c.last_seq || 0)) c.last_seq = m.seq;
    this.changed('messages', m.conversation_id);
  }

  addPending(convId, p) {
    const list = this.pending.get(convId) || [];
    list.push(p);
    this.pending.set(convId, list);
    this.changed('messages', convId);
  }

  failPending(convId, txn, why) {
    const p = (this.pending.get(convId) || []).find((x) => x.txn_id === txn);
    if (p) { p.failed = why; this.changed('messages', convId); }
  }

  dropPending(convId, txn) {
    const p = this.pending.get(convId) || [];
    this.pending.set(convId, p.filter((x) => x.txn_id !== txn));
    this.changed('messages', convId);
  }

  putReceipt(convId, role, delivered, read) {
    const r = this.receipts.get(convId) || { patient: { delivered_seq: 0, read_seq: 0 }, staff: { delivered_seq: 0, read_seq: 0 } };
    const side = r[role] || (r[role] = { delivered_seq: 0, read_seq: 0 });
    side.delivered_seq = Math.max(side.delivered_seq, delivered || 0);
    side.read_seq = Math.max(side.read_seq, read || 0);
    this.receipts.set(convId, r);
    this.changed('receipts', convId);
  }

  // One stored event (PROTOCOL 5.4) or a typing push (5.5).
  apply(ev) {
    const id = ev.conversation_id;
    switch (ev.type) {
      case 'conversation.created':
        this.putConv(ev.conversation);
        this.changed('list', id);
        break;
      case 'message.created':
      case 'note.created':
        this.putMessage(ev.message);
        this.typing.delete(id);
        if (this.convs.has(id)) {
          const c = this.convs.get(id);
          c.updated_at = ev.at;
        }
        this.changed('list', id);
        break;
      case 'conversation.updated': {
        const c = this.convs.get(id);
        if (c) {
          for (const k of ['status', 'assignee_user_id', 'assignee_role']) if (k in ev) c[k] = ev[k];
          this.changed('conversation', id);
        }
        this.changed('list', id);
        break;
      }
      case 'message.entered_in_error': {
        // A message was marked entered in error (PROTOCOL 13.5): it stays, flagged. The event
        // says which and when, not who or why: it is flagged here at once, and the transcript
        // reads it again for the rest.
        const msgs = this.messages(id);
        const m = msgs.get(ev.message_id);
        if (m && !(m.entered_in_error && m.entered_in_error.reason !== undefined)) {
          msgs.set(m.id, { ...m, entered_in_error: { by: ev.by, at: ev.at } });
          this.changed('messages', id);
        }
        break;
      }
      case 'receipt.updated':
        this.putReceipt(id, ev.role, ev.delivered_seq, ev.read_seq);
        break;
      case 'typing':
        if (ev.typing) this.typing.set(id, { role: ev.role, user_id: ev.user_id, until: Date.now() + 6000 });
        else this.typing.delete(id);
        this.changed('typing', id);
        break;
      default:
        if (typeof ev.type === 'string' && ev.type.startsWith('consult.')) this.applyConsult(ev);
        else if (typeof ev.type === 'string' && ev.type.startsWith('advice.')) {
          // An advice request moved (PROTOCOL 11.3). The payload names the request, never the
          // patient: pages that show it read it again with advice.get.
          this.dispatchEvent(new CustomEvent('change', {
            detail: { what: 'advice', conversationId: id, adviceId: ev.advice_id, event: ev },
          }));
        } else if (typeof ev.type === 'string' && ev.type.startsWith('case.')) {
          // A case discussion moved (PROTOCOL 12): pages read it again with case.get.
          this.dispatchEvent(new CustomEvent('change', {
            detail: { what: 'case', conversationId: id, caseId: ev.case_id, event: ev },
          }));
        }
        break;
    }
  }

  typingFor(convId) {
    const t = this.typing.get(convId);
    if (!t) return null;
    if (t.until < Date.now()) { this.typing.delete(convId); return null; }
    return t;
  }
}
