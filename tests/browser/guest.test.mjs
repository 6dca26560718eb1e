// Scenario 7: a three-way video consultation with an interpreter from outside the practice.
// Three Chromium contexts with fake cameras and microphones: the GP books for Ann Taylor and
// waits in the call; Ann joins by her link and is let in; the GP adds an interpreter from the
// call page and reads the interpreter's own link; the interpreter (not signed in, no date of
// birth) opens it, checks their camera in the waiting room and is let in by name; then each of
// the three decodes the other two's video (getStats, per stream). The interpreter has no chat
// and may not read the conversation; the GP ends the call and everyone's page says so. axe and
// a screenshot on every new page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { decoding } from './lib/video.mjs';
import { replayEvents } from './lib/flows.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ media: true });
});
after(async () => { await browser?.close(); await server?.stop(); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

test('the GP adds an interpreter by their own link; three people see each other; the interpreter sees no records', async () => {
  // ---- the GP books for Ann and goes into the call ----
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  const booked = await gp.evaluate(async (nhs) => {
    const p = await window.parley.conn.request('patient.lookup', { nhs_number: nhs });
    return window.parley.conn.request('consult.book', { patient_id: p.patient.id });
  }, server.logins['ann.taylor'].nhs_number);
  const kid = booked.consultation.id;
  await gp.goto(`${server.url}/practice/consultations/${kid}/call`);
  await gp.locator('#call-status').getByText('Connected. Waiting for Ann Taylor to join.').waitFor({ timeout: 15000 });

  // ---- Ann joins by her link and is let in ----
  const patient = await newPage(browser);
  await patient.goto(`${server.url}${booked.link.path}`);
  await patient.getByLabel('Day').fill('12');
  await patient.getByLabel('Month').fill('3');
  await patient.getByLabel('Year').fill('1948');
  await patient.getByRole('button', { name: 'Continue' }).click();
  await patient.locator('#waiting-text').waitFor({ timeout: 10000 });
  await gp.getByRole('button', { name: 'Admit Ann Taylor' }).click();
  await patient.waitForURL(new RegExp(`/consult/${kid}/call$`), { timeout: 10000 });
  await gp.locator('#call-status').getByText('In the call: you and Ann Taylor.').waitFor({ timeout: 15000 });

  // ---- the GP adds an interpreter from the call page ----
  await gp.getByText('Add someone to the call').click();
  await gp.getByLabel('An interpreter').check();
  // A name is needed.
  await gp.getByRole('button', { name: 'Add to the call' }).click();
  await gp.locator('.nhsuk-error-summary').getByText('Enter their name').waitFor();
  await gp.getByLabel('Their name').fill('Amira Haddad');
  await check(gp, 'guest-invite-form');
  await gp.getByRole('button', { name: 'Add to the call' }).click();
  await gp.getByRole('heading', { name: 'Send this link to Amira Haddad' }).waitFor();
  const link = await gp.locator('#join-link').inputValue();
  assert.match(link, new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/guest#[A-Za-z0-9_-]{43}$`));
  assert.match(await gp.locator('#link-panel').innerText(), /wait until you let them in/);
  assert.match(await gp.locator('#invite-done').innerText(), /Amira Haddad \(interpreter\) is invited/);
  await check(gp, 'guest-invite-link');

  // ---- the interpreter opens the link: no date of birth, nothing shown before the server says yes ----
  const guest = await newPage(browser);
  await guest.goto(link);
  await guest.getByRole('heading', { name: 'Join a video consultation' }).waitFor();
  assert.equal(guest.url(), `${server.url}/guest`);
  assert.equal(await guest.evaluate(() => location.hash), '');
  assert.doesNotMatch(await guest.locator('main').innerText(), /Ann|Taylor|Patel|Riverside/);
  assert.equal(await guest.getByLabel('Day').count(), 0);
  await check(guest, 'guest-link');
  await guest.getByRole('button', { name: 'Continue' }).click();
  await guest.waitForURL(new RegExp(`/consult/${kid}$`));
  await guest.locator('#waiting-text').waitFor({ timeout: 10000 });
  await guest.waitForFunction(() => document.getElementById('preview-video').videoWidth > 0, null, { timeout: 10000 });
  await check(guest, 'guest-waiting-room');
  // The guest's session is held to the call: not the patient's conversation, not other pages.
  const refused = await guest.evaluate(async (conv) => {
    try { await window.parley.conn.request('conversation.history', { conversation_id: conv }); return 'allowed'; } catch (e) { return e.code; }
  }, booked.consultation.conversation_id);
  assert.equal(refused, 'forbidden');

  // The practice's list of consultations shows the interpreter waiting too, with a button.
  const list = await gp.context().newPage();
  await list.goto(`${server.url}/practice/consultations`);
  const row = list.locator(`tr[data-consultation-id="${kid}"]`);
  await row.getByText('Amira Haddad (interpreter) in the waiting room now').waitFor({ timeout: 10000 });
  assert.equal(await row.getByRole('button', { name: 'Admit Amira Haddad (interpreter)' }).count(), 1);
  await list.close();

  // ---- the GP lets the interpreter in by name; the patient's page did not move ----
  await gp.getByRole('button', { name: 'Admit Amira Haddad (interpreter)' }).click();
  await guest.waitForURL(new RegExp(`/consult/${kid}/call$`), { timeout: 10000 });
  assert.match(patient.url(), new RegExp(`/consult/${kid}/call$`));

  // ---- three people: each decodes the other two's video ----
  const [g, p, i] = await Promise.all([decoding(gp, 'GP', 2), decoding(patient, 'patient', 2), decoding(guest, 'interpreter', 2)]);
  assert.deepEqual([g.length, p.length, i.length], [2, 2, 2]);
  await gp.locator('#call-status', { hasText: /^In the call: you, (Ann Taylor and Amira Haddad \(interpreter\)|Amira Haddad \(interpreter\) and Ann Taylor)\.$/ }).waitFor({ timeout: 10000 });
  await guest.locator('#call-status', { hasText: /^In the call: you, .*Dr Asha Patel.*\.$/ }).waitFor({ timeout: 10000 });
  await gp.locator('#slot-b').waitFor({ state: 'visible' });
  // Each picture is captioned with whoever the server put in it (consult.slots): slot A is the
  // first other person to join, slot B the second.
  const captions = (pg) => pg.evaluate(() => ['slot-a', 'slot-b'].map((id) => document.getElementById(`${id}-caption`).textContent));
  const want = [[gp, ['Ann Taylor', 'Amira Haddad (interpreter)']], [patient, ['Dr Asha Patel', 'Amira Haddad (interpreter)']], [guest, ['Dr Asha Patel', 'Ann Taylor']]];
  for (const [pg, names] of want) {
    await pg.waitForFunction((n) => ['slot-a', 'slot-b'].every((id, i) => document.getElementById(`${id}-caption`).textContent === n[i]), names, { timeout: 10000 })
      .catch(async () => assert.deepEqual(await captions(pg), names));
  }
  // The interpreter has no chat, cannot end the call and cannot share a screen.
  assert.equal(await guest.locator('#chat').count(), 0);
  assert.equal(await guest.getByRole('button', { name: 'End consultation for everyone' }).count(), 0);
  assert.equal(await guest.getByRole('button', { name: 'Share screen' }).count(), 0);
  await check(gp, 'guest-call-gp');
  await check(guest, 'guest-call-interpreter');
  // The GP's screen reaches both others.
  await gp.getByRole('button', { name: 'Share screen' }).click();
  await gp.getByRole('button', { name: 'Stop sharing screen' }).waitFor();
  await Promise.all([patient, guest].map((pg) => pg.locator('#slot-screen').waitFor({ state: 'visible', timeout: 10000 })));
  await Promise.all([patient, guest].map((pg) => pg.waitForFunction(() => document.getElementById('slot-screen-video').videoWidth > 0, null, { timeout: 10000 })));
  await gp.getByRole('button', { name: 'Stop sharing screen' }).click();
  await Promise.all([patient, guest].map((pg) => pg.locator('#slot-screen').waitFor({ state: 'hidden', timeout: 10000 })));

  // ---- the GP ends it for everyone ----
  await gp.getByRole('button', { name: 'End consultation for everyone' }).click();
  await gp.getByRole('button', { name: 'Yes, end the consultation' }).click();
  await gp.getByRole('heading', { name: 'The consultation has ended' }).waitFor();
  await guest.getByRole('heading', { name: 'The consultation has ended' }).waitFor({ timeout: 10000 });
  await patient.getByRole('heading', { name: 'The consultation has ended' }).waitFor({ timeout: 10000 });
  // The record names the interpreter among the people in it.
  const events = await replayEvents(gp, booked.consultation.conversation_id);
  const ended = events.find((e) => e.type === 'consult.ended');
  assert.deepEqual(ended.participants.map((x) => [x.display_name, x.role]).sort(),
    [['Amira Haddad', 'interpreter'], ['Ann Taylor', 'patient'], ['Dr Asha Patel', 'staff']]);
  for (const t of ['consult.invited', 'consult.waiting', 'consult.admitted']) {
    assert.ok(events.some((e) => e.type === t && e.participant && e.participant.role === 'interpreter'), `${t} for the interpreter`);
  }
  const stored = await gp.evaluate((id) => window.parley.conn.request('consult.get', { consultation_id: id }), kid);
  assert.equal(stored.consultation.status, 'ended');
  assert.deepEqual(stored.consultation.invited.map((x) => [x.display_name, x.role, x.admitted]), [['Amira Haddad', 'interpreter', true]]);
  // The link is spent.
  const again = await newPage(browser);
  await again.goto(link);
  await again.getByRole('button', { name: 'Continue' }).click();
  await again.getByRole('heading', { name: 'This link is not valid' }).waitFor();
  for (const pg of [gp, patient, guest, again]) await pg.context().close();
});
