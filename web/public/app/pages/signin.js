// Sign in: username and password, then the 6-digit code for staff who use two-factor sign-in.
import { h } from '../dom.js';
import { Form, input, button, heading, notification, inset } from '../ui.js';
import * as api from '../api.js';

export async function signinPage(app, _params, main) {
  app.setTitle('Sign in');
  const flash = app.flash;
  app.flash = null;
  let needCode = false;

  const codeGroup = h('div', { hidden: true },
    input({ id: 'totp', label: 'Security code', hint: 'Enter the 6-digit code from your authenticator app',
      width: 5, autocomplete: 'one-time-code', attrs: { inputmode: 'numeric', pattern: '[0-9]*', maxlength: '6' } }));
  const form = new Form({ id: 'signin-form' },
    input({ id: 'username', label: 'Username', autocomplete: 'username', width: 20, attrs: { autocapitalize: 'none' } }),
    input({ id: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', width: 20 }),
    codeGroup,
    button('Sign in', { id: 'signin-button' }));

  main.append(
    h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
      flash ? notification(flash, null, flash.startsWith('You have signed out')) : null,
      heading('Sign in to Parley'),
      h('p', { class: 'nhsuk-body' }, 'Message your GP practice, or work your practice inbox.'),
      form.el,
      inset(h('p', null, 'If you need medical help now, call 111 or go to 111 online. In an emergency, call 999.')))));

  const el = form.el;
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = el.username.value.trim();
    const password = el.password.value;
    const totp = el.totp.value.trim();
    const errs = [];
    if (!username) errs.push({ field: 'username', text: 'Enter your username' });
    if (!password) errs.push({ field: 'password', text: 'Enter your password' });
    if (needCode && !/^\d{6}$/.test(totp)) errs.push({ field: 'totp', text: 'Enter the 6-digit security code' });
    if (errs.length) { form.showErrors(errs); return; }
    const btn = el.querySelector('#signin-button');
    btn.disabled = true;
    try {
      await api.login(username, password, needCode ? totp : undefined);
    } catch (err) {
      btn.disabled = false;
      if (err.code === 'totp_required') {
        const first = !needCode;
        needCode = true;
        codeGroup.hidden = false;
        if (first) { form.clearErrors(); el.totp.focus(); return; }
        form.showErrors([{ field: 'totp', text: 'The security code is not right. Wait for a new code and try again' }]);
        el.totp.value = '';
        return;
      }
      if (err.code === 'unauthorised') {
        form.showErrors([{ field: 'username', text: 'Your username or password is not right' }]);
      } else if (err.code === 'rate_limited') {
        const s = err.retryAfter || 1;
        form.showErrors([{ text: `Too many attempts to sign in. Wait ${s} second${s === 1 ? '' : 's'} and try again` }]);
      } else {
        form.showErrors([{ text: err.message }]);
      }
      return;
    }
    el.password.value = '';
    const ok = await app.startConnection();
    btn.disabled = false;
    if (!ok) { form.showErrors([{ text: 'Signed in, but Parley could not be reached. Try again' }]); return; }
    await app.loadInfo();
    app.navigate(app.info.must_enrol_totp ? '/practice/totp' : app.home(), { replace: true });
  });
}
