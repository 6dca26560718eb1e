// The practice's pages: the shared inbox, one request (assign, reply, note, status), and the
// practice's reply templates.
import { h, replace } from '../dom.js';
import { dateTime, duration, target, STATUS, ROLES, KIND, kindText } from '../format.js';
import {
  Form, heading, backLink, button, tag, summaryList, input, textarea, select, notification,
} from '../ui.js';
import { Transcript, loadHistory, composer } from './transcript.js';
import { book } from './consult.js';
import { filingPanel, downloadSection, mayFile } from './filing.js';

const FILTERS = [
  ['new', 'New'],
  ['assigned_to_me', 'Assigned to me'],
  ['awaiting_patient', 'Awaiting patient'],
  ['overdue', 'Overdue'],
  ['open', 'All open'],
  ['closed', 'Closed'],
];

function statusTag(s) {
  const t = STATUS[s] || { text: s };
  return tag(t.text, t.cls);
}

function practices(app) {
  return (app.info.organisations || []).filter((o) => o.kind === 'practice');
}

// Staff names by id for each organisation, fetched once per page.
async function staffOf(app, orgId) {
  const r = await app.conn.request('org.staff', { org_id: orgId });
  return r.staff;
}

// "Waiting 2 hours 5 minutes · reply due by today at 6:30pm", worked out from the server's
// clock fields and ticking in the page.
function waiting(c, org) {
  if (!c.waiting_since) return h('span', { class: 'parley-wait' }, c.status === 'closed' ? '–' : 'Not waiting for a reply');
  const waited = (Date.now() - c.waiting_since) / 1000;
  const overdue = c.due_at && Date.now() > c.due_at;
  return h('span', { class: `parley-wait${overdue ? ' parley-wait--overdue' : ''}` },
    overdue ? tag('Overdue', 'nhsuk-tag--red') : null, overdue ? ' ' : null,
    `Waiting ${duration(waited)}`,
    h('br'),
    h('span', { class: 'nhsuk-body-s parley-wait__target' },
      c.due_at ? `Reply due ${dateTime(c.due_at)}` : '', org ? ` (target: ${target(org.response_target_minutes)})` : ''));
}

