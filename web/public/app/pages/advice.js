// Professional advice (PROTOCOL 11): a practice's clinicians ask a specialist service about a
// patient, and the service's specialists answer in a thread and close the request with an
// outcome. The practice's list and form, the service's queue, and one request with its thread.
// The patient never sees any of this.
import { h, replace } from '../dom.js';
import { txnId } from '../conn.js';
import * as api from '../api.js';
import { dateTime, ADVICE_STATUS, URGENCY, OUTCOME } from '../format.js';
import {
  Form, heading, backLink, button, tag, summaryList, input, textarea, select, radios, radioValue, checkbox, notification, inset,
} from '../ui.js';
import { Transcript, loadHistory, composer } from './transcript.js';
import { filingPanel, mayFile } from './filing.js';

const SENT_FILTERS = [['open', 'Open'], ['overdue', 'Overdue'], ['closed', 'Closed'], ['all', 'All']];
const QUEUE_FILTERS = [['new', 'New'], ['mine', 'Mine'], ['overdue', 'Overdue'], ['open', 'All open'], ['closed', 'Closed']];
const FILE_TYPES = ['image/jpeg', 'image/png', 'image/heic', 'application/pdf'];
const MAX_FILE = 10 * 1024 * 1024;
const HIDDEN = 'Patient details hidden';

// A notice for the request page after the form (an upload that failed once the request was
// sent): shown once.
let nextNotice = null;

function statusTag(s) {
  const t = ADVICE_STATUS[s] || { text: s };
  return tag(t.text, t.cls);
}

function urgencyTag(u) {
  const t = URGENCY[u] || { text: u };
  return tag(t.text, t.cls);
}

function patientText(a) {
  return a.patient && !a.patient.hidden ? a.patient.display_name : HIDDEN;
}

