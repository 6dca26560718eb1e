// The patient's side of a video consultation: the link page (/join#TOKEN: date of birth
// check), the waiting room with a camera and microphone check, and the call. An interpreter's
// or carer's link (/guest#TOKEN) opens the same waiting room and call without the date of
// birth, which they need not know; the clinician lets them in by name.
import { h, replace } from '../dom.js';
import * as api from '../api.js';
import { Form, button, dateInput, readDate, inset, warning } from '../ui.js';
import { LocalMedia, MEDIA_ERRORS, deviceChooser, levelMeter } from '../media.js';
import { callView, endedView } from './call.js';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

function grid(...children) {
  return h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' }, ...children));
}

// A page that says why the link cannot be used, and what to do. It shows nothing of the
// consultation.
function linkProblem(app, main, id, title, ...body) {
  app.setTitle(title);
  replace(main, grid(h('div', { id: 'join-problem', 'data-problem': id },
    h('h1', { class: 'nhsuk-heading-l', tabindex: '-1' }, title),
    ...body.map((t) => h('p', { class: 'nhsuk-body' }, t)),
    inset(h('p', null, 'If you need medical help now, call 111 or go to 111 online. In an emergency, call 999.')))));
  main.querySelector('h1').focus();
}

// /join: the token was taken from the address bar by main.js as the page loaded.
export async function joinPage(app, _p, main) {
  const token = app.joinToken;
  if (!token) {
    linkProblem(app, main, 'no_token', 'Open the link again',
      'To join your video consultation, open the link your GP practice sent you by text message or email.',
      'If you have already opened it on this phone or computer, open it again: for your security the link is not kept in the address bar.');
    return;
  }
  if (!TOKEN.test(token)) {
    app.joinToken = null;
    linkProblem(app, main, 'not_found', 'This link is not valid', 'This link is not valid. Ask your GP practice for a new one.');
    return;
  }
  app.setTitle('What is your date of birth? - Join your video consultation');
  const form = new Form({ id: 'join-form' },
    dateInput({ id: 'dob', legend: 'What is your date of birth?', caption: 'Join your video consultation', pageHeading: true, autocomplete: 'bday',
      hint: `We use this to check it is you. For example, 15 3 1984` }),
    button('Continue', { id: 'join-button' }));
  main.append(grid(form.el,
    inset(h('p', null, 'If you need medical help now, call 111 or go to 111 online. In an emergency, call 999.'))));

  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = readDate(form.el, 'dob', 'your date of birth');
    if (d.error) { form.showErrors([d.error]); return; }
    if (d.date.getTime() > Date.now()) { form.showErrors([{ field: 'dob-day', text: 'Your date of birth must be in the past' }]); return; }
    if (d.date.getUTCFullYear() < 1890) { form.showErrors([{ field: 'dob-year', inputs: ['dob-year'], text: 'Year must be 1890 or later' }]); return; }
    const btn = form.el.querySelector('#join-button');
    btn.disabled = true;
    let r;
    try {
      r = await api.join(token, d.iso);
    } catch (err) {
      btn.disabled = false;
      const all = ['dob-day', 'dob-month', 'dob-year'];
      switch (err.code) {
        case 'unauthorised':
          form.showErrors([{ field: 'dob-day', inputs: all, text: 'The date of birth does not match what your GP practice has. Check it and try again' }]);
          return;
        case 'rate_limited': {
          const s = err.retryAfter || 1;
          form.showErrors([{ text: `Too many attempts. Wait ${s} second${s === 1 ? '' : 's'} and try again` }]);
          return;
        }
        case 'not_found':
          app.joinToken = null;
          linkProblem(app, main, 'not_found', 'This link is not valid', 'This link is not valid. Ask your GP practice for a new one.',
            'Links stop working when they expire, when the practice sends a new one, or when the consultation is over.');
          return;
        case 'conflict':
          app.joinToken = null;
          linkProblem(app, main, 'conflict', 'This link has been used on another device',
            'For your security, a link works on one phone or computer only, and it has already been opened on another one.',
            'Use the device you opened it on first, or ask your GP practice for a new link.');
          return;
        case 'forbidden':
          if (/locked/.test(err.message || '')) {
            app.joinToken = null;
            linkProblem(app, main, 'locked', 'This link is locked',
              'The date of birth was entered wrongly too many times, so this link has been locked to keep your information safe.',
              'Ask your GP practice for a new link.');
            return;
          }
          form.showErrors([{ text: 'Sorry, there is a problem with the service. Reload the page and try again' }]);
          return;
        case 'bad_request':
          if (/token/.test(err.message || '')) {
            app.joinToken = null;
            linkProblem(app, main, 'not_found', 'This link is not valid', 'This link is not valid. Ask your GP practice for a new one.');
            return;
          }
          form.showErrors([{ field: 'dob-day', inputs: all, text: 'Date of birth must be a real date' }]);
          return;
        default:
          form.showErrors([{ text: err.code === 'unavailable' ? err.message : 'Sorry, there is a problem with the service. Try again in a few minutes' }]);
          return;
      }
    }
    // The server set a session for this consultation only. Connect with it.
    for (const el of form.el.querySelectorAll('input')) el.value = '';
    if (!(await enter(app, r))) {
      btn.disabled = false;
      form.showErrors([{ text: 'Parley could not be reached. Check your internet connection and try again' }]);
    }
  });
}

