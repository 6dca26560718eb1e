// Who accessed a patient's data, from the audit trail (PROTOCOL 14):
//   /practice/patients/:id/access  a practice admin: each access to the patient's data, newest
//                                  first (audit.patient), a page at a time;
//   /patient/access                the patient: which organisations accessed their data, and
//                                  when (audit.mine). Not the people: see signalling/audit_view.c.
import { h, replace } from '../dom.js';
import { dateTime, ROLES } from '../format.js';
import { heading, backLink, button, inset, notification, tag } from '../ui.js';

// What each recorded action means, in words an admin would use.
const ACTIONS = {
  'conversation.create': 'Started a request',
  'conversation.read': 'Opened a request',
  'conversation.history': 'Read a request\u2019s messages',
  'conversation.get': 'Tried to open a request',
  'conversation.assign': 'Assigned a request',
  'conversation.status': 'Changed a request\u2019s status',
  'message.create': 'Sent a message',
  'note.create': 'Added an internal note',
  'attachment.create': 'Attached a file',
  'attachment.read': 'Downloaded an attachment',
  'patient.lookup': 'Looked up the patient by NHS number',
  'record.export': 'Exported the patient\u2019s record',
  'record.file': 'Filed to the record',
  'consult.book': 'Booked a video consultation',
  'consult.read': 'Opened a video consultation',
  'consult.join': 'Joined a video consultation by link',
  'consult.admit': 'Admitted the patient to a video consultation',
  'consult.invite': 'Invited someone to a video consultation',
  'consult.link': 'Sent a video consultation link',
  'consult.end': 'Ended a video consultation',
  'consult.cancel': 'Cancelled a video consultation',
  'consult.start': 'Started a call',
  'advice.create': 'Asked a specialist service for advice',
  'advice.read': 'Opened an advice request',
  'advice.claimed': 'Took an advice request',
  'advice.assigned': 'Assigned an advice request',
  'advice.request_info': 'Asked the practice for more information',
  'advice.close': 'Gave advice and closed the request',
  'case.create': 'Opened a case discussion',
  'case.read': 'Opened a case discussion',
  'case.invite': 'Invited someone to a case discussion',
  'case.close': 'Closed a case discussion',
  'audit.patient': 'Looked at who accessed the patient\u2019s data',
};

function actionText(a) {
  return ACTIONS[a] || a;
}

function roleText(role) {
  if (!role) return '';
  return role.split(',').map((r) => ROLES[r] || (r === 'patient' ? 'Patient' : r)).join(', ');
}

function outcomeTag(outcome) {
  if (outcome === 'ok') return tag('Allowed', 'nhsuk-tag--green');
  if (outcome === 'denied') return tag('Refused', 'nhsuk-tag--red');
  return tag('Failed', 'nhsuk-tag--grey');
}

function table(caption, head, rows, attrs = {}) {
  return h('table', { class: 'nhsuk-table', role: 'table', ...attrs },
    h('caption', { class: 'nhsuk-table__caption' }, caption),
    h('thead', { class: 'nhsuk-table__head', role: 'rowgroup' },
      h('tr', { class: 'nhsuk-table__row', role: 'row' },
        head.map((t) => h('th', { class: 'nhsuk-table__header', role: 'columnheader', scope: 'col' }, t)))),
    h('tbody', { class: 'nhsuk-table__body' }, rows));
}

function recordRow(r) {
  const who = r.who ? r.who.display_name : 'Nobody signed in';
  const cell = (label, ...content) => h('td', { class: 'nhsuk-table__cell', role: 'cell' },
    h('span', { class: 'nhsuk-table-responsive__heading', 'aria-hidden': 'true' }, `${label} `), ...content);
  return h('tr', { class: 'nhsuk-table__row', role: 'row', 'data-audit-id': String(r.id), 'data-action': r.action },
    cell('When', dateTime(r.at)),
    cell('Who', who, r.role ? h('br') : null, r.role ? h('span', { class: 'nhsuk-u-secondary-text-color' }, roleText(r.role)) : null),
    cell('Organisation', r.organisation ? r.organisation.name : ''),
    cell('What', actionText(r.action), h('br'), h('span', { class: 'nhsuk-u-secondary-text-color' }, `${r.resource_type} ${r.resource_id || ''}`.trim())),
    cell('Outcome', outcomeTag(r.outcome)),
    cell('From', r.ip || ''));
}