function nhsNumber(n) {
  return /^\d{10}$/.test(n) ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}` : n;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
function dob(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || '');
  return m ? `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}` : iso;
}

function dueText(a) {
  if (a.status === 'closed') return a.closed_at ? `Closed ${dateTime(a.closed_at)}` : 'Closed';
  return h('span', null, a.overdue ? tag('Overdue', 'nhsuk-tag--red') : null, a.overdue ? ' ' : null, `Due ${dateTime(a.due_at)}`);
}

// Is the user a specialist of this service (may claim, ask for information and close)?
function specialistAt(app, serviceId) {
  return (app.info.organisations || []).some((o) => o.id === serviceId && o.kind === 'specialist_service' && (o.roles || []).includes('specialist'));
}

// ---- the lists: the practice's requests and the service's queue ----

async function listPage(app, main, stale, { side, filters, base, title, intro, extra }) {
  const params = new URLSearchParams(location.search);
  const filter = filters.some(([f]) => f === params.get('filter')) ? params.get('filter') : filters[0][0];
  const label = filters.find(([f]) => f === filter)[1];
  app.setTitle(`${title}: ${label}`);
  const orgs = app.orgsOf(side === 'sent' ? 'practice' : 'specialist_service');
  const tableEl = h('div', { id: 'advice-list' });
  const live = h('div', { 'aria-live': 'polite', id: 'advice-live', class: 'nhsuk-u-visually-hidden' });
  // Element.append prints null as text: leave out what is absent.
  main.append(...[
    heading(title, orgs.map((o) => o.name).join(', ') || null),
    intro ? h('p', { class: 'nhsuk-body' }, intro) : null,
    extra || null,
    h('nav', { class: 'parley-filters', 'aria-label': 'Filter advice requests' },
      h('ul', { class: 'parley-filters__list' }, filters.map(([f, t]) => h('li', { class: 'parley-filters__item' },
        h('a', { class: 'parley-filters__link', href: `${base}?filter=${f}`, 'aria-current': f === filter ? 'page' : null }, t))))),
    live, tableEl].filter(Boolean));

  let known = null;
  const render = (list) => {
    if (!list.length) {
      replace(tableEl, h('p', { class: 'nhsuk-body', id: 'advice-empty' }, `There are no advice requests in ${label.toLowerCase()}.`));
      return;
    }
    const other = side === 'sent' ? 'Service' : 'Practice';
    replace(tableEl, h('div', { class: 'nhsuk-table-responsive' }, h('table', { class: 'nhsuk-table parley-advice', role: 'table' },
      h('caption', { class: 'nhsuk-table__caption nhsuk-u-visually-hidden' }, `Advice requests: ${label}`),
      h('thead', { class: 'nhsuk-table__head' }, h('tr', { class: 'nhsuk-table__row' },
        ['Patient and specialty', other, 'Urgency', 'Status', 'Due', 'Specialist'].map((t) => h('th', { class: 'nhsuk-table__header', scope: 'col' }, t)))),
      h('tbody', { class: 'nhsuk-table__body' }, list.map((a) => h('tr', { class: 'nhsuk-table__row', 'data-advice-id': a.id },
        h('td', { class: 'nhsuk-table__cell' },
          h('a', { href: `/practice/advice/${a.id}`, class: 'parley-advice__link' }, patientText(a),
            h('span', { class: 'nhsuk-u-visually-hidden' }, `, ${a.specialty}, request ${a.id}`)), h('br'),
          h('span', { class: 'nhsuk-body-s' }, `${a.specialty} · sent ${dateTime(a.created_at)}`)),
        h('td', { class: 'nhsuk-table__cell' }, side === 'sent' ? a.service.name : a.practice.name),
        h('td', { class: 'nhsuk-table__cell' }, urgencyTag(a.urgency)),
        h('td', { class: 'nhsuk-table__cell' }, statusTag(a.status)),
        h('td', { class: 'nhsuk-table__cell' }, dueText(a)),
        h('td', { class: 'nhsuk-table__cell' }, a.specialist ? a.specialist.display_name : 'Not claimed')))))));
  };
  const load = async () => {
    const r = await app.conn.request('advice.list', { side, filter, limit: 100 });
    if (stale()) return;
    const fresh = known ? r.requests.filter((a) => !known.has(a.id)) : [];
    known = new Set(r.requests.map((a) => a.id));
    if (fresh.length) live.textContent = `${fresh.length} new advice request${fresh.length === 1 ? '' : 's'} in ${label}`;
    render(r.requests);
  };
  await load();
  let t = null;
  const onChange = (e) => {
    if (e.detail.what !== 'advice') return;
    clearTimeout(t);
    t = setTimeout(() => load().catch(() => {}), 250);
  };
  const onReady = () => load().catch(() => {});
  const tick = setInterval(() => load().catch(() => {}), 60000); // due times and "overdue"
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('ready', onReady);
  return () => {
    clearTimeout(t); clearInterval(tick);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('ready', onReady);
  };
}

export function adviceListPage(app, _p, main, stale) {
  return listPage(app, main, stale, {
    side: 'sent', filters: SENT_FILTERS, base: '/practice/advice', title: 'Advice',
    intro: 'Ask a specialist service about a patient. The patient does not see these requests or their messages.',
    extra: h('a', { href: '/practice/advice/new', class: 'nhsuk-button', role: 'button', draggable: 'false', id: 'ask-specialist' }, 'Ask a specialist'),
  });
}

export function adviceQueuePage(app, _p, main, stale) {
  return listPage(app, main, stale, {
    side: 'queue', filters: QUEUE_FILTERS, base: '/practice/queue', title: 'Advice queue',
    intro: 'Requests for advice from practices. Claim a request to answer it.',
  });
}

// ---- asking a specialist ----

export async function adviceNewPage(app, _p, main, stale) {
  app.setTitle('Ask a specialist');
  const r = await app.conn.request('service.list');
  if (stale()) return undefined;
  const services = r.services.filter((s) => s.agreements && s.agreements.length);
  const back = backLink('/practice/advice', 'Back to advice requests');
  if (!services.length) {
    main.append(back, h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
      heading('Ask a specialist'),
      h('p', { class: 'nhsuk-body', id: 'no-services' }, 'You cannot ask a specialist service for advice yet: your practice has no information-sharing agreement in force with one.'),
      h('p', { class: 'nhsuk-body' }, 'An admin of your practice can propose an agreement to a service. Once the service accepts it, you can send requests here.'))));
    return undefined;
  }

  const hours = (n) => `${n} hour${n === 1 ? '' : 's'}`;
  const urgencyItems = (s) => [
    { value: 'routine', text: 'Routine', hint: `The service aims to reply within ${hours(s.routine_target_hours)}` },
    { value: 'urgent', text: 'Urgent', hint: `The service aims to reply within ${hours(s.urgent_target_hours)}` },
  ];
  const serviceSel = select({ id: 'service', label: 'Specialist service', options: services.map((s) => [String(s.id), s.name]) });
  const specialtyGroup = h('div');
  const urgencyGroup = h('div');
  const fileField = h('input', { class: 'nhsuk-input parley-file', id: 'file', name: 'file', type: 'file', accept: FILE_TYPES.join(','), 'aria-describedby': 'file-hint' });
  const form = new Form({ id: 'advice-form' },
    serviceSel, specialtyGroup, urgencyGroup,
    input({ id: 'nhs-number', label: 'Patient’s NHS number', hint: '10 digits, for example 485 777 3456', width: 10, autocomplete: 'off', attrs: { inputmode: 'numeric' } }),
    textarea({ id: 'question', label: 'Clinical question', hint: 'What you would like the specialist to advise on', rows: 4, attrs: { maxlength: '4000' } }),
    textarea({ id: 'summary', label: 'Clinical summary', hint: 'History, examination, what has been tried, relevant medication', rows: 8, attrs: { maxlength: '8000' } }),
    h('div', { class: 'nhsuk-form-group' },
      h('label', { class: 'nhsuk-label', for: 'file' }, 'Photo or PDF (optional)'),
      h('div', { class: 'nhsuk-hint', id: 'file-hint' }, 'A JPEG, PNG or HEIC photo, or a PDF, up to 10 MB'),
      fileField),
    checkbox({ id: 'consent', legend: 'Consent', text: 'The patient agrees to share this with the service' }),
    button('Send request', { id: 'advice-send' }));

  const current = () => services.find((s) => String(s.id) === form.el.service.value) || services[0];
  const fill = () => {
    const s = current();
    const urgency = form.el.querySelector('input[name=urgency]:checked')?.value;
    replace(specialtyGroup, select({ id: 'specialty', label: 'Specialty', options: s.specialties.map((x) => [x, x]) }));
    // The group's own hint comes first, so an error shows under it rather than under an option's.
    replace(urgencyGroup, radios({ id: 'urgency', legend: 'How urgent is it?', hint: 'Urgent requests are for advice needed today', items: urgencyItems(s), value: urgency }));
  };
  form.el.service.addEventListener('change', fill);

  main.append(back, h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    heading('Ask a specialist'),
    h('p', { class: 'nhsuk-body' }, 'The service sees what you write here, and the patient’s name, NHS number and date of birth if your practice’s agreement with it shares them. The patient does not see the request.'),
    form.el)));
  fill();

  let txn = null; // kept across retries of the same request, so it is created once
  let sending = false;
  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (sending) return;
    const el = form.el;
    const s = current();
    const specialty = el.specialty.value;
    const urgency = radioValue(el, 'urgency');
    const nhs = el['nhs-number'].value.replace(/\s+/g, '');
    const question = el.question.value.trim();
    const summary = el.summary.value.trim();
    const file = fileField.files && fileField.files[0];
    const bytes = (x) => new TextEncoder().encode(x).length;
    const errs = [];
    if (!specialty) errs.push({ field: 'specialty', text: 'Select a specialty' });
    if (!urgency) errs.push({ field: 'urgency', text: 'Select how urgent this is' });
    if (!nhs) errs.push({ field: 'nhs-number', text: 'Enter the patient’s NHS number' });
    else if (!/^\d{10}$/.test(nhs)) errs.push({ field: 'nhs-number', text: 'NHS number must be 10 digits' });
    if (!question) errs.push({ field: 'question', text: 'Enter your clinical question' });
    else if (bytes(question) > 4000) errs.push({ field: 'question', text: 'The clinical question must be 4,000 characters or fewer' });
    if (!summary) errs.push({ field: 'summary', text: 'Enter a clinical summary' });
    else if (bytes(summary) > 8000) errs.push({ field: 'summary', text: 'The clinical summary must be 8,000 characters or fewer' });
    if (file && !FILE_TYPES.includes(file.type)) errs.push({ field: 'file', text: 'The selected file must be a JPEG, PNG or HEIC photo, or a PDF' });
    else if (file && file.size > MAX_FILE) errs.push({ field: 'file', text: 'The selected file must be smaller than 10 MB' });
    else if (file && file.size === 0) errs.push({ field: 'file', text: 'The selected file is empty' });
    if (!el.consent.checked) errs.push({ field: 'consent', inputs: [], text: 'Confirm that the patient agrees to share this with the service' });
    if (errs.length) { form.showErrors(errs); return; }
    form.clearErrors();

    sending = true;
    const btn = el.querySelector('#advice-send');
    btn.disabled = true;
    if (!txn) txn = txnId();
    const practiceId = s.agreements[0].practice_id;
    let advice;
    try {
      const res = await app.conn.request('advice.create', {
        service_id: s.id, practice_id: practiceId, specialty, urgency, nhs_number: nhs, question, summary, consent: true, txn_id: txn,
      });
      advice = res.advice;
    } catch (err) {
      sending = false; btn.disabled = false;
      if (err.code === 'not_found') form.showErrors([{ field: 'nhs-number', text: 'No patient with this NHS number is registered at your practice' }]);
      else if (/nhs_number/.test(err.message)) form.showErrors([{ field: 'nhs-number', text: 'Enter a valid NHS number' }]);
      else form.showErrors([{ text: `The request could not be sent: ${err.message}` }]);
      return;
    }
    if (file) {
      try {
        const att = await api.upload(advice.conversation_id, file);
        await app.conn.request('conversation.send', {
          conversation_id: advice.conversation_id, txn_id: txnId(), body: file.type.startsWith('image/') ? 'Photo attached' : `${file.name} attached`,
          attachment_ids: [att.id],
        });
      } catch (err) {
        nextNotice = `The request was sent, but ${file.name} could not be attached: ${err.message}`;
      }
    }
    if (stale()) return;
    app.navigate(`/practice/advice/${advice.id}`);
  });
  return undefined;
}

// ---- one request ----

export async function adviceRequestPage(app, [idText], main, stale) {
  const adviceId = Number(idText);
  let a = (await app.conn.request('advice.get', { advice_id: adviceId })).advice;
  if (stale()) return undefined;
  const convId = a.conversation_id;
  const older = await loadHistory(app, convId);
  if (stale()) return undefined;
  const me = app.info.user.id;
  const specialist = specialistAt(app, a.service.id);
  const fromPractice = app.orgsOf('practice').some((o) => o.id === a.practice.id);

  const transcript = new Transcript(app, convId, 'staff');
  transcript.patientName = patientText(a);
  transcript.setOlder(older);
  app.setTitle(`${a.specialty} advice (${patientText(a)})`);

  const banner = h('div', { 'aria-live': 'polite', id: 'action-result' });
  const say = (text, ok = true) => replace(banner, notification(text, null, ok));
  if (nextNotice) { say(nextNotice, false); nextNotice = null; }
  const statusNote = h('div', { id: 'advice-status-note' });
  const detailsEl = h('div', { id: 'advice-details' });
  const actionsEl = h('div', { id: 'advice-actions' });
  // Live escalation (PROTOCOL 11.6): a video call between the two teams, started from here.
  const callEl = h('div', { id: 'advice-call' });

  const reply = composer(app, convId, {
    id: 'advice-reply', label: 'Message',
    hint: specialist ? 'The practice sees this message. The patient does not.' : 'The specialist service sees this message. The patient does not.',
    buttonText: 'Send message',
    files: true,
  });
  const replySection = h('section', { 'aria-labelledby': 'reply-heading' },
    h('h2', { class: 'nhsuk-heading-m', id: 'reply-heading' }, 'Write a message'), reply.el);

  main.append(backLink(specialist && !fromPractice ? '/practice/queue' : '/practice/advice', specialist && !fromPractice ? 'Back to the advice queue' : 'Back to advice requests'),
    heading(a.specialty, `Advice request ${a.id}`),
    banner,
    h('div', { class: 'nhsuk-grid-row' },
      h('div', { class: 'nhsuk-grid-column-two-thirds' },
        statusNote, detailsEl,
        h('h2', { class: 'nhsuk-heading-m', id: 'question-heading' }, 'Clinical question'),
        h('p', { class: 'nhsuk-body parley-pre', id: 'advice-question' }, a.question),
        h('h2', { class: 'nhsuk-heading-m', id: 'summary-heading' }, 'Clinical summary'),
        h('p', { class: 'nhsuk-body parley-pre', id: 'advice-summary' }, a.summary),
        transcript.el, replySection),
      h('div', { class: 'nhsuk-grid-column-one-third' }, callEl, actionsEl,
        // The thread is the practice's record: its clinicians file it (PROTOCOL 13.5).
        mayFile(app, a.practice.id) ? filingPanel(app, convId, { say, orgId: a.practice.id, transcript }).el : null)));

  const renderDetails = () => {
    const p = a.patient || { hidden: true };
    const identity = p.hidden
      ? [['Patient', 'Hidden: no agreement in force that shares the patient’s identity']]
      : [['Patient', p.display_name], ['NHS number', nhsNumber(p.nhs_number)], ['Date of birth', dob(p.date_of_birth)]];
    replace(detailsEl, summaryList([
      ...identity,
      ['Practice', a.practice.name],
      ['Service', a.service.name],
      ['Urgency', urgencyTag(a.urgency)],
      ['Status', statusTag(a.status)],
      ['Due', a.status === 'closed' ? `Was due ${dateTime(a.due_at)}` : dueText(a)],
      ['Specialist', a.specialist ? a.specialist.display_name : 'Not claimed yet'],
      ['Outcome', a.outcome ? OUTCOME[a.outcome] || a.outcome : 'Not closed yet'],
      ['Raised by', `${a.created_by.display_name}, ${dateTime(a.created_at)}`],
      a.consent ? ['Consent recorded', `By ${a.consent.recorded_by_name}, ${dateTime(a.consent.recorded_at)}`] : null,
    ]));
    let note = null;
    if (a.status === 'awaiting_gp') {
      note = inset(fromPractice
        ? 'The specialist has asked for more information. Answer in the messages below.'
        : 'Waiting for the practice to answer your question.');
    } else if (a.status === 'closed') {
      note = inset(`Closed ${a.closed_at ? dateTime(a.closed_at) : ''}: ${OUTCOME[a.outcome] || a.outcome}.`);
    }
    replace(statusNote, note);
    replySection.hidden = a.status === 'closed';
  };

  const act = async (btn, type, fields, done) => {
    btn.disabled = true;
    try {
      const r = await app.conn.request(type, { advice_id: adviceId, ...fields });
      if (r.advice) a = r.advice; else await refresh();
      renderDetails(); renderActions();
      say(done);
    } catch (err) {
      btn.disabled = false;
      say(err.message, false);
    }
  };

  const renderActions = () => {
    if (!specialist || a.status === 'closed') { replace(actionsEl); return; }
    const parts = [];
    if (!a.specialist) {
      const claim = button('Claim', { id: 'advice-claim', type: 'button' });
      claim.addEventListener('click', () => act(claim, 'advice.claim', {}, 'You have claimed this request'));
      parts.push(h('p', { class: 'nhsuk-body' }, 'Nobody has claimed this request yet.'), claim);
    } else if (a.specialist.id !== me) {
      parts.push(h('p', { class: 'nhsuk-body' }, `${a.specialist.display_name} has claimed this request.`));
    }
    if (a.status !== 'awaiting_gp') {
      const ask = button('Ask the GP for more information', { id: 'advice-request-info', type: 'button', secondary: true });
      ask.addEventListener('click', () => act(ask, 'advice.request_info', {}, 'The practice has been asked for more information'));
      parts.push(h('p', { class: 'nhsuk-body' }, 'Write your question in the messages first.'), ask);
    }
    const closeForm = new Form({ id: 'advice-close-form' },
      radios({ id: 'outcome', legend: 'Outcome', small: true, items: Object.entries(OUTCOME).map(([value, text]) => ({ value, text })) }),
      button('Give advice and close', { id: 'advice-close' }));
    closeForm.el.addEventListener('submit', async (e) => {
      e.preventDefault();
      const outcome = radioValue(closeForm.el, 'outcome');
      if (!outcome) { closeForm.showErrors([{ field: 'outcome', text: 'Select the outcome' }]); return; }
      closeForm.clearErrors();
      await act(closeForm.el.querySelector('#advice-close'), 'advice.close', { outcome }, `Closed: ${OUTCOME[outcome]}`);
    });
    replace(actionsEl, h('section', { 'aria-labelledby': 'actions-heading', class: 'parley-side' },
      h('h2', { class: 'nhsuk-heading-m', id: 'actions-heading' }, 'Answer this request'),
      ...parts,
      h('h3', { class: 'nhsuk-heading-s' }, 'Give advice and close'),
      h('p', { class: 'nhsuk-body' }, 'Write your advice in the messages, then choose the outcome.'),
      closeForm.el));
  };

  // The call: "Start a video call" (which joins the one in progress, if the other side started
  // it first), or "Join the video call" once someone has started it.
  let startedBy = null;
  const renderCall = () => {
    if (a.status === 'closed' && !a.call_id) { replace(callEl); return; }
    const go = button(a.call_id ? 'Join the video call' : 'Start a video call', { id: 'advice-call-button', type: 'button', secondary: !a.call_id });
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        const r = await app.conn.request('advice.call', { advice_id: adviceId });
        app.state.putConsult(r.consultation);
        app.navigate(`/practice/consultations/${r.consultation.id}/call`);
      } catch (err) {
        go.disabled = false;
        say(err.message, false);
      }
    });
    const other = fromPractice ? 'the specialist' : 'the practice';
    replace(callEl, h('section', { 'aria-labelledby': 'call-heading', class: 'parley-side' },
      h('h2', { class: 'nhsuk-heading-m', id: 'call-heading' }, 'Talk on video'),
      a.call_id
        ? h('p', { class: 'nhsuk-body', id: 'advice-call-note' }, h('strong', null, startedBy ? `${startedBy} started a video call.` : 'A video call is in progress.'))
        : h('p', { class: 'nhsuk-body' }, `Talk to ${other} now, face to face.${fromPractice ? ' You can bring the patient into the call.' : ''}`),
      go));
  };

  const refresh = async () => {
    const r = await app.conn.request('advice.get', { advice_id: adviceId });
    if (stale()) return;
    const was = a;
    a = r.advice;
    renderDetails();
    if (was.call_id !== a.call_id) renderCall();
    // Keep a half-filled close form: redraw the actions only when what they offer changes.
    if (was.status !== a.status || (was.specialist && was.specialist.id) !== (a.specialist && a.specialist.id)) renderActions();
  };

  let marked = 0;
  const markRead = () => {
    const c = [...app.state.messages(convId).values()].reduce((m, x) => Math.max(m, x.seq || 0), 0);
    if (document.visibilityState !== 'visible' || !c || c <= marked) return;
    marked = c;
    app.conn.request('receipt.mark', { conversation_id: convId, seq: c, kind: 'read' }).catch(() => { marked = 0; });
  };

  renderDetails();
  renderActions();
  renderCall();
  transcript.render();
  markRead();
  let t = null;
  const onChange = (e) => {
    if (e.detail.what === 'advice' && e.detail.adviceId === adviceId) {
      clearTimeout(t);
      t = setTimeout(() => refresh().catch(() => {}), 100);
    }
    if (e.detail.conversationId !== convId) return;
    if (e.detail.what === 'consult') {
      const ev = e.detail.event;
      if (ev.type === 'consult.started') {
        a.call_id = ev.consultation_id;
        startedBy = ev.by === me ? null : ev.display_name;
        renderCall();
        if (startedBy) say(`${startedBy} started a video call`);
      } else if (ev.type === 'consult.ended' && ev.consultation_id === a.call_id) {
        a.call_id = null;
        startedBy = null;
        renderCall();
      }
      return;
    }
    if (e.detail.what === 'messages' || e.detail.what === 'receipts') { transcript.render(); markRead(); }
    if (e.detail.what === 'typing') transcript.renderTyping();
  };
  const onConn = () => transcript.render();
  const onReady = () => refresh().catch(() => {});
  const tick = setInterval(renderDetails, 60000);
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('state', onConn);
  app.conn.addEventListener('ready', onReady);
  document.addEventListener('visibilitychange', markRead);
  return () => {
    transcript.destroy();
    clearTimeout(t); clearInterval(tick);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('state', onConn);
    app.conn.removeEventListener('ready', onReady);
    document.removeEventListener('visibilitychange', markRead);
  };
}
