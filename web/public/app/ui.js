// NHS.UK design system components, built as DOM. The markup follows nhsuk-frontend's own
// templates so its stylesheet and scripts apply unchanged.
import { h } from './dom.js';

export function heading(text, caption) {
  return h('h1', { class: 'nhsuk-heading-l', tabindex: '-1', id: 'page-heading' },
    caption ? h('span', { class: 'nhsuk-caption-l' }, caption, h('span', { class: 'nhsuk-u-visually-hidden' }, ' - ')) : null,
    text);
}

export function backLink(href, text = 'Back') {
  return h('a', { class: 'nhsuk-back-link', href }, text);
}

export function button(text, attrs = {}) {
  const cls = ['nhsuk-button', attrs.secondary ? 'nhsuk-button--secondary' : '',
    attrs.warning ? 'nhsuk-button--warning' : '', attrs.small ? 'nhsuk-button--small' : '']
    .filter(Boolean).join(' ');
  const { secondary, warning, small, ...rest } = attrs;
  return h('button', { class: cls, type: 'submit', 'data-module': 'nhsuk-button', ...rest }, text);
}

export function tag(text, cls) {
  return h('strong', { class: `nhsuk-tag ${cls || ''}`.trim() }, text);
}

export function inset(...children) {
  return h('div', { class: 'nhsuk-inset-text' },
    h('span', { class: 'nhsuk-u-visually-hidden' }, 'Information: '), ...children);
}

export function warning(title, ...children) {
  return h('div', { class: 'nhsuk-card nhsuk-card--warning' },
    h('div', { class: 'nhsuk-card__content' },
      h('h2', { class: 'nhsuk-card__heading nhsuk-heading-m' }, title), ...children));
}

export function card(title, href, ...body) {
  return h('div', { class: `nhsuk-card${href ? ' nhsuk-card--clickable' : ''}` },
    h('div', { class: 'nhsuk-card__content' },
      h('h2', { class: 'nhsuk-card__heading nhsuk-heading-m' },
        href ? h('a', { class: 'nhsuk-card__link', href }, title) : title),
      ...body));
}

export function summaryList(rows) {
  return h('dl', { class: 'nhsuk-summary-list' }, rows.filter(Boolean).map(([k, v, action]) =>
    h('div', { class: 'nhsuk-summary-list__row' },
      h('dt', { class: 'nhsuk-summary-list__key' }, k),
      h('dd', { class: 'nhsuk-summary-list__value' }, v),
      action ? h('dd', { class: 'nhsuk-summary-list__actions' },
        h('a', { href: action.href }, action.text, h('span', { class: 'nhsuk-u-visually-hidden' }, ` ${k.toLowerCase()}`))) : null)));
}

// The NHS.UK error summary: a list of links to the fields in error, focused when shown.
export function errorSummary(errors) {
  return h('div', { class: 'nhsuk-error-summary', 'aria-labelledby': 'error-summary-title', tabindex: '-1' },
    h('div', { role: 'alert' },
      h('h2', { class: 'nhsuk-error-summary__heading', id: 'error-summary-title' }, 'There is a problem'),
      h('div', { class: 'nhsuk-error-summary__body' },
        h('ul', { class: 'nhsuk-list nhsuk-error-summary__list' },
          errors.map((e) => h('li', null, e.field
            ? h('a', { href: `#${e.field}`, onclick: (ev) => { ev.preventDefault(); focusField(e.field); } }, e.text)
            : e.text))))));
}

function focusField(id) {
  const el = document.getElementById(id);
  if (!el) return;
  el.focus();
  const group = el.closest('.nhsuk-form-group');
  (group || el).scrollIntoView({ block: 'start' });
}

// A form that validates itself, shows the error summary and field errors in the NHS.UK
// pattern, and prefixes the page title with "Error:" while errors show.
export class Form {
  constructor(attrs, ...children) {
    this.summary = h('div');
    this.el = h('form', { novalidate: true, ...attrs }, this.summary, ...children);
  }

  clearErrors() {
    this.summary.replaceChildren();
    for (const g of this.el.querySelectorAll('.nhsuk-form-group--error')) {
      g.classList.remove('nhsuk-form-group--error');
      for (const m of g.querySelectorAll('.nhsuk-error-message')) m.remove();
      for (const i of g.querySelectorAll('.nhsuk-input--error, .nhsuk-textarea--error, .nhsuk-select--error')) {
        i.classList.remove('nhsuk-input--error', 'nhsuk-textarea--error', 'nhsuk-select--error');
        const d = (i.getAttribute('aria-describedby') || '').split(' ').filter((x) => !x.endsWith('-error'));
        if (d.length) i.setAttribute('aria-describedby', d.join(' ')); else i.removeAttribute('aria-describedby');
      }
    }
    document.title = document.title.replace(/^Error: /, '');
  }

