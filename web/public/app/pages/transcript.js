// The conversation transcript and the reply box, shared by the patient's and the practice's
// views: messages in order, messages still waiting to send, read receipts and typing.
import { h, replace } from '../dom.js';
import { txnId } from '../conn.js';
import { dateTime } from '../format.js';
import { button, textarea, tag } from '../ui.js';
import * as api from '../api.js';

// Loads the conversation's history (newest page, then older pages on request) into state.
export async function loadHistory(app, convId, before) {
  const r = await app.conn.request('conversation.history', { conversation_id: convId, limit: 50, ...(before ? { before } : {}) });
  for (const m of r.messages) app.state.putMessage(m);
  return r.next_before;
}

export class Transcript {
  // viewer: 'patient' or 'staff'. names: optional Map(user id -> display name) for staff.
  // opts.canMarkError: the reader is one of the practice's clinicians, who keep the record and
  // may mark a message entered in error (PROTOCOL 13.5). The server decides anyway.
  constructor(app, convId, viewer, { canMarkError = false } = {}) {
    this.app = app;
    this.convId = convId;
    this.viewer = viewer;
    this.canMarkError = canMarkError;
    this.markForms = new Map(); // message id -> its open "entered in error" form, kept across renders
    this.rereading = new Set(); // message ids being read again after a message.entered_in_error
    this.list = h('ol', { class: 'parley-transcript', 'aria-label': 'Messages' });
    this.typingEl = h('p', { class: 'nhsuk-body-s parley-typing', 'aria-live': 'polite', id: 'typing' });
    this.olderEl = h('div');
    this.el = h('section', { 'aria-labelledby': 'messages-heading', class: 'parley-transcript-section' },
      h('h2', { class: 'nhsuk-heading-m', id: 'messages-heading' }, 'Messages'),
      this.olderEl, this.list, this.typingEl);
    this.typingTimer = null;
  }