export async function inboxPage(app, _p, main, stale) {
  const orgs = practices(app);
  const params = new URLSearchParams(location.search);
  const filter = FILTERS.some(([f]) => f === params.get('filter')) ? params.get('filter') : 'new';
  const label = FILTERS.find(([f]) => f === filter)[1];
  app.setTitle(`Inbox: ${label}`);
  const orgById = new Map(orgs.map((o) => [o.id, o]));
  const tableEl = h('div', { id: 'inbox' });
  const names = new Map();
  for (const o of orgs) {
    try { for (const s of await staffOf(app, o.id)) names.set(s.id, s.display_name); } catch { /* names are a nicety */ }
  }
  if (stale()) return undefined;

  // Filed transcripts the record system never took (record.outbox): a warning until someone
  // fixes the connection. Quiet when write-back is off or the request fails.
  const recordAlert = h('div', { id: 'record-alert' });
  const checkRecord = async () => {
    let dead = 0;
    for (const o of orgs) {
      try { dead += (await app.conn.request('record.outbox', { org_id: o.id })).dead || 0; } catch { /* not shown */ }
    }
    if (stale()) return;
    replace(recordAlert, dead > 0 ? h('div', { class: 'nhsuk-warning-callout', id: 'record-alert-callout' },
      h('h2', { class: 'nhsuk-warning-callout__label' },
        h('span', { role: 'text' }, h('span', { class: 'nhsuk-u-visually-hidden' }, 'Important: '), 'Record system')),
      h('p', {}, `${dead} filed transcript${dead === 1 ? '' : 's'} could not be sent to the record system. Ask your administrator to check the record connection.`)) : null);
  };
  checkRecord().catch(() => {});

  // Element.append prints null as text: leave out what is absent.
  main.append(...[
    heading('Inbox', orgs.map((o) => o.name).join(', ') || 'No practice'),
    recordAlert,
    orgs.length === 1 ? h('p', { class: 'nhsuk-body' }, `Response target: ${target(orgs[0].response_target_minutes)}.`) : null,
    h('nav', { class: 'parley-filters', 'aria-label': 'Filter requests' },
      h('ul', { class: 'parley-filters__list' }, FILTERS.map(([f, t]) => h('li', { class: 'parley-filters__item' },
        h('a', { class: 'parley-filters__link', href: `/practice?filter=${f}`, 'aria-current': f === filter ? 'page' : null }, t))))),
    h('div', { 'aria-live': 'polite', id: 'inbox-live', class: 'nhsuk-u-visually-hidden' }),
    tableEl].filter(Boolean));

  let known = null;
  let pages = 1; // how many pages of 100 the user has asked to see
  let more = false;
  const load = async () => {
    const list = [];
    let before = 0;
    more = false;
    for (let i = 0; i < pages; i++) {
      const r = await app.conn.request('conversation.list', { filter, limit: 100, ...(before ? { before } : {}) });
      list.push(...r.conversations);
      before = r.next_before;
      if (!before) break;
      more = i === pages - 1;
    }
    if (stale()) return;
    for (const c of list) app.state.putConv(c);
    const fresh = known ? list.filter((c) => !known.has(c.id)) : [];
    known = new Set(list.map((c) => c.id));
    if (fresh.length) document.getElementById('inbox-live').textContent = `${fresh.length} new request${fresh.length === 1 ? '' : 's'} in ${label}`;
    render(list);
  };
  const moreButton = () => {
    if (!more) return null;
    const b = h('button', { class: 'nhsuk-button nhsuk-button--secondary', type: 'button', id: 'inbox-more' }, 'Show older requests');
    b.addEventListener('click', () => { pages++; b.disabled = true; load().catch(() => { b.disabled = false; }); });
    return b;
  };
  const render = (list) => {
    if (!list.length && more) {
      replace(tableEl, h('p', { class: 'nhsuk-body' }, `No recent requests in ${label.toLowerCase()}.`), moreButton());
      return;
    }
    if (!list.length) {
      replace(tableEl, h('p', { class: 'nhsuk-body', id: 'inbox-empty' }, `There are no requests in ${label.toLowerCase()}.`));
      return;
    }
    replace(tableEl, h('div', { class: 'nhsuk-table-responsive' }, h('table', { class: 'nhsuk-table parley-inbox', role: 'table' },
      h('caption', { class: 'nhsuk-table__caption nhsuk-u-visually-hidden' }, `Requests: ${label}`),
      h('thead', { class: 'nhsuk-table__head' }, h('tr', { class: 'nhsuk-table__row' },
        ['Patient and request', 'Status', 'Assigned to', 'Waiting'].map((t) => h('th', { class: 'nhsuk-table__header', scope: 'col' }, t)))),
      h('tbody', { class: 'nhsuk-table__body' }, list.map((c0) => {
        const c = app.state.convs.get(c0.id) || c0;
        const who = c.assignee_user_id ? names.get(c.assignee_user_id) || `Staff ${c.assignee_user_id}` : null;
        const role = c.assignee_role ? ROLES[c.assignee_role] || c.assignee_role : null;
        return h('tr', { class: 'nhsuk-table__row', 'data-conversation-id': c.id },
          h('td', { class: 'nhsuk-table__cell' },
            h('a', { href: `/practice/requests/${c.id}`, class: 'parley-inbox__link' }, c.subject), h('br'),
            h('span', { class: 'nhsuk-body-s' }, `${c.patient ? c.patient.display_name : 'Patient'} · ${KIND[c.kind]} · received ${dateTime(c.created_at)}`)),
          h('td', { class: 'nhsuk-table__cell' }, statusTag(c.status)),
          h('td', { class: 'nhsuk-table__cell' }, [who, role].filter(Boolean).join(', ') || 'Not assigned'),
          h('td', { class: 'nhsuk-table__cell' }, waiting(c, orgById.get(c.org_id))));
      })))), moreButton());
  };
  await load();
  let t = null;
  const onChange = (e) => {
    if (e.detail.what !== 'list' && e.detail.what !== 'conversation') return;
    clearTimeout(t);
    t = setTimeout(() => load().catch(() => {}), 250);
  };
  const onReady = () => load().catch(() => {});
  const tick = setInterval(() => { load().catch(() => {}); checkRecord().catch(() => {}); }, 60000); // waiting times and "overdue"
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('ready', onReady);
  return () => {
    clearTimeout(t); clearInterval(tick);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('ready', onReady);
  };
}

// ---- one request ----

