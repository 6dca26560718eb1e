// Case discussions (PROTOCOL 12): a practice's clinician opens a discussion about one of its
// patients and invites professionals of the practice and of specialist services with an
// agreement in force that shares the patient's identity. The members talk in a thread and may
// meet on video (up to 8 people). Only members see any of it; the patient never does.
import { h, append, replace } from '../dom.js';
import { txnId } from '../conn.js';
import { dateTime } from '../format.js';
import {
  Form, heading, backLink, button, tag, summaryList, input, select, notification, inset,
} from '../ui.js';
import { Transcript, loadHistory, composer } from './transcript.js';
import { filingPanel, mayFile } from './filing.js';

const FILTERS = [['open', 'Open'], ['closed', 'Closed'], ['all', 'All']];
const STATUS = {
  open: { text: 'Open', cls: 'nhsuk-tag--blue' },
  closed: { text: 'Closed', cls: 'nhsuk-tag--grey' },
};
const HIDDEN = 'Patient details hidden';
const MAX_MEMBERS = 8;

function statusTag(s) {
  const t = STATUS[s] || { text: s };
  return tag(t.text, t.cls);
}

function patientText(c) {
  return c.patient && !c.patient.hidden ? c.patient.display_name : HIDDEN;
}

function nhsNumber(n) {
  return /^\d{10}$/.test(n || '') ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}` : n;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
function dob(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || '');
  return m ? `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}` : iso;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// Does the user take part for the practice that opened the discussion (may invite and close)?
function fromPractice(app, c) {
  const me = app.info.user.id;
  const mine = (c.members || []).find((m) => m.user_id === me);
  if (mine && mine.org) return mine.org.id === c.org.id;
  return app.orgsOf('practice').some((o) => o.id === c.org.id);
}

// ---- the list ----

export async function casesListPage(app, _p, main, stale) {
  const params = new URLSearchParams(location.search);
  const filter = FILTERS.some(([f]) => f === params.get('filter')) ? params.get('filter') : FILTERS[0][0];
  const label = FILTERS.find(([f]) => f === filter)[1];
  app.setTitle(`Case discussions: ${label}`);
  const canOpen = app.orgsOf('practice').length > 0;
  const tableEl = h('div', { id: 'case-list' });
  const live = h('div', { 'aria-live': 'polite', id: 'case-live', class: 'nhsuk-u-visually-hidden' });
  append(main, [
    heading('Case discussions'),
    h('p', { class: 'nhsuk-body' }, 'Discuss a patient with colleagues and specialists, in writing or in a video meeting. Only the members of a discussion can see it. The patient cannot.'),
    canOpen ? h('a', { href: '/practice/cases/new', class: 'nhsuk-button', role: 'button', draggable: 'false', id: 'open-case' }, 'Open a case discussion') : null,
    h('nav', { class: 'parley-filters', 'aria-label': 'Filter case discussions' },
      h('ul', { class: 'parley-filters__list' }, FILTERS.map(([f, t]) => h('li', { class: 'parley-filters__item' },
        h('a', { class: 'parley-filters__link', href: `/practice/cases?filter=${f}`, 'aria-current': f === filter ? 'page' : null }, t))))),
    live, tableEl]);

  let known = null;
  const render = (list) => {
    if (!list.length) {
      const what = filter === 'all' ? 'no case discussions' : `no ${label.toLowerCase()} case discussions`;
      replace(tableEl, h('p', { class: 'nhsuk-body', id: 'cases-empty' }, `You are a member of ${what}.`));
      return;
    }
    replace(tableEl, h('div', { class: 'nhsuk-table-responsive' }, h('table', { class: 'nhsuk-table parley-cases', role: 'table' },
      h('caption', { class: 'nhsuk-table__caption nhsuk-u-visually-hidden' }, `Case discussions: ${label}`),
      h('thead', { class: 'nhsuk-table__head' }, h('tr', { class: 'nhsuk-table__row' },
        ['Discussion', 'Patient', 'Members', 'Status'].map((t) => h('th', { class: 'nhsuk-table__header', scope: 'col' }, t)))),
      h('tbody', { class: 'nhsuk-table__body' }, list.map((c) => h('tr', { class: 'nhsuk-table__row', 'data-case-id': c.id },
        h('td', { class: 'nhsuk-table__cell' },
          h('a', { href: `/practice/cases/${c.id}`, class: 'parley-case__link' }, c.title,
            h('span', { class: 'nhsuk-u-visually-hidden' }, `, case discussion ${c.id}`)), h('br'),
          h('span', { class: 'nhsuk-body-s' }, `${c.org.name} · opened ${dateTime(c.created_at)}`)),
        h('td', { class: 'nhsuk-table__cell' }, patientText(c)),
        h('td', { class: 'nhsuk-table__cell' }, plural((c.members || []).length, 'member')),
        h('td', { class: 'nhsuk-table__cell' }, statusTag(c.status)),
      ))))));
  };
  const load = async () => {
    const r = await app.conn.request('case.list', { filter });
    if (stale()) return;
    const fresh = known ? r.cases.filter((c) => !known.has(c.id)) : [];
    known = new Set(r.cases.map((c) => c.id));
    if (fresh.length) live.textContent = `${plural(fresh.length, 'new case discussion')} in ${label.toLowerCase()}`;
    render(r.cases);
  };
  await load();
  let t = null;
  const onChange = (e) => {
    if (e.detail.what !== 'case') return;
    clearTimeout(t);
    t = setTimeout(() => load().catch(() => {}), 250);
  };
  const onReady = () => load().catch(() => {});
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('ready', onReady);
  return () => {
    clearTimeout(t);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('ready', onReady);
  };
}

// ---- opening one ----

export async function caseNewPage(app, _p, main, stale) {
  app.setTitle('Open a case discussion');
  const back = backLink('/practice/cases', 'Back to case discussions');
  if (!app.orgsOf('practice').length) {
    main.append(back, h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
      heading('Open a case discussion'),
      h('p', { class: 'nhsuk-body', id: 'no-practice' }, 'Case discussions are opened by the clinicians of the patient’s practice. They can invite you to one.'))));
    return undefined;
  }
  const form = new Form({ id: 'case-form' },
    input({ id: 'nhs-number', label: 'Patient’s NHS number', hint: '10 digits, for example 485 777 3456', width: 10, autocomplete: 'off', attrs: { inputmode: 'numeric' } }),
    input({ id: 'case-title', label: 'What is the discussion about?', hint: 'A short title the members will see, for example “Changing mole: excise or monitor?”', attrs: { maxlength: '200' } }),
    button('Open the discussion', { id: 'case-open' }));
  main.append(back, h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    heading('Open a case discussion'),
    h('p', { class: 'nhsuk-body' }, 'You can then invite colleagues from your practice, and specialists from services your practice has an information-sharing agreement with. They see the patient’s name, NHS number and date of birth. The patient does not see the discussion.'),
    form.el)));

  let txn = null; // kept across retries of the same discussion, so it is opened once
  let key = null;
  let sending = false;
  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (sending) return;
    const el = form.el;
    const nhs = el['nhs-number'].value.replace(/[\s-]+/g, '');
    const title = el.querySelector('#case-title').value.trim();
    const errs = [];
    if (!nhs) errs.push({ field: 'nhs-number', text: 'Enter the patient’s NHS number' });
    else if (!/^\d{10}$/.test(nhs)) errs.push({ field: 'nhs-number', text: 'NHS number must be 10 digits' });
    if (!title) errs.push({ field: 'case-title', text: 'Enter what the discussion is about' });
    else if (new TextEncoder().encode(title).length > 200) errs.push({ field: 'case-title', text: 'What the discussion is about must be 200 characters or fewer' });
    if (errs.length) { form.showErrors(errs); return; }
    form.clearErrors();

    sending = true;
    const btn = el.querySelector('#case-open');
    btn.disabled = true;
    const fail = (list) => { sending = false; btn.disabled = false; form.showErrors(list); };
    let patient;
    try {
      patient = (await app.conn.request('patient.lookup', { nhs_number: nhs })).patient;
    } catch (err) {
      if (err.code === 'not_found') fail([{ field: 'nhs-number', text: 'No patient with this NHS number at your practice' }]);
      else if (err.code === 'bad_request') fail([{ field: 'nhs-number', text: 'Enter a valid NHS number' }]);
      else fail([{ text: `The discussion could not be opened: ${err.message}` }]);
      return;
    }
    if (stale()) return;
    // The same patient and title again (a retry) reuse the transaction, so it is opened once.
    const k = `${patient.id}\n${title}`;
    if (!txn || k !== key) { txn = txnId(); key = k; }
    let c;
    try {
      c = (await app.conn.request('case.create', { patient_id: patient.id, title, txn_id: txn })).case;
    } catch (err) {
      if (err.code === 'not_found') fail([{ field: 'nhs-number', text: 'No patient with this NHS number at your practice' }]);
      else if (err.code === 'bad_request' && /title/.test(err.message)) fail([{ field: 'case-title', text: 'Enter what the discussion is about, in 200 characters or fewer' }]);
      else if (err.code === 'forbidden') fail([{ text: 'Case discussions are opened by the practice’s clinicians: a GP, nurse, pharmacist or clinician.' }]);
      else fail([{ text: `The discussion could not be opened: ${err.message}` }]);
      return;
    }
    if (stale()) return;
    app.navigate(`/practice/cases/${c.id}`);
  });
  return undefined;
}

// ---- one discussion ----

export async function casePage(app, [idText], main, stale) {
  const caseId = Number(idText);
  let c = (await app.conn.request('case.get', { case_id: caseId })).case;
  if (stale()) return undefined;
  const convId = c.conversation_id;
  const older = await loadHistory(app, convId);
  if (stale()) return undefined;
  const me = app.info.user.id;

  const transcript = new Transcript(app, convId, 'staff');
  transcript.patientName = patientText(c);
  transcript.setOlder(older);
  app.setTitle(`${c.title} (case discussion ${c.id})`);

  const banner = h('div', { 'aria-live': 'polite', id: 'action-result' });
  const say = (text, ok = true) => replace(banner, notification(text, null, ok));
  const statusNote = h('div', { id: 'case-status-note' });
  const detailsEl = h('div', { id: 'case-details' });
  const membersEl = h('div', { id: 'case-members-section' });
  const inviteEl = h('div', { id: 'case-invite' });
  const callEl = h('div', { id: 'case-call' });
  const closeEl = h('div', { id: 'case-close' });

  const reply = composer(app, convId, {
    id: 'case-reply', label: 'Message',
    hint: 'Only the members of this case discussion can read it. The patient cannot.',
    buttonText: 'Send message', files: true,
  });
  const replySection = h('section', { 'aria-labelledby': 'reply-heading' },
    h('h2', { class: 'nhsuk-heading-m', id: 'reply-heading' }, 'Write a message'), reply.el);

  main.append(backLink('/practice/cases', 'Back to case discussions'),
    heading(c.title, `Case discussion ${c.id}`),
    banner,
    h('div', { class: 'nhsuk-grid-row' },
      h('div', { class: 'nhsuk-grid-column-two-thirds' },
        statusNote, detailsEl, transcript.el, replySection),
      h('div', { class: 'nhsuk-grid-column-one-third' }, callEl, membersEl, inviteEl, closeEl,
        // The practice's clinicians among the members file the discussion (PROTOCOL 13.5).
        mayFile(app, c.org.id) ? filingPanel(app, convId, { say, orgId: c.org.id, transcript }).el : null)));

  const renderDetails = () => {
    const p = c.patient || { hidden: true };
    const identity = p.hidden
      ? [['Patient', 'Hidden: no agreement in force that shares the patient’s identity']]
      : [['Patient', p.display_name], ['NHS number', nhsNumber(p.nhs_number)], ['Date of birth', dob(p.date_of_birth)]];
    replace(detailsEl, summaryList([
      ...identity,
      ['Practice', c.org.name],
      ['Status', statusTag(c.status)],
      ['Opened by', `${c.created_by.display_name}, ${dateTime(c.created_at)}`],
    ]));
    replace(statusNote, c.status === 'closed'
      ? inset(`This discussion was closed${c.closed_at ? ` ${dateTime(c.closed_at)}` : ''}. You can still read it.`)
      : null);
    replySection.hidden = c.status === 'closed';
  };

  const renderMembers = () => {
    const list = c.members || [];
    replace(membersEl, h('section', { 'aria-labelledby': 'members-heading', class: 'parley-side' },
      h('h2', { class: 'nhsuk-heading-m', id: 'members-heading' }, 'Members'),
      h('p', { class: 'nhsuk-body-s' }, `${plural(list.length, 'member')}, at most ${MAX_MEMBERS}.`),
      h('ul', { class: 'nhsuk-list', id: 'case-members' }, list.map((m) => h('li', { 'data-user-id': m.user_id },
        h('strong', null, m.display_name), m.user_id === me ? ' (you)' : null, h('br'),
        h('span', { class: 'nhsuk-body-s' }, m.org ? m.org.name : ''))))));
  };

  // Inviting: the practice's members, while the discussion is open. The candidates come from
  // the server (case.candidates): who may be invited now.
  let inviting = false;
  const renderInvite = async () => {
    if (!fromPractice(app, c) || c.status !== 'open') { replace(inviteEl); return; }
    if ((c.members || []).length >= MAX_MEMBERS) {
      replace(inviteEl, h('section', { 'aria-labelledby': 'invite-heading', class: 'parley-side' },
        h('h2', { class: 'nhsuk-heading-m', id: 'invite-heading' }, 'Invite a professional'),
        h('p', { class: 'nhsuk-body', id: 'invite-none' }, `This discussion has ${MAX_MEMBERS} members, as many as it can have.`)));
      return;
    }
    let people;
    try {
      people = (await app.conn.request('case.candidates', { case_id: caseId })).people;
    } catch (err) {
      if (stale()) return;
      replace(inviteEl, h('section', { 'aria-labelledby': 'invite-heading', class: 'parley-side' },
        h('h2', { class: 'nhsuk-heading-m', id: 'invite-heading' }, 'Invite a professional'),
        h('p', { class: 'nhsuk-body' }, `The list of people you can invite could not be loaded: ${err.message}`)));
      return;
    }
    if (stale() || inviting) return;
    const hint = 'Staff of your practice, and of specialist services with an agreement in force that shares the patient’s identity';
    if (!people.length) {
      replace(inviteEl, h('section', { 'aria-labelledby': 'invite-heading', class: 'parley-side' },
        h('h2', { class: 'nhsuk-heading-m', id: 'invite-heading' }, 'Invite a professional'),
        h('p', { class: 'nhsuk-body', id: 'invite-none' }, 'There is nobody else you can invite.'),
        h('p', { class: 'nhsuk-body-s' }, `You can invite ${hint.charAt(0).toLowerCase()}${hint.slice(1)}.`)));
      return;
    }
    const form = new Form({ id: 'invite-form' },
      select({ id: 'invite-user', label: 'Who would you like to invite?', hint, options: people.map((p) => [String(p.user_id), `${p.display_name}, ${p.org.name}`]) }),
      button('Invite', { id: 'invite-send', secondary: true }));
    form.el.addEventListener('submit', async (e) => {
      e.preventDefault();
      const userId = Number(form.el['invite-user'].value);
      const who = people.find((p) => p.user_id === userId);
      if (!who) { form.showErrors([{ field: 'invite-user', text: 'Select who to invite' }]); return; }
      const btn = form.el.querySelector('#invite-send');
      btn.disabled = true;
      inviting = true;
      try {
        c = (await app.conn.request('case.invite', { case_id: caseId, user_id: userId })).case;
        inviting = false;
        if (stale()) return;
        renderMembers();
        say(`${who.display_name} is now a member`);
        await renderInvite();
      } catch (err) {
        inviting = false;
        btn.disabled = false;
        form.showErrors([{ field: 'invite-user', text: err.code === 'conflict' ? err.message.charAt(0).toUpperCase() + err.message.slice(1) : `${who.display_name} could not be invited: ${err.message}` }]);
      }
    });
    replace(inviteEl, h('section', { 'aria-labelledby': 'invite-heading', class: 'parley-side' },
      h('h2', { class: 'nhsuk-heading-m', id: 'invite-heading' }, 'Invite a professional'),
      form.el));
  };

  // The meeting: "Start a meeting" (which joins the one in progress, if another member started
  // it first), or "Join the meeting" once someone has started it.
  let startedBy = null;
  const renderCall = () => {
    if (c.status === 'closed' && !c.call_id) { replace(callEl); return; }
    const go = button(c.call_id ? 'Join the meeting' : 'Start a meeting', { id: 'case-call-button', type: 'button', secondary: !c.call_id });
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        let id;
        if (c.status === 'open') {
          const r = await app.conn.request('case.call', { case_id: caseId });
          app.state.putConsult(r.consultation);
          id = r.consultation.id;
        } else {
          id = c.call_id; // a meeting still going on a closed discussion: it can be joined
        }
        if (stale()) return;
        app.navigate(`/practice/consultations/${id}/call`);
      } catch (err) {
        go.disabled = false;
        say(err.message, false);
      }
    });
    replace(callEl, h('section', { 'aria-labelledby': 'call-heading', class: 'parley-side' },
      h('h2', { class: 'nhsuk-heading-m', id: 'call-heading' }, 'Meeting'),
      c.call_id
        ? h('p', { class: 'nhsuk-body', id: 'case-call-note' }, h('strong', null, startedBy ? `${startedBy} started a meeting.` : 'A meeting is in progress.'))
        : h('p', { class: 'nhsuk-body' }, `Meet the members on video. Up to ${MAX_MEMBERS} people can take part.`),
      go));
  };

  const renderClose = () => {
    if (!fromPractice(app, c) || c.status !== 'open') { replace(closeEl); return; }
    const btn = button('Close the discussion', { id: 'case-close-button', type: 'button', secondary: true });
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        c = (await app.conn.request('case.close', { case_id: caseId })).case;
        if (stale()) return;
        renderAll();
        say('The discussion is closed');
      } catch (err) {
        btn.disabled = false;
        say(err.message, false);
      }
    });
    replace(closeEl, h('section', { 'aria-labelledby': 'close-heading', class: 'parley-side' },
      h('h2', { class: 'nhsuk-heading-m', id: 'close-heading' }, 'Close the discussion'),
      h('p', { class: 'nhsuk-body' }, 'When the members have agreed a plan. Nobody can write in it or start a meeting after that, but everyone can still read it.'),
      btn));
  };

  const renderAll = () => {
    renderDetails(); renderMembers(); renderCall(); renderClose();
    renderInvite().catch(() => {});
  };

  const refresh = async () => {
    let r;
    try {
      r = await app.conn.request('case.get', { case_id: caseId });
    } catch (err) {
      if (stale()) return;
      // No longer a member (or the service's agreement ended): nothing of it may stay shown.
      if (err.code === 'not_found' || err.code === 'forbidden') app.route();
      return;
    }
    if (stale()) return;
    const was = c;
    c = r.case;
    renderDetails();
    renderMembers();
    if (was.call_id !== c.call_id || was.status !== c.status) renderCall();
    if (was.status !== c.status) renderClose();
    // Keep a chosen invitee: redraw the invite form only when who may be invited changes.
    if (was.status !== c.status || (was.members || []).length !== (c.members || []).length) renderInvite().catch(() => {});
  };

  let marked = 0;
  const markRead = () => {
    const n = [...app.state.messages(convId).values()].reduce((m, x) => Math.max(m, x.seq || 0), 0);
    if (document.visibilityState !== 'visible' || !n || n <= marked) return;
    marked = n;
    app.conn.request('receipt.mark', { conversation_id: convId, seq: n, kind: 'read' }).catch(() => { marked = 0; });
  };

  renderDetails();
  renderMembers();
  renderCall();
  renderClose();
  await renderInvite();
  if (stale()) return undefined;
  transcript.render();
  markRead();
  let t = null;
  const onChange = (e) => {
    if (e.detail.what === 'case' && e.detail.caseId === caseId) {
      const ev = e.detail.event;
      if (ev && ev.type === 'case.closed' && ev.by !== me) say('The discussion has been closed');
      clearTimeout(t);
      t = setTimeout(() => refresh().catch(() => {}), 100);
      return;
    }
    if (e.detail.conversationId !== convId) return;
    if (e.detail.what === 'consult') {
      const ev = e.detail.event;
      if (ev.type === 'consult.started') {
        c.call_id = ev.consultation_id;
        startedBy = ev.by === me ? null : ev.display_name;
        renderCall();
        if (startedBy) say(`${startedBy} started a meeting`);
      } else if (ev.type === 'consult.ended' && ev.consultation_id === c.call_id) {
        c.call_id = null;
        startedBy = null;
        renderCall();
      }
      return;
    }
    if (e.detail.what === 'messages' || e.detail.what === 'receipts') { transcript.render(); markRead(); }
  };
  const onConn = () => transcript.render();
  const onReady = () => refresh().catch(() => {});
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('state', onConn);
  app.conn.addEventListener('ready', onReady);
  document.addEventListener('visibilitychange', markRead);
  return () => {
    transcript.destroy();
    clearTimeout(t);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('state', onConn);
    app.conn.removeEventListener('ready', onReady);
    document.removeEventListener('visibilitychange', markRead);
  };
}
