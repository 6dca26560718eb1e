import { h } from '../dom.js';
import { dateTime } from '../format.js';

// A join link, shown once: after booking (the patient's), or after inviting an interpreter or
// carer (a guest's, PROTOCOL 8.3). The full address, a copy button and what the person it is
// for needs to know about it. The link holds the token: it is never put in the address bar or
// kept by the page.
export function linkPanel(link, name, { level = 'h2', guest = false } = {}) {
  const url = `${location.origin}${link.path}`;
  const field = h('input', { class: 'nhsuk-input parley-link__url', id: 'join-link', type: 'text', readonly: true, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'join-link-hint' });
  field.value = url;
  const copied = h('p', { class: 'nhsuk-body-s parley-link__copied', role: 'status', id: 'copy-status' });
  const copy = h('button', { class: 'nhsuk-button nhsuk-button--secondary', type: 'button', id: 'copy-link', 'data-module': 'nhsuk-button' }, 'Copy link');
  copy.addEventListener('click', async () => {
    copied.textContent = '';
    try {
      await navigator.clipboard.writeText(url);
      copied.textContent = 'Link copied';
    } catch {
      field.focus();
      field.select();
      let ok = false;
      try { ok = document.execCommand('copy'); } catch { /* not allowed */ }
      copied.textContent = ok ? 'Link copied' : 'The link is selected: copy it with your keyboard or the Edit menu';
    }
  });
  field.addEventListener('focus', () => field.select());
  return h('div', { class: 'nhsuk-card parley-link', id: 'link-panel' },
    h('div', { class: 'nhsuk-card__content' },
      h(level, { class: `nhsuk-card__heading ${level === 'h2' ? 'nhsuk-heading-m' : 'nhsuk-heading-s'}`, id: 'link-heading', tabindex: '-1' }, `Send this link to ${name}`),
      h('div', { class: 'nhsuk-form-group' },
        h('label', { class: 'nhsuk-label', for: 'join-link' }, 'Link to the video consultation'),
        h('div', { class: 'nhsuk-hint', id: 'join-link-hint' }, 'Send it by text message or email from your usual system'),
        field),
      copy, copied,
      h('p', { class: 'nhsuk-body' }, `The link works until ${dateTime(link.expires_at)}, on one phone or computer only. ${guest
        ? `${name} will wait until you let them in. They do not see the patient’s records or the messages.`
        : `${name} will be asked for their date of birth before they can join.`}`),
      h('p', { class: 'nhsuk-body' }, guest
        ? 'This is the only time the link is shown. If it is lost, make a new link here: the old one then stops working.'
        : 'This is the only time the link is shown. If it is lost, get a new link from the list of video consultations: the old one then stops working.')));
}
