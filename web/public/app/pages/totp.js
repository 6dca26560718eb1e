// Two-factor enrolment for staff whose practice requires it: scan the QR code (drawn here, so
// the secret goes nowhere else), then prove the app works with one code.
import qrcode from '/vendor/qrcode.js';
import { h, svg } from '../dom.js';
import { Form, input, button, heading, inset } from '../ui.js';

function qrSvg(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const q = 4; // quiet zone
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + q} ${r + q}h1v1h-1z`;
  return svg('svg', { viewBox: `0 0 ${n + 2 * q} ${n + 2 * q}`, width: 200, height: 200, role: 'img', 'aria-label': 'QR code for your authenticator app', class: 'parley-qr' },
    svg('rect', { width: n + 2 * q, height: n + 2 * q, fill: '#fff' }),
    svg('path', { d, fill: '#000' }));
}

export async function totpPage(app, _p, main) {
  app.setTitle('Set up two-factor sign-in');
  if (!app.info.must_enrol_totp) {
    main.append(heading('Two-factor sign-in'), h('p', { class: 'nhsuk-body' }, 'Two-factor sign-in is already set up for your account.'));
    return;
  }
  const r = await app.conn.request('totp.enrol');
  const grouped = r.secret.match(/.{1,4}/g).join(' ');
  const form = new Form({ id: 'totp-form' },
    input({ id: 'code', label: 'Enter the 6-digit code from the app', width: 5, autocomplete: 'one-time-code',
      attrs: { inputmode: 'numeric', pattern: '[0-9]*', maxlength: '6' } }),
    button('Turn on two-factor sign-in', { id: 'totp-confirm' }));
  main.append(h('div', { class: 'nhsuk-grid-row' }, h('div', { class: 'nhsuk-grid-column-two-thirds' },
    heading('Set up two-factor sign-in'),
    h('p', { class: 'nhsuk-body' }, 'Your practice asks staff to use a code from an authenticator app as well as a password.'),
    h('ol', { class: 'nhsuk-list nhsuk-list--number' },
      h('li', null, 'Open an authenticator app on your phone.'),
      h('li', null, 'Scan this QR code, or type in the key below.'),
      h('li', null, 'Enter the code the app shows.')),
    qrSvg(r.otpauth_uri),
    inset(h('p', null, 'Key: ', h('code', { class: 'parley-secret', id: 'totp-secret' }, grouped))),
    form.el)));
  form.el.addEventListener('submit', async (e) => {
    e.preventDefault();
    const code = form.el.code.value.trim();
    if (!/^\d{6}$/.test(code)) { form.showErrors([{ field: 'code', text: 'Enter the 6-digit code from the app' }]); return; }
    try {
      await app.conn.request('totp.confirm', { code });
      app.info.must_enrol_totp = false;
      app.flash = null;
      app.navigate('/practice', { replace: true });
    } catch (err) {
      form.showErrors([{ field: 'code', text: err.code === 'totp_required' ? 'The code is not right. Wait for a new code and try again' : err.message }]);
    }
  });
}