// After a link has opened a session: connect with it and go to the waiting room.
async function enter(app, r) {
  app.joinToken = null;
  const ok = await app.startConnection();
  if (!ok) return false;
  await app.loadInfo();
  app.state.putConsult(r.consultation);
  app.navigate(`/consult/${r.consultation.id}`, { replace: true });
  return true;
}

// /guest: an interpreter's or carer's link. Nothing about the consultation is shown until the
// server has accepted the link; then the same waiting room as the patient's.
export async function guestPage(app, _p, main) {
  const token = app.joinToken;
  if (!token || !TOKEN.test(token)) {
    app.joinToken = null;
    linkProblem(app, main, token ? 'not_found' : 'no_token', token ? 'This link is not valid' : 'Open the link again',
      token ? 'This link is not valid. Ask the GP practice that sent it for a new one.'
        : 'To join the video consultation, open the link the GP practice sent you. For your security the link is not kept in the address bar.');
    return;
  }
  app.setTitle('Join a video consultation');
  const form = new Form({ id: 'guest-form' },
    h('h1', { class: 'nhsuk-heading-l' }, 'Join a video consultation'),
    h('p', { class: 'nhsuk-body' }, 'A GP practice has invited you to a video consultation, to interpret or to support the patient.'),
    h('p', { class: 'nhsuk-body' }, 'You will check your camera and microphone, then wait until the clinician lets you in. You will not see the patient’s records or messages.'),
    button('Continue', { id: 'guest-button' }));
  main.append(grid(form.el));
  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = form.el.querySelector('#guest-button');
    btn.disabled = true;
    let r;
    try {
      r = await api.join(token);
    } catch (err) {
      btn.disabled = false;
      if (err.code === 'not_found' || err.code === 'bad_request') {
        app.joinToken = null;
        linkProblem(app, main, 'not_found', 'This link is not valid', 'This link is not valid. Ask the GP practice that sent it for a new one.',
          'Links stop working when they expire, when the practice makes a new one, or when the consultation is over.');
      } else if (err.code === 'conflict') {
        app.joinToken = null;
        linkProblem(app, main, 'conflict', 'This link has been used on another device',
          'A link works on one phone or computer only, and it has already been opened on another one. Ask the GP practice for a new link.');
      } else {
        form.showErrors([{ text: err.code === 'rate_limited' ? 'Too many attempts. Wait a minute and try again' : 'Parley could not be reached. Check your internet connection and try again' }]);
      }
      return;
    }
    if (!(await enter(app, r))) {
      btn.disabled = false;
      form.showErrors([{ text: 'Parley could not be reached. Check your internet connection and try again' }]);
    }
  });
}

// Whether the person on this page has been let in: the patient when the call has started, a
// guest when admitted themselves.
function letIn(app, k) {
  if (app.kind() !== 'guest') return k.status === 'in_call';
  const me = (k.invited || []).find((x) => x.id === app.info.user.id);
  return !!(me && me.admitted);
}

