// Scenario 3: authorisation in the UI. A patient who types another patient's request into the
// address bar gets a clear error page, and the page fetches nothing of that request. Staff of
// another practice are refused the same way; signed-out visitors go to sign-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot } from './lib/harness.mjs';
import { startClinicalRequest, recordFrames } from './lib/flows.mjs';

let server;
let browser;
let robertsId;
const SECRET_SUBJECT = 'Private worry';
const SECRET_BODY = 'Something I only want my GP to know.';

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const robert = await newPage(browser);
  await signIn(robert, server, 'robert.green');
  robertsId = await startClinicalRequest(robert, { subject: SECRET_SUBJECT, problem: 'A lump', body: SECRET_BODY });
  await robert.context().close();
});
after(async () => { await browser?.close(); await server?.stop(); });

test("a patient cannot open another patient's request by URL", async () => {
  const ann = await newPage(browser);
  const frames = recordFrames(ann);
  await signIn(ann, server, 'ann.taylor');
  await ann.goto(`${server.url}/patient/requests/${robertsId}`);
  const err = ann.locator('#error-page');
  await err.waitFor();
  assert.equal(await err.getAttribute('data-code'), 'forbidden');
  assert.equal(await ann.getByRole('heading', { level: 1 }).innerText(), 'You cannot view this page');
  assert.match(await ann.title(), /^You cannot view this page/);
  await screenshot(ann, 'error-forbidden');

  const sent = frames.sent.map((f) => JSON.parse(f));
  const asked = sent.filter((f) => f.conversation_id === robertsId).map((f) => f.type);
  assert.deepEqual(asked, ['conversation.get'], 'only the access check, then nothing else about it');
  for (const f of frames.received) {
    assert.ok(!f.includes(SECRET_BODY) && !f.includes(SECRET_SUBJECT), `leaked in ${f}`);
  }
  const reply = frames.received.map((f) => JSON.parse(f)).find((f) => f.ok === false);
  assert.equal(reply.error.code, 'forbidden');
  assert.doesNotMatch(await ann.locator('main').innerText(), new RegExp(SECRET_SUBJECT));

  // A request that does not exist is "not found", not an empty page.
  await ann.goto(`${server.url}/patient/requests/999999`);
  await ann.locator('#error-page[data-code="not_found"]').waitFor();
  // Practice pages are not for patients: they land on their own.
  await ann.goto(`${server.url}/practice`);
  await ann.waitForURL(/\/patient$/);
  assert.deepEqual(ann.errors.filter((e) => !/status of 40[34]/.test(e)), []);
});

test("staff of another practice cannot open a practice's request", async () => {
  const hughes = await newPage(browser);
  const frames = recordFrames(hughes);
  await signIn(hughes, server, 'dr.hughes');
  await hughes.goto(`${server.url}/practice/requests/${robertsId}`);
  await hughes.locator('#error-page[data-code="forbidden"]').waitFor();
  for (const f of frames.received) assert.ok(!f.includes(SECRET_BODY) && !f.includes(SECRET_SUBJECT));
  // Nor does it appear in their inbox.
  await hughes.goto(`${server.url}/practice?filter=open`);
  await hughes.locator('#inbox-empty').waitFor();
  await hughes.goto(`${server.url}/patient`);
  await hughes.waitForURL(/\/practice$/);
});

test('signed-out visitors are sent to sign in, and sign-out ends the session', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/patient/requests/${robertsId}`);
  await page.waitForURL(/\/signin$/);
  await signIn(page, server, 'ann.taylor');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/signin$/);
  await page.getByText('You have signed out.').waitFor();
  // The cookie is gone and the session with it: a reload stays signed out.
  await page.goto(`${server.url}/patient`);
  await page.waitForURL(/\/signin$/);
  const cookies = await page.context().cookies();
  assert.equal(cookies.filter((c) => c.name === 'parley_session' && c.value).length, 0);
});

test('the session cookie is Secure, HttpOnly and SameSite=Strict, and script cannot read it', async () => {
  const page = await newPage(browser);
  await signIn(page, server, 'ann.taylor');
  const [c] = (await page.context().cookies()).filter((x) => x.name === 'parley_session');
  assert.ok(c, 'session cookie set');
  assert.equal(c.secure, true);
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('parley_session')), false);
  const res = await page.request.get(`${server.url}/patient`);
  const hdr = res.headers();
  assert.match(hdr['content-security-policy'], /script-src 'self'/);
  assert.doesNotMatch(hdr['content-security-policy'], /unsafe-inline/);
  assert.match(hdr['content-security-policy'], /frame-ancestors 'none'/);
  assert.match(hdr['strict-transport-security'], /max-age=\d+/);
  assert.equal(hdr['x-content-type-options'], 'nosniff');
  assert.equal(hdr['referrer-policy'], 'no-referrer');
  // A state-changing call from another site is refused (CSRF).
  const forged = await page.request.post(`${server.url}/api/v1/logout`, {
    headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, data: '{}',
  });
  assert.equal(forged.status(), 403);
  const form = await page.request.post(`${server.url}/api/v1/logout`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, data: 'a=1',
  });
  assert.equal(form.status(), 403);
  await page.reload();
  await page.getByRole('heading', { name: 'Your requests' }).waitFor(); // still signed in
});