  // errors: [{field, text}], field = the id of the input (or first radio) in error.
  showErrors(errors) {
    this.clearErrors();
    if (!errors.length) return;
    for (const e of errors) {
      if (!e.field) continue;
      const input = document.getElementById(e.field);
      // A date input's parts each sit in their own small group: the error belongs to the
      // whole date's group, as in the NHS.UK pattern.
      const group = input && ((input.closest('.nhsuk-date-input') || input).closest('.nhsuk-form-group'));
      if (!group) continue;
      group.classList.add('nhsuk-form-group--error');
      const msgId = `${e.field}-error`;
      const msg = h('span', { class: 'nhsuk-error-message', id: msgId },
        h('span', { class: 'nhsuk-u-visually-hidden' }, 'Error: '), e.text);
      const anchor = group.querySelector('.nhsuk-hint') || group.querySelector('legend') || group.querySelector('label');
      if (anchor && anchor.tagName !== 'LEGEND') anchor.after(msg);
      else if (anchor) anchor.after(msg);
      else group.prepend(msg);
      // e.inputs: only these inputs of the group are in error (one part of a date).
      const targets = e.inputs ? e.inputs.map((x) => document.getElementById(x)).filter(Boolean)
        : group.querySelectorAll('input:not([type=radio]), textarea, select');
      for (const t of targets) {
        t.classList.add(t.tagName === 'TEXTAREA' ? 'nhsuk-textarea--error' : t.tagName === 'SELECT' ? 'nhsuk-select--error' : 'nhsuk-input--error');
        t.setAttribute('aria-describedby', `${t.getAttribute('aria-describedby') || ''} ${msgId}`.trim());
      }
      const fs = group.querySelector('fieldset');
      if (fs) fs.setAttribute('aria-describedby', `${fs.getAttribute('aria-describedby') || ''} ${msgId}`.trim());
    }
    const s = errorSummary(errors);
    this.summary.append(s);
    if (!document.title.startsWith('Error: ')) document.title = `Error: ${document.title}`;
    s.focus();
  }
}

function hintEl(id, hint) {
  return hint ? h('div', { class: 'nhsuk-hint', id: `${id}-hint` }, hint) : null;
}

export function input({ id, name, label, hint, type = 'text', value, autocomplete, width, attrs = {}, pageHeading }) {
  const lbl = h('label', { class: `nhsuk-label${pageHeading ? ' nhsuk-label--l' : ''}`, for: id }, label);
  return h('div', { class: 'nhsuk-form-group' },
    pageHeading ? h('h1', { class: 'nhsuk-label-wrapper' }, lbl) : lbl,
    hintEl(id, hint),
    h('input', {
      class: `nhsuk-input${width ? ` nhsuk-input--width-${width}` : ''}`, id, name: name || id, type,
      value, autocomplete, spellcheck: type === 'text' ? 'false' : null,
      'aria-describedby': hint ? `${id}-hint` : null, ...attrs,
    }));
}

export function textarea({ id, name, label, hint, rows = 5, value, attrs = {}, labelClass }) {
  const t = h('textarea', {
    class: 'nhsuk-textarea', id, name: name || id, rows,
    'aria-describedby': hint ? `${id}-hint` : null, ...attrs,
  });
  if (value) t.value = value;
  return h('div', { class: 'nhsuk-form-group' },
    h('label', { class: `nhsuk-label ${labelClass || ''}`.trim(), for: id }, label),
    hintEl(id, hint), t);
}

export function select({ id, name, label, hint, options, value, attrs = {} }) {
  return h('div', { class: 'nhsuk-form-group' },
    h('label', { class: 'nhsuk-label', for: id }, label),
    hintEl(id, hint),
    h('select', { class: 'nhsuk-select', id, name: name || id, 'aria-describedby': hint ? `${id}-hint` : null, ...attrs },
      options.map(([v, t]) => h('option', { value: v, selected: String(v) === String(value) }, t))));
}

// The NHS.UK date input: day, month and year in a fieldset. Error links go to `${id}-day`.
export function dateInput({ id, legend, hint, pageHeading, caption, values = {}, autocomplete }) {
  const item = (part, label, width) => h('div', { class: 'nhsuk-date-input__item' },
    h('div', { class: 'nhsuk-form-group' },
      h('label', { class: 'nhsuk-label nhsuk-date-input__label', for: `${id}-${part}` }, label),
      h('input', {
        class: `nhsuk-input nhsuk-date-input__input nhsuk-input--width-${width}`, id: `${id}-${part}`, name: `${id}-${part}`,
        type: 'text', inputmode: 'numeric', value: values[part], autocomplete: autocomplete ? `${autocomplete}-${part}` : null,
      })));
  return h('div', { class: 'nhsuk-form-group' },
    h('fieldset', { class: 'nhsuk-fieldset', role: 'group', 'aria-describedby': hint ? `${id}-hint` : null },
      h('legend', { class: `nhsuk-fieldset__legend ${pageHeading ? 'nhsuk-fieldset__legend--l' : 'nhsuk-fieldset__legend--s'}` },
        pageHeading ? h('h1', { class: 'nhsuk-fieldset__heading' },
          caption ? h('span', { class: 'nhsuk-caption-l' }, caption, h('span', { class: 'nhsuk-u-visually-hidden' }, ' - ')) : null,
          legend) : legend),
      hintEl(id, hint),
      h('div', { class: 'nhsuk-date-input', id },
        item('day', 'Day', 2), item('month', 'Month', 2), item('year', 'Year', 4))));
}

