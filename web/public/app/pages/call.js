// The call page, for the practice and for the patient: the other people's video, your own
// self view, the controls, who is in the call, and the consultation's messages. Also a case
// discussion's meeting (PROTOCOL 12): up to eight people, a tile for each, in a grid. The call
// itself (WebRTC) is call.js; the camera and microphone are media.js.
import { h, append, replace } from '../dom.js';
import { Call, SLOT_LETTERS } from '../call.js';
import { LocalMedia, MEDIA_ERRORS, deviceChooser } from '../media.js';
import { heading, warning } from '../ui.js';
import { duration } from '../format.js';
import { Transcript, loadHistory, composer } from './transcript.js';
import { invitePanel, describe, GUEST_ROLES } from './invite.js';
import { bringPatientPanel } from './bring.js';

function names(list) {
  if (list.length <= 1) return list.join('');
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

function focusHeading(main) {
  const h1 = main.querySelector('h1');
  if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
}

// One video tile: the picture, a caption naming whose it is, and a line of text shown in
// place of the picture while there is none ("Waiting for ... to join", "camera is off").
function tile(id, label, { self = false } = {}) {
  const video = h('video', { id: `${id}-video`, class: 'parley-video__media', autoplay: true, playsinline: true, 'aria-labelledby': `${id}-caption` });
  video.muted = self;
  const placeholder = h('p', { class: 'parley-video__placeholder', id: `${id}-placeholder`, hidden: true });
  const caption = h('figcaption', { class: 'parley-video__caption', id: `${id}-caption` }, label);
  const fig = h('figure', { class: `parley-video${self ? ' parley-video--self' : ''}`, id, 'data-slot': id }, video, placeholder, caption);
  return {
    fig, video,
    caption(text) { if (caption.textContent !== text) caption.textContent = text; },
    placeholder(text) {
      placeholder.hidden = !text;
      video.classList.toggle('parley-video__media--off', !!text);
      if (text && placeholder.textContent !== text) placeholder.textContent = text;
    },
  };
}

// What the patient or the practice sees once a consultation is over.
export function endedView(app, main, k, viewer, ev) {
  if (app.call) app.call.close();
  if (app.media) { app.media.stop(); app.media = null; }
  const cancelled = (ev ? ev.status : k.status) === 'cancelled';
  const secs = ev && typeof ev.duration_seconds === 'number' ? ev.duration_seconds : k.duration_seconds;
  const meeting = k.case_id != null;
  const title = cancelled ? (meeting ? 'The meeting was cancelled' : 'The consultation was cancelled')
    : meeting ? 'The meeting has ended' : k.advice_id != null ? 'The call has ended' : 'The consultation has ended';
  app.setTitle(title);
  let next;
  if (meeting) {
    next = h('ul', { class: 'nhsuk-list' },
      h('li', null, h('a', { href: `/practice/cases/${k.case_id}` }, 'Back to the case discussion')));
  } else if (viewer === 'staff' && k.advice_id != null) {
    next = h('ul', { class: 'nhsuk-list' },
      h('li', null, h('a', { href: `/practice/advice/${k.advice_id}` }, 'Back to the advice request and its messages')));
  } else if (viewer === 'staff') {
    next = h('ul', { class: 'nhsuk-list' },
      h('li', null, h('a', { href: '/practice/consultations' }, 'Back to video consultations')),
      h('li', null, h('a', { href: `/practice/requests/${k.conversation_id}` }, 'Open the conversation and its messages')));
  } else if (app.scope()) {
    next = h('p', { class: 'nhsuk-body' }, 'You can close this page. If you need more help, contact your GP practice.');
  } else {
    next = h('p', { class: 'nhsuk-body' }, h('a', { href: '/patient' }, 'Go to your requests'));
  }
  replace(main, h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds', id: 'call-ended', 'data-status': cancelled ? 'cancelled' : 'ended' },
    heading(title),
    !cancelled && typeof secs === 'number' ? h('p', { class: 'nhsuk-body', id: 'call-duration' }, `It lasted ${duration(secs)}.`) : null,
    cancelled ? h('p', { class: 'nhsuk-body' }, viewer === 'staff' ? 'Nobody can join it now.' : 'Your GP practice cancelled it. They will contact you if you need another appointment.') : null,
    next)));
  focusHeading(main);
}

