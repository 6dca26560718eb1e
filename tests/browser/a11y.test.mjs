// Scenario 4: accessibility. axe-core (WCAG 2.1 A and AA rules) runs on every page of the app,
// including its error states, and must find no serious or critical violation. The pages must
// also work at 320 CSS pixels wide without sideways scrolling (WCAG 1.4.10, reflow). A
// screenshot of each page goes to tests/browser/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { startClinicalRequest, totpCode } from './lib/flows.mjs';

let server;
let browser;
const checked = [];

before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await server?.stop(); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
  checked.push(name);
}

async function noSideScroll(page, name) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `${name}: ${sw}px of content in a ${cw}px viewport`);
}

test('every patient page, at desktop width and at 320 px', async () => {
  for (const width of [1280, 320]) {
    const sfx = width === 320 ? '-320' : '';
    const page = await newPage(browser, { width, height: 800 });
    const go = async (name) => { await check(page, `${name}${sfx}`); if (width === 320) await noSideScroll(page, name); };
    await page.goto(`${server.url}/signin`);
    await go('signin');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.nhsuk-error-summary').waitFor();
    await go('signin-errors');
    await signIn(page, server, width === 320 ? 'robert.green' : 'ann.taylor');
    await go('patient-home');

    await page.getByRole('button', { name: 'Start a new request' }).click();
    await go('new-route');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('.nhsuk-error-summary').waitFor();
    await go('new-route-errors');
    await page.getByLabel('A medical problem').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await go('new-urgent');
    await page.getByLabel('Yes').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Call 999 now' }).waitFor();
    await go('new-emergency');
    await page.getByRole('link', { name: 'Back', exact: true }).click();
    await page.getByLabel('No').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'About your problem' }).waitFor();
    await go('new-problem');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('.nhsuk-error-summary').waitFor();
    assert.equal(await page.locator('.nhsuk-error-summary li').count(), 3);
    await go('new-problem-errors');
    await page.getByRole('link', { name: 'Back', exact: true }).click();
    await page.getByRole('link', { name: 'Back', exact: true }).click();
    await page.getByLabel('Something else').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'What is your request about?' }).waitFor();
    await go('new-topic');
    await page.getByLabel('A fit note (sick note)').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Tell us about your request' }).waitFor();
    await go('new-details');
    await page.getByLabel('What would you like the practice to know or do?').fill('I need a fit note for two more weeks after my operation.');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Check your request before sending it' }).waitFor();
    await go('new-check');
    await page.getByRole('button', { name: 'Send request' }).click();
    await page.waitForURL(/\/patient\/requests\/\d+$/);
    await page.getByText('Request sent').waitFor();
    await go('patient-request');
    await page.getByRole('link', { name: 'Back to your requests' }).click();
    await page.locator('.parley-request').first().waitFor();
    await go('patient-requests');
    await page.goto(`${server.url}/no/such/page`);
    await go('not-found');
    assert.deepEqual(page.errors.filter((e) => !/status of 404/.test(e)), []);
    await page.context().close();
  }
});

test('every practice page, at desktop width and at 320 px', async () => {
  const patient = await newPage(browser);
  await signIn(patient, server, 'cara.evans');
  await startClinicalRequest(patient, { subject: 'Headaches', problem: 'Headaches every morning', body: 'For two weeks now.' });
  await patient.context().close();
  for (const width of [1280, 320]) {
    const sfx = width === 320 ? '-320' : '';
    const page = await newPage(browser, { width, height: 800 });
    const go = async (name) => { await check(page, `${name}${sfx}`); if (width === 320) await noSideScroll(page, name); };
    await signIn(page, server, 'dr.hughes');
    await page.locator('tr[data-conversation-id]').first().waitFor();
    await go('practice-inbox-new');
    for (const f of ['assigned_to_me', 'awaiting_patient', 'overdue', 'open', 'closed']) {
      await page.goto(`${server.url}/practice?filter=${f}`);
      await page.locator('#inbox table, #inbox-empty').first().waitFor();
      await go(`practice-inbox-${f}`);
    }
    await page.goto(`${server.url}/practice?filter=open`);
    await page.locator('tr[data-conversation-id] a').first().click();
    await page.getByLabel('Reply to Cara Evans').waitFor();
    await page.getByText('Add an internal note').click();
    await page.getByLabel('Internal note').fill(`Seen by Dr Hughes at ${width}px`);
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.locator('.parley-msg--note').first().waitFor();
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.locator('.nhsuk-error-summary').waitFor();
    await go('practice-request-errors');
    await page.getByRole('link', { name: 'Reply templates' }).click();
    await page.getByRole('button', { name: 'Save template' }).click();
    await page.locator('.nhsuk-error-summary').waitFor();
    await go('practice-templates-errors');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('two-factor sign-in: enrolment page, then sign-in with a code', async () => {
  // Hillside now requires two-factor sign-in (as its practice admin would set it).
  execFileSync(process.env.PARLEY_BIN || path.resolve('../../build/parley'),
    ['org', 'set', '--code', 'Y90002', '--require-totp', 'yes', '--data-dir', path.join(server.dir, 'data')], { stdio: 'ignore' });
  const page = await newPage(browser);
  await signIn(page, server, 'dr.hughes');
  await page.waitForURL(/\/practice\/totp$/);
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  await check(page, 'practice-totp');
  const secret = (await page.locator('#totp-secret').innerText()).replace(/\s+/g, '');
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await page.getByLabel('Enter the 6-digit code from the app').fill('000000' === totpCode(secret) ? '111111' : '000000');
  await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
  await page.locator('.nhsuk-error-summary').waitFor();
  await page.getByLabel('Enter the 6-digit code from the app').fill(totpCode(secret));
  await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
  await page.waitForURL(/\/practice$/);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/signin$/);

  // Sign in again: the password alone asks for the code; a wrong code is refused; the next
  // step's code (the current one was used at enrolment) lets them in.
  await page.getByLabel('Username').fill('dr.hughes');
  await page.getByLabel('Password', { exact: true }).fill(server.logins['dr.hughes'].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Security code').waitFor();
  await check(page, 'signin-code');
  await page.getByLabel('Security code').fill(totpCode(secret, 1));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/practice$/);
  assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), []);
});

test('screenshots and axe covered every page', () => {
  for (const name of ['signin', 'patient-home', 'new-check', 'patient-request', 'practice-inbox-new', 'practice-request-errors',
    'practice-templates-errors', 'practice-totp', 'signin-code', 'not-found', 'patient-home-320', 'practice-request-errors-320']) {
    assert.ok(checked.includes(name), `${name} was not checked`);
  }
});

test('the accessibility check itself catches a real violation', async () => {
  // Guards the guard: if axe were not running, every page above would "pass".
  const page = await newPage(browser);
  await page.goto(`${server.url}/signin`);
  await page.locator('h1').waitFor();
  await page.evaluate(() => {
    const b = document.createElement('button');
    document.querySelector('main').append(b); // a button with no name
  });
  const v = await axe(page);
  assert.ok(v.some((x) => x.id === 'button-name'), JSON.stringify(v));
});
