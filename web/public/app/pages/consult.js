// The practice's video consultation pages: today's and upcoming consultations with the
// waiting room shown live, booking one (by NHS number here, or from a request), the patient's
// link, and the call page.
import { h, replace } from '../dom.js';
import { dateTime } from '../format.js';
import { Form, heading, button, tag, input, radios, radioValue, dateInput, readDate, notification } from '../ui.js';
import { callView, endedView } from './call.js';
import { linkPanel } from './link.js';
import { describe, GUEST_ROLES } from './invite.js';

export const CONSULT_STATUS = {
  booked: { text: 'Booked', cls: 'nhsuk-tag--blue' },
  waiting: { text: 'Waiting', cls: 'nhsuk-tag--orange' },
  in_call: { text: 'In call', cls: 'nhsuk-tag--green' },
  ended: { text: 'Ended', cls: 'nhsuk-tag--grey' },
  cancelled: { text: 'Cancelled', cls: 'nhsuk-tag--grey' },
};

export function consultTag(s) {
  const t = CONSULT_STATUS[s] || { text: s };
  return tag(t.text, t.cls);
}

function when(k) {
  return k.scheduled_at ? dateTime(k.scheduled_at) : `As soon as possible (booked ${dateTime(k.created_at)})`;
}

// Books a consultation and shows its link in `area`. From a request: into the request's own
// conversation, so the chat in the call is that conversation (unless it is closed).
export async function book(app, fields, patientName, area, opts) {
  const r = await app.conn.request('consult.book', fields);
  app.state.putConsult(r.consultation);
  replace(area, linkPanel(r.link, patientName, opts));
  area.querySelector('#link-heading').focus();
  return r;
}

// ---- the list ----

