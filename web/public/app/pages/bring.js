// On a call between a practice and a specialist service (PROTOCOL 11.6): "Bring the patient
// in", for the practice. It books the patient an ordinary video consultation of their own
// (consult.book with into_consultation_id), held in this call's room: the patient gets a link,
// gives their date of birth, waits, and is let in by the practice like any other consultation.
import { h, replace } from '../dom.js';
import { linkPanel } from './link.js';

// k: the advice call. onBooked(consultation): the patient's consultation, once booked (the call
// page then lets the patient in from its waiting room). Returns { el, booked(id) }.
export function bringPatientPanel(app, k, { say, onBooked }) {
  const name = k.patient && !k.patient.hidden ? k.patient.display_name : 'the patient';
  const body = h('div', { class: 'nhsuk-details__text', id: 'bring-body' });
  const el = h('details', { class: 'nhsuk-details', id: 'bring-patient' },
    h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, `Bring ${name} into the call`)),
    body);
  const problem = h('div', { role: 'alert', id: 'bring-problem' });
  const btn = h('button', { class: 'nhsuk-button', type: 'button', id: 'bring-button', 'data-module': 'nhsuk-button' }, `Send ${name} a link`);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    replace(problem);
    try {
      const r = await app.conn.request('consult.book', { patient_id: k.patient_id, into_consultation_id: k.id });
      app.state.putConsult(r.consultation);
      replace(body, linkPanel(r.link, name, { level: 'h3' }),
        h('p', { class: 'nhsuk-body', id: 'bring-next' }, `When ${name} is in the waiting room, let them in from this page. They will see and hear you and the specialist.`));
      body.querySelector('#link-heading').focus();
      say(`A link for ${name} is ready`);
      onBooked(r.consultation);
    } catch (e) {
      btn.disabled = false;
      replace(problem, h('p', { class: 'nhsuk-error-message' }, e.message));
    }
  });
  const offer = () => replace(body,
    h('p', { class: 'nhsuk-body' }, `${name} joins from their own phone or computer, in a video consultation with you. The specialist sees and hears them too. The patient does not see the messages between you and the specialist.`),
    problem, btn);
  offer();
  return {
    el,
    // The patient is already on their way (a consultation booked before this page opened).
    booked() {
      replace(body, h('p', { class: 'nhsuk-body', id: 'bring-next' }, `${name} has been sent a link. When they are in the waiting room, let them in from this page. To send a new link, use the list of video consultations.`));
    },
  };
}