export async function practiceRequest(app, [idText], main, stale) {
  const convId = Number(idText);
  const r = await app.conn.request('conversation.get', { conversation_id: convId });
  if (stale()) return undefined;
  app.state.putConv(r.conversation);
  if (r.receipts) for (const [role, v] of Object.entries(r.receipts)) app.state.putReceipt(convId, role, v.delivered_seq, v.read_seq);
  const conv = app.state.convs.get(convId);
  const org = (app.info.organisations || []).find((o) => o.id === conv.org_id);
  const [staff, templates, older] = await Promise.all([
    staffOf(app, conv.org_id).catch(() => []),
    app.conn.request('template.list', { org_id: conv.org_id }).then((x) => x.templates).catch(() => []),
    loadHistory(app, convId),
  ]);
  if (stale()) return undefined;
  const names = new Map(staff.map((s) => [s.id, s.display_name]));

  const transcript = new Transcript(app, convId, 'staff');
  transcript.patientName = conv.patient ? conv.patient.display_name : 'The patient';
  transcript.setOlder(older);
  app.setTitle(`${conv.subject} (${transcript.patientName})`);

  const detailsEl = h('div', { id: 'request-details' });
  const banner = h('div', { 'aria-live': 'polite', id: 'action-result' });
  const say = (text) => { replace(banner, notification(text, null, true)); };

  // Reply, with the practice's templates to start from.
  const tplSelect = templates.length ? select({
    id: 'template', label: 'Start from a template (optional)',
    options: [['', 'Choose a template'], ...templates.map((t) => [String(t.id), t.title])],
  }) : null;
  const reply = composer(app, convId, {
    id: 'reply', label: `Reply to ${transcript.patientName}`, hint: 'The patient will see this message', buttonText: 'Send reply',
    files: true,
  });
  if (tplSelect) {
    reply.el.prepend(tplSelect);
    tplSelect.querySelector('select').addEventListener('change', (e) => {
      const t = templates.find((x) => String(x.id) === e.target.value);
      if (!t) return;
      reply.textarea.value = reply.textarea.value ? `${reply.textarea.value}\n\n${t.body}` : t.body;
      reply.textarea.dispatchEvent(new Event('input'));
      reply.textarea.focus();
    });
  }
  const note = composer(app, convId, {
    id: 'note', label: 'Internal note', hint: 'Only practice staff can see notes', buttonText: 'Add note', kind: 'note',
  });
  note.el.querySelector('button').classList.add('nhsuk-button--secondary');

  // Assign to a person, a role or both.
  const assignForm = new Form({ id: 'assign-form' },
    select({ id: 'assign-user', label: 'Assign to a person', options: [['', 'Nobody in particular'], ...staff.map((s) => [String(s.id), `${s.display_name} (${s.roles.map((x) => ROLES[x] || x).join(', ')})`])], value: conv.assignee_user_id || '' }),
    select({ id: 'assign-role', label: 'Or to a role', options: [['', 'No role'], ...Object.entries(ROLES).filter(([k]) => k !== 'specialist').map(([k, v]) => [k, v])], value: conv.assignee_role || '' }),
    button('Assign', { secondary: true, id: 'assign-button' }));
  assignForm.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const uid = assignForm.el['assign-user'].value;
    const role = assignForm.el['assign-role'].value;
    if (!uid && !role) { assignForm.showErrors([{ field: 'assign-user', text: 'Select a person or a role to assign this request to' }]); return; }
    assignForm.clearErrors();
    try {
      await app.conn.request('conversation.assign', { conversation_id: convId, ...(uid ? { user_id: Number(uid) } : {}), ...(role ? { role } : {}) });
      say(`Assigned to ${[uid ? names.get(Number(uid)) : null, role ? ROLES[role] : null].filter(Boolean).join(', ')}`);
    } catch (err) { assignForm.showErrors([{ text: err.message }]); }
  });

  const statusForm = new Form({ id: 'status-form' },
    select({ id: 'status', label: 'Status', options: Object.entries(STATUS).map(([k, v]) => [k, v.text]), value: conv.status }),
    button('Update status', { secondary: true, id: 'status-button' }));
  statusForm.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const status = statusForm.el.status.value;
    try {
      await app.conn.request('conversation.set_status', { conversation_id: convId, status });
      say(`Status changed to ${STATUS[status].text.toLowerCase()}`);
    } catch (err) { statusForm.showErrors([{ text: err.message }]); }
  });

  // A video consultation with this patient, held in this request's conversation (its
  // messages become the call's chat) unless the request is closed (PROTOCOL 8.4).
  const videoArea = h('div', { id: 'video-area' });
  const bookBtn = button('Book a video consultation', { secondary: true, id: 'book-video', type: 'button' });
  videoArea.append(h('p', { class: 'nhsuk-body' }, `Get a link to send to ${transcript.patientName}.`), bookBtn);
  bookBtn.addEventListener('click', async () => {
    bookBtn.disabled = true;
    const c = app.state.convs.get(convId);
    try {
      await book(app, { patient_id: c.patient_id, ...(c.status !== 'closed' ? { conversation_id: convId } : {}) },
        transcript.patientName, videoArea, { level: 'h3' });
      videoArea.append(h('p', { class: 'nhsuk-body' }, h('a', { href: '/practice/consultations' }, 'Go to video consultations')));
    } catch (err) {
      bookBtn.disabled = false;
      replace(banner, notification(`The video consultation could not be booked: ${err.message}`, null, false));
    }
  });

  main.append(backLink('/practice', 'Back to the inbox'),
    heading(conv.subject, transcript.patientName),
    banner,
    h('div', { class: 'nhsuk-grid-row' },
      h('div', { class: 'nhsuk-grid-column-two-thirds' }, detailsEl, transcript.el,
        h('section', { 'aria-labelledby': 'reply-heading' }, h('h2', { class: 'nhsuk-heading-m', id: 'reply-heading' }, 'Reply'), reply.el),
        h('details', { class: 'nhsuk-details' },
          h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, 'Add an internal note')),
          h('div', { class: 'nhsuk-details__text' }, note.el))),
      h('div', { class: 'nhsuk-grid-column-one-third' },
        h('section', { 'aria-labelledby': 'manage-heading', class: 'parley-side' },
          h('h2', { class: 'nhsuk-heading-m', id: 'manage-heading' }, 'Manage request'),
          assignForm.el, statusForm.el),
        h('section', { 'aria-labelledby': 'video-heading', class: 'parley-side' },
          h('h2', { class: 'nhsuk-heading-m', id: 'video-heading' }, 'Video consultation'), videoArea),
        // The record (PROTOCOL 13.5): clinicians file the transcript and mark entries in error;
        // every member of staff here may download it.
        mayFile(app, conv.org_id) ? filingPanel(app, convId, { say, orgId: conv.org_id, transcript }).el : downloadSection(app, convId),
        // A practice admin answers for who saw the patient's data (PROTOCOL 14).
        org && (org.roles || []).includes('practice_admin') && conv.patient_id ? h('p', { class: 'nhsuk-body parley-side' },
          h('a', { href: `/practice/patients/${conv.patient_id}/access`, id: 'access-link' }, 'Who accessed this patient\u2019s data')) : null)));

  const renderDetails = () => {
    const c = app.state.convs.get(convId);
    const who = [c.assignee_user_id ? names.get(c.assignee_user_id) || `Staff ${c.assignee_user_id}` : null,
      c.assignee_role ? ROLES[c.assignee_role] : null].filter(Boolean).join(', ') || 'Not assigned';
    replace(detailsEl, summaryList([
      ['Patient', transcript.patientName],
      ['Type', kindText(c.kind)],
      ['Status', statusTag(c.status)],
      ['Assigned to', who],
      ['Waiting', waiting(c, org)],
      ['Received', dateTime(c.created_at)],
      c.answers ? ['Patient\u2019s answers', h('dl', { class: 'parley-answers' }, Object.entries(c.answers).flatMap(([q, v]) => [h('dt', null, q), h('dd', null, String(v))]))] : null,
    ]));
  };

  let marked = 0;
  const markRead = () => {
    const c = app.state.convs.get(convId);
    if (document.visibilityState !== 'visible' || !c || !c.last_seq || c.last_seq <= marked) return;
    marked = c.last_seq;
    app.conn.request('receipt.mark', { conversation_id: convId, seq: c.last_seq, kind: 'read' }).catch(() => { marked = 0; });
  };
  renderDetails();
  transcript.render();
  markRead();
  const onChange = (e) => {
    if (e.detail.conversationId !== convId) return;
    if (e.detail.what === 'conversation') renderDetails();
    if (e.detail.what === 'messages' || e.detail.what === 'receipts') { transcript.render(); markRead(); }
    if (e.detail.what === 'typing') transcript.renderTyping();
  };
  const onConn = () => transcript.render();
  const tick = setInterval(renderDetails, 60000);
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('state', onConn);
  document.addEventListener('visibilitychange', markRead);
  return () => {
    transcript.destroy();
    clearInterval(tick);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('state', onConn);
    document.removeEventListener('visibilitychange', markRead);
  };
}

