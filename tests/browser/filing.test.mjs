// Scenario: the record (PROTOCOL 13.5). Ann Taylor starts a request through the UI and Dr Patel
// replies twice; Dr Patel marks the second reply entered in error with a reason, and Ann's page
// shows it struck through with the reason, live. Dr Patel files the whole conversation with a
// coded summary (SNOMED CT 271807003 "Eruption of skin"; a code without its summary first shows
// the NHS.UK error summary): version 1, waiting to be sent; then files again choosing only the
// first reply: version 2, which replaces version 1. A receptionist sees no filing panel and no
// "Mark as entered in error", and the server refuses her anyway. Ann downloads the conversation:
// her message, the flagged reply struck through with the reason, her own words escaped, and
// none of the practice's internal notes. Then Dr Patel files a video consultation from its
// conversation, and the exported record holds it. axe and a screenshot on each new state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { startClinicalRequest } from './lib/flows.mjs';

let server;
let browser;
before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await server?.stop(); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

const call = (page, type, fields) => page.evaluate(([t, f]) => window.parley.conn.request(t, f), [type, fields]);

async function download(page) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download this conversation' }).click()]);
  return { name: dl.suggestedFilename(), html: readFileSync(await dl.path(), 'utf8') };
}

test('a GP marks a reply entered in error and files the conversation twice; the patient downloads it', async () => {
  const ann = await newPage(browser);
  await signIn(ann, server, 'ann.taylor');
  const id = await startClinicalRequest(ann, {
    subject: 'Rash on my arm', problem: 'An itchy red rash on my forearm', body: 'It has spread since Monday.',
  });
  await ann.locator('.parley-transcript').getByText('It has spread since Monday.').waitFor();
  // Words that look like markup stay words: in the page and in the download.
  const tricky = 'Is <b>this</b> & "that" <script>alert(1)</script> OK?';
  await ann.getByLabel('Reply to your practice').fill(tricky);
  await ann.getByRole('button', { name: 'Send reply' }).click();
  await ann.locator('.parley-msg:not(.parley-msg--pending)', { hasText: tricky }).waitFor();
  assert.equal(await ann.getByRole('button', { name: 'Mark as entered in error' }).count(), 0, 'patients mark nothing');
  let annLoads = 0;
  ann.on('load', () => { annLoads++; });

  // ---- Dr Patel replies twice, and adds an internal note ----
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${id}`);
  await gp.locator('.parley-transcript').getByText('It has spread since Monday.').waitFor();
  await gp.getByRole('heading', { name: 'Record' }).waitFor();
  await gp.locator('#filings-none').waitFor();
  const first = 'Please send a photo of the rash.';
  const second = 'Take two paracetamol tablets four times a day.';
  for (const text of [first, second]) {
    await gp.getByLabel('Reply to Ann Taylor').fill(text);
    await gp.getByRole('button', { name: 'Send reply' }).click();
    await gp.locator('.parley-msg:not(.parley-msg--pending)', { hasText: text }).waitFor();
  }
  await ann.getByText(second).waitFor({ timeout: 10000 });
  await call(gp, 'conversation.note', { conversation_id: id, txn_id: 'filing-note-1', body: 'INTERNAL: check the allergy list' });
  await gp.locator('.parley-msg--note').getByText('INTERNAL: check the allergy list').waitFor();
  const firstId = Number(await gp.locator('.parley-transcript .parley-msg', { hasText: first }).getAttribute('data-message-id'));
  await check(gp, 'filing-practice-request');

  // ---- the second reply was meant for someone else: marked entered in error ----
  const wrong = gp.locator('.parley-transcript .parley-msg', { hasText: second });
  await wrong.getByRole('button', { name: 'Mark as entered in error' }).click();
  const reason = wrong.getByLabel('Why is this entered in error?');
  await reason.waitFor();
  assert.equal(await reason.evaluate((el) => el === document.activeElement), true, 'the reason box takes focus');
  await wrong.getByRole('button', { name: 'Mark entered in error' }).click();
  await wrong.locator('.nhsuk-error-message').getByText('Enter why this message is entered in error').waitFor();
  await check(gp, 'filing-mark-form-error');
  // Cancel puts things back as they were.
  await wrong.getByRole('button', { name: 'Cancel' }).click();
  await wrong.getByRole('button', { name: 'Mark as entered in error' }).click();
  await reason.fill('Meant for another patient');
  await wrong.getByRole('button', { name: 'Mark entered in error' }).click();
  await wrong.locator('del').getByText(second).waitFor();
  assert.match(await wrong.locator('.parley-msg__error').innerText(), /Entered in error\s+Marked by Dr Asha Patel today at \d+:\d\d[ap]m: Meant for another patient/);
  assert.equal(await wrong.getByRole('button', { name: 'Mark as entered in error' }).count(), 0, 'marked once only');
  assert.equal(await gp.locator('.parley-transcript .parley-msg', { hasText: first }).locator('del').count(), 0);
  await check(gp, 'filing-marked');

  // Ann's page: struck through, with who, when and why, without a reload.
  const annWrong = ann.locator('.parley-transcript .parley-msg', { hasText: second });
  await annWrong.locator('del').getByText(second).waitFor({ timeout: 10000 });
  await annWrong.getByText(/Marked by Dr Asha Patel today at .*: Meant for another patient/).waitFor({ timeout: 10000 });
  await annWrong.getByText('Entered in error', { exact: true }).waitFor();
  assert.equal(annLoads, 0, 'the flag arrives live');
  await check(ann, 'filing-patient-flagged');

  // ---- filing: a code without its summary is an error ----
  await gp.getByText('File to the patient’s record').click();
  const parts = gp.locator('#file-parts input[type=checkbox]');
  await parts.first().waitFor();
  assert.equal(await parts.count(), 4, 'every message, and no note');
  for (let i = 0; i < 4; i++) assert.equal(await parts.nth(i).isChecked(), true, 'every message is chosen at first');
  assert.equal(await gp.locator('#file-parts').getByText('INTERNAL').count(), 0);
  await gp.getByLabel('SNOMED CT concept id (optional)').fill('271807003');
  await gp.getByRole('button', { name: 'File to record' }).click();
  const summary = gp.locator('.nhsuk-error-summary');
  await summary.getByText('Enter a summary for the SNOMED CT concept id').waitFor();
  assert.match(await gp.title(), /^Error: /);
  assert.equal(await gp.locator('.parley-filing').count(), 0, 'nothing was filed');
  await check(gp, 'filing-error');

  // ---- the whole conversation, with its coded summary: version 1 ----
  await gp.getByLabel('Summary (optional)').fill('Eruption of skin');
  await gp.getByRole('button', { name: 'File to record' }).click();
  const v1 = gp.locator('.parley-filing[data-version="1"]');
  await v1.waitFor();
  await gp.getByText('Version 1 filed to the patient’s record').waitFor();
  assert.equal(await summary.count(), 0, 'the error summary has gone');
  assert.doesNotMatch(await gp.title(), /^Error: /);
  const v1Text = await v1.innerText();
  assert.match(v1Text, /Version 1, filed by Dr Asha Patel today at \d+:\d\d[ap]m/);
  assert.match(v1Text, /Waiting to be sent/);
  assert.match(v1Text, /4 messages\. Summary: Eruption of skin \(SNOMED CT 271807003\)/);
  assert.doesNotMatch(v1Text, /replaces/);
  await check(gp, 'filing-version-1');

  // ---- again, only the first reply: version 2 replaces version 1 ----
  await gp.locator('#file-parts').getByLabel(/Ann Taylor.*It has spread/).uncheck();
  await gp.locator('#file-parts').getByLabel(/Ann Taylor.*Is <b>this/).uncheck();
  await gp.locator('#file-parts').getByLabel(/Take two paracetamol/).uncheck();
  assert.match(await gp.locator('#file-parts').getByLabel(/Take two paracetamol/).evaluate((el) => el.labels[0].textContent), /\(entered in error\)$/);
  await gp.getByRole('button', { name: 'File to record' }).click();
  const v2 = gp.locator('.parley-filing[data-version="2"]');
  await v2.waitFor();
  assert.match(await v2.innerText(), /Version 2, filed by Dr Asha Patel today at .*, replaces version 1/);
  assert.match(await v2.innerText(), /1 message$/m);
  // The newest version is listed first.
  assert.equal(await gp.locator('.parley-filing').first().getAttribute('data-version'), '2');
  const { filings } = await call(gp, 'filing.list', { conversation_id: id });
  assert.deepEqual(filings.map((f) => f.version), [1, 2]);
  assert.equal(filings[0].parts.length, 4);
  assert.deepEqual(filings[1].parts, [firstId]);
  assert.equal(filings[1].replaces_id, filings[0].id);
  assert.equal(filings[1].summary, undefined);
  assert.deepEqual(filings[0].summary, { code: '271807003', display: 'Eruption of skin' });
  await check(gp, 'filing-version-2');

  // The staff's own download keeps the internal note, labelled.
  const staffCopy = await download(gp);
  assert.equal(staffCopy.name, `conversation-${id}.html`);
  assert.match(staffCopy.html, /Internal note<\/span>/);
  assert.match(staffCopy.html, /INTERNAL: check the allergy list/);

  // ---- a receptionist: no filing, no marking; the server says no as well ----
  const rec = await newPage(browser);
  await signIn(rec, server, 'reception.jones');
  await rec.goto(`${server.url}/practice/requests/${id}`);
  await rec.locator('.parley-transcript').getByText('It has spread since Monday.').waitFor();
  await rec.locator('.parley-transcript .parley-msg', { hasText: second }).locator('del').waitFor();
  await rec.getByRole('button', { name: 'Download this conversation' }).waitFor();
  assert.equal(await rec.getByText('File to the patient’s record').count(), 0);
  assert.equal(await rec.getByRole('button', { name: 'File to record' }).count(), 0);
  assert.equal(await rec.getByRole('button', { name: 'Mark as entered in error' }).count(), 0);
  assert.equal(await rec.locator('.parley-filing').count(), 0);
  await check(rec, 'filing-reception');
  const refused = await rec.evaluate((c) => window.parley.conn.request('conversation.file', { conversation_id: c }).then(() => 'filed', (e) => e.code), id);
  assert.equal(refused, 'forbidden');

  // ---- Ann downloads her conversation ----
  const copy = await download(ann);
  assert.equal(copy.name, `conversation-${id}.html`);
  const html = copy.html;
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.match(html, /It has spread since Monday\./);
  assert.match(html, /Please send a photo of the rash\./);
  assert.match(html, /<del>Take two paracetamol tablets four times a day\.<\/del>/);
  assert.match(html, /Entered in error/);
  assert.match(html, /Marked by Dr Asha Patel on .*: Meant for another patient/);
  assert.ok(html.includes('Is &lt;b&gt;this&lt;/b&gt; &amp; "that" &lt;script&gt;alert(1)&lt;/script&gt; OK?'), 'her words are escaped');
  assert.ok(!html.includes('<script'), 'nothing in the file runs');
  assert.ok(!html.includes('INTERNAL'), 'internal notes never reach the patient');
  assert.ok(!html.includes('Internal note'));
  await check(ann, 'filing-patient-download');

  for (const p of [ann, gp, rec]) assert.deepEqual(p.errors, [], 'no script errors or CSP violations');
});

test('a GP files a video consultation from its conversation; the record holds it', async () => {
  const ann = server.logins['ann.taylor'];
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  // A consultation with its chat: the conversation the call page writes to.
  const booked = await gp.evaluate(async (nhs) => {
    const p = await window.parley.conn.request('patient.lookup', { nhs_number: nhs });
    return window.parley.conn.request('consult.book', { patient_id: p.patient.id });
  }, ann.nhs_number);
  const conv = booked.consultation.conversation_id;
  await call(gp, 'conversation.send', { conversation_id: conv, body: 'As discussed on video: emollient twice daily.', txn_id: 'vc-1' });
  await gp.goto(`${server.url}/practice/requests/${conv}`);
  await gp.getByText('File to the patient’s record').click();
  await gp.locator('#file-parts input[type=checkbox]').first().waitFor();
  await gp.getByRole('button', { name: 'File to record' }).click();
  await gp.locator('.parley-filing[data-version="1"]').waitFor();
  const filings = await call(gp, 'filing.list', { conversation_id: conv });
  assert.equal(filings.filings.length, 1);
  assert.equal(filings.filings[0].outbox, 'pending');
  // The record now has that consultation's filing as a DocumentReference.
  const pid = booked.consultation.patient_id;
  const res = await gp.evaluate(async (id) => (await fetch(`/api/v1/patients/${id}/fhir`)).json(), pid);
  const docs = res.entry.map((e) => e.resource).filter((r) => r.resourceType === 'DocumentReference');
  assert.ok(docs.length >= 1, 'the filed consultation is in the record');
  const texts = docs.map((d) => Buffer.from(d.content[0].attachment.data, 'base64').toString('utf8'));
  assert.ok(texts.some((t) => t.includes('emollient twice daily')), 'the consultation’s chat is in its filing');
  assert.deepEqual(gp.errors, []);
});