  setOlder(nextBefore) {
    replace(this.olderEl);
    if (!nextBefore) return;
    const b = h('button', { class: 'nhsuk-button nhsuk-button--secondary nhsuk-button--small', type: 'button' }, 'Show earlier messages');
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { this.setOlder(await loadHistory(this.app, this.convId, nextBefore)); } catch { b.disabled = false; }
    });
    this.olderEl.append(b);
  }

  mine(m) {
    return this.viewer === 'patient' ? m.sender.kind === 'patient' : m.sender.id === this.app.info.user.id;
  }

  render() {
    // A redraw must not take focus out of an open "entered in error" form or off its buttons.
    const active = document.activeElement;
    const keep = active && active !== document.body && this.list.contains(active) ? active : null;
    const keepKey = keep && keep.closest('[data-focus-key]') ? keep.closest('[data-focus-key]').dataset.focusKey : null;
    this.draw();
    if (keep && keep.isConnected) keep.focus({ preventScroll: true });
    else if (keepKey) this.list.querySelector(`[data-focus-key="${keepKey}"]`)?.focus({ preventScroll: true });
  }

  draw() {
    const st = this.app.state;
    const msgs = [...st.messages(this.convId).values()].sort((a, b) => a.id - b.id);
    const rc = st.receipts.get(this.convId);
    // The other side's read receipt, shown under the latest message from this side.
    const other = this.viewer === 'patient' ? rc && rc.staff : rc && rc.patient;
    const lastOwn = [...msgs].reverse().find((m) => m.kind === 'message' &&
      (this.viewer === 'patient' ? m.sender.kind === 'patient' : m.sender.kind === 'staff'));
    const items = msgs.map((m) => {
      const note = m.kind === 'note';
      const cls = ['parley-msg', this.mine(m) ? 'parley-msg--mine' : '', note ? 'parley-msg--note' : '',
        m.sender.kind === 'staff' ? 'parley-msg--staff' : 'parley-msg--patient'].filter(Boolean).join(' ');
      let receipt = null;
      if (m === lastOwn && other) {
        const who = this.viewer === 'patient' ? 'the practice' : 'the patient';
        if (other.read_seq >= m.seq) receipt = `Read by ${who}`;
        else if (other.delivered_seq >= m.seq) receipt = `Delivered to ${who}`;
      }
      const err = m.entered_in_error;
      if (err && err.reason === undefined) this.reread(m.id);
      return h('li', { class: err ? `${cls} parley-msg--error` : cls, 'data-message-id': m.id },
        h('p', { class: 'parley-msg__meta nhsuk-body-s' },
          note ? h('strong', { class: 'nhsuk-tag nhsuk-tag--orange parley-note-tag' }, 'Internal note') : null,
          h('span', { class: 'parley-msg__sender' }, m.sender.display_name), ' ',
          h('span', { class: 'parley-msg__time' }, dateTime(m.created_at))),
        err ? markedText(err) : null,
        h('p', { class: 'parley-msg__body nhsuk-body' }, err ? h('del', null, m.body) : m.body),
        m.attachments && m.attachments.length ? this.attachmentList(m.attachments) : null,
        receipt ? h('p', { class: 'parley-msg__receipt nhsuk-body-s', 'data-receipt': 'read' }, receipt) : null,
        this.canMarkError && !err ? this.markControl(m) : null);
    });
    for (const p of st.pending.get(this.convId) || []) {
      items.push(h('li', { class: `parley-msg parley-msg--mine parley-msg--pending${p.kind === 'note' ? ' parley-msg--note' : ''}`, 'data-txn': p.txn_id },
        h('p', { class: 'parley-msg__meta nhsuk-body-s' },
          p.kind === 'note' ? h('strong', { class: 'nhsuk-tag nhsuk-tag--orange parley-note-tag' }, 'Internal note') : null,
          h('span', { class: 'parley-msg__sender' }, 'You')),
        h('p', { class: 'parley-msg__body nhsuk-body' }, p.body),
        p.attachments && p.attachments.length ? h('ul', { class: 'nhsuk-list parley-attachments' },
          p.attachments.map((a) => h('li', { class: 'nhsuk-body-s' }, `${a.filename} (${fileKind(a.content_type)}, ${fileSize(a.size)})`))) : null,
        p.failed
          ? h('p', { class: 'nhsuk-error-message parley-msg__status' }, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), `Not sent: ${p.failed}`)
          : h('p', { class: 'parley-msg__status nhsuk-body-s' }, this.app.conn.state === 'ready' ? 'Sending…' : 'Waiting to send: you are offline')));
    }
    replace(this.list, items.length ? items : h('li', { class: 'nhsuk-body' }, 'No messages yet.'));
    this.renderTyping();
  }

  // A message marked entered in error elsewhere (the event names it, not who or why): read it
  // again, once, for the flag's details.
  reread(id) {
    if (this.rereading.has(id)) return;
    this.rereading.add(id);
    this.app.conn.request('conversation.history', { conversation_id: this.convId, before: id + 1, limit: 1 }).then((r) => {
      const m = (r.messages || []).find((x) => x.id === id);
      if (m) this.app.state.putMessage(m);
    }, () => { this.rereading.delete(id); });
  }

  // "Mark as entered in error" under a message, for the practice's clinicians: an inline form
  // with the reason (PROTOCOL 13.5). The message stays; it is shown struck through, flagged.
  markControl(m) {
    const form = this.markForms.get(m.id);
    if (form) return form;
    const who = `${m.kind === 'note' ? 'note' : 'message'} from ${m.sender.display_name}, ${dateTime(m.created_at)}`;
    const open = h('button', {
      type: 'button', class: 'parley-link-button parley-msg__mark nhsuk-body-s', 'data-focus-key': `mark-${m.id}`,
    }, 'Mark as entered in error', h('span', { class: 'nhsuk-u-visually-hidden' }, ` (${who})`));
    open.addEventListener('click', () => {
      this.markForms.set(m.id, this.markForm(m, who));
      this.render();
      document.getElementById(`mark-reason-${m.id}`)?.focus();
    });
    return h('p', { class: 'parley-msg__actions' }, open);
  }

  markForm(m, who) {
    const id = `mark-reason-${m.id}`;
    const area = textarea({
      id, label: 'Why is this entered in error?', rows: 3, labelClass: 'nhsuk-label--s',
      hint: 'The message stays in the conversation, struck through, with your name, the time and this reason. Everyone who can read the conversation will see it.',
      attrs: { maxlength: '500' },
    });
    const ta = area.querySelector('textarea');
    const submit = button('Mark entered in error', { warning: true, small: true, id: `mark-send-${m.id}` });
    const cancel = h('button', { type: 'button', class: 'nhsuk-button nhsuk-button--secondary nhsuk-button--small', id: `mark-cancel-${m.id}` }, 'Cancel');
    const form = h('form', { novalidate: true, class: 'parley-mark-form', 'aria-label': `Mark the ${who} as entered in error`, 'data-mark-for': m.id },
      area, h('div', { class: 'nhsuk-button-group' }, submit, cancel));
    const showError = (text) => {
      const group = ta.closest('.nhsuk-form-group');
      group.querySelector('.nhsuk-error-message')?.remove();
      group.classList.toggle('nhsuk-form-group--error', !!text);
      ta.classList.toggle('nhsuk-textarea--error', !!text);
      ta.setAttribute('aria-describedby', text ? `${id}-hint ${id}-error` : `${id}-hint`);
      if (!text) return;
      group.querySelector('.nhsuk-hint').after(h('span', { class: 'nhsuk-error-message', id: `${id}-error` },
        h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), text));
      ta.focus();
    };
    const close = () => {
      this.markForms.delete(m.id);
      this.render();
    };
    cancel.addEventListener('click', () => {
      close();
      this.list.querySelector(`[data-focus-key="mark-${m.id}"]`)?.focus();
    });
    let busy = false;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (busy) return;
      const reason = ta.value.trim();
      if (!reason) { showError('Enter why this message is entered in error'); return; }
      if (new TextEncoder().encode(reason).length > 500) { showError('The reason must be 500 characters or fewer'); return; }
      busy = true;
      submit.disabled = true;
      try {
        const r = await this.app.conn.request('message.mark_error', { message_id: m.id, reason });
        const old = this.app.state.messages(this.convId).get(m.id) || m;
        this.markForms.delete(m.id);
        this.app.state.putMessage({ ...old, ...r.message, attachments: r.message.attachments || old.attachments });
        this.render();
        this.list.querySelector(`[data-message-id="${m.id}"] .parley-msg__error`)?.focus();
      } catch (err) {
        busy = false;
        submit.disabled = false;
        if (err.code === 'conflict') { close(); return; } // marked already: the flag shows
        showError(err.message ? err.message.charAt(0).toUpperCase() + err.message.slice(1) : 'It could not be marked. Try again.');
      }
    });
    return form;
  }

  // A message's photos and PDFs (PROTOCOL 10.4): each opens through a fresh short-lived link
  // (attachment.url, 10.5). The server sends the file as a download, so the page stays.
  attachmentList(list) {
    return h('ul', { class: 'nhsuk-list parley-attachments' }, list.map((a) => {
      const link = h('a', { href: '#', class: 'parley-attachment', 'data-attachment-id': a.id },
        `Open ${a.filename}`);
      const err = h('span', { class: 'nhsuk-error-message', hidden: true });
      link.addEventListener('click', async (e) => {
        e.preventDefault();
        err.hidden = true;
        try {
          const r = await this.app.conn.request('attachment.url', { attachment_id: a.id });
          location.assign(r.url);
        } catch (x) {
          replace(err, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), `${a.filename} could not be opened: ${x.message}`);
          err.hidden = false;
        }
      });
      return h('li', null, link, h('span', { class: 'nhsuk-body-s' }, ` (${fileKind(a.content_type)}, ${fileSize(a.size)})`), err);
    }));
  }

  renderTyping() {
    const t = this.app.state.typingFor(this.convId);
    clearTimeout(this.typingTimer);
    if (!t) { this.typingEl.textContent = ''; return; }
    let who;
    if (t.role === 'staff') who = this.viewer === 'patient' ? 'The practice is' : 'A colleague is';
    else who = `${this.patientName || 'The patient'} is`;
    this.typingEl.textContent = `${who} typing…`;
    this.typingTimer = setTimeout(() => this.renderTyping(), Math.max(500, t.until - Date.now() + 50));
  }

  destroy() { clearTimeout(this.typingTimer); }
}