// ---- reply templates ----

export async function templatesPage(app, _p, main, stale) {
  const orgs = practices(app);
  app.setTitle('Reply templates');
  const listEl = h('div', { id: 'templates' });
  const banner = h('div', { 'aria-live': 'polite' });
  let editing = null; // template being edited, or null for a new one
  const org = orgs[0];
  if (!org) {
    main.append(heading('Reply templates'), h('p', { class: 'nhsuk-body' }, 'You are not a member of a practice.'));
    return undefined;
  }
  const orgSelect = orgs.length > 1 ? select({ id: 'tpl-org', label: 'Practice', options: orgs.map((o) => [String(o.id), o.name]) }) : null;
  const form = new Form({ id: 'template-form' },
    h('h2', { class: 'nhsuk-heading-m', id: 'form-heading' }, 'Add a template'),
    orgSelect,
    input({ id: 'tpl-title', label: 'Title', hint: 'Staff choose templates by this title', attrs: { maxlength: '100' } }),
    textarea({ id: 'tpl-body', label: 'Message', rows: 5, hint: 'What the patient will read. You can change it before sending.' }),
    h('div', { class: 'nhsuk-button-group' },
      button('Save template', { id: 'tpl-save' }),
      h('button', { class: 'nhsuk-button nhsuk-button--secondary', type: 'button', id: 'tpl-cancel', hidden: true }, 'Cancel')));
  main.append(h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    heading('Reply templates', orgs.map((o) => o.name).join(', ')),
    h('p', { class: 'nhsuk-body' }, 'Templates are shared by everyone in the practice. Use them to start a reply.'),
    banner, listEl, form.el)));

  const el = form.el;
  const cancel = el.querySelector('#tpl-cancel');
  const reset = () => {
    editing = null;
    el['tpl-title'].value = ''; el['tpl-body'].value = '';
    el.querySelector('#form-heading').textContent = 'Add a template';
    cancel.hidden = true;
    form.clearErrors();
  };
  cancel.addEventListener('click', reset);

  const load = async () => {
    const all = [];
    for (const o of orgs) {
      const r = await app.conn.request('template.list', { org_id: o.id });
      all.push(...r.templates);
    }
    if (stale()) return;
    if (!all.length) { replace(listEl, h('p', { class: 'nhsuk-body' }, 'There are no templates yet.')); return; }
    replace(listEl, summaryList([]));
    const dl = listEl.firstChild;
    for (const t of all) {
      const edit = h('a', { href: '#template-form' }, 'Change', h('span', { class: 'nhsuk-u-visually-hidden' }, ` ${t.title}`));
      edit.addEventListener('click', (e) => {
        e.preventDefault();
        editing = t;
        el['tpl-title'].value = t.title; el['tpl-body'].value = t.body;
        if (orgSelect) el['tpl-org'].value = String(t.org_id);
        el.querySelector('#form-heading').textContent = `Change "${t.title}"`;
        cancel.hidden = false;
        el['tpl-title'].focus();
      });
      const del = h('a', { href: '#' }, 'Delete', h('span', { class: 'nhsuk-u-visually-hidden' }, ` ${t.title}`));
      del.addEventListener('click', async (e) => {
        e.preventDefault();
        if (!window.confirm(`Delete the template "${t.title}"?`)) return;
        try {
          await app.conn.request('template.delete', { template_id: t.id });
          replace(banner, notification(`Template "${t.title}" deleted`, null, true));
          await load();
        } catch (err) { form.showErrors([{ text: err.message }]); }
      });
      dl.append(h('div', { class: 'nhsuk-summary-list__row', 'data-template-id': t.id },
        h('dt', { class: 'nhsuk-summary-list__key' }, t.title),
        h('dd', { class: 'nhsuk-summary-list__value parley-pre' }, t.body),
        h('dd', { class: 'nhsuk-summary-list__actions' },
          h('ul', { class: 'nhsuk-summary-list__actions-list' },
            h('li', { class: 'nhsuk-summary-list__actions-list-item' }, edit),
            h('li', { class: 'nhsuk-summary-list__actions-list-item' }, del)))));
    }
  };

  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = el['tpl-title'].value.trim();
    const body = el['tpl-body'].value.trim();
    const errs = [];
    if (!title) errs.push({ field: 'tpl-title', text: 'Enter a title' });
    else if (new TextEncoder().encode(title).length > 100) errs.push({ field: 'tpl-title', text: 'The title must be 100 characters or fewer' });
    if (!body) errs.push({ field: 'tpl-body', text: 'Enter the message' });
    if (errs.length) { form.showErrors(errs); return; }
    const orgId = orgSelect ? Number(el['tpl-org'].value) : org.id;
    try {
      await app.conn.request('template.save', { org_id: editing ? editing.org_id : orgId, title, body, ...(editing ? { template_id: editing.id } : {}) });
      replace(banner, notification(`Template "${title}" saved`, null, true));
      reset();
      await load();
    } catch (err) {
      form.showErrors([{ text: err.message }]);
    }
  });
  await load();
  return undefined;
}