export async function consultationsPage(app, _p, main, stale) {
  const orgs = (app.info.organisations || []).filter((o) => o.kind === 'practice');
  app.setTitle('Video consultations');
  const todayEl = h('div', { id: 'consults-today' });
  const laterEl = h('div', { id: 'consults-later' });
  const result = h('div', { id: 'book-result' });
  const live = h('div', { class: 'nhsuk-u-visually-hidden', 'aria-live': 'assertive', id: 'consult-live' });

  // Booking by NHS number.
  const later = h('div', { class: 'nhsuk-radios__conditional', id: 'when-later', hidden: true },
    dateInput({ id: 'book-date', legend: 'Date', hint: `For example, ${new Date().getDate()} ${new Date().getMonth() + 1} ${new Date().getFullYear()}` }),
    input({ id: 'book-time', label: 'Time', hint: 'For example, 14:30', type: 'time', width: 5 }));
  const whenRadios = radios({ id: 'when', legend: 'When is it for?', value: 'now', small: true, items: [
    { value: 'now', text: 'As soon as possible' }, { value: 'later', text: 'At a set time' }] });
  whenRadios.querySelector('.nhsuk-radios').append(later);
  const form = new Form({ id: 'book-form' },
    input({ id: 'nhs-number', label: 'Patient’s NHS number', hint: '10 digits, for example 485 777 3456', width: 10, autocomplete: 'off', attrs: { inputmode: 'numeric' } }),
    whenRadios,
    button('Book video consultation', { id: 'book-button' }));
  // The date and time show when "At a set time" is chosen. They follow that radio in the page,
  // so they come next for keyboard and screen reader users. (No aria-controls: nhsuk-frontend
  // would then put aria-expanded on the radio, which ARIA does not allow there.)
  const laterRadio = form.el.querySelector('#when-2');
  const toggle = () => { later.hidden = !laterRadio.checked; };
  for (const r of form.el.querySelectorAll('input[name=when]')) r.addEventListener('change', toggle);
  toggle();

  main.append(h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-full' },
    heading('Video consultations', orgs.map((o) => o.name).join(', ') || null),
    live, result,
    h('h2', { class: 'nhsuk-heading-m', id: 'today-heading' }, 'Today'), todayEl,
    h('h2', { class: 'nhsuk-heading-m', id: 'later-heading' }, 'Later'), laterEl)),
  h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    h('section', { 'aria-labelledby': 'book-heading', class: 'parley-book' },
      h('h2', { class: 'nhsuk-heading-m', id: 'book-heading' }, 'Book a video consultation'),
      h('p', { class: 'nhsuk-body' }, 'You will get a link to send to the patient. To book from a patient’s request, open the request instead: the consultation’s messages then stay with it.'),
      form.el))));

  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const nhs = form.el['nhs-number'].value.trim();
    const errs = [];
    if (!nhs) errs.push({ field: 'nhs-number', text: 'Enter the patient’s NHS number' });
    else if (!/^\d{10}$/.test(nhs.replace(/[\s-]/g, ''))) errs.push({ field: 'nhs-number', text: 'NHS number must be 10 digits' });
    let scheduled = null;
    if (radioValue(form.el, 'when') === 'later') {
      const d = readDate(form.el, 'book-date', 'the date');
      const t = form.el['book-time'].value;
      if (d.error) errs.push(d.error);
      if (!/^\d{2}:\d{2}$/.test(t)) errs.push({ field: 'book-time', text: 'Enter the time' });
      if (!d.error && /^\d{2}:\d{2}$/.test(t)) {
        const [hh, mm] = t.split(':').map(Number);
        const at = new Date(d.date.getUTCFullYear(), d.date.getUTCMonth(), d.date.getUTCDate(), hh, mm);
        if (at.getTime() < Date.now() - 15 * 60000) errs.push({ field: 'book-date-day', text: 'The date and time must be in the future' });
        else if (at.getTime() > Date.now() + 364 * 86400000) errs.push({ field: 'book-date-day', text: 'The date must be within a year from today' });
        else scheduled = at.getTime();
      }
    }
    if (errs.length) { form.showErrors(errs); return; }
    form.clearErrors();
    const btn = form.el.querySelector('#book-button');
    btn.disabled = true;
    try {
      let patient;
      try {
        patient = (await app.conn.request('patient.lookup', { nhs_number: nhs })).patient;
      } catch (err) {
        if (err.code === 'not_found') { form.showErrors([{ field: 'nhs-number', text: 'No patient with this NHS number is registered at your practice' }]); return; }
        if (err.code === 'bad_request') { form.showErrors([{ field: 'nhs-number', text: 'Enter a real NHS number: check the digits' }]); return; }
        throw err;
      }
      await book(app, { patient_id: patient.id, ...(scheduled ? { scheduled_at: scheduled } : {}) }, patient.display_name, result);
      result.prepend(notification(`Video consultation booked for ${patient.display_name}`, null, true));
      form.el.reset();
      toggle();
      await load();
    } catch (err) {
      form.showErrors([{ text: err.message }]);
    } finally {
      btn.disabled = false;
    }
  });

  // Today's and later consultations, live. The tables are drawn again on every change; an
  // open "Cancel?" question and the keyboard focus (by data-key) survive the redraw.
  let confirming = null; // id of the consultation whose cancellation is being asked about
  let lists = { t: [], l: [] };
  const act = (key, cls, text, hidden, onclick) => {
    const b = h('button', { class: `nhsuk-button nhsuk-button--small ${cls}`.trim(), type: 'button', 'data-key': key, 'data-module': 'nhsuk-button' },
      text, hidden ? h('span', { class: 'nhsuk-u-visually-hidden' }, hidden) : null);
    b.addEventListener('click', onclick);
    return b;
  };
  const guestsWaiting = (k) => (k.invited || []).filter((g) => GUEST_ROLES[g.role] && g.waiting && !g.admitted);
  const row = (k) => {
    const waiting = k.status === 'waiting';
    const name = k.patient ? k.patient.display_name : 'Patient';
    const actions = [];
    let cell;
    if (confirming === k.id) {
      const yes = act(`yes-${k.id}`, 'nhsuk-button--warning', 'Yes, cancel it', ` (${name})`, async () => {
        yes.disabled = true;
        try {
          await app.conn.request('consult.cancel', { consultation_id: k.id });
          confirming = null;
          live.textContent = `The consultation with ${name} was cancelled`;
          await load();
        } catch (err) { yes.disabled = false; live.textContent = err.message; }
      });
      const no = act(`no-${k.id}`, 'nhsuk-button--secondary', 'No, keep it', ` (${name})`, () => {
        confirming = null;
        render(`cancel-${k.id}`);
      });
      cell = [h('p', { class: 'nhsuk-body-s', tabindex: '-1', 'data-key': `ask-${k.id}` }, `Cancel the consultation with ${name}? Their link will stop working.`),
        h('div', { class: 'parley-consult__actions' }, yes, no)];
    } else {
      if (waiting) {
        const admit = act(`admit-${k.id}`, 'parley-consult__admit', 'Admit', ` ${name}`, async () => {
          admit.disabled = true;
          try {
            await app.conn.request('consult.admit', { consultation_id: k.id });
            live.textContent = `${name} has been let in. Join the call to see them.`;
            await load();
          } catch (err) { admit.disabled = false; live.textContent = `${name} could not be let in: ${err.message}`; }
        });
        actions.push(admit);
      }
      // An interpreter or carer waiting: let them in here too (PROTOCOL 8.11).
      for (const g of guestsWaiting(k)) {
        const who = describe(g);
        const admit = act(`admit-${k.id}-${g.id}`, 'parley-consult__admit', 'Admit', ` ${who}`, async () => {
          admit.disabled = true;
          try {
            await app.conn.request('consult.admit', { consultation_id: k.id, user_id: g.id });
            live.textContent = `${who} has been let in.`;
            await load();
          } catch (err) { admit.disabled = false; live.textContent = `${who} could not be let in: ${err.message}`; }
        });
        actions.push(admit);
      }
      if (k.status === 'booked' || waiting || k.status === 'in_call') {
        actions.push(h('a', { class: 'nhsuk-button nhsuk-button--small nhsuk-button--secondary parley-consult__join', href: `/practice/consultations/${k.id}/call`, role: 'button', draggable: 'false', 'data-module': 'nhsuk-button', 'data-key': `join-${k.id}` },
          'Join call', h('span', { class: 'nhsuk-u-visually-hidden' }, ` with ${name}`)));
        actions.push(act(`link-${k.id}`, 'nhsuk-button--secondary', 'New link', ` for ${name}`, async () => {
          try {
            const r = await app.conn.request('consult.link', { consultation_id: k.id });
            replace(result, linkPanel(r.link, name));
            result.querySelector('#link-heading').focus();
          } catch (err) { live.textContent = err.message; }
        }));
      }
      if (k.status === 'booked' || waiting) {
        // Cancelling asks first, in the row itself.
        actions.push(act(`cancel-${k.id}`, 'nhsuk-button--secondary', 'Cancel', ` the consultation with ${name}`, () => {
          confirming = k.id;
          render(`ask-${k.id}`);
        }));
      }
      cell = actions.length ? h('div', { class: 'parley-consult__actions' }, actions) : '–';
    }
    return h('tr', { class: `nhsuk-table__row${waiting ? ' parley-consult--waiting' : ''}`, 'data-consultation-id': k.id, 'data-status': k.status },
      h('td', { class: 'nhsuk-table__cell' }, h('strong', null, name),
        waiting ? h('span', { class: 'parley-consult__waiting-text' }, h('br'), 'In the waiting room now') : null,
        guestsWaiting(k).map((g) => h('span', { class: 'parley-consult__waiting-text' }, h('br'), `${describe(g)} in the waiting room now`))),
      h('td', { class: 'nhsuk-table__cell' }, when(k)),
      h('td', { class: 'nhsuk-table__cell' }, k.clinician ? k.clinician.display_name : ''),
      h('td', { class: 'nhsuk-table__cell' }, consultTag(k.status)),
      h('td', { class: 'nhsuk-table__cell' }, cell));
  };
  const table = (list, caption, empty) => {
    if (!list.length) return h('p', { class: 'nhsuk-body' }, empty);
    return h('div', { class: 'nhsuk-table-responsive' }, h('table', { class: 'nhsuk-table parley-inbox parley-consults', role: 'table' },
      h('caption', { class: 'nhsuk-table__caption nhsuk-u-visually-hidden' }, caption),
      h('thead', { class: 'nhsuk-table__head' }, h('tr', { class: 'nhsuk-table__row' },
        ['Patient', 'When', 'Clinician', 'Status', 'Actions'].map((t) => h('th', { class: 'nhsuk-table__header', scope: 'col' }, t)))),
      h('tbody', { class: 'nhsuk-table__body' }, list.map(row))));
  };
  // focusKey: where the focus goes after drawing; by default, where it was.
  const render = (focusKey) => {
    const key = focusKey || (document.activeElement && document.activeElement.getAttribute('data-key'));
    if (confirming && ![...lists.t, ...lists.l].some((k) => k.id === confirming && (k.status === 'booked' || k.status === 'waiting'))) confirming = null;
    replace(todayEl, table(lists.t, 'Video consultations today', 'There are no video consultations today.'));
    replace(laterEl, table(lists.l, 'Later video consultations', 'There are no later video consultations booked.'));
    const el = key && main.querySelector(`[data-key="${key}"]`);
    if (el) el.focus();
  };
  const at = (k) => k.scheduled_at || k.created_at;
  const load = async () => {
    const [today, upcoming] = await Promise.all([
      app.conn.request('consult.list', { filter: 'today', limit: 100 }),
      app.conn.request('consult.list', { filter: 'upcoming', limit: 100 }),
    ]);
    if (stale()) return;
    for (const k of [...today.consultations, ...upcoming.consultations]) app.state.putConsult(k);
    const todayIds = new Set(today.consultations.map((k) => k.id));
    lists = {
      t: today.consultations.slice().sort((x, y) => at(x) - at(y)),
      l: upcoming.consultations.filter((k) => !todayIds.has(k.id)).sort((x, y) => at(x) - at(y)),
    };
    render();
  };
  await load();

  let timer = null;
  const onChange = (e) => {
    if (e.detail.what !== 'consult') return;
    const ev = e.detail.event;
    if (ev.type === 'consult.waiting' && ev.participant) live.textContent = `${describe(ev.participant)} is in the waiting room`;
    clearTimeout(timer);
    timer = setTimeout(() => load().catch(() => {}), 150);
  };
  const onReady = () => load().catch(() => {});
  const tick = setInterval(() => load().catch(() => {}), 60000);
  app.state.addEventListener('change', onChange);
  app.conn.addEventListener('ready', onReady);
  return () => {
    clearTimeout(timer);
    clearInterval(tick);
    app.state.removeEventListener('change', onChange);
    app.conn.removeEventListener('ready', onReady);
  };
}

// ---- the call ----

export async function staffCallPage(app, [idText], main, stale) {
  const r = await app.conn.request('consult.get', { consultation_id: Number(idText) });
  if (stale()) return undefined;
  app.state.putConsult(r.consultation);
  const k = r.consultation;
  if (k.status === 'ended' || k.status === 'cancelled') { endedView(app, main, k, 'staff'); return undefined; }
  return callView(app, k, main, stale, 'staff');
}