// "Entered in error", and who marked it, when and why. Until the message is read again after
// the event, only the time is known.
function markedText(err) {
  const when = dateTime(err.at);
  const on = /^(today|yesterday)/.test(when) ? when : `on ${when}`;
  return h('p', { class: 'parley-msg__error nhsuk-body-s', tabindex: '-1' },
    tag('Entered in error', 'nhsuk-tag--red parley-error-tag'), ' ',
    err.reason !== undefined
      ? h('span', { class: 'parley-msg__error-text parley-pre' }, `Marked by ${err.by_name || 'a clinician'} ${on}: ${err.reason}`)
      : h('span', { class: 'parley-msg__error-text' }, `Marked ${on}`));
}

export function fileKind(type) {
  return type === 'application/pdf' ? 'PDF' : type === 'image/png' ? 'PNG image' : type === 'image/heic' ? 'HEIC image' : 'JPEG image';
}

export function fileSize(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

// Sends a message or note: shown at once as "Sending…", kept until the server confirms it,
// and resent with the same txn_id after a drop, so it is stored exactly once.
// attachments: uploads of this user's to this conversation (PROTOCOL 10.3), put on the message.
export function sendMessage(app, convId, kind, body, txn = txnId(), attachments = null) {
  app.state.addPending(convId, { txn_id: txn, body, kind, ...(attachments && attachments.length ? { attachments } : {}) });
  const type = kind === 'note' ? 'conversation.note' : 'conversation.send';
  const fields = { conversation_id: convId, txn_id: txn, body };
  if (attachments && attachments.length) fields.attachment_ids = attachments.map((a) => a.id);
  return app.conn.request(type, fields).then(
    (r) => { app.state.putMessage(r.message); return r; },
    (e) => {
      if (e.code === 'unauthorised') return null;
      app.state.failPending(convId, txn, e.code === 'conflict' ? 'this request is closed. Start a new request.' : e.message);
      throw e;
    });
}


// Photos and PDFs on a message (PROTOCOL 10.1): checked here first so a person is told at
// once; the server checks again, by content.
const FILE_TYPES = ['image/jpeg', 'image/png', 'image/heic', 'application/pdf'];
const MAX_FILE = 10 * 1024 * 1024;
const MAX_FILES = 5;

// The type to upload a chosen file as: browsers name a few of these differently, and some
// give a HEIC photo no type at all.
function uploadType(f) {
  const t = (f.type || '').toLowerCase();
  if (t === 'image/jpg' || t === 'image/pjpeg') return 'image/jpeg';
  if (t === 'image/heif' || (!t && /\.hei[cf]$/i.test(f.name))) return 'image/heic';
  return t;
}

function checkFiles(files) {
  if (files.length > MAX_FILES) return `Select up to ${MAX_FILES} files: a message can carry no more than ${MAX_FILES}`;
  for (const f of files) {
    if (!FILE_TYPES.includes(uploadType(f))) return `${f.name} must be a JPEG, PNG or HEIC photo, or a PDF`;
    if (f.size === 0) return `${f.name} is empty`;
    if (f.size > MAX_FILE) return `${f.name} must be smaller than 10 MB`;
  }
  return null;
}

// The message's text when only files were chosen: a message always has a body (PROTOCOL 10.3).
function filesBody(files) {
  const photos = files.every((f) => uploadType(f).startsWith('image/'));
  if (files.length === 1) return photos ? 'Photo attached' : `${files[0].name} attached`;
  return photos ? `${files.length} photos attached` : `${files.length} files attached`;
}

// The reply box: a labelled textarea and a button, with typing notifications. files: true adds
// "Add a photo or PDF": each file is uploaded (PROTOCOL 10.2), then the message is sent with
// their attachment_ids. Notes never carry files.
export function composer(app, convId, { id, label, hint, buttonText, kind = 'message', extra, files = false }) {
  const area = textarea({ id, label, hint, rows: 4, labelClass: 'nhsuk-label--s' });
  const withFiles = files && kind !== 'note';
  let fileInput = null;
  let fileGroup = null;
  let statusEl = null;
  if (withFiles) {
    fileInput = h('input', {
      class: 'nhsuk-file-upload__input parley-file', id: `${id}-files`, name: `${id}-files`, type: 'file', multiple: true,
      accept: FILE_TYPES.join(','), 'aria-describedby': `${id}-files-hint`,
    });
    fileGroup = h('div', { class: 'nhsuk-form-group parley-composer__files' },
      h('label', { class: 'nhsuk-label', for: `${id}-files` }, 'Add a photo or PDF (optional)'),
      h('div', { class: 'nhsuk-hint', id: `${id}-files-hint` },
        `Up to ${MAX_FILES} files: JPEG, PNG or HEIC photos, or PDFs, each smaller than 10 MB`),
      fileInput);
    statusEl = h('p', { class: 'nhsuk-body-s parley-composer__status', id: `${id}-status`, role: 'status' });
  }
  const sendButton = button(buttonText, { id: `${id}-send` });
  const form = h('form', { novalidate: true, class: 'parley-composer' },
    area, fileGroup, extra || null, statusEl, sendButton);
  const ta = area.querySelector('textarea');
  let typing = false;
  let lastSent = 0;
  let idle = null;
  const setTyping = (v) => {
    if (kind === 'note') return; // notes are between staff; typing is for the conversation
    if (v === typing && (!v || Date.now() - lastSent < 3000)) return;
    typing = v;
    lastSent = Date.now();
    app.conn.request('typing.set', { conversation_id: convId, typing: v }).catch(() => {});
  };
  ta.addEventListener('input', () => {
    setTyping(ta.value.trim().length > 0);
    clearTimeout(idle);
    idle = setTimeout(() => setTyping(false), 4000);
  });
  const errorFor = (text) => {
    const group = ta.closest('.nhsuk-form-group');
    group.querySelector('.nhsuk-error-message')?.remove();
    group.classList.toggle('nhsuk-form-group--error', !!text);
    ta.classList.toggle('nhsuk-textarea--error', !!text);
    if (text) {
      const m = h('span', { class: 'nhsuk-error-message', id: `${id}-error` }, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), text);
      group.querySelector('label').after(m);
      ta.setAttribute('aria-describedby', `${id}-error`);
      ta.focus();
    } else {
      ta.removeAttribute('aria-describedby');
    }
  };
  const fileError = (text) => {
    if (!fileGroup) return;
    fileGroup.querySelector('.nhsuk-error-message')?.remove();
    fileGroup.classList.toggle('nhsuk-form-group--error', !!text);
    if (text) {
      const m = h('span', { class: 'nhsuk-error-message', id: `${id}-files-error` }, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), text);
      fileGroup.querySelector('.nhsuk-hint').after(m);
      fileInput.setAttribute('aria-describedby', `${id}-files-hint ${id}-files-error`);
      fileInput.focus();
    } else {
      fileInput.setAttribute('aria-describedby', `${id}-files-hint`);
    }
  };
  const say = (text) => { if (statusEl) statusEl.textContent = text; };
  const send = (body, attachments) => {
    ta.value = '';
    clearTimeout(idle);
    setTyping(false);
    sendMessage(app, convId, kind, body, txnId(), attachments).catch(() => {});
  };

  if (!withFiles) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = ta.value.trim();
      if (!body) { errorFor(kind === 'note' ? 'Enter a note' : 'Enter a message'); return; }
      if (new TextEncoder().encode(body).length > 16384) { errorFor('Your message must be shorter'); return; }
      errorFor(null);
      send(body, null);
    });
    return { el: form, textarea: ta };
  }

  // Uploads that worked, by file, so a second try after one file was refused does not upload
  // the others again. Emptied once they are on a message.
  const uploaded = new Map();
  const fileKey = (f) => `${f.name}\u0000${f.size}\u0000${f.lastModified}`;
  let busy = false;
  fileInput.addEventListener('change', () => { fileError(null); say(''); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    const typed = ta.value.trim();
    const chosen = [...fileInput.files];
    const fileProblem = checkFiles(chosen);
    let textProblem = null;
    if (!typed && !chosen.length) textProblem = 'Enter a message, or add a photo or PDF';
    else if (new TextEncoder().encode(typed).length > 16384) textProblem = 'Your message must be shorter';
    fileError(fileProblem);
    errorFor(textProblem); // after the file's error, so the first field in error has focus
    if (fileProblem || textProblem) return;
    if (!chosen.length) { send(typed, null); return; }

    busy = true;
    sendButton.disabled = true;
    fileInput.disabled = true;
    ta.readOnly = true; // what is sent is what was there when Send was pressed
    form.setAttribute('aria-busy', 'true');
    const attachments = [];
    let failed = null;
    for (const [i, f] of chosen.entries()) {
      let a = uploaded.get(fileKey(f));
      if (!a) {
        say(chosen.length === 1 ? `Uploading ${f.name}…` : `Uploading ${f.name} (${i + 1} of ${chosen.length})…`);
        const type = uploadType(f);
        try {
          a = await api.upload(convId, type === f.type ? f : new File([f], f.name, { type, lastModified: f.lastModified }));
        } catch (err) {
          failed = `${f.name} could not be attached: ${err.message}`;
          break;
        }
        uploaded.set(fileKey(f), a);
      }
      attachments.push(a);
    }
    busy = false;
    sendButton.disabled = false;
    fileInput.disabled = false;
    ta.readOnly = false;
    form.removeAttribute('aria-busy');
    if (failed) {
      say('');
      fileError(failed); // the typed message stays, to send again
      return;
    }
    say('');
    fileInput.value = '';
    uploaded.clear();
    send(typed || filesBody(chosen), attachments);
  });
  return { el: form, textarea: ta, fileInput };
}