export async function practiceAccessPage(app, [idText], main, stale) {
  const patientId = Number(idText);
  const first = await app.conn.request('audit.patient', { patient_id: patientId, limit: 50 });
  if (stale()) return undefined;
  const name = first.patient.display_name;
  app.setTitle(`Who accessed ${name}\u2019s data`);
  const records = [...first.records];
  let next = first.next_before_id;
  const tableEl = h('div', { id: 'access-records' });
  const moreEl = h('div');
  const banner = h('div', { 'aria-live': 'polite' });
  const render = () => {
    replace(tableEl, records.length
      ? table(`Each time someone opened, changed or tried to reach ${name}\u2019s data, newest first`,
        ['When', 'Who', 'Organisation', 'What', 'Outcome', 'From'], records.map(recordRow),
        { class: 'nhsuk-table nhsuk-table-responsive', id: 'access-table' })
      : h('p', { class: 'nhsuk-body', id: 'access-empty' }, 'Nobody has accessed this patient\u2019s data yet.'));
    if (next) {
      const more = button('Show older records', { type: 'button', secondary: true, id: 'access-more' });
      more.addEventListener('click', async () => {
        more.disabled = true;
        try {
          const r = await app.conn.request('audit.patient', { patient_id: patientId, limit: 50, before_id: next });
          records.push(...r.records);
          next = r.next_before_id;
          render();
        } catch (e) {
          more.disabled = false;
          replace(banner, notification(e.message, null, false));
        }
      });
      replace(moreEl, more);
    } else {
      replace(moreEl);
    }
  };
  main.append(backLink('/practice', 'Back to the inbox'),
    heading(`Who accessed ${name}\u2019s data`, 'Access record'),
    inset(h('p', { class: 'nhsuk-body' }, 'Parley records every time someone opens, changes, exports or is refused a patient\u2019s data. ',
      'The record cannot be changed without it showing.')),
    banner, tableEl, moreEl);
  render();
  return undefined;
}

// The patient's own view: organisations and when, never individual staff.
export async function patientAccessPage(app, _p, main, stale) {
  app.setTitle('Who has accessed your data');
  const r = await app.conn.request('audit.mine');
  if (stale()) return undefined;
  const rows = r.organisations.map((o) => {
    const name = o.organisation ? o.organisation.name : 'Someone not acting for an organisation';
    const cell = (label, ...content) => h('td', { class: 'nhsuk-table__cell', role: 'cell' },
      h('span', { class: 'nhsuk-table-responsive__heading', 'aria-hidden': 'true' }, `${label} `), ...content);
    return h('tr', { class: 'nhsuk-table__row', role: 'row', 'data-org-id': String(o.organisation ? o.organisation.id : 0) },
      cell('Organisation', name, o.own_practice ? h('span', { class: 'nhsuk-u-secondary-text-color' }, ' (your GP practice)') : null),
      cell('Most recently', dateTime(o.last_at)),
      cell('First', dateTime(o.first_at)),
      cell('Times', String(o.count)));
  });
  main.append(backLink('/patient', 'Back to your requests'),
    heading('Who has accessed your data'),
    h('p', { class: 'nhsuk-body' }, 'These organisations have looked at or added to your requests, messages and video consultations. ',
      'Each one is responsible for why its staff did so.'),
    rows.length
      ? table('Organisations that accessed your data, most recent first', ['Organisation', 'Most recently', 'First', 'Times'], rows,
        { class: 'nhsuk-table nhsuk-table-responsive', id: 'access-orgs' })
      : h('p', { class: 'nhsuk-body', id: 'access-empty' }, 'No organisation has accessed your data yet.'),
    inset(h('p', { class: 'nhsuk-body' }, 'If you want to know who looked at your data and why, ask your GP practice. ',
      'Their practice manager can see each access.')));
  return undefined;
}