// Reads a date input: {iso: "YYYY-MM-DD", date} when it holds a real date, else {error}: an
// error for Form.showErrors ({field, inputs, text}) in NHS.UK words.
export function readDate(form, id, what) {
  const v = {};
  for (const p of ['day', 'month', 'year']) v[p] = form.querySelector(`#${id}-${p}`).value.trim();
  const missing = ['day', 'month', 'year'].filter((p) => !v[p]);
  if (missing.length === 3) return { error: { field: `${id}-day`, text: `Enter ${what}` } };
  if (missing.length) {
    return { error: { field: `${id}-${missing[0]}`, inputs: missing.map((p) => `${id}-${p}`), text: `${what[0].toUpperCase()}${what.slice(1)} must include a ${missing.join(' and a ')}` } };
  }
  const d = Number(v.day), m = Number(v.month), y = Number(v.year);
  const bad = (inputs, text) => ({ error: { field: inputs[0], inputs, text } });
  if (!/^\d{1,2}$/.test(v.day) || !/^\d{1,2}$/.test(v.month) || !/^\d{4}$/.test(v.year)) {
    return bad([`${id}-day`, `${id}-month`, `${id}-year`], `${what[0].toUpperCase()}${what.slice(1)} must be a real date`);
  }
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (m < 1 || m > 12 || d < 1 || dt.getUTCDate() !== d || dt.getUTCMonth() !== m - 1) {
    return bad([`${id}-day`, `${id}-month`, `${id}-year`], `${what[0].toUpperCase()}${what.slice(1)} must be a real date`);
  }
  return { iso: `${v.year}-${v.month.padStart(2, '0')}-${v.day.padStart(2, '0')}`, date: dt };
}

// Radios in a fieldset. The first radio's id is `id`, so error links land on it.
export function radios({ id, name, legend, hint, items, value, pageHeading, small }) {
  const legendEl = h('legend', { class: `nhsuk-fieldset__legend ${pageHeading ? 'nhsuk-fieldset__legend--l' : 'nhsuk-fieldset__legend--s'}` },
    pageHeading ? h('h1', { class: 'nhsuk-fieldset__heading' }, legend) : legend);
  return h('div', { class: 'nhsuk-form-group' },
    h('fieldset', { class: 'nhsuk-fieldset', 'aria-describedby': hint ? `${id}-hint` : null },
      legendEl, hintEl(id, hint),
      h('div', { class: `nhsuk-radios${small ? ' nhsuk-radios--small' : ''}`, 'data-module': 'nhsuk-radios' },
        items.map((it, i) => {
          const rid = i === 0 ? id : `${id}-${i + 1}`;
          return h('div', { class: 'nhsuk-radios__item' },
            h('input', { class: 'nhsuk-radios__input', id: rid, name: name || id, type: 'radio', value: it.value, checked: it.value === value,
              'aria-describedby': it.hint ? `${rid}-item-hint` : null }),
            h('label', { class: 'nhsuk-label nhsuk-radios__label', for: rid }, it.text),
            it.hint ? h('div', { class: 'nhsuk-hint nhsuk-radios__hint', id: `${rid}-item-hint` }, it.hint) : null);
        }))));
}

export function radioValue(form, name) {
  const r = form.querySelector(`input[name="${name}"]:checked`);
  return r ? r.value : '';
}

export function notification(title, body, success) {
  return h('div', {
    class: `nhsuk-notification-banner${success ? ' nhsuk-notification-banner--success' : ''}`,
    role: success ? 'alert' : 'region', 'aria-labelledby': 'banner-title', 'data-module': 'nhsuk-notification-banner',
  },
  h('div', { class: 'nhsuk-notification-banner__header' },
    h('h2', { class: 'nhsuk-notification-banner__title', id: 'banner-title' }, success ? 'Success' : 'Important')),
  h('div', { class: 'nhsuk-notification-banner__content' },
    h('p', { class: 'nhsuk-notification-banner__heading' }, title),
    body ? h('p', { class: 'nhsuk-body' }, body) : null));
}

// One checkbox in a fieldset (the NHS.UK pattern for a single required tick). An error shows
// under the legend; the checkbox's id is `id`, so the error summary's link lands on it.
export function checkbox({ id, name, legend, text, hint, checked }) {
  return h('div', { class: 'nhsuk-form-group' },
    h('fieldset', { class: 'nhsuk-fieldset', 'aria-describedby': hint ? `${id}-hint` : null },
      h('legend', { class: 'nhsuk-fieldset__legend nhsuk-fieldset__legend--s' }, legend),
      hintEl(id, hint),
      h('div', { class: 'nhsuk-checkboxes', 'data-module': 'nhsuk-checkboxes' },
        h('div', { class: 'nhsuk-checkboxes__item' },
          h('input', { class: 'nhsuk-checkboxes__input', id, name: name || id, type: 'checkbox', value: 'yes', checked: !!checked }),
          h('label', { class: 'nhsuk-label nhsuk-checkboxes__label', for: id }, text)))));
}
