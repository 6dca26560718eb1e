// The patient's pages: their requests, starting a new one (admin or clinical, with guided
// questions), and one request's messages.
import { h, replace } from '../dom.js';
import { txnId } from '../conn.js';
import { dateTime, PATIENT_STATUS, kindText } from '../format.js';
import {
  Form, heading, backLink, button, tag, inset, warning, summaryList, input, textarea, radios, radioValue,
  notification,
} from '../ui.js';
import { Transcript, loadHistory, composer } from './transcript.js';
import { downloadButton } from './filing.js';

function statusTag(s) {
  const t = PATIENT_STATUS[s] || { text: s };
  return tag(t.text, t.cls);
}

// Keeps a page's list current: any event about a conversation reloads it (debounced).
function liveReload(app, load) {
  let t = null;
  const on = (e) => {
    if (e.detail.what !== 'list') return;
    clearTimeout(t);
    t = setTimeout(load, 250);
  };
  app.state.addEventListener('change', on);
  const onReady = () => load();
  app.conn.addEventListener('ready', onReady);
  return () => { clearTimeout(t); app.state.removeEventListener('change', on); app.conn.removeEventListener('ready', onReady); };
}

export async function patientHome(app, _p, main, stale) {
  app.setTitle('Your requests');
  const practice = app.info.user.practice;
  const listEl = h('div', { id: 'requests' });
  const consultsEl = h('div', { id: 'consultations' });
  const flash = app.flash;
  app.flash = null;
  main.append(h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    flash ? notification(flash.title, flash.body, true) : null,
    heading('Your requests', practice ? practice.name : null),
    consultsEl,
    h('p', { class: 'nhsuk-body' }, 'Ask your GP practice for help with a medical problem, or with something like a prescription or a fit note.'),
    h('a', { class: 'nhsuk-button', href: '/patient/new', role: 'button', draggable: 'false', 'data-module': 'nhsuk-button' }, 'Start a new request'),
    listEl,
    h('p', { class: 'nhsuk-body' }, h('a', { href: '/patient/access', id: 'access-link' }, 'See which organisations have accessed your data')))));

  // Video consultations that have not ended: the patient can go to the waiting room from here.
  const loadConsults = async () => {
    const r = await app.conn.request('consult.list', { filter: 'upcoming', limit: 20 });
    if (stale()) return;
    replace(consultsEl, r.consultations.map((k) => {
      app.state.putConsult(k);
      const who = k.clinician ? k.clinician.display_name : 'your GP practice';
      const what = k.status === 'in_call' ? 'Your video consultation has started.'
        : k.status === 'waiting' ? 'You are in the waiting room.'
          : k.scheduled_at ? `It is booked for ${dateTime(k.scheduled_at)}.` : 'Join when your practice asks you to.';
      return h('div', { class: 'nhsuk-card nhsuk-card--feature parley-consult-card', 'data-consultation-id': k.id },
        h('div', { class: 'nhsuk-card__content nhsuk-card__content--feature' },
          h('h2', { class: 'nhsuk-card__heading nhsuk-card__heading--feature nhsuk-heading-m' }, `Video consultation with ${who}`),
          h('p', { class: 'nhsuk-body' }, what),
          h('a', { class: 'nhsuk-button', href: `/consult/${k.id}`, role: 'button', draggable: 'false', 'data-module': 'nhsuk-button' },
            k.status === 'in_call' ? 'Join the video consultation' : 'Go to the waiting room')));
    }));
  };

  let pages = 1;
  const load = async () => {
    loadConsults().catch(() => {});
    const r = { conversations: [] };
    let before = 0;
    let more = false;
    for (let i = 0; i < pages; i++) {
      const page = await app.conn.request('conversation.list', { limit: 50, ...(before ? { before } : {}) });
      r.conversations.push(...page.conversations);
      before = page.next_before;
      if (!before) break;
      more = i === pages - 1;
    }
    if (stale()) return;
    for (const c of r.conversations) app.state.putConv(c);
    const moreButton = more ? h('button', { class: 'nhsuk-button nhsuk-button--secondary', type: 'button',
      onclick: (e) => { pages++; e.target.disabled = true; load().catch(() => {}); } }, 'Show older requests') : null;
    if (!r.conversations.length) {
      replace(listEl, h('p', { class: 'nhsuk-body' }, 'You have not sent any requests yet.'));
      return;
    }
    replace(listEl, h('h2', { class: 'nhsuk-heading-m' }, 'Requests you have sent'),
      h('ul', { class: 'nhsuk-list parley-request-list' }, r.conversations.map((c) =>
        h('li', { class: 'parley-request' },
          h('h3', { class: 'nhsuk-heading-s parley-request__title' },
            h('a', { href: `/patient/requests/${c.id}` }, c.subject)),
          h('p', { class: 'nhsuk-body-s parley-request__meta' },
            statusTag(c.status), ` ${kindText(c.kind)} · sent ${dateTime(c.created_at)}`)))), moreButton);
  };
  await load();
  return liveReload(app, () => load().catch(() => {}));
}

