// Scenario 2: offline and resume. The patient's network is cut (context.setOffline); the page
// says so; two messages typed while offline wait; while the patient is away the practice
// replies; when the network is back the page reconnects, resumes from its cursor (so the
// reply arrives) and sends the two messages with the txn ids they were given, each arriving
// exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot } from './lib/harness.mjs';
import { startClinicalRequest, recordFrames } from './lib/flows.mjs';

let server;
let browser;
before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await server?.stop(); });

const count = async (page, text) => page.locator('.parley-msg:not(.parley-msg--pending) .parley-msg__body', { hasText: text }).count();

test('messages typed offline are sent once, and missed events are replayed', async () => {
  const patient = await newPage(browser);
  const frames = recordFrames(patient);
  await signIn(patient, server, 'ann.taylor');
  const id = await startClinicalRequest(patient, { subject: 'Knee pain', problem: 'Sore knee after a fall', body: 'Should I come in?' });
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${id}`);
  await gp.getByText('Should I come in?').waitFor();

  await patient.context().setOffline(true);
  await patient.getByText("You're offline.").waitFor({ timeout: 10000 });

  const first = 'It is swollen this morning.';
  const second = 'I can walk on it, slowly.';
  for (const text of [first, second]) {
    await patient.getByLabel('Reply to your practice').fill(text);
    await patient.getByRole('button', { name: 'Send reply' }).click();
  }
  await patient.locator('.parley-msg--pending').nth(1).waitFor();
  assert.equal(await patient.locator('.parley-msg--pending').count(), 2);
  assert.match(await patient.locator('.parley-msg--pending').first().innerText(), /Waiting to send/);
  // The txn ids were fixed when Send was pressed, offline.
  const offlineTxns = await patient.locator('.parley-msg--pending').evaluateAll((els) => els.map((e) => e.dataset.txn));
  await screenshot(patient, 'patient-offline');

  // While the patient is offline, the practice replies.
  const reply = 'Rest it and use an ice pack. We will call you at 11am.';
  await gp.getByLabel('Reply to Ann Taylor').fill(reply);
  await gp.getByRole('button', { name: 'Send reply' }).click();
  await gp.locator('.parley-msg:not(.parley-msg--pending)', { hasText: reply }).waitFor();
  await patient.waitForTimeout(500);
  assert.equal(await count(patient, first), 0, 'nothing can have been sent while offline');
  assert.equal(await count(gp, first), 0);

  const sentBefore = frames.sent.length;
  await patient.context().setOffline(false);
  await patient.locator('.parley-msg:not(.parley-msg--pending)', { hasText: second }).waitFor({ timeout: 20000 });
  await patient.getByText(reply).waitFor({ timeout: 10000 });
  assert.equal(await patient.locator('.parley-msg--pending').count(), 0);
  assert.equal(await patient.locator('#connection').innerText(), '');

  // The resend used the same txn ids it was given offline, and resumed with a cursor.
  const sent = frames.sent.slice(sentBefore).map((f) => JSON.parse(f));
  const sends = sent.filter((f) => f.type === 'conversation.send');
  assert.deepEqual(sends.map((f) => f.body), [first, second]);
  assert.deepEqual(sends.map((f) => f.txn_id), offlineTxns);
  const subscribe = sent.find((f) => f.type === 'events.subscribe');
  assert.ok(subscribe && Number.isInteger(subscribe.cursor) && subscribe.cursor > 0, 'resumes from its cursor');

  // Each arrived exactly once: on the GP's live page, and after a fresh load on both sides.
  await gp.locator('.parley-msg', { hasText: second }).waitFor({ timeout: 10000 });
  for (const page of [patient, gp]) {
    assert.equal(await count(page, first), 1);
    assert.equal(await count(page, second), 1);
    await page.reload();
    await page.getByText(second).waitFor();
    assert.equal(await count(page, first), 1);
    assert.equal(await count(page, second), 1);
    assert.equal(await count(page, reply), 1);
  }

  // A send the server acknowledged but whose reply was lost: replaying the frame with the
  // same txn id stores nothing new.
  const txn = sends[0].txn_id;
  const dup = await patient.evaluate(async ([conv, t, body]) => {
    const r = await window.parley.conn.request('conversation.send', { conversation_id: conv, txn_id: t, body });
    return r.duplicate;
  }, [id, txn, first]);
  assert.equal(dup, true);
  await patient.reload();
  await patient.getByText(second).waitFor();
  assert.equal(await count(patient, first), 1);

  const errors = patient.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|net::ERR_/.test(e));
  assert.deepEqual(errors, []);
  assert.deepEqual(gp.errors, []);
});

test('a dropped server connection reconnects with back-off and resumes', async () => {
  const patient = await newPage(browser);
  await signIn(patient, server, 'robert.green');
  const id = await startClinicalRequest(patient, { subject: 'Ear ache', problem: 'Ear ache for days', body: 'Left ear.' });
  // Kill the page's socket from inside the page, as a flaky mobile network would.
  await patient.evaluate(() => window.parley.conn.dropped('test drop'));
  await patient.getByText('Connection lost. Reconnecting').waitFor();
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${id}`);
  await gp.getByLabel('Reply to Robert Green').fill('Please see the nurse tomorrow.');
  await gp.getByRole('button', { name: 'Send reply' }).click();
  await patient.getByText('Please see the nurse tomorrow.').waitFor({ timeout: 20000 });
  assert.equal(await patient.locator('#connection').innerText(), '');
  assert.deepEqual(gp.errors, []);
});
