// The record (PROTOCOL 13.5). A practice's clinicians file a conversation's transcript to the
// patient's record in one action, choosing the parts and an optional coded summary, and may file
// it again later (a new version replaces the last). Whoever may read a conversation can download
// it as a web page: a patient their own, without the practice's internal notes (the server
// never sends those to a patient).
import { h, replace } from '../dom.js';
import { dateTime, time12 } from '../format.js';
import { Form, button, tag, input } from '../ui.js';
import { fileKind, fileSize } from './transcript.js';

const CLINICAL = ['gp', 'nurse', 'pharmacist', 'clinician'];

// Is the user one of this practice's clinicians, who keep its record? (The server decides
// anyway: this only chooses what to offer.)
export function mayFile(app, orgId) {
  return ((app.info && app.info.organisations) || []).some((o) => o.id === orgId &&
    (o.roles || []).some((r) => CLINICAL.includes(r)));
}

const OUTBOX = {
  sent: { text: 'Sent to the record system', cls: 'nhsuk-tag--green' },
  pending: { text: 'Waiting to be sent', cls: 'nhsuk-tag--yellow' },
  dead: { text: 'Could not be sent', cls: 'nhsuk-tag--red' },
};

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];

// A date in full, for a file that is read later: "24 November 2026 at 2:05pm".
function fullDate(ms) {
  const d = new Date(ms);
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} at ${time12(d)}`;
}

// "today at 2:05pm", or "on 24 November at 2:05pm".
function onWhen(ms) {
  const t = dateTime(ms);
  return /^(today|yesterday)/.test(t) ? t : `on ${t}`;
}

function firstWords(text, n = 8) {
  const words = String(text).trim().split(/\s+/);
  return words.length > n ? `${words.slice(0, n).join(' ')}…` : words.join(' ');
}

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

// ---- downloading a conversation ----

const FILE_CSS = `
body { font-family: Arial, sans-serif; color: #212b32; max-width: 46em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.meta { color: #4c6272; margin-top: 0; }
ol.entries { list-style: none; padding: 0; }
.entry { border: 1px solid #d8dde0; border-left: 6px solid #005eb8; padding: 0.6em 1em; margin: 0 0 1em; }
.entry--patient { border-left-color: #768692; }
.entry--note { background: #fff9c4; border-left-color: #ed8b00; }
.entry--event { border: 0; padding: 0 0 0 1em; color: #4c6272; }
.entry--error .body { color: #4c6272; }
.who { font-weight: bold; }
.when, .role { color: #4c6272; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0.3em 0 0; }
.flag { margin: 0.3em 0 0; white-space: pre-wrap; }
.tag { display: inline-block; border: 2px solid #d5281b; color: #d5281b; font-weight: bold; padding: 0 0.4em; margin-right: 0.4em; }
.tag--note { border-color: #ed8b00; color: #212b32; }
@media print { .entry { break-inside: avoid; } }
`;

// The transcript (transcript.get's reply) as a standalone HTML page. Built as DOM in a
// document of its own and serialised, so every text from a person is escaped.
export function transcriptHtml(t) {
  const doc = document.implementation.createHTMLDocument('');
  const el = (name, attrs, ...kids) => {
    const n = doc.createElement(name);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) n.append(typeof k === 'string' ? doc.createTextNode(k) : k);
    return n;
  };
  const c = t.conversation;
  doc.documentElement.setAttribute('lang', 'en-GB');
  doc.title = `${c.subject} (conversation ${c.id})`;
  doc.head.prepend(el('meta', { charset: 'utf-8' }));
  doc.head.append(el('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }));
  const entries = t.entries || [];
  const messages = entries.filter((e) => e.kind === 'message').length;
  const items = entries.map((e) => {
    if (e.kind === 'event') {
      return el('li', { class: 'entry entry--event' }, el('p', null, el('span', { class: 'when' }, `${fullDate(e.at)}: `), e.text || e.type));
    }
    const err = e.entered_in_error;
    const cls = ['entry', e.role === 'patient' ? 'entry--patient' : 'entry--staff', e.kind === 'note' ? 'entry--note' : '', err ? 'entry--error' : '']
      .filter(Boolean).join(' ');
    return el('li', { class: cls, 'data-message-id': e.id },
      el('p', { class: 'meta' },
        e.kind === 'note' ? el('span', { class: 'tag tag--note' }, 'Internal note') : null,
        el('span', { class: 'who' }, e.author || ''), ' ',
        el('span', { class: 'role' }, e.role === 'patient' ? '(patient)' : '(practice)'), ' ',
        el('span', { class: 'when' }, fullDate(e.at))),
      err ? el('p', { class: 'flag' }, el('span', { class: 'tag' }, 'Entered in error'),
        `Marked by ${err.by_name || 'a clinician'} on ${fullDate(err.at)}: ${err.reason || ''}`) : null,
      el('p', { class: 'body' }, err ? el('del', null, e.body || '') : (e.body || '')),
      e.attachments && e.attachments.length ? el('ul', { class: 'attachments' }, e.attachments.map((a) =>
        el('li', null, `Attached: ${a.filename} (${fileKind(a.content_type)}, ${fileSize(a.size)})`))) : null);
  });
  doc.body.append(
    el('h1', null, c.subject || 'Conversation'),
    el('p', { class: 'meta' }, `Conversation ${c.id}. Downloaded from Parley on ${fullDate(Date.now())}. ${messages} message${messages === 1 ? '' : 's'}.`),
    el('ol', { class: 'entries' }, items),
    el('p', { class: 'meta' }, 'Nothing in a conversation is ever deleted. A message a clinician has marked “entered in error” is struck through and kept, with who marked it, when and why.'));
  // The style sheet goes in as text: a <style> element in this page, even in a document of its
  // own, would meet the page's Content-Security-Policy. It is a constant, with nobody's words in it.
  return `<!DOCTYPE html>\n${doc.documentElement.outerHTML.replace('</head>', () => `<style>${FILE_CSS}</style></head>`)}\n`;
}

// Fetches the transcript and saves it as conversation-<id>.html.
export async function downloadConversation(app, convId) {
  const r = await app.conn.request('transcript.get', { conversation_id: convId });
  const blob = new Blob([transcriptHtml(r.transcript)], { type: 'text/html;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: `conversation-${convId}.html`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// "Download this conversation": a secondary button, with an error message under it if the
// transcript could not be fetched.
export function downloadButton(app, convId, { id = 'download-conversation', text = 'Download a copy to keep or print. It opens in a web browser.' } = {}) {
  const btn = button('Download this conversation', { secondary: true, type: 'button', id });
  const err = h('p', { class: 'nhsuk-error-message', id: `${id}-error`, hidden: true });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    err.hidden = true;
    try {
      await downloadConversation(app, convId);
    } catch (x) {
      replace(err, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), `The conversation could not be downloaded: ${x.message}`);
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  });
  return h('div', { class: 'parley-download' }, text ? h('p', { class: 'nhsuk-body-s' }, text) : null, btn, err);
}

// For staff who may not file: the download only, in the side column.
export function downloadSection(app, convId) {
  return h('section', { 'aria-labelledby': 'record-heading', class: 'parley-side parley-record', id: 'record' },
    h('h2', { class: 'nhsuk-heading-m', id: 'record-heading' }, 'Transcript'),
    downloadButton(app, convId));
}

// ---- filing ----

// The "Record" section of a staff thread page: the versions filed so far and "File to the
// patient's record". opts.orgId: the practice whose record it is (for the names of who filed);
// opts.transcript: the page's Transcript, which then offers "Mark as entered in error".
// Returns {el, refresh, destroy}. It keeps itself current while on the page and lets go of
// its listeners once the page has gone.
export function filingPanel(app, convId, { say = () => {}, orgId = null, transcript = null } = {}) {
  if (transcript) transcript.canMarkError = true;
  const names = new Map([[app.info.user.id, app.info.user.display_name]]);
  let filings = null;
  let entries = null; // message id -> {id, author, at, body, flagged}, once the form is opened
  let partsKey = '';
  const unchecked = new Set();

  const versionsEl = h('div', { id: 'filings' }, h('p', { class: 'nhsuk-body-s' }, 'Loading the versions filed…'));
  const partsEl = h('div', { id: 'file-parts-group' });
  const form = new Form({ id: 'file-form' },
    partsEl,
    input({ id: 'file-code', label: 'SNOMED CT concept id (optional)', hint: '6 to 18 digits, for example 271807003', width: 20,
      attrs: { inputmode: 'numeric', autocomplete: 'off', maxlength: '18' } }),
    input({ id: 'file-summary', label: 'Summary (optional)', hint: 'What the concept means, for example Eruption of skin. Give both the concept id and the summary, or neither.',
      attrs: { autocomplete: 'off', maxlength: '255' } }),
    button('File to record', { id: 'file-button' }));
  const details = h('details', { class: 'nhsuk-details parley-file-details', id: 'file-details' },
    h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, 'File to the patient’s record')),
    h('div', { class: 'nhsuk-details__text' },
      h('p', { class: 'nhsuk-body-s' }, 'Choose what to file. Internal notes are never filed. If you file again later, the new version replaces the last one.'),
      form.el));
  const el = h('section', { 'aria-labelledby': 'record-heading', class: 'parley-side parley-record', id: 'record' },
    h('h2', { class: 'nhsuk-heading-m', id: 'record-heading' }, 'Record'),
    versionsEl, details, downloadButton(app, convId));

  const renderVersions = () => {
    if (!filings) return;
    if (!filings.length) {
      replace(versionsEl, h('p', { class: 'nhsuk-body-s', id: 'filings-none' }, 'This conversation has not been filed to the patient’s record.'));
      return;
    }
    const byId = new Map(filings.map((f) => [f.id, f]));
    replace(versionsEl, h('ol', { class: 'nhsuk-list parley-filings', 'aria-label': 'Versions filed' },
      [...filings].sort((a, b) => b.version - a.version).map((f) => {
        const o = OUTBOX[f.outbox] || OUTBOX.pending;
        const prev = f.replaces_id ? byId.get(f.replaces_id) : null;
        const who = names.get(f.filed_by) || 'a clinician';
        const n = (f.parts || []).length;
        return h('li', { class: 'parley-filing', 'data-filing-id': f.id, 'data-version': f.version },
          h('p', { class: 'nhsuk-body-s parley-filing__what' },
            h('strong', null, `Version ${f.version}`), `, filed by ${who} ${onWhen(f.filed_at)}`,
            prev ? `, replaces version ${prev.version}` : (f.replaces_id ? ', replaces an earlier version' : '')),
          h('p', { class: 'nhsuk-body-s parley-filing__status' }, tag(o.text, o.cls)),
          h('p', { class: 'nhsuk-body-s parley-filing__detail' }, `${n} message${n === 1 ? '' : 's'}`,
            f.summary ? `. Summary: ${f.summary.display} (SNOMED CT ${f.summary.code})` : ''));
      })));
  };

  // The messages to choose from: the transcript's, and any that arrived since (from the page's
  // state). Drawn only while the form is open, so nothing here repeats the page's messages.
  const mergeState = () => {
    if (!entries) return;
    for (const m of app.state.messages(convId).values()) {
      if (m.kind !== 'message') continue;
      entries.set(m.id, { id: m.id, author: m.sender.display_name, at: m.created_at, body: m.body, flagged: !!m.entered_in_error });
    }
  };
  const renderParts = (force) => {
    if (!details.open || !entries) return;
    const list = [...entries.values()].sort((a, b) => a.id - b.id);
    const key = list.map((e) => `${e.id}${e.flagged ? 'x' : ''}`).join(',');
    if (!force && key === partsKey && partsEl.firstChild) return;
    partsKey = key;
    if (!list.length) {
      replace(partsEl, h('p', { class: 'nhsuk-body-s' }, 'There are no messages to file yet.'));
      return;
    }
    replace(partsEl, h('div', { class: 'nhsuk-form-group' },
      h('fieldset', { class: 'nhsuk-fieldset', 'aria-describedby': 'file-parts-hint' },
        h('legend', { class: 'nhsuk-fieldset__legend nhsuk-fieldset__legend--s' }, 'Messages to file'),
        h('div', { class: 'nhsuk-hint', id: 'file-parts-hint' }, 'Every message is chosen. Untick any you do not want to file.'),
        h('div', { class: 'nhsuk-checkboxes nhsuk-checkboxes--small', id: 'file-parts', 'data-module': 'nhsuk-checkboxes' },
          list.map((e) => h('div', { class: 'nhsuk-checkboxes__item' },
            h('input', { class: 'nhsuk-checkboxes__input', id: `file-part-${e.id}`, name: 'file-part', type: 'checkbox', value: e.id, checked: !unchecked.has(e.id) }),
            h('label', { class: 'nhsuk-label nhsuk-checkboxes__label', for: `file-part-${e.id}` },
              h('span', { class: 'parley-file-part__who' }, `${e.author}, ${dateTime(e.at)}`), `: ${firstWords(e.body)}`,
              e.flagged ? ' (entered in error)' : '')))))));
  };
  partsEl.addEventListener('change', (e) => {
    const id = Number(e.target.value);
    if (e.target.checked) unchecked.delete(id); else unchecked.add(id);
  });
  const loadParts = async () => {
    if (!entries) replace(partsEl, h('p', { class: 'nhsuk-body-s' }, 'Loading the messages…'));
    try {
      const r = await app.conn.request('transcript.get', { conversation_id: convId });
      entries = new Map();
      for (const e of r.transcript.entries) {
        if (e.author_id && e.author) names.set(e.author_id, e.author);
        if (e.kind === 'message') entries.set(e.id, { id: e.id, author: e.author, at: e.at, body: e.body, flagged: !!e.entered_in_error });
      }
      mergeState();
      renderParts(true);
      renderVersions();
    } catch (err) {
      if (!entries) replace(partsEl, h('p', { class: 'nhsuk-error-message' }, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), `The messages could not be loaded: ${err.message}`));
    }
  };
  details.addEventListener('toggle', () => {
    if (!details.open) return;
    if (!entries) loadParts();
    else { mergeState(); renderParts(); }
  });

  let busy = false;
  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    const code = form.el['file-code'].value.replace(/\s+/g, '');
    const display = form.el['file-summary'].value.trim();
    const errs = [];
    const ids = entries ? [...entries.keys()].sort((a, b) => a - b) : [];
    const chosen = ids.filter((id) => !unchecked.has(id));
    if (!entries) errs.push({ text: 'Wait for the messages to load, then try again' });
    else if (!ids.length) errs.push({ text: 'There is nothing to file: the conversation has no messages' });
    else if (!chosen.length) errs.push({ field: `file-part-${ids[0]}`, inputs: [], text: 'Select at least one message to file' });
    if (code && !/^\d{6,18}$/.test(code)) errs.push({ field: 'file-code', text: 'The SNOMED CT concept id must be 6 to 18 digits, like 271807003' });
    if (code && !display) errs.push({ field: 'file-summary', text: 'Enter a summary for the SNOMED CT concept id' });
    if (!code && display) errs.push({ field: 'file-code', text: 'Enter the SNOMED CT concept id for the summary' });
    if (new TextEncoder().encode(display).length > 255) errs.push({ field: 'file-summary', text: 'The summary must be 255 characters or fewer' });
    if (errs.length) { form.showErrors(errs); return; }
    form.clearErrors();
    busy = true;
    const btn = form.el.querySelector('#file-button');
    btn.disabled = true;
    try {
      const r = await app.conn.request('conversation.file', {
        conversation_id: convId,
        ...(chosen.length < ids.length ? { message_ids: chosen } : {}),
        ...(code ? { summary: { code, display } } : {}),
      });
      const f = r.filing;
      filings = [...(filings || []).filter((x) => x.id !== f.id), f];
      renderVersions();
      form.el['file-code'].value = '';
      form.el['file-summary'].value = '';
      unchecked.clear();
      renderParts(true);
      say(`Version ${f.version} filed to the patient’s record`);
      refresh().catch(() => {});
    } catch (err) {
      form.showErrors([{ text: err.code === 'forbidden'
        ? `You cannot file this conversation: ${err.message}` : sentence(err.message) }]);
    } finally {
      busy = false;
      btn.disabled = false;
    }
  });

  // Staying current: versions on reconnect and while one waits to be sent; the messages to
  // choose from as they arrive.
  let mounted = false;
  let poll = null;
  let debounce = null;
  const alive = () => {
    if (el.isConnected) { mounted = true; return true; }
    if (mounted) { destroy(); return false; }
    return true; // not on the page yet
  };
  async function refresh() {
    const r = await app.conn.request('filing.list', { conversation_id: convId });
    filings = r.filings;
    renderVersions();
    clearTimeout(poll);
    if (filings.some((f) => f.outbox === 'pending')) {
      poll = setTimeout(() => { if (alive()) refresh().catch(() => {}); }, 15000);
    }
  }
  const onChange = (e) => {
    if (!alive() || e.detail.conversationId !== convId || e.detail.what !== 'messages' || !entries) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => { mergeState(); renderParts(); }, 200);
  };
  const onReady = () => { if (alive()) refresh().catch(() => {}); };
  const state = app.state;
  const conn = app.conn;
  function destroy() {
    clearTimeout(poll); clearTimeout(debounce);
    state.removeEventListener('change', onChange);
    conn.removeEventListener('ready', onReady);
  }
  state.addEventListener('change', onChange);
  conn.addEventListener('ready', onReady);

  if (orgId) {
    app.conn.request('org.staff', { org_id: orgId }).then((r) => {
      for (const s of r.staff || []) names.set(s.id, s.display_name);
      renderVersions();
    }).catch(() => {});
  }
  refresh().catch((err) => {
    replace(versionsEl, h('p', { class: 'nhsuk-body-s' }, `The versions filed could not be loaded: ${err.message}`));
  });
  return { el, refresh, destroy };
}