// /consult/:id: the waiting room. The camera and microphone are checked here (with a choice
// of devices), then the patient waits to be let in; the call opens by itself when they are.
export async function waitingRoomPage(app, [idText], main, stale) {
  const id = Number(idText);
  const r = await app.conn.request('consult.get', { consultation_id: id });
  if (stale()) return undefined;
  app.state.putConsult(r.consultation);
  const k = r.consultation;
  if (k.status === 'ended' || k.status === 'cancelled') { endedView(app, main, k, 'patient'); return undefined; }
  const clinician = k.clinician ? k.clinician.display_name : 'Your clinician';
  app.setTitle('Waiting room - Your video consultation');

  const media = app.media && !app.media.stopped ? app.media : new LocalMedia();
  app.media = media;
  const status = h('div', { role: 'status', id: 'waiting-status', class: 'parley-waiting' },
    h('p', { class: 'nhsuk-body' }, 'Starting your camera and microphone…'));
  const problem = h('div', { id: 'media-problem' });
  const video = h('video', { id: 'preview-video', class: 'parley-video__media', autoplay: true, playsinline: true, 'aria-labelledby': 'preview-caption' });
  video.muted = true;
  const placeholder = h('p', { class: 'parley-video__placeholder', hidden: true }, 'No camera picture');
  const preview = h('figure', { class: 'parley-video parley-video--preview', id: 'preview' }, video, placeholder,
    h('figcaption', { class: 'parley-video__caption', id: 'preview-caption' }, 'Your camera'));
  const chooser = deviceChooser(media, { onError: (why) => replace(problem, warning('That device could not be used', h('p', { class: 'nhsuk-body' }, MEDIA_ERRORS[why]))) });
  const meter = levelMeter(media);

  main.append(grid(
    h('h1', { class: 'nhsuk-heading-l' }, h('span', { class: 'nhsuk-caption-l' }, `Video consultation with ${clinician}`, h('span', { class: 'nhsuk-u-visually-hidden' }, ' - ')), 'Waiting room'),
    status, problem,
    h('section', { 'aria-labelledby': 'check-heading' },
      h('h2', { class: 'nhsuk-heading-m', id: 'check-heading' }, 'Check your camera and microphone'),
      preview, chooser.el, meter.el),
    inset(h('p', null, 'Keep this page open. The call starts by itself when you are let in. If you need medical help now, call 111 or, in an emergency, 999.'))));

  const showPreview = () => {
    video.srcObject = media.stream;
    video.play().catch(() => {});
    placeholder.hidden = !!media.video;
  };
  const onMedia = () => showPreview();
  media.addEventListener('change', onMedia);

  let gone = false;
  const toCall = () => {
    if (gone || stale()) return;
    gone = true;
    app.navigate(`/consult/${id}/call`, { replace: true });
  };
  const wait = async () => {
    try {
      const w = await app.conn.request('consult.wait', { consultation_id: id });
      if (stale() || gone) return;
      app.state.putConsult(w.consultation);
      if (letIn(app, w.consultation)) { toCall(); return; }
      replace(status, h('div', { class: 'nhsuk-inset-text parley-waiting__text' },
        h('span', { class: 'nhsuk-u-visually-hidden' }, 'Information: '),
        h('p', { class: 'nhsuk-body-l', id: 'waiting-text' }, `You're in the waiting room. ${clinician} will let you in.`)));
    } catch (e) {
      if (stale() || gone) return;
      if (e.code === 'conflict') { gone = true; endedView(app, main, { ...k, ...(app.state.consults.get(id) || {}) }, 'patient'); return; }
      if (e.code === 'unauthorised') return;
      replace(status, warning('You are not in the waiting room yet', h('p', { class: 'nhsuk-body' }, 'Parley could not be reached. It will try again when your connection is back.')));
    }
  };
  const onState = (e) => {
    const d = e.detail;
    if (d.what !== 'consult' || d.consultationId !== id) return;
    const p = d.event.participant;
    const mine = app.kind() === 'guest' ? p && p.user_id === app.info.user.id : !p || p.role === 'patient';
    if (d.event.type === 'consult.admitted' && mine) toCall();
    else if (d.event.type === 'consult.ended' || d.event.type === 'consult.cancelled') {
      gone = true;
      endedView(app, main, { ...k, ...(app.state.consults.get(id) || {}) }, 'patient', d.event);
    }
  };
  const onReady = () => { if (!gone) wait(); };
  app.state.addEventListener('change', onState);
  app.conn.addEventListener('ready', onReady);

  // Camera first (the browser may ask for permission), then into the waiting room; if the
  // permission question is left unanswered, into the waiting room anyway after 10 seconds.
  const opened = (media.audio || media.video ? Promise.resolve() : media.open()).then(() => {
    if (stale() || gone) return;
    showPreview();
    chooser.refresh();
    if (media.error) {
      replace(problem, warning(media.error === 'denied' ? 'Your camera and microphone are blocked' : 'There is a problem with your camera or microphone',
        h('p', { class: 'nhsuk-body' }, MEDIA_ERRORS[media.error])));
    }
  });
  (async () => {
    await Promise.race([opened, new Promise((r) => { setTimeout(r, 10000); })]);
    if (!stale() && !gone) await wait();
  })();

  return () => {
    gone = true;
    chooser.destroy();
    meter.destroy();
    media.removeEventListener('change', onMedia);
    app.state.removeEventListener('change', onState);
    app.conn.removeEventListener('ready', onReady);
  };
}

// /consult/:id/call: the patient's call. Before they are let in, the waiting room instead.
export async function patientCallPage(app, [idText], main, stale) {
  const id = Number(idText);
  const r = await app.conn.request('consult.get', { consultation_id: id });
  if (stale()) return undefined;
  app.state.putConsult(r.consultation);
  const k = r.consultation;
  if (k.status === 'ended' || k.status === 'cancelled') { endedView(app, main, k, 'patient'); return undefined; }
  if (!letIn(app, k)) { app.navigate(`/consult/${id}`, { replace: true }); return undefined; }
  return callView(app, k, main, stale, app.kind() === 'guest' ? 'guest' : 'patient');
}