// The call page. k: the consultation (PROTOCOL 8.2). viewer: 'staff', 'patient' or 'guest'
// (an interpreter or carer, PROTOCOL 8.3: no messages, as the conversation is the patient's).
export async function callView(app, k, main, stale, viewer) {
  const staff = viewer === 'staff';
  const guest = viewer === 'guest';
  // A case discussion's meeting (PROTOCOL 12): its members only, never the patient; room for
  // up to eight (capacity), so a tile for each of the others, in a grid.
  const meeting = k.case_id != null;
  const capacity = k.capacity || 3;
  const slotCount = Math.min(SLOT_LETTERS.length, Math.max(2, capacity - 1)); // K, as call.js
  const grid = capacity > 3;
  // A call between a practice and a specialist service, on an advice thread (PROTOCOL 11.6):
  // no patient in it, unless the practice brings them in through a consultation of their own.
  const advice = !meeting && k.advice_id != null;
  const gpSide = advice && app.orgsOf('practice').some((o) => o.id === k.org_id);
  const patientName = k.patient && !k.patient.hidden ? k.patient.display_name : 'the patient';
  const clinicianName = k.clinician ? k.clinician.display_name : 'your clinician';
  const other = meeting ? 'the others' : advice ? (gpSide ? 'the specialist' : 'the practice') : staff ? patientName : clinicianName;
  const convId = k.conversation_id;
  const title = meeting ? 'Case discussion meeting' : advice ? `Advice call about ${patientName}` : staff ? `Video consultation with ${patientName}` : guest ? 'Video consultation' : 'Your video consultation';
  app.setTitle(title);

  const [older, team, mine] = await Promise.all([
    guest ? null : loadHistory(app, convId).catch(() => null),
    staff && !advice && !meeting ? app.conn.request('org.staff', { org_id: k.org_id }).then((r) => r.staff).catch(() => []) : [],
    // The patient's consultation held in this call, if the practice has brought them in.
    gpSide ? app.conn.request('consult.list', { filter: 'upcoming', org_id: k.org_id })
      .then((r) => r.consultations.find((x) => x.room_id === k.id) || null).catch(() => null) : null,
  ]);
  if (stale()) return undefined;
  let patientCall = mine ? mine.id : null;

  // Your camera and microphone: the ones chosen in the waiting room, or the defaults.
  // Opened below, after the page is drawn: the browser may be asking for permission.
  let media = app.media;
  if (!media || media.stopped) {
    media = new LocalMedia();
    app.media = media;
  }

  const status = h('p', { class: 'nhsuk-body parley-call__status', role: 'status', id: 'call-status' }, 'Connecting to the call…');
  // Who is speaking (consult.speaker): shown, not announced, as it changes often.
  const speaking = h('p', { class: 'nhsuk-body-s parley-call__speaker', id: 'call-speaker' });
  const problem = h('div', { id: 'call-problem' });
  const mediaProblem = h('div', { id: 'media-problem' });
  const live = h('div', { class: 'nhsuk-u-visually-hidden', 'aria-live': 'polite', id: 'call-live' });
  const say = (t) => { live.textContent = ''; setTimeout(() => { live.textContent = t; }, 50); };
  // A tile per slot (call.js): slot-a, slot-b, then for a meeting slot-c ... slot-g, each
  // hidden until its slot has media; but a consultation's slot-a is always shown.
  const tiles = [];
  for (let i = 0; i < slotCount; i++) tiles.push(tile(`slot-${SLOT_LETTERS[i]}`, i === 0 && !grid ? other : 'Another person'));
  const screen = tile('slot-screen', 'Shared screen');
  const self = tile('slot-self', 'You', { self: true });
  for (const t of tiles.slice(grid ? 0 : 1)) t.fig.hidden = true;
  screen.fig.hidden = true;

  const call = new Call(app, k.id, media, { canShare: staff && !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia), slots: slotCount });

  // ---- controls ----
  const ctl = (id, text, onclick, extra = {}) => {
    const el = h('button', { class: `nhsuk-button ${extra.cls || 'nhsuk-button--secondary'}`, type: 'button', id, 'data-module': 'nhsuk-button' }, text);
    el.addEventListener('click', onclick);
    return el;
  };
  const sound = ctl('call-sound', 'Turn on sound', () => {
    for (const t of [...tiles, screen]) t.video.play().catch(() => {});
    sound.hidden = true;
  }, { cls: '' });
  sound.hidden = true;
  const play = (t) => t.video.play().catch((e) => { if (e.name === 'NotAllowedError' && t !== self) sound.hidden = false; });

  const muteBtn = ctl('call-mute', 'Mute microphone', () => {
    media.setMuted(!media.muted);
    say(media.muted ? 'Your microphone is muted' : 'Your microphone is on');
    renderControls();
  });
  const camBtn = ctl('call-camera', 'Turn camera off', async () => {
    camBtn.disabled = true;
    try {
      await media.setCamera(media.cameraOff);
      say(media.cameraOff ? 'Your camera is off' : 'Your camera is on');
    } catch (e) {
      replace(problem, warning('Your camera could not be turned on', h('p', { class: 'nhsuk-body' }, MEDIA_ERRORS.busy)));
    }
    camBtn.disabled = false;
    renderControls();
  });
  const shareBtn = call.canShare ? ctl('call-share', 'Share screen', async () => {
    if (call.screenTrack) { await call.stopSharing(); return; }
    try { await call.shareScreen(); } catch (e) {
      if (e && e.name !== 'NotAllowedError' && e.name !== 'AbortError') say('Your screen could not be shared');
    }
  }) : null;
  const leaveBtn = ctl('call-leave', 'Leave call', async () => {
    leaveBtn.disabled = true;
    await call.leave();
    showLeft();
  });
  const endBtn = staff ? ctl('call-end', meeting ? 'End meeting for everyone' : advice ? 'End call for everyone' : 'End consultation for everyone', () => showConfirm(true), { cls: 'nhsuk-button--warning' }) : null;
  const controls = h('div', { class: 'nhsuk-button-group parley-call__controls', role: 'group', 'aria-label': 'Call controls' },
    muteBtn, camBtn, shareBtn, leaveBtn, endBtn);

  // "End for everyone" asks first, in the page (not a browser pop-up).
  const confirmBox = h('div', { id: 'end-confirm', hidden: true });
  const showConfirm = (on) => {
    confirmBox.hidden = !on;
    if (!on) { replace(confirmBox); endBtn.focus(); return; }
    const yes = ctl('end-yes', meeting ? 'Yes, end the meeting' : 'Yes, end the consultation', async () => {
      yes.disabled = true;
      try {
        const r = await app.conn.request('consult.end', { consultation_id: k.id });
        finish(null, r.consultation);
      } catch (e) {
        yes.disabled = false;
        replace(problem, warning(meeting ? 'The meeting could not be ended' : 'The consultation could not be ended', h('p', { class: 'nhsuk-body' }, e.message)));
      }
    }, { cls: 'nhsuk-button--warning' });
    const no = ctl('end-no', 'No, stay in the call', () => showConfirm(false));
    replace(confirmBox, h('div', { class: 'nhsuk-card nhsuk-card--warning', role: 'group', 'aria-labelledby': 'end-confirm-heading' },
      h('div', { class: 'nhsuk-card__content' },
        h('h2', { class: 'nhsuk-card__heading nhsuk-heading-m', id: 'end-confirm-heading', tabindex: '-1' },
          meeting ? 'End the meeting for everyone?' : advice ? 'End the call for everyone?' : 'End the consultation for everyone?'),
        h('p', { class: 'nhsuk-body' }, meeting ? 'Everyone leaves the meeting. The case discussion and its messages are kept.'
          : advice ? 'Everyone leaves the call, the patient too if they were brought in. The messages are kept.' : `Everyone leaves the call, and ${patientName}’s link stops working. The messages are kept.`),
        h('div', { class: 'nhsuk-button-group' }, yes, no))));
    confirmBox.querySelector('h2').focus();
  };

  // Who is in the waiting room, for the practice to let in: the patient, and an invited
  // interpreter or carer, each with their own button.
  const admitBox = h('div', { id: 'admit-box', hidden: true });
  const waitingNow = new Map(); // 'patient' or guest user id -> {name, user_id}
  const renderAdmit = () => {
    admitBox.hidden = waitingNow.size === 0;
    for (const el of [...admitBox.children]) if (!waitingNow.has(el.dataset.key)) el.remove();
    for (const [key, w] of waitingNow) {
      if (admitBox.querySelector(`[data-key="${key}"]`)) continue;
      const btn = ctl(key === 'patient' ? 'admit-button' : `admit-button-${w.user_id}`, `Admit ${w.name}`, async () => {
        btn.disabled = true;
        try {
          const kid = w.consultation_id || k.id; // a patient brought into an advice call: theirs
          await app.conn.request('consult.admit', key === 'patient' ? { consultation_id: kid } : { consultation_id: kid, user_id: w.user_id });
          showAdmit(key, null);
          say(`${w.name} has been let in`);
        } catch (e) {
          btn.disabled = false;
          replace(problem, warning(`${w.name} could not be let in`, h('p', { class: 'nhsuk-body' }, e.message)));
        }
      }, { cls: '' });
      admitBox.append(h('div', { class: 'nhsuk-inset-text parley-admit', 'data-key': key },
        h('span', { class: 'nhsuk-u-visually-hidden' }, 'Information: '),
        h('p', { class: 'nhsuk-body' }, h('strong', null, `${w.name} is in the waiting room.`)), btn));
    }
  };
  const showAdmit = (key, w) => {
    if (!staff) return;
    if (w) waitingNow.set(key, w); else waitingNow.delete(key);
    renderAdmit();
  };
  const invite = staff && !advice && !meeting ? invitePanel(app, k, team, { say }) : null;
  const bring = gpSide ? bringPatientPanel(app, k, { say, onBooked: (pk) => { patientCall = pk.id; } }) : null;
  if (bring && patientCall) bring.booked();

  // Camera and microphone choice, during the call too.
  const chooser = deviceChooser(media);
  const settings = h('details', { class: 'nhsuk-details' },
    h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, 'Change camera or microphone')),
    h('div', { class: 'nhsuk-details__text' }, chooser.el));

  // The consultation's messages: its conversation, kept in the transcript.
  const transcript = guest ? null : new Transcript(app, convId, staff ? 'staff' : 'patient');
  const chatHint = meeting ? 'Only the members of this case discussion can read it. The patient cannot.'
    : advice ? 'The practice and the specialist service can read it. The patient cannot.'
    : staff ? `${patientName} and the practice team can read it` : 'Your GP practice can read it, and keeps it with your records';
  const chat = guest ? null : composer(app, convId, { id: 'chat', label: 'Send a message', hint: chatHint, buttonText: 'Send message' });
  if (transcript) {
    transcript.patientName = patientName;
    transcript.setOlder(older);
  }

  append(main, [
    heading(title, staff ? null : clinicianName),
    status, speaking, live, sound, problem, mediaProblem, admitBox,
    h('div', { class: 'nhsuk-grid-row' },
      h('div', { class: 'nhsuk-grid-column-two-thirds' },
        h('section', { class: 'parley-call', 'aria-labelledby': 'video-heading' },
          h('h2', { class: 'nhsuk-u-visually-hidden', id: 'video-heading' }, 'Video'),
          h('div', { class: `parley-call__stage${grid ? ' parley-call__stage--meeting' : ''}` }, ...tiles.map((t) => t.fig), screen.fig, self.fig)),
        controls, confirmBox, settings, invite ? invite.el : null, bring ? bring.el : null),
      guest ? null : h('div', { class: 'nhsuk-grid-column-one-third' },
        h('div', { class: 'parley-call__chat' }, transcript.el, chat.el)))]);

  // ---- who is here ----
  const present = new Map(); // key -> display name, everyone but me
  const keyOf = (p) => (p.user_id != null ? `u${p.user_id}` : `${p.role}:${p.display_name}`);
  const isMe = (p) => (viewer === 'patient' ? p.role === 'patient' : p.user_id === app.info.user.id);
  // Who was already in the call when this page opened (PROTOCOL 8.2, present); later
  // changes come as consult.joined and consult.left.
  for (const p of k.present || []) if (!isMe(p)) present.set(keyOf(p), describe(p));

  // Who is in each slot (A, B, ...), as the server says (consult.slots); until it has, a
  // guess: the others in the order they came.
  let slots = null;
  const slotName = (i) => {
    if (slots && slots[i]) return describe(slots[i]);
    const list = [...present.values()];
    if (i === 0 && !grid) return list.length ? list[0] : other;
    return list.length > i ? list[i] : 'Another person';
  };
  const renderStatus = () => {
    let text;
    const act = call.activity;
    if (call.state === 'connected') {
      const list = [...present.values()];
      if (!list.length && (act.a.audio || act.a.video)) list.push(other);
      text = list.length ? `In the call: ${names(['you', ...list])}.` : `Connected. Waiting for ${other} to join.`;
      if (call.screenTrack) text += ' You are sharing your screen.';
    } else if (call.state === 'reconnecting') {
      text = 'Reconnecting… Your connection changed. The call will carry on when it is back.';
    } else if (call.state === 'failed') {
      text = 'The call has lost its connection.';
    } else if (call.state === 'closed') {
      return;
    } else if (call.state === 'idle') {
      text = 'Starting your camera and microphone…';
    } else {
      text = 'Connecting to the call…';
    }
    if (status.textContent !== text) status.textContent = text;
  };
  const renderTiles = () => {
    const act = call.activity;
    tiles.forEach((t, i) => {
      const s = act.slots[i];
      const name = slotName(i);
      t.caption(name);
      if (i === 0 && !grid) {
        // A consultation's first picture is always there, saying who is awaited.
        if (s.video) t.placeholder(null);
        else if (s.audio || present.size) t.placeholder(`${name}’s camera is off`);
        else t.placeholder(`Waiting for ${other} to join`);
        return;
      }
      t.fig.hidden = !(s.audio || s.video);
      t.placeholder(s.video ? null : `${name}’s camera is off`);
    });
    screen.fig.hidden = !act.screen.video;
    self.placeholder(media.video ? null : 'Your camera is off');
  };
  const renderControls = () => {
    muteBtn.textContent = media.muted ? 'Unmute microphone' : 'Mute microphone';
    muteBtn.disabled = !media.audio;
    camBtn.textContent = media.cameraOff || !media.video ? 'Turn camera on' : 'Turn camera off';
    if (shareBtn) shareBtn.textContent = call.screenTrack ? 'Stop sharing screen' : 'Share screen';
  };

  const attach = (remote) => {
    tiles.forEach((t, i) => { t.video.srcObject = remote.slots[i]; });
    screen.video.srcObject = remote.screen;
    screen.video.muted = true;
    for (const t of [...tiles, screen]) play(t);
  };
  const showSelf = () => {
    self.video.srcObject = new MediaStream(media.video ? [media.video] : []);
    play(self);
  };
  showSelf();

  // ---- the page's life ----
  let done = false;
  const showLeft = () => {
    done = true;
    app.setTitle('You have left the call');
    const rejoin = ctl('call-rejoin', 'Rejoin the call', () => app.route(), { cls: '' });
    replace(main, h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds', id: 'call-left' },
      heading('You have left the call'),
      h('p', { class: 'nhsuk-body' }, meeting ? 'The meeting carries on for the others until it is ended.' : 'The consultation carries on for the others until it is ended.'),
      rejoin,
      meeting ? h('p', { class: 'nhsuk-body' }, h('a', { href: `/practice/cases/${k.case_id}` }, 'Back to the case discussion'))
        : advice ? h('p', { class: 'nhsuk-body' }, h('a', { href: `/practice/advice/${k.advice_id}` }, 'Back to the advice request'))
        : staff ? h('p', { class: 'nhsuk-body' }, h('a', { href: '/practice/consultations' }, 'Back to video consultations')) : null)));
    focusHeading(main);
  };
  const finish = (ev, latest) => {
    if (done) return;
    done = true;
    endedView(app, main, { ...k, ...(app.state.consults.get(k.id) || {}), ...(latest || {}) }, viewer, ev);
  };
  const fail = (e) => {
    const msg = e && e.message ? e.message : 'Try again.';
    if (e && e.code === 'conflict' && /admitted/.test(msg)) { app.navigate(`/consult/${k.id}`, { replace: true }); return; }
    if (e && e.code === 'conflict' && /over/.test(msg)) { finish(null); return; }
    const again = ctl('call-retry', 'Try again', () => { replace(problem); call.rejoin().catch(fail); }, { cls: '' });
    const text = e && e.code === 'unavailable' && /video/.test(msg) ? 'Video calls are not available at the moment. You can still send messages.'
      : e && e.code === 'unavailable' ? 'Parley could not be reached. Check your internet connection.' : msg;
    replace(problem, warning('The call could not connect', h('p', { class: 'nhsuk-body' }, text), again));
    call.setState('failed');
  };

  call.addEventListener('tracks', (e) => attach(e.detail));
  call.addEventListener('state', (e) => {
    renderStatus();
    if (e.detail.state === 'connected') replace(problem);
    if (e.detail.state === 'failed' && e.detail.why) fail({ message: e.detail.why });
  });
  call.addEventListener('activity', () => { renderStatus(); renderTiles(); });
  call.addEventListener('share', () => { renderControls(); renderStatus(); });
  const onMedia = (e) => {
    if (e.detail.kind === 'video') showSelf();
    renderTiles();
    renderControls();
  };
  media.addEventListener('change', onMedia);

  let marked = 0;
  const markRead = () => {
    if (guest) return;
    const c = app.state.convs.get(convId);
    const last = c ? c.last_seq : Math.max(0, ...[...app.state.messages(convId).values()].filter((m) => m.kind === 'message').map((m) => m.seq));
    if (document.visibilityState !== 'visible' || !last || last <= marked) return;
    marked = last;
    app.conn.request('receipt.mark', { conversation_id: convId, seq: last, kind: 'read' }).catch(() => { marked = 0; });
  };
  const onState = (e) => {
    const d = e.detail;
    if (d.what === 'slots' && d.consultationId === k.id) {
      slots = d.event.slots;
      renderTiles();
      return;
    }
    if (d.what === 'speaker' && d.consultationId === k.id) {
      const ev = d.event;
      const me = viewer === 'patient' ? ev.user_id != null : ev.user_id === app.info.user.id;
      speaking.textContent = ev.display_name ? `Speaking: ${me ? 'you' : ev.display_name}` : '';
      return;
    }
    // The patient's own consultation, held in this call: their waiting room and presence.
    if (d.what === 'consult' && patientCall && d.consultationId === patientCall) {
      const ev = d.event;
      const p = ev.participant;
      if ((ev.type === 'consult.joined' || ev.type === 'consult.reconnected') && p) {
        if (!present.has(keyOf(p))) say(`${describe(p)} joined the call`);
        present.set(keyOf(p), describe(p));
      } else if (ev.type === 'consult.left' && p) {
        if (present.delete(keyOf(p))) say(`${describe(p)} left the call`);
      } else if (ev.type === 'consult.waiting' && p && p.role === 'patient') showAdmit('patient', { name: describe(p), consultation_id: patientCall });
      else if (ev.type === 'consult.admitted' && p && p.role === 'patient') showAdmit('patient', null);
      renderStatus();
      renderTiles();
      return;
    }
    if (d.what === 'consult' && d.consultationId === k.id) {
      const ev = d.event;
      const p = ev.participant;
      const waitKey = p && p.role === 'patient' ? 'patient' : p ? String(p.user_id) : null;
      if ((ev.type === 'consult.joined' || ev.type === 'consult.reconnected') && p && !isMe(p)) {
        if (!present.has(keyOf(p))) say(`${describe(p)} joined the call`);
        present.set(keyOf(p), describe(p));
      } else if (ev.type === 'consult.left' && p && !isMe(p)) {
        if (present.delete(keyOf(p))) say(`${describe(p)} left the call`);
      } else if (ev.type === 'consult.waiting' && waitKey) showAdmit(waitKey, { name: describe(p), user_id: p.user_id });
      else if (ev.type === 'consult.admitted' && waitKey) showAdmit(waitKey, null);
      else if (ev.type === 'consult.invited' && invite) {
        if (!(k.invited || []).some((x) => x.id === p.user_id)) k.invited = [...(k.invited || []), { id: p.user_id, display_name: p.display_name, role: p.role }];
        invite.refresh();
      } else if (ev.type === 'consult.ended' || ev.type === 'consult.cancelled') { finish(ev); return; }
      renderStatus();
      renderTiles();
    }
    if (transcript && d.conversationId === convId) {
      if (d.what === 'messages' || d.what === 'receipts') { transcript.render(); markRead(); }
      if (d.what === 'typing') transcript.renderTyping();
    }
  };
  const onConn = () => { if (transcript) transcript.render(); };
  const onHide = () => { call.leave(); };
  app.state.addEventListener('change', onState);
  app.conn.addEventListener('state', onConn);
  window.addEventListener('pagehide', onHide);
  document.addEventListener('visibilitychange', markRead);

  if (k.status === 'waiting') showAdmit('patient', { name: patientName });
  if (mine && mine.status === 'waiting') showAdmit('patient', { name: patientName, consultation_id: mine.id });
  for (const p of (mine && mine.present) || []) present.set(keyOf(p), describe(p));
  for (const x of k.invited || []) if (GUEST_ROLES[x.role] && x.waiting && !x.admitted) showAdmit(String(x.id), { name: describe(x), user_id: x.id });
  if (transcript) transcript.render();
  markRead();
  renderControls();
  renderTiles();
  renderStatus();
  (async () => {
    // The camera and microphone first (the ones from the waiting room, if it was used), so
    // the offer carries them; then the call. Without them, the call still receives and the
    // messages still work.
    if (!media.audio && !media.video) await media.open();
    if (done || stale()) return;
    if (media.error) {
      replace(mediaProblem, warning(media.error === 'denied' ? 'Your camera and microphone are blocked' : 'There is a problem with your camera or microphone',
        h('p', { class: 'nhsuk-body' }, MEDIA_ERRORS[media.error])));
    }
    chooser.refresh();
    await call.start();
  })().catch(fail);

  return () => {
    done = true;
    call.leave();
    chooser.destroy();
    if (transcript) transcript.destroy();
    media.removeEventListener('change', onMedia);
    app.state.removeEventListener('change', onState);
    app.conn.removeEventListener('state', onConn);
    window.removeEventListener('pagehide', onHide);
    document.removeEventListener('visibilitychange', markRead);
  };
}
