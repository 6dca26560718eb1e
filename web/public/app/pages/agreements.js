// Information-sharing agreements (PROTOCOL 11.1), for the admins of practices and specialist
// services: every agreement of their organisations with its state, accept what the other side
// proposed, end one, and (an admin of a practice) propose one to a service. What an agreement
// shares decides what a service sees of the patients in advice requests and case discussions.
import { h, replace } from '../dom.js';
import { dateTime } from '../format.js';
import {
  Form, heading, button, summaryList, select, radios, radioValue, dateInput, readDate, notification, inset,
} from '../ui.js';

const STATE = {
  proposed: 'Proposed: waiting for the other side',
  accepted: 'Accepted: starts later',
  active: 'In force',
  expired: 'Expired',
  ended: 'Ended',
};
const SHARES = {
  identified: 'Identified: the service sees the patient’s name, NHS number and date of birth',
  pseudonymised: 'Pseudonymised: the service does not see who the patient is',
};
const DAY_MS = 24 * 3600 * 1000;

function isAdminOf(app, orgId) {
  return ((app.info && app.info.organisations) || []).some((o) => o.id === orgId && (o.roles || []).includes('practice_admin'));
}

export async function agreementsPage(app, _p, main, stale) {
  app.setTitle('Information-sharing agreements');
  const [list, services] = await Promise.all([
    app.conn.request('agreement.list'),
    app.conn.request('service.list').then((r) => r.services).catch(() => []),
  ]);
  if (stale()) return undefined;
  let agreements = list.agreements;
  const banner = h('div', { 'aria-live': 'polite', id: 'agreement-result' });
  const say = (text, ok = true) => replace(banner, notification(text, null, ok));
  const listEl = h('div', { id: 'agreement-list' });
  const myPractices = app.orgsOf('practice').filter((o) => isAdminOf(app, o.id));

  const act = async (btn, type, id, done) => {
    btn.disabled = true;
    try {
      const r = await app.conn.request(type, { agreement_id: id });
      agreements = agreements.map((x) => (x.id === id ? { ...x, ...r.agreement } : x));
      render();
      say(done);
    } catch (e) {
      btn.disabled = false;
      say(e.message, false);
    }
  };

  const render = () => {
    if (!agreements.length) {
      replace(listEl, h('p', { class: 'nhsuk-body', id: 'agreements-empty' }, 'Your organisations have no agreements yet.'));
      return;
    }
    replace(listEl, ...agreements.map((a) => {
      const mineProposed = app.orgsOf('practice').concat(app.orgsOf('specialist_service')).some((o) => o.id === a.proposed_org_id);
      const otherSide = a.proposed_org_id === a.practice_id ? a.service_id : a.practice_id;
      const actions = [];
      if (a.state === 'proposed' && !mineProposed && isAdminOf(app, otherSide)) {
        const accept = button('Accept', { type: 'button', id: `accept-${a.id}` });
        accept.addEventListener('click', () => act(accept, 'agreement.accept', a.id, `The agreement with ${a.proposed_org_id === a.practice_id ? a.practice_name : a.service_name} is accepted`));
        actions.push(accept);
      }
      if (['proposed', 'accepted', 'active'].includes(a.state) && (isAdminOf(app, a.practice_id) || isAdminOf(app, a.service_id))) {
        const end = button('End this agreement', { type: 'button', id: `end-${a.id}`, secondary: true });
        end.addEventListener('click', () => act(end, 'agreement.end', a.id, 'The agreement has ended. The service no longer sees who the patients are.'));
        actions.push(end);
      }
      return h('div', { class: 'nhsuk-card', 'data-agreement-id': String(a.id), 'data-state': a.state },
        h('div', { class: 'nhsuk-card__content' },
          h('h2', { class: 'nhsuk-card__heading nhsuk-heading-m' }, `${a.practice_name} and ${a.service_name}`),
          summaryList([
            ['State', STATE[a.state] || a.state],
            ['Shares', SHARES[a.shares] || a.shares],
            ['From', dateTime(a.starts_at)],
            ['Until', dateTime(a.ends_at)],
            ['Proposed', `By ${a.proposed_org_id === a.practice_id ? a.practice_name : a.service_name}, ${dateTime(a.proposed_at)}`],
            a.accepted_at ? ['Accepted', dateTime(a.accepted_at)] : null,
            a.ended_at ? ['Ended', dateTime(a.ended_at)] : null,
          ]),
          actions.length ? h('div', { class: 'nhsuk-button-group' }, ...actions) : null));
    }));
  };

  // Proposing: an admin of a practice, to a specialist service. (A service's admin accepts
  // what practices propose.)
  let proposeEl = null;
  if (myPractices.length && services.length) {
    const form = new Form({ id: 'agreement-form' },
      myPractices.length > 1 ? select({ id: 'practice', label: 'Your practice', options: myPractices.map((o) => [String(o.id), o.name]) }) : null,
      select({ id: 'service', label: 'Specialist service', options: services.map((s) => [String(s.id), s.name]) }),
      radios({ id: 'shares', legend: 'What may the service see of the patients?', items: Object.entries(SHARES).map(([value, text]) => ({ value, text })) }),
      dateInput({ id: 'ends', legend: 'Until when?', hint: 'At most 5 years from today. For example, 31 3 2027' }),
      button('Propose the agreement', { id: 'agreement-propose' }));
    form.el.addEventListener('submit', async (e) => {
      e.preventDefault();
      const errors = [];
      const shares = radioValue(form.el, 'shares');
      if (!shares) errors.push({ field: 'shares', text: 'Select what the service may see' });
      const ends = readDate(form.el, 'ends', 'the end date');
      if (ends.error) errors.push(ends.error);
      // The agreement runs to the end of the day chosen.
      const endsAt = ends.date ? ends.date.getTime() + DAY_MS : 0;
      if (!ends.error && endsAt <= Date.now()) errors.push({ field: 'ends-day', inputs: ['ends-day', 'ends-month', 'ends-year'], text: 'The end date must be in the future' });
      if (errors.length) { form.showErrors(errors); return; }
      form.clearErrors();
      const btn = form.el.querySelector('#agreement-propose');
      btn.disabled = true;
      try {
        const practiceId = myPractices.length > 1 ? Number(form.el.practice.value) : myPractices[0].id;
        const service = services.find((x) => String(x.id) === form.el.service.value);
        await app.conn.request('agreement.propose', { practice_id: practiceId, service_id: service.id, shares, ends_at: endsAt });
        const fresh = await app.conn.request('agreement.list');
        agreements = fresh.agreements;
        render();
        say(`Proposed. An admin of ${service.name} must accept it before it is in force.`);
        form.el.reset();
      } catch (err) {
        form.showErrors([{ field: 'service', text: err.message }]);
      }
      btn.disabled = false;
    });
    proposeEl = h('section', { 'aria-labelledby': 'propose-heading' },
      h('h2', { class: 'nhsuk-heading-m', id: 'propose-heading' }, 'Propose an agreement'),
      h('p', { class: 'nhsuk-body' }, 'Your practice can ask a service for advice once an admin of the service accepts the agreement. It is in force until its end date or until either side ends it.'),
      form.el);
  } else if (!((app.info && app.info.organisations) || []).some((o) => isAdminOf(app, o.id))) {
    proposeEl = inset('Only an admin of your organisation can propose, accept or end agreements.');
  } else if (!myPractices.length) {
    proposeEl = inset('Practices propose agreements. Accept or end them here.');
  }

  main.append(h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    heading('Information-sharing agreements'),
    h('p', { class: 'nhsuk-body' }, 'An agreement lets a practice ask a specialist service for advice, and says whether the service sees who the patients are. Without one in force, the service cannot see the patients’ details.'),
    banner, listEl, proposeEl)));
  render();
  return undefined;
}
