// Scenario 5: a video consultation, end to end, with real WebRTC between two Chromium
// contexts through Parley's media server on loopback. The GP books it by NHS number and reads
// the link; the patient (not signed in) opens the link, gets the date of birth wrong, then
// right, and waits with a camera preview; the GP sees them waiting, live, and admits them; both
// are in the call and media flows both ways (checked with getStats); the patient's message
// reaches the GP; the GP ends the call for everyone and the patient's page says so; the stored
// consultation and its events are checked. axe and a screenshot on every new page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe, writeToneWav } from './lib/harness.mjs';
import { startClinicalRequest, replayEvents, inboundMedia } from './lib/flows.mjs';

let server;
let browser;
let dir;

before(async () => {
  server = await startServer();
  // Both fake microphones play a steady tone, so the media server has a speaker to name.
  dir = mkdtempSync(path.join(tmpdir(), 'parley-consult-'));
  writeToneWav(path.join(dir, 'tone.wav'));
  browser = await launchBrowser({ media: true, audioFile: path.join(dir, 'tone.wav') });
});
after(async () => { await browser?.close(); await server?.stop(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

async function noSideScroll(page, name) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `${name}: ${sw}px of content in a ${cw}px viewport`);
}

// Waits until the page's call is connected, then returns its inbound counters.
async function connected(page, who) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const m = await inboundMedia(page);
    if (m && m.state === 'connected') return m;
    if (Date.now() > deadline) throw new Error(`${who}: the call did not connect: ${JSON.stringify(m)}`);
    await sleep(200);
  }
}

