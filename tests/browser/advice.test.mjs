// Scenario 8: professional advice (PROTOCOL 11). Dr Patel (Riverside Surgery) asks the
// dermatology service at City Hospital about Ann Taylor, urgently, with a photo; Dr Khan (a
// specialist there, in a second browser context) sees it arrive in the queue without reloading,
// opens it (Ann's identity shows: the demo agreement shares it), claims it, asks a question in
// the thread and asks the GP for more information; the GP sees "Awaiting GP" and the question
// live and answers; the status goes back to in progress; the specialist starts a video call
// from the thread, the GP's page offers to join it live, and both decode each other's video;
// the GP brings Ann in through her own link (date of birth, waiting room, admitted from the
// call page) and all three decode the other two (PROTOCOL 11.6); the specialist ends the call
// and Ann's consultation ends with it; the specialist closes with "Advice given" and the GP's
// page shows the outcome live. The photo opens through attachment.url. axe and a screenshot on
// every new page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { tinyPng } from './lib/files.mjs';
import { decoding } from './lib/video.mjs';

let server;
let browser;
let dir;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ media: true });
  dir = mkdtempSync(path.join(tmpdir(), 'parley-advice-'));
});
after(async () => { await browser?.close(); await server?.stop(); if (dir) rmSync(dir, { recursive: true, force: true }); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

test('a GP asks a specialist with a photo; the specialist claims, asks, and closes with advice, all live', async () => {
  const photo = path.join(dir, 'lesion forearm.png');
  writeFileSync(photo, tinyPng());
  const ann = server.logins['ann.taylor'];

  // ---- the specialist opens the queue first, to see the request arrive ----
  const sp = await newPage(browser);
  await signIn(sp, server, 'dr.khan');
  await sp.waitForURL(/\/practice\/queue$/); // a specialist-only user's home
  await sp.getByRole('heading', { name: 'Advice queue' }).waitFor();
  assert.equal(await sp.getByRole('link', { name: 'Inbox' }).count(), 0, 'no inbox for a specialist-only user');
  await sp.locator('#advice-empty').waitFor();
  await check(sp, 'advice-queue-empty');

  // ---- the GP raises an urgent request with a photo ----
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.getByRole('link', { name: 'Advice', exact: true }).click();
  await gp.waitForURL(/\/practice\/advice$/);
  await gp.locator('#advice-empty').waitFor();
  await check(gp, 'advice-list-empty');
  await gp.getByRole('button', { name: 'Ask a specialist' }).click();
  await gp.waitForURL(/\/practice\/advice\/new$/);
  await gp.getByRole('heading', { name: 'Ask a specialist' }).waitFor();
  await check(gp, 'advice-new');

  // Nothing filled in: the NHS.UK error summary.
  await gp.getByRole('button', { name: 'Send request' }).click();
  const summary = gp.locator('.nhsuk-error-summary');
  await summary.getByText('Select how urgent this is').waitFor();
  await summary.getByText('Enter the patient’s NHS number').waitFor();
  await summary.getByText('Confirm that the patient agrees to share this with the service').waitFor();
  assert.match(await gp.title(), /^Error: /);
  // The urgency error sits under the question's hint, not under one option's.
  assert.equal(await gp.locator('#urgency-hint + .nhsuk-error-message').count(), 1);
  await check(gp, 'advice-new-errors');

  assert.equal(await gp.getByLabel('Specialist service').inputValue() !== '', true);
  await gp.getByLabel('Specialty').selectOption('Dermatology');
  await gp.getByLabel('Urgent').check();
  assert.match(await gp.locator('.nhsuk-radios__hint').last().innerText(), /within 4 hours/);
  await gp.getByLabel('Patient’s NHS number').fill(ann.nhs_number);
  await gp.getByLabel('Clinical question').fill('Is this pigmented lesion suspicious?');
  await gp.getByLabel('Clinical summary').fill('Pigmented lesion, left forearm, changed over 3 months.');
  await gp.getByLabel('Photo or PDF (optional)').setInputFiles(photo);
  await gp.getByLabel('The patient agrees to share this with the service').check();
  await gp.getByRole('button', { name: 'Send request' }).click();
  await gp.waitForURL(/\/practice\/advice\/\d+$/);
  const adviceId = Number(new URL(gp.url()).pathname.split('/').pop());
  await gp.getByRole('heading', { name: /Dermatology/ }).waitFor();
  const details = gp.locator('#advice-details');
  await details.getByText('Urgent').waitFor();
  await details.getByText('New', { exact: true }).waitFor();
  await details.getByText('Ann Taylor').waitFor();
  await gp.locator('.parley-transcript').getByText('Photo attached').waitFor();
  const open = gp.getByRole('link', { name: /Open lesion forearm\.png/ });
  await open.waitFor();
  await check(gp, 'advice-request-gp');

  // The photo opens: a fresh link from attachment.url, downloaded with the GP's session.
  const attId = Number(await open.getAttribute('data-attachment-id'));
  const got = await gp.evaluate(async (id) => {
    const r = await window.parley.conn.request('attachment.url', { attachment_id: id });
    const res = await fetch(r.url, { credentials: 'same-origin' });
    return { ok: res.ok, type: res.headers.get('content-type'), size: (await res.arrayBuffer()).byteLength };
  }, attId);
  assert.deepEqual(got, { ok: true, type: 'image/png', size: tinyPng().length });
  const [download] = await Promise.all([gp.waitForEvent('download'), open.click()]);
  assert.equal(download.suggestedFilename(), 'lesion forearm.png');
  assert.match(gp.url(), new RegExp(`/practice/advice/${adviceId}$`), 'opening the photo leaves the page where it is');

  // The GP's list shows it too.
  await gp.getByRole('link', { name: 'Back to advice requests' }).click();
  const gpRow = gp.locator(`tr[data-advice-id="${adviceId}"]`);
  await gpRow.waitFor();
  assert.match(await gpRow.innerText(), /Ann Taylor.*Dermatology.*City Hospital.*Urgent.*New.*Due.*Not claimed/s);
  await check(gp, 'advice-list');
  await gpRow.getByRole('link').click();
  await gp.waitForURL(new RegExp(`/practice/advice/${adviceId}$`));
  await gp.locator('#advice-details').waitFor();

  // ---- the specialist sees it arrive, without reloading ----
  const spRow = sp.locator(`tr[data-advice-id="${adviceId}"]`);
  await spRow.waitFor({ timeout: 10000 });
  assert.match(await spRow.innerText(), /Ann Taylor.*Riverside Surgery.*Urgent.*New/s);
  await check(sp, 'advice-queue');
  await spRow.getByRole('link').click();
  await sp.waitForURL(new RegExp(`/practice/advice/${adviceId}$`));
  const spDetails = sp.locator('#advice-details');
  await spDetails.getByText('Ann Taylor').waitFor();
  await spDetails.getByText(ann.nhs_number.replace(/^(\d{3})(\d{3})(\d{4})$/, '$1 $2 $3')).waitFor();
  await sp.getByText('Is this pigmented lesion suspicious?').waitFor();
  await sp.getByRole('link', { name: /Open lesion forearm\.png/ }).waitFor();
  await check(sp, 'advice-request-specialist');

  await sp.getByRole('button', { name: 'Claim' }).click();
  await spDetails.getByText('In progress').waitFor();
  await spDetails.getByText('Dr Leila Khan').waitFor();
  await gp.locator('#advice-details').getByText('Dr Leila Khan').waitFor(); // live on the GP's page

  // ---- the specialist asks a question and asks the GP for more information ----
  await sp.getByLabel('Message', { exact: true }).fill('Has it bled, and is there a family history of melanoma?');
  await sp.getByRole('button', { name: 'Send message' }).click();
  await sp.locator('.parley-transcript').getByText('Has it bled').waitFor();
  await sp.getByRole('button', { name: 'Ask the GP for more information' }).click();
  await spDetails.getByText('Awaiting GP').waitFor();

  // ---- the GP sees it live and answers ----
  await gp.locator('#advice-details').getByText('Awaiting GP').waitFor();
  await gp.locator('.parley-transcript').getByText('Has it bled, and is there a family history of melanoma?').waitFor();
  await gp.getByText('The specialist has asked for more information').waitFor();
  await check(gp, 'advice-request-awaiting-gp');
  await gp.getByLabel('Message', { exact: true }).fill('No bleeding. Her mother had a melanoma at 60.');
  await gp.getByRole('button', { name: 'Send message' }).click();
  await gp.locator('#advice-details').getByText('In progress').waitFor();
  await sp.locator('.parley-transcript').getByText('Her mother had a melanoma').waitFor();
  await spDetails.getByText('In progress').waitFor();

  // ---- (4) the specialist escalates to a video call; the GP joins from the thread ----
  await sp.getByRole('button', { name: 'Start a video call' }).click();
  await sp.waitForURL(/\/practice\/consultations\/\d+\/call$/);
  const callPath = new URL(sp.url()).pathname;
  await sp.locator('#call-status').getByText('Connected. Waiting for the practice to join.').waitFor({ timeout: 15000 });
  await gp.locator('#advice-call-note').getByText('Dr Leila Khan started a video call.').waitFor({ timeout: 10000 });
  await check(gp, 'advice-request-call-started');
  await gp.getByRole('button', { name: 'Join the video call' }).click();
  await gp.waitForURL(new RegExp(`${callPath}$`));
  await gp.locator('h1').getByText('Advice call about Ann Taylor').waitFor();
  await decoding(sp, 'specialist', 1);
  await decoding(gp, 'GP', 1);
  await sp.locator('#call-status').getByText('In the call: you and Dr Asha Patel.').waitFor({ timeout: 10000 });
  await check(gp, 'advice-call-gp');
  // The specialist cannot bring the patient in; the GP can.
  assert.equal(await sp.locator('#bring-patient').count(), 0);

  // ---- the GP brings Ann in, through her own link and waiting room ----
  await gp.locator('#bring-patient summary').click();
  await gp.getByRole('button', { name: 'Send Ann Taylor a link' }).click();
  const link = await gp.locator('#join-link').inputValue();
  assert.match(link, /\/join#/);
  const pt = await newPage(browser);
  await pt.goto(link);
  await pt.getByRole('heading', { name: 'What is your date of birth?' }).waitFor();
  await pt.getByLabel('Day').fill('12'); // Ann Taylor's, in the demo data
  await pt.getByLabel('Month').fill('03');
  await pt.getByLabel('Year').fill('1948');
  await pt.getByRole('button', { name: 'Continue' }).click();
  await pt.locator('#waiting-text').waitFor({ timeout: 10000 });
  await gp.getByRole('button', { name: 'Admit Ann Taylor' }).click({ timeout: 10000 });
  await pt.waitForURL(/\/consult\/\d+\/call$/, { timeout: 10000 });
  // Everyone decodes the other two: Ann sees her GP and the specialist.
  await decoding(pt, 'patient', 2);
  await decoding(gp, 'GP', 2);
  await decoding(sp, 'specialist', 2);
  // Her pictures are captioned with both names (the specialist joined first: slot A).
  await pt.locator('#slot-a-caption').getByText('Dr Leila Khan').waitFor({ timeout: 10000 });
  await pt.locator('#slot-b-caption').getByText('Dr Asha Patel').waitFor({ timeout: 10000 });
  await gp.locator('#call-status').getByText(/In the call: you, Dr Leila Khan and Ann Taylor\./).waitFor({ timeout: 10000 });
  await check(pt, 'advice-call-patient');
  // Ann's chat is her own consultation's: the professionals' messages are not in it.
  assert.doesNotMatch(await pt.locator('main').innerText(), /family history of melanoma/);

  // ---- the specialist ends the call: Ann's consultation ends with it ----
  await sp.getByRole('button', { name: 'End call for everyone' }).click();
  await sp.getByRole('button', { name: 'Yes, end the consultation' }).click();
  await sp.locator('#call-ended').waitFor({ timeout: 10000 });
  await gp.locator('#call-ended').waitFor({ timeout: 10000 });
  await pt.locator('#call-ended').waitFor({ timeout: 10000 });
  await sp.getByRole('link', { name: 'Back to the advice request and its messages' }).click();
  await sp.waitForURL(new RegExp(`/practice/advice/${adviceId}$`));
  await gp.goto(`${server.url}/practice/advice/${adviceId}`);
  await gp.locator('#advice-details').waitFor();
  assert.deepEqual(pt.errors, []);

  // ---- the specialist gives advice and closes ----
  await sp.getByLabel('Message', { exact: true }).fill('Refer on the two-week-wait pathway if it changes again; otherwise review in 3 months.');
  await sp.getByRole('button', { name: 'Send message' }).click();
  await sp.locator('.parley-transcript').getByText('two-week-wait').waitFor();
  await sp.getByRole('button', { name: 'Give advice and close' }).click();
  await sp.locator('.nhsuk-error-summary').getByText('Select the outcome').waitFor();
  await sp.getByLabel('Advice given: manage in primary care').check();
  await sp.getByRole('button', { name: 'Give advice and close' }).click();
  await spDetails.getByText('Closed', { exact: true }).waitFor();
  await check(sp, 'advice-request-closed-specialist');

  // ---- the GP's page shows the outcome, live ----
  const gpDetails = gp.locator('#advice-details');
  await gpDetails.getByText('Closed', { exact: true }).waitFor();
  await gpDetails.getByText('Advice given: manage in primary care').waitFor();
  await gp.locator('.parley-transcript').getByText('two-week-wait').waitFor();
  await check(gp, 'advice-request-closed-gp');

  // The GP's request page at 320 px: no sideways scrolling, and still accessible.
  await gp.setViewportSize({ width: 320, height: 800 });
  const [sw, cw] = await gp.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `advice request at 320 px: ${sw}px of content in a ${cw}px viewport`);
  await check(gp, 'advice-request-closed-gp-320');

  // The queue's "Closed" filter lists it; "New" no longer does.
  await sp.goto(`${server.url}/practice/queue?filter=closed`);
  await sp.locator(`tr[data-advice-id="${adviceId}"]`).waitFor();
  await sp.goto(`${server.url}/practice/queue?filter=new`);
  await sp.locator('#advice-empty').waitFor();

  assert.deepEqual(gp.errors, []);
  assert.deepEqual(sp.errors, []);
});

test('a practice with no agreement in force is told why it cannot ask, and cannot read another practice\'s request', async () => {
  const page = await newPage(browser);
  await signIn(page, server, 'dr.hughes'); // Hillside Medical Centre: no agreement with the service
  await page.getByRole('link', { name: 'Advice', exact: true }).click();
  await page.waitForURL(/\/practice\/advice$/);
  await page.getByRole('button', { name: 'Ask a specialist' }).click();
  await page.locator('#no-services').waitFor();
  assert.match(await page.locator('#no-services').innerText(), /no information-sharing agreement in force/);
  assert.equal(await page.locator('form#advice-form').count(), 0);
  await check(page, 'advice-new-no-agreement');
  // Riverside's request (from the test above) is not Hillside's to read.
  await page.goto(`${server.url}/practice/advice/1`);
  await page.locator('h1').waitFor();
  assert.equal(await page.getByText('Ann Taylor').count(), 0);
  assert.equal(await page.locator('#advice-details').count(), 0);
  assert.equal(await page.locator('#error-page').getAttribute('data-code'), 'not_found');
  // Nor is the service's queue: Hillside's GP has no "Advice queue" link.
  assert.equal(await page.getByRole('link', { name: 'Advice queue' }).count(), 0);
});

test('when the agreement ends, the specialist\'s pages hide who the patient is; the GP\'s still show it', async () => {
  // Riverside's request from the first test; the service's admin ends the agreement.
  const admin = await newPage(browser);
  await signIn(admin, server, 'admin.city');
  const ended = await admin.evaluate(async () => {
    const r = await window.parley.conn.request('agreement.list', {});
    const a = r.agreements.find((x) => x.state === 'active');
    return (await window.parley.conn.request('agreement.end', { agreement_id: a.id })).agreement.state;
  });
  assert.equal(ended, 'ended');

  const sp = await newPage(browser);
  await signIn(sp, server, 'dr.khan');
  await sp.goto(`${server.url}/practice/queue?filter=closed`);
  const row = sp.locator('tr[data-advice-id="1"]');
  await row.waitFor();
  assert.match(await row.innerText(), /Patient details hidden/);
  assert.doesNotMatch(await sp.locator('main').innerText(), /Ann Taylor/);
  await sp.goto(`${server.url}/practice/advice/1`);
  await sp.locator('#advice-details').waitFor();
  const details = await sp.locator('main').innerText();
  assert.match(details, /Hidden: no agreement in force that shares the patient’s identity/);
  assert.doesNotMatch(details, /Ann Taylor/);
  assert.doesNotMatch(details, new RegExp(server.logins['ann.taylor'].nhs_number));
  await check(sp, 'advice-request-identity-hidden');

  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/advice/1`);
  await gp.locator('#advice-details').waitFor();
  assert.match(await gp.locator('#advice-details').innerText(), /Ann Taylor/);
  // And the practice can no longer ask that service.
  await gp.goto(`${server.url}/practice/advice/new`);
  await gp.locator('#no-services').waitFor();
  for (const p of [admin, sp, gp]) await p.context().close();
});
