// Adding a third person to a video consultation, for the practice (PROTOCOL 8.3,
// consult.invite): a colleague from the practice, who joins from their own consultations page;
// or an interpreter or a carer from outside, who gets a link of their own to send them and
// waits to be let in. The call has room for one more person besides the patient and the
// clinician.
import { h, replace } from '../dom.js';
import { Form, button, input, radios, radioValue, select, inset } from '../ui.js';
import { linkPanel } from './link.js';

export const GUEST_ROLES = { interpreter: 'Interpreter', carer: 'Carer' };

// How a person in the call is described: "Amira Haddad (interpreter)".
export function describe(p) {
  const role = p && GUEST_ROLES[p.role];
  return role ? `${p.display_name} (${role.toLowerCase()})` : (p ? p.display_name : '');
}

// The "Add someone to the call" panel. k: the consultation; staffList: the practice team
// ([{id, display_name, roles}]). say: announces to screen readers.
export function invitePanel(app, k, staffList, { say, onInvited }) {
  const body = h('div', { class: 'nhsuk-details__text' });
  const el = h('details', { class: 'nhsuk-details', id: 'invite' },
    h('summary', { class: 'nhsuk-details__summary' }, h('span', { class: 'nhsuk-details__summary-text' }, 'Add someone to the call')),
    body);

  const invited = () => (k.invited || []);
  const draw = (shown) => {
    const who = invited()[0];
    if (who) {
      const guest = !!GUEST_ROLES[who.role];
      const again = guest ? h('button', { class: 'nhsuk-button nhsuk-button--secondary nhsuk-button--small', type: 'button', id: 'guest-link-new' }, 'Make a new link') : null;
      if (again) {
        again.addEventListener('click', async () => {
          again.disabled = true;
          try {
            const r = await app.conn.request('consult.link', { consultation_id: k.id, user_id: who.id });
            draw(r.link);
            say(`A new link for ${who.display_name} is ready. The old one no longer works.`);
          } catch (e) { again.disabled = false; say(e.message); }
        });
      }
      replace(body,
        h('p', { class: 'nhsuk-body', id: 'invite-done' }, `${describe(who)} is invited. The call has room for 3 people.`),
        shown ? linkPanel(shown, who.display_name, { level: 'h3', guest: true }) : null,
        again);
      return;
    }
    const colleagues = staffList.filter((s) => s.id !== app.info.user.id && s.id !== (k.clinician && k.clinician.id));
    const form = new Form({ id: 'invite-form' },
      radios({ id: 'invite-kind', name: 'invite-kind', legend: 'Who do you want to add?', small: true, value: 'interpreter',
        items: [
          { value: 'interpreter', text: 'An interpreter' },
          { value: 'carer', text: 'A carer or family member', hint: 'Someone the patient wants with them' },
          { value: 'colleague', text: 'A colleague from the practice' },
        ] }),
      input({ id: 'invite-name', label: 'Their name', hint: 'Shown to everyone in the call', width: 20, attrs: { maxlength: 80 } }),
      colleagues.length ? select({ id: 'invite-colleague', label: 'Colleague', options: colleagues.map((s) => [s.id, s.display_name]) })
        : h('p', { class: 'nhsuk-body', id: 'invite-colleague' }, 'There is nobody else in the practice team.'),
      button('Add to the call', { id: 'invite-button', secondary: true }));
    const nameGroup = form.el.querySelector('#invite-name').closest('.nhsuk-form-group');
    const colleagueGroup = form.el.querySelector('#invite-colleague').closest('.nhsuk-form-group') || form.el.querySelector('#invite-colleague');
    const sync = () => {
      const kind = radioValue(form.el, 'invite-kind');
      nameGroup.hidden = kind === 'colleague';
      colleagueGroup.hidden = kind !== 'colleague';
    };
    form.el.addEventListener('change', sync);
    sync();
    form.el.addEventListener('submit', async (e) => {
      e.preventDefault();
      const kind = radioValue(form.el, 'invite-kind');
      const req = { consultation_id: k.id };
      if (kind === 'colleague') {
        const sel = form.el.querySelector('select#invite-colleague');
        if (!sel) { form.showErrors([{ text: 'There is nobody else in the practice team to add' }]); return; }
        req.user_id = Number(sel.value);
      } else {
        const name = form.el.querySelector('#invite-name').value.trim();
        if (!name) { form.showErrors([{ field: 'invite-name', text: 'Enter their name' }]); return; }
        if (name.length > 80) { form.showErrors([{ field: 'invite-name', text: 'Name must be 80 characters or fewer' }]); return; }
        req.guest = { display_name: name, role: kind };
      }
      const btn = form.el.querySelector('#invite-button');
      btn.disabled = true;
      try {
        const r = await app.conn.request('consult.invite', req);
        Object.assign(k, r.consultation);
        app.state.putConsult(r.consultation);
        draw(r.link || null);
        const who = invited()[0];
        say(who ? `${describe(who)} is invited` : 'Invited');
        if (onInvited) onInvited(r.consultation);
      } catch (err) {
        btn.disabled = false;
        form.showErrors([{ text: err.message }]);
      }
    });
    replace(body, form.el,
      inset(h('p', null, 'An interpreter or carer gets a link of their own. They do not see the patient’s records or the messages.')));
  };
  draw(null);
  return {
    el,
    refresh() { if (!body.querySelector('#link-panel')) draw(null); },
  };
}