test('book by NHS number, join by link, wait, admit, call with media both ways, chat, end', async () => {
  // ---- the GP books ----
  const gp = await newPage(browser);
  await gp.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await signIn(gp, server, 'dr.patel');
  await gp.getByRole('link', { name: 'Video consultations' }).click();
  await gp.waitForURL(/\/practice\/consultations$/);
  await gp.getByText('There are no video consultations today.').waitFor();
  await check(gp, 'consult-list-empty');

  // An NHS number of nobody at this practice, then Ann Taylor's.
  await gp.getByLabel('Patient’s NHS number').fill('123');
  await gp.getByRole('button', { name: 'Book video consultation' }).click();
  await gp.locator('.nhsuk-error-summary').getByText('NHS number must be 10 digits').waitFor();
  assert.match(await gp.title(), /^Error: /);
  await gp.getByLabel('Patient’s NHS number').fill(server.logins['ann.taylor'].nhs_number);
  await gp.getByRole('button', { name: 'Book video consultation' }).click();
  await gp.getByRole('heading', { name: 'Send this link to Ann Taylor' }).waitFor();
  const link = await gp.locator('#join-link').inputValue();
  assert.match(link, new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/join#[A-Za-z0-9_-]{43}$`));
  assert.match(await gp.locator('#link-panel').innerText(), /works until .*one phone or computer only/s);
  await gp.getByRole('button', { name: 'Copy link' }).click();
  await gp.locator('#copy-status').getByText('Link copied').waitFor();
  assert.equal(await gp.evaluate(() => navigator.clipboard.readText()), link);
  const row = gp.locator('#consults-today tr[data-consultation-id]');
  await row.first().waitFor();
  const kid = Number(await row.first().getAttribute('data-consultation-id'));
  assert.equal(await row.first().getAttribute('data-status'), 'booked');
  await check(gp, 'consult-list-booked');
  let gpLoads = 0;
  gp.on('load', () => { gpLoads++; });

  // ---- the patient opens the link, in a browser that is not signed in ----
  const patient = await newPage(browser);
  await patient.goto(link);
  await patient.getByRole('heading', { name: 'What is your date of birth?' }).waitFor();
  // The token left the address bar (and so the history entry) at once.
  assert.equal(patient.url(), `${server.url}/join`);
  assert.equal(await patient.evaluate(() => location.hash), '');
  // Nothing about the consultation before the check.
  const before = await patient.locator('main').innerText();
  assert.doesNotMatch(before, /Ann|Taylor|Patel|Riverside/);
  await check(patient, 'consult-join');

  await patient.getByLabel('Day').fill('1');
  await patient.getByLabel('Month').fill('1');
  await patient.getByLabel('Year').fill('1950');
  await patient.getByRole('button', { name: 'Continue' }).click();
  await patient.locator('.nhsuk-error-summary').getByText('The date of birth does not match').waitFor();
  assert.match(await patient.title(), /^Error: /);
  assert.equal(await patient.locator('#dob-year.nhsuk-input--error').count(), 1);
  await check(patient, 'consult-join-errors');

  await patient.getByLabel('Day').fill('12');
  await patient.getByLabel('Month').fill('03');
  await patient.getByLabel('Year').fill('1948');
  await patient.getByRole('button', { name: 'Continue' }).click();
  await patient.waitForURL(new RegExp(`/consult/${kid}$`));
  const waiting = patient.locator('#waiting-text');
  await waiting.waitFor({ timeout: 10000 });
  assert.equal(await waiting.innerText(), "You're in the waiting room. Dr Asha Patel will let you in.");
  // The camera preview plays, and both devices can be chosen.
  await patient.waitForFunction(() => document.getElementById('preview-video').videoWidth > 0, null, { timeout: 10000 });
  assert.ok(await patient.locator('#camera option').count() >= 1);
  assert.ok(await patient.locator('#microphone option').count() >= 1);
  await check(patient, 'consult-waiting-room');
  await patient.setViewportSize({ width: 320, height: 800 });
  await noSideScroll(patient, 'waiting room');
  await screenshot(patient, 'consult-waiting-room-320');
  await patient.setViewportSize({ width: 1280, height: 900 });

  // The same link on another device is refused, before any date of birth is checked.
  const other = await newPage(browser);
  await other.goto(link);
  await other.getByLabel('Day').fill('12');
  await other.getByLabel('Month').fill('3');
  await other.getByLabel('Year').fill('1948');
  await other.getByRole('button', { name: 'Continue' }).click();
  await other.getByRole('heading', { name: 'This link has been used on another device' }).waitFor();
  await check(other, 'consult-join-other-device');
  await other.context().close();

  // ---- the GP sees her waiting, live, and lets her in ----
  const waitingRow = gp.locator(`tr.parley-consult--waiting[data-consultation-id="${kid}"]`);
  await waitingRow.waitFor({ timeout: 10000 });
  assert.match(await waitingRow.innerText(), /In the waiting room now/);
  await gp.locator('#consult-live').getByText('Ann Taylor is in the waiting room').waitFor();
  assert.equal(gpLoads, 0, 'the list must update without reloading');
  await check(gp, 'consult-list-waiting');
  await gp.setViewportSize({ width: 320, height: 800 });
  await noSideScroll(gp, 'consultations');
  await screenshot(gp, 'consult-list-waiting-320');
  await gp.setViewportSize({ width: 1280, height: 900 });
  await waitingRow.getByRole('button', { name: 'Admit Ann Taylor' }).click();
  // The patient's page goes to the call by itself.
  await patient.waitForURL(new RegExp(`/consult/${kid}/call$`), { timeout: 10000 });
  await gp.locator(`tr[data-consultation-id="${kid}"][data-status="in_call"]`).waitFor();
  await gp.getByRole('button', { name: 'Join call with Ann Taylor' }).click();
  await gp.waitForURL(new RegExp(`/practice/consultations/${kid}/call$`));

  // ---- both in the call: media flows both ways ----
  const [g0, p0] = await Promise.all([connected(gp, 'GP'), connected(patient, 'patient')]);
  await sleep(5000);
  const [g1, p1] = await Promise.all([inboundMedia(gp), inboundMedia(patient)]);
  assert.ok(g1.framesDecoded > g0.framesDecoded && g1.framesDecoded > 30, `GP decodes the patient's video: ${JSON.stringify([g0, g1])}`);
  assert.ok(p1.framesDecoded > p0.framesDecoded && p1.framesDecoded > 30, `patient decodes the GP's video: ${JSON.stringify([p0, p1])}`);
  assert.ok(g1.audioPackets > g0.audioPackets, `GP receives the patient's audio: ${JSON.stringify([g0, g1])}`);
  assert.ok(p1.audioPackets > p0.audioPackets, `patient receives the GP's audio: ${JSON.stringify([p0, p1])}`);
  await gp.locator('#call-status').getByText('In the call: you and Ann Taylor.').waitFor({ timeout: 10000 });
  await patient.locator('#call-status').getByText('In the call: you and Dr Asha Patel.').waitFor({ timeout: 10000 });
  await gp.waitForFunction(() => document.getElementById('slot-a-video').videoWidth > 0);
  // The media server says who is speaking (consult.speaker, from the audio levels).
  await gp.locator('#call-speaker', { hasText: /^Speaking: (you|Ann Taylor)$/ }).waitFor({ timeout: 10000 });

  // An ICE restart, as after a network change (consult.reoffer): new ICE credentials on both
  // sides, the same call, and the media goes on.
  const ufrags = (p) => p.evaluate(() => [window.parley.call.pc.localDescription.sdp, window.parley.call.pc.remoteDescription.sdp]
    .map((sdp) => /a=ice-ufrag:(\S+)/.exec(sdp)[1]));
  const u0 = await ufrags(patient);
  await patient.evaluate(() => window.parley.call.restartIce(true));
  await patient.waitForFunction(() => window.parley.call.reoffers === 1, null, { timeout: 10000 });
  const u1 = await ufrags(patient);
  assert.ok(u1[0] !== u0[0] && u1[1] !== u0[1], `new ICE credentials: ${u0} -> ${u1}`);
  // (Chromium may start new inbound stream statistics after the restart, as the server's
  // answer names no SSRCs yet: so look for frames rising over a second, a few times.)
  let rising = false;
  const seen = [];
  for (let i = 0; i < 6 && !rising; i++) {
    const r0 = await inboundMedia(patient);
    await sleep(1000);
    const r1 = await inboundMedia(patient);
    seen.push([r0, r1]);
    rising = r1.state === 'connected' && r1.framesDecoded > r0.framesDecoded && r1.audioPackets > r0.audioPackets;
  }
  assert.ok(rising, `media after the restart: ${JSON.stringify(seen)}`);
  await check(gp, 'consult-call-gp');
  await check(patient, 'consult-call-patient');
  assert.equal(await patient.getByRole('button', { name: 'End consultation for everyone' }).count(), 0);
  assert.equal(await patient.getByRole('button', { name: 'Share screen' }).count(), 0);
  await patient.setViewportSize({ width: 320, height: 800 });
  await noSideScroll(patient, 'call');
  await screenshot(patient, 'consult-call-patient-320');
  await patient.setViewportSize({ width: 1280, height: 900 });

  // Mute and camera off, and back, by keyboard.
  await patient.getByRole('button', { name: 'Mute microphone' }).focus();
  await patient.keyboard.press('Enter');
  await patient.getByRole('button', { name: 'Unmute microphone' }).waitFor();
  assert.equal(await patient.evaluate(() => window.parley.media.audio.enabled), false);
  await patient.keyboard.press('Enter');
  await patient.getByRole('button', { name: 'Mute microphone' }).waitFor();
  await patient.getByRole('button', { name: 'Turn camera off' }).click();
  await patient.locator('#slot-self-placeholder', { hasText: 'Your camera is off' }).waitFor();
  await gp.locator('#slot-a-placeholder', { hasText: 'Ann Taylor’s camera is off' }).waitFor({ timeout: 10000 });
  await patient.getByRole('button', { name: 'Turn camera on' }).click();
  await gp.locator('#slot-a-placeholder').waitFor({ state: 'hidden', timeout: 10000 });

  // ---- chat: stored in the consultation's conversation ----
  await patient.getByLabel('Send a message').fill('Can you hear me? The rash is on my left arm.');
  await patient.getByRole('button', { name: 'Send message' }).click();
  await gp.locator('.parley-msg').getByText('The rash is on my left arm.').waitFor({ timeout: 10000 });

  // The GP shares a screen (the fake capture); the patient sees it, then it stops.
  await gp.getByRole('button', { name: 'Share screen' }).click();
  await gp.getByRole('button', { name: 'Stop sharing screen' }).waitFor();
  await patient.locator('#slot-screen').waitFor({ state: 'visible', timeout: 10000 });
  await screenshot(patient, 'consult-call-patient-screen-share');
  await gp.getByRole('button', { name: 'Stop sharing screen' }).click();
  await patient.locator('#slot-screen').waitFor({ state: 'hidden', timeout: 10000 });

  // ---- the GP ends it for everyone ----
  await gp.getByRole('button', { name: 'End consultation for everyone' }).click();
  await gp.getByRole('heading', { name: 'End the consultation for everyone?' }).waitFor();
  await screenshot(gp, 'consult-call-gp-confirm-end');
  await gp.getByRole('button', { name: 'Yes, end the consultation' }).click();
  await gp.getByRole('heading', { name: 'The consultation has ended' }).waitFor();
  await patient.getByRole('heading', { name: 'The consultation has ended' }).waitFor({ timeout: 10000 });
  assert.match(await patient.locator('main').innerText(), /It lasted/);
  // The patient's camera and microphone are off, and the call is gone.
  assert.deepEqual(await patient.evaluate(() => [window.parley.call, window.parley.media]), [null, null]);
  await check(patient, 'consult-ended-patient');

  // ---- what was stored ----
  const k = await gp.evaluate((id) => window.parley.conn.request('consult.get', { consultation_id: id }), kid);
  assert.equal(k.consultation.status, 'ended');
  assert.ok(k.consultation.duration_seconds >= 5, JSON.stringify(k.consultation));
  const events = await replayEvents(gp, k.consultation.conversation_id);
  const types = events.map((e) => e.type);
  for (const t of ['consult.booked', 'consult.waiting', 'consult.admitted', 'consult.ended']) assert.ok(types.includes(t), `${t} in ${types}`);
  const joined = events.filter((e) => e.type === 'consult.joined').map((e) => `${e.participant.role}:${e.participant.display_name}`);
  assert.ok(joined.includes('patient:Ann Taylor'), `the patient joined: ${joined}`);
  assert.ok(joined.includes('staff:Dr Asha Patel'), `the GP joined: ${joined}`);
  const chat = events.filter((e) => e.type === 'message.created').map((e) => e.message.body);
  assert.ok(chat.includes('Can you hear me? The rash is on my left arm.'), `the chat is stored: ${chat}`);

  for (const p of [gp, patient]) assert.deepEqual(p.errors.filter((e) => !/status of 401/.test(e)), [], 'no script errors or CSP violations');
  await gp.context().close();
  await patient.context().close();
});

test('booking from a request; a signed-in patient joins from their requests', async () => {
  const patient = await newPage(browser);
  await signIn(patient, server, 'robert.green');
  const convId = await startClinicalRequest(patient, { subject: 'Painful knee', problem: 'My knee hurts when I walk', body: 'Could someone look at it?' });
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${convId}`);
  await gp.getByRole('button', { name: 'Book a video consultation' }).click();
  await gp.getByRole('heading', { name: 'Send this link to Robert Green' }).waitFor();
  assert.match(await gp.locator('#join-link').inputValue(), /\/join#[A-Za-z0-9_-]{43}$/);
  await check(gp, 'consult-book-from-request');
  // The consultation lives in the request's conversation.
  const list = await gp.evaluate(() => window.parley.conn.request('consult.list', { filter: 'upcoming' }));
  const k = list.consultations.find((c) => c.patient.display_name === 'Robert Green');
  assert.equal(k.conversation_id, convId);

  // Robert, signed in as usual, sees it on his requests page and goes to the waiting room.
  await patient.getByRole('link', { name: 'Your requests', exact: true }).click();
  const card = patient.locator(`.parley-consult-card[data-consultation-id="${k.id}"]`);
  await card.waitFor({ timeout: 10000 });
  assert.match(await card.innerText(), /Video consultation with Dr Asha Patel/);
  await check(patient, 'consult-patient-home');
  await card.getByRole('button', { name: 'Go to the waiting room' }).click();
  await patient.waitForURL(new RegExp(`/consult/${k.id}$`));
  await patient.locator('#waiting-text').waitFor({ timeout: 10000 });
  // The GP, already in the call, lets him in from the call page.
  await gp.goto(`${server.url}/practice/consultations/${k.id}/call`);
  await gp.getByRole('button', { name: 'Admit Robert Green' }).click();
  await patient.waitForURL(new RegExp(`/consult/${k.id}/call$`), { timeout: 10000 });
  await Promise.all([connected(gp, 'GP'), connected(patient, 'patient')]);
  // Robert leaves; the GP's page says so.
  await patient.getByRole('button', { name: 'Leave call' }).click();
  await patient.getByRole('heading', { name: 'You have left the call' }).waitFor();
  await gp.locator('#call-status').getByText('Connected. Waiting for Robert Green to join.').waitFor({ timeout: 10000 });
  for (const p of [gp, patient]) assert.deepEqual(p.errors, [], 'no script errors or CSP violations');
});

test('a link that is not valid says so and shows nothing else', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/join#${'A'.repeat(43)}`);
  assert.equal(page.url(), `${server.url}/join`);
  await page.getByLabel('Day').fill('12');
  await page.getByLabel('Month').fill('3');
  await page.getByLabel('Year').fill('1948');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('This link is not valid. Ask your GP practice for a new one.').waitFor();
  await check(page, 'consult-join-not-valid');
  await page.goto(`${server.url}/join`);
  await page.getByRole('heading', { name: 'Open the link again' }).waitFor();
  assert.deepEqual(page.errors.filter((e) => !/status of 40[14]/.test(e)), []);
});