// ---- starting a request: one question per page, then check your answers ----

const ADMIN_TOPICS = [
  { value: 'prescription', text: 'A repeat prescription or a question about medicine' },
  { value: 'fit_note', text: 'A fit note (sick note)' },
  { value: 'results', text: 'Test results' },
  { value: 'letter', text: 'A letter, form or report' },
  { value: 'other', text: 'Something else' },
];
const HOW_LONG = [
  { value: 'Less than 24 hours', text: 'Less than 24 hours' },
  { value: '1 to 7 days', text: '1 to 7 days' },
  { value: '1 to 4 weeks', text: '1 to 4 weeks' },
  { value: 'More than 4 weeks', text: 'More than 4 weeks' },
];
const TREND = [
  { value: 'Getting better', text: 'Getting better' },
  { value: 'Staying the same', text: 'Staying the same' },
  { value: 'Getting worse', text: 'Getting worse' },
];

export async function patientNew(app, _p, main) {
  const practice = app.info.user.practice;
  const a = { route: '', topic: '', urgent: '', problem: '', how_long: '', trend: '', subject: '', body: '' };
  let step = 'route';
  let checking = false;
  const steps = {
    route: routeStep, urgent: urgentStep, emergency: emergencyStep, problem: problemStep,
    topic: topicStep, details: detailsStep, check: checkStep,
  };

  function go(next) {
    step = next;
    replace(main);
    steps[step]();
    const h1 = main.querySelector('h1');
    if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
  }
  const frame = (back, ...children) => main.append(
    back ? h('a', { class: 'nhsuk-back-link', href: '#', onclick: (e) => { e.preventDefault(); go(checking && back !== 'route' ? 'check' : back); } }, 'Back')
      : h('a', { class: 'nhsuk-back-link', href: '/patient' }, 'Back to your requests'),
    h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' }, ...children)));
  const next = (n) => go(checking ? 'check' : n);

  function routeStep() {
    app.setTitle('What do you need help with?');
    const f = new Form({ id: 'route-form' },
      radios({ id: 'route', legend: 'What do you need help with?', pageHeading: true, value: a.route,
        hint: practice ? `Your request goes to ${practice.name}.` : null,
        items: [
          { value: 'clinical', text: 'A medical problem', hint: 'A new symptom, or a condition that is not getting better' },
          { value: 'admin', text: 'Something else', hint: 'For example a prescription, a fit note, test results or a letter' },
        ] }),
      button('Continue'));
    f.el.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = radioValue(f.el, 'route');
      if (!v) { f.showErrors([{ field: 'route', text: 'Select what you need help with' }]); return; }
      if (v !== a.route) checking = false;
      a.route = v;
      go(v === 'clinical' ? 'urgent' : 'topic');
    });
    frame(null, f.el);
  }

  function urgentStep() {
    app.setTitle('Do you have any of these symptoms?');
    const f = new Form({ id: 'urgent-form' },
      h('h1', { class: 'nhsuk-heading-l' }, 'Do you have any of these symptoms?'),
      h('ul', { class: 'nhsuk-list nhsuk-list--bullet' },
        h('li', null, 'chest pain, or pain that spreads to your arms, back, neck or jaw'),
        h('li', null, 'difficulty breathing, or you cannot finish a sentence'),
        h('li', null, 'sudden weakness, numbness or drooping on one side of your face or body'),
        h('li', null, 'heavy bleeding that will not stop'),
        h('li', null, 'thoughts of ending your life')),
      radios({ id: 'urgent', legend: 'Do you have any of these symptoms now?', value: a.urgent,
        items: [{ value: 'yes', text: 'Yes' }, { value: 'no', text: 'No' }] }),
      button('Continue'));
    f.el.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = radioValue(f.el, 'urgent');
      if (!v) { f.showErrors([{ field: 'urgent', text: 'Select yes if you have any of these symptoms now' }]); return; }
      a.urgent = v;
      go(v === 'yes' ? 'emergency' : 'problem');
    });
    frame('route', f.el);
  }

  function emergencyStep() {
    app.setTitle('Get help now');
    frame('urgent',
      h('h1', { class: 'nhsuk-heading-l' }, 'Call 999 now'),
      warning('Do not send a request to your practice',
        h('p', { class: 'nhsuk-body' }, 'These symptoms need help straight away. Call 999 or go to A&E now.'),
        h('p', { class: 'nhsuk-body' }, 'If you are thinking about ending your life, you can also call Samaritans on 116 123.')),
      h('p', { class: 'nhsuk-body' }, h('a', { href: '/patient' }, 'Go back to your requests')));
  }

  function problemStep() {
    app.setTitle('About your problem');
    const f = new Form({ id: 'problem-form' },
      h('h1', { class: 'nhsuk-heading-l' }, 'About your problem'),
      textarea({ id: 'problem', label: 'What is the problem?', hint: 'For example, where it hurts and what you have noticed', rows: 4, value: a.problem, labelClass: 'nhsuk-label--s' }),
      radios({ id: 'how_long', legend: 'How long have you had it?', items: HOW_LONG, value: a.how_long }),
      radios({ id: 'trend', legend: 'Is it getting better, worse or staying the same?', items: TREND, value: a.trend }),
      button('Continue'));
    f.el.addEventListener('submit', (e) => {
      e.preventDefault();
      const problem = f.el.problem.value.trim();
      const hl = radioValue(f.el, 'how_long');
      const tr = radioValue(f.el, 'trend');
      const errs = [];
      if (!problem) errs.push({ field: 'problem', text: 'Enter what the problem is' });
      if (problem.length > 1000) errs.push({ field: 'problem', text: 'What the problem is must be 1,000 characters or fewer' });
      if (!hl) errs.push({ field: 'how_long', text: 'Select how long you have had it' });
      if (!tr) errs.push({ field: 'trend', text: 'Select if it is getting better, worse or staying the same' });
      if (errs.length) { f.showErrors(errs); return; }
      Object.assign(a, { problem, how_long: hl, trend: tr });
      if (!a.subject) a.subject = problem.split(/[.\n]/)[0].slice(0, 80);
      next('details');
    });
    frame('urgent', f.el);
  }

  function topicStep() {
    app.setTitle('What is your request about?');
    const f = new Form({ id: 'topic-form' },
      radios({ id: 'topic', legend: 'What is your request about?', pageHeading: true, items: ADMIN_TOPICS, value: a.topic }),
      button('Continue'));
    f.el.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = radioValue(f.el, 'topic');
      if (!v) { f.showErrors([{ field: 'topic', text: 'Select what your request is about' }]); return; }
      a.topic = v;
      if (!a.subject) a.subject = ADMIN_TOPICS.find((t) => t.value === v).text.replace(/ \(.*\)$/, '');
      next('details');
    });
    frame('route', f.el);
  }

  function detailsStep() {
    app.setTitle('Tell us about your request');
    const f = new Form({ id: 'details-form' },
      h('h1', { class: 'nhsuk-heading-l' }, 'Tell us about your request'),
      input({ id: 'subject', label: 'Give your request a short title', hint: 'For example, "Asthma inhaler" or "Rash on my arm"', value: a.subject, attrs: { maxlength: '200' } }),
      textarea({ id: 'body', label: 'What would you like the practice to know or do?', rows: 6, value: a.body, labelClass: 'nhsuk-label--s',
        hint: a.route === 'clinical' ? 'Include anything you have tried, and any medicines you take' : 'Include the name of any medicine, form or test' }),
      button('Continue'));
    f.el.addEventListener('submit', (e) => {
      e.preventDefault();
      const subject = f.el.subject.value.trim();
      const body = f.el.body.value.trim();
      const errs = [];
      if (!subject) errs.push({ field: 'subject', text: 'Enter a short title for your request' });
      else if (new TextEncoder().encode(subject).length > 200) errs.push({ field: 'subject', text: 'The title must be 200 characters or fewer' });
      if (!body) errs.push({ field: 'body', text: 'Enter what you would like the practice to know or do' });
      else if (new TextEncoder().encode(body).length > 16000) errs.push({ field: 'body', text: 'Your message must be shorter' });
      if (errs.length) { f.showErrors(errs); return; }
      Object.assign(a, { subject, body });
      go('check');
    });
    frame(a.route === 'clinical' ? 'problem' : 'topic', f.el);
  }

  function answers() {
    if (a.route === 'clinical') {
      return {
        'Any emergency symptoms now?': 'No',
        'What is the problem?': a.problem,
        'How long have you had it?': a.how_long,
        'Is it getting better, worse or staying the same?': a.trend,
      };
    }
    return { 'What is your request about?': ADMIN_TOPICS.find((t) => t.value === a.topic).text };
  }

  function checkStep() {
    checking = true;
    app.setTitle('Check your request before sending it');
    const rows = [['Type of request', a.route === 'clinical' ? 'A medical problem' : 'Something else', { href: '#route', text: 'Change' }]];
    for (const [q, v] of Object.entries(answers())) {
      if (q.startsWith('Any emergency')) continue;
      rows.push([q, v, { href: a.route === 'clinical' ? '#problem' : '#topic', text: 'Change' }]);
    }
    rows.push(['Title', a.subject, { href: '#details', text: 'Change' }]);
    rows.push(['Your message', h('span', { class: 'parley-pre' }, a.body), { href: '#details', text: 'Change' }]);
    const list = summaryList(rows);
    list.addEventListener('click', (e) => {
      const link = e.target.closest('a[href^="#"]');
      if (!link) return;
      e.preventDefault();
      go(link.getAttribute('href').slice(1));
    });
    const txn = txnId(); // one txn for this request: a retry after a drop cannot create two
    const f = new Form({ id: 'send-form' }, button('Send request', { id: 'send-request' }));
    f.el.addEventListener('submit', async (e) => {
      e.preventDefault();
      const btn = f.el.querySelector('button');
      btn.disabled = true;
      btn.textContent = app.conn.state === 'ready' ? 'Sending…' : 'Waiting to send: you are offline';
      try {
        const r = await app.conn.request('conversation.create', {
          txn_id: txn, kind: a.route, subject: a.subject, body: a.body, answers: answers(),
        });
        app.state.putConv(r.conversation);
        app.flash = { title: 'Request sent', body: `Your practice will reply ${r.conversation.due_at ? `by ${dateTime(r.conversation.due_at)}` : 'as soon as it can'}. We'll show the reply here.` };
        app.navigate(`/patient/requests/${r.conversation.id}`);
      } catch (err) {
        btn.disabled = false;
        btn.textContent = 'Send request';
        f.showErrors([{ text: err.message }]);
      }
    });
    frame('details',
      h('h1', { class: 'nhsuk-heading-l' }, 'Check your request before sending it'),
      list,
      inset(h('p', null, 'Your practice reads requests during opening hours. If your symptoms get worse, call 111 or, in an emergency, 999.')),
      f.el);
  }

  go('route');
}