test('cancelling a booked consultation, after asking, stops its link', async () => {
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/consultations`);
  await gp.getByLabel('Patient’s NHS number').fill(server.logins['robert.green'].nhs_number);
  await gp.getByLabel('At a set time').check();
  const t = new Date(Date.now() + 2 * 3600 * 1000);
  await gp.getByLabel('Day').fill(String(t.getDate()));
  await gp.getByLabel('Month').fill(String(t.getMonth() + 1));
  await gp.getByLabel('Year').fill(String(t.getFullYear()));
  await gp.getByLabel('Time', { exact: true }).fill(`${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`);
  await gp.getByRole('button', { name: 'Book video consultation' }).click();
  await gp.getByRole('heading', { name: 'Send this link to Robert Green' }).waitFor();
  const link = await gp.locator('#join-link').inputValue();
  const kid = Number((await gp.evaluate(() => window.parley.conn.request('consult.list', { filter: 'upcoming' })))
    .consultations.find((c) => c.patient.display_name === 'Robert Green' && c.status === 'booked' && c.scheduled_at).id);
  const row = gp.locator(`tr[data-consultation-id="${kid}"]`);
  await row.getByRole('button', { name: 'Cancel the consultation with Robert Green' }).click();
  await row.getByText('Cancel the consultation with Robert Green? Their link will stop working.').waitFor();
  await row.getByRole('button', { name: 'Yes, cancel it' }).click();
  await gp.locator(`tr[data-consultation-id="${kid}"][data-status="cancelled"], #consults-later:not(:has(tr[data-consultation-id="${kid}"]))`).first().waitFor();
  const page = await newPage(browser);
  await page.goto(link);
  await page.getByLabel('Day').fill('1');
  await page.getByLabel('Month').fill('1');
  await page.getByLabel('Year').fill('1970');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('This link is not valid. Ask your GP practice for a new one.').waitFor();
  assert.deepEqual(gp.errors, []);
});