// ---- one request ----

export async function patientRequest(app, [idText], main, stale) {
  const convId = Number(idText);
  // Ask for the request first: if it is not theirs the server refuses, and nothing else is
  // fetched.
  const r = await app.conn.request('conversation.get', { conversation_id: convId });
  if (stale()) return undefined;
  app.state.putConv(r.conversation);
  if (r.receipts) for (const [role, v] of Object.entries(r.receipts)) app.state.putReceipt(convId, role, v.delivered_seq, v.read_seq);
  const transcript = new Transcript(app, convId, 'patient');
  transcript.setOlder(await loadHistory(app, convId));
  if (stale()) return undefined;

  const flash = app.flash;
  app.flash = null;
  const statusEl = h('div', { id: 'request-status' });
  const replyArea = h('div', { id: 'reply-area' });
  const c0 = app.state.convs.get(convId);
  app.setTitle(c0.subject);
  main.append(backLink('/patient', 'Back to your requests'),
    h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
      flash ? notification(flash.title, flash.body, true) : null,
      heading(c0.subject, kindText(c0.kind)),
      statusEl, transcript.el, replyArea,
      // Their own conversation to keep (PROTOCOL 13.5): the server leaves out internal notes.
      downloadButton(app, convId, { text: 'Download a copy of this conversation to keep or print. It opens in a web browser.' }))));

  let reply = null;
  const renderStatus = () => {
    const c = app.state.convs.get(convId);
    replace(statusEl, summaryList([
      ['Status', statusTag(c.status)],
      ['Sent', dateTime(c.created_at)],
      c.answers ? ['Your answers', h('dl', { class: 'parley-answers' }, Object.entries(c.answers).flatMap(([q, v]) => [h('dt', null, q), h('dd', null, String(v))]))] : null,
    ]));
    if (c.status === 'closed') {
      reply = null;
      replace(replyArea, inset(h('p', null, 'This request is closed. If you need more help, ', h('a', { href: '/patient/new' }, 'start a new request'), '.')));
    } else if (!reply) {
      reply = composer(app, convId, { id: 'reply', label: 'Reply to your practice', buttonText: 'Send reply', files: true });
      replace(replyArea, reply.el);
    }
    if (c.status === 'awaiting_patient' && !replyArea.querySelector('.parley-needed')) {
      replyArea.prepend(h('p', { class: 'nhsuk-body parley-needed' }, h('strong', null, 'Your practice has asked you a question. Reply below.')));
    } else if (c.status !== 'awaiting_patient') replyArea.querySelector('.parley-needed')?.remove();
  };

  // Read receipts: everything shown while the page is visible has been read.
  let marked = 0;
  const markRead = () => {
    const c = app.state.convs.get(convId);
    if (document.visibilityState !== 'visible' || !c || !c.last_seq || c.last_seq <= marked) return;
    marked = c.last_seq;
    app.conn.request('receipt.mark', { conversation_id: convId, seq: c.last_seq, kind: 'read' }).catch(() => { marked = 0; });
  };

  renderStatus();
  transcript.render();
  markRead();
  const onChange = (e) => {
    if (e.detail.conversationId !== convId) return;
    if (e.detail.what === 'conversation') renderStatus();
    if (e.detail.what === 'messages' || e.detail.what === 'receipts') { transcript.render(); markRead(); }
    if (e.detail.what === 'typing') transcript.renderTyping();
  };
  const onConn = () => transcript.render();
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('state', onConn);
  document.addEventListener('visibilitychange', markRead);
  return () => {
    transcript.destroy();
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('state', onConn);
    document.removeEventListener('visibilitychange', markRead);
  };
}
