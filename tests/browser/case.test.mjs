// Scenario 9: a case discussion (PROTOCOL 12). Dr Patel (Riverside Surgery) opens a discussion
// about Ann Taylor and invites, from the server's list of candidates, Dr Khan (Dermatology, City
// Hospital: the demo agreement with Riverside shares the patient's identity) and nurse Okafor
// (Riverside). Dr Khan, in a second browser context, sees it arrive in her list without
// reloading, opens it (Ann's identity shows) and writes in the thread; the GP sees the message
// live. The GP starts a meeting; Dr Khan and the nurse (a third context) join it from the live
// "Join the meeting" button, and each of the three decodes the other two's video. The GP ends
// the meeting and closes the discussion, and Dr Khan's page shows it closed, live. A GP of
// another practice cannot open it, and Ann never sees it. axe and a screenshot on every new page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { decoding } from './lib/video.mjs';

let server;
let browser;
let caseId = null;
const TITLE = 'Changing pigmented lesion: excise or monitor?';

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ media: true });
});
after(async () => { await browser?.close(); await server?.stop(); });

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

const spaced = (n) => n.replace(/^(\d{3})(\d{3})(\d{4})$/, '$1 $2 $3');

test('a GP opens a case discussion, invites a specialist and a nurse; they write, meet on video and close it, all live', async () => {
  const ann = server.logins['ann.taylor'];

  // ---- the specialist opens her (empty) list first, to see the discussion arrive ----
  const sp = await newPage(browser);
  await signIn(sp, server, 'dr.khan');
  await sp.waitForURL(/\/practice\/queue$/);
  await sp.getByRole('link', { name: 'Case discussions' }).click();
  await sp.waitForURL(/\/practice\/cases$/);
  await sp.getByRole('heading', { name: 'Case discussions' }).waitFor();
  await sp.locator('#cases-empty').waitFor();
  // A service's specialist is invited to discussions; only a practice's clinicians open them.
  assert.equal(await sp.getByRole('button', { name: 'Open a case discussion' }).count(), 0);
  assert.doesNotMatch(await sp.locator('main').innerText(), /\bnull\b|\bundefined\b/);
  await check(sp, 'case-list-empty-specialist');

  // ---- the GP opens a discussion about Ann ----
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.getByRole('link', { name: 'Case discussions' }).click();
  await gp.waitForURL(/\/practice\/cases$/);
  await gp.locator('#cases-empty').waitFor();
  await check(gp, 'case-list-empty');
  await gp.getByRole('button', { name: 'Open a case discussion' }).click();
  await gp.waitForURL(/\/practice\/cases\/new$/);
  await gp.getByRole('heading', { name: 'Open a case discussion' }).waitFor();
  await check(gp, 'case-new');

  // Nothing filled in: the NHS.UK error summary.
  await gp.getByRole('button', { name: 'Open the discussion' }).click();
  const summary = gp.locator('.nhsuk-error-summary');
  await summary.getByText('Enter the patient’s NHS number').waitFor();
  await summary.getByText('Enter what the discussion is about').waitFor();
  assert.match(await gp.title(), /^Error: /);
  await check(gp, 'case-new-errors');
  // A patient of another practice (Cara Evans, Hillside) is not Riverside's to discuss.
  await gp.getByLabel('Patient’s NHS number').fill(server.logins['cara.evans'].nhs_number);
  await gp.getByLabel('What is the discussion about?').fill(TITLE);
  await gp.getByRole('button', { name: 'Open the discussion' }).click();
  await summary.getByText('No patient with this NHS number at your practice').waitFor();
  assert.equal(await gp.locator('#nhs-number-error').count(), 1);

  await gp.getByLabel('Patient’s NHS number').fill(spaced(ann.nhs_number));
  await gp.getByRole('button', { name: 'Open the discussion' }).click();
  await gp.waitForURL(/\/practice\/cases\/\d+$/);
  caseId = Number(new URL(gp.url()).pathname.split('/').pop());
  await gp.getByRole('heading', { name: TITLE }).waitFor();
  assert.match(await gp.locator('h1').innerText(), new RegExp(`Case discussion ${caseId}`));
  const details = gp.locator('#case-details');
  await details.getByText('Ann Taylor').waitFor();
  await details.getByText(spaced(ann.nhs_number)).waitFor();
  await details.getByText('12 March 1948').waitFor();
  await details.getByText('Riverside Surgery').waitFor();
  await details.getByText('Open', { exact: true }).waitFor();
  await details.getByText(/Dr Asha Patel, /).waitFor();
  const gpMembers = gp.locator('ul#case-members > li');
  assert.equal(await gpMembers.count(), 1);
  assert.match(await gpMembers.first().innerText(), /Dr Asha Patel[\s\S]*Riverside Surgery/);
  await gp.locator('#invite-user').waitFor();
  await check(gp, 'case-gp');

  // ---- the GP invites the specialist and the nurse from the candidates ----
  const options = await gp.locator('#invite-user option').allInnerTexts();
  assert.ok(options.includes('Dr Leila Khan, Dermatology, City Hospital'), `candidates: ${options.join(' | ')}`);
  assert.ok(options.includes('Grace Okafor, Riverside Surgery'), `candidates: ${options.join(' | ')}`);
  assert.ok(!options.some((o) => /Dr Asha Patel|Dr Owen Hughes/.test(o)), `candidates: ${options.join(' | ')}`);
  await gp.getByLabel('Who would you like to invite?').selectOption({ label: 'Dr Leila Khan, Dermatology, City Hospital' });
  await gp.getByRole('button', { name: 'Invite', exact: true }).click();
  await gp.locator('ul#case-members > li', { hasText: 'Dr Leila Khan' }).waitFor();
  await gp.locator('#invite-user').waitFor();
  assert.ok(!(await gp.locator('#invite-user option').allInnerTexts()).some((o) => /Dr Leila Khan/.test(o)), 'a member is no longer a candidate');
  await gp.getByLabel('Who would you like to invite?').selectOption({ label: 'Grace Okafor, Riverside Surgery' });
  await gp.getByRole('button', { name: 'Invite', exact: true }).click();
  await gp.locator('ul#case-members > li', { hasText: 'Grace Okafor' }).waitFor();
  assert.equal(await gpMembers.count(), 3);
  assert.match(await gp.locator('ul#case-members > li', { hasText: 'Dr Leila Khan' }).innerText(), /Dermatology, City Hospital/);
  assert.match(await gp.locator('ul#case-members > li', { hasText: 'Grace Okafor' }).innerText(), /Riverside Surgery/);

  // ---- the specialist sees it arrive, without reloading, and opens it ----
  const spRow = sp.locator(`tr[data-case-id="${caseId}"]`);
  await spRow.waitFor({ timeout: 10000 });
  assert.match(await spRow.innerText(), new RegExp(`${TITLE.replace(/[?]/g, '\\?')}[\\s\\S]*Ann Taylor[\\s\\S]*3 members[\\s\\S]*Open`));
  await check(sp, 'case-list-specialist');
  await spRow.getByRole('link').click();
  await sp.waitForURL(new RegExp(`/practice/cases/${caseId}$`));
  const spDetails = sp.locator('#case-details');
  await spDetails.getByText('Ann Taylor').waitFor();
  await spDetails.getByText(spaced(ann.nhs_number)).waitFor();
  await spDetails.getByText('12 March 1948').waitFor();
  // The service's member may write and meet, but neither invites nor closes.
  assert.equal(await sp.locator('#invite-user').count(), 0);
  assert.equal(await sp.getByRole('button', { name: 'Close the discussion' }).count(), 0);
  await check(sp, 'case-specialist');

  // ---- the nurse opens it too ----
  const nurse = await newPage(browser);
  await signIn(nurse, server, 'nurse.okafor');
  await nurse.goto(`${server.url}/practice/cases`);
  await nurse.locator(`tr[data-case-id="${caseId}"]`).getByRole('link').click();
  await nurse.waitForURL(new RegExp(`/practice/cases/${caseId}$`));
  await nurse.locator('#case-details').getByText('Ann Taylor').waitFor();
  await check(nurse, 'case-nurse');

  // ---- the specialist writes; the GP and the nurse read it live ----
  const msg = 'Asymmetry and colour change: I would excise with a 2 mm margin rather than monitor.';
  await sp.getByLabel('Message', { exact: true }).fill(msg);
  await sp.getByRole('button', { name: 'Send message' }).click();
  await sp.locator('.parley-transcript').getByText(msg).waitFor();
  await gp.locator('.parley-transcript').getByText(msg).waitFor({ timeout: 10000 });
  await nurse.locator('.parley-transcript').getByText(msg).waitFor({ timeout: 10000 });
  assert.match(await gp.locator('.parley-transcript li', { hasText: msg }).innerText(), /Dr Leila Khan/);

  // ---- the GP starts a meeting; the others join from the live button ----
  await gp.getByRole('button', { name: 'Start a meeting' }).click();
  await gp.waitForURL(/\/practice\/consultations\/\d+\/call$/);
  const callPath = new URL(gp.url()).pathname;
  for (const p of [sp, nurse]) {
    await p.locator('#case-call-note').getByText('Dr Asha Patel started a meeting.').waitFor({ timeout: 10000 });
  }
  await check(sp, 'case-meeting-started');
  await sp.getByRole('button', { name: 'Join the meeting' }).click();
  await sp.waitForURL(new RegExp(`${callPath}$`));
  await nurse.getByRole('button', { name: 'Join the meeting' }).click();
  await nurse.waitForURL(new RegExp(`${callPath}$`));
  const [g, s, n] = await Promise.all([decoding(gp, 'GP', 2), decoding(sp, 'specialist', 2), decoding(nurse, 'nurse', 2)]);
  assert.deepEqual([g.length >= 2, s.length >= 2, n.length >= 2], [true, true, true]);
  await check(gp, 'case-meeting-gp');

  // ---- the GP ends the meeting ----
  await gp.getByRole('button', { name: /^End (meeting|call|consultation) for everyone$/ }).click();
  await gp.getByRole('button', { name: /^Yes, end the/ }).click();
  for (const p of [gp, sp, nurse]) await p.locator('#call-ended').waitFor({ timeout: 10000 });

  // ---- back on the discussion; the GP closes it and the specialist sees that live ----
  await sp.goto(`${server.url}/practice/cases/${caseId}`);
  await spDetails.getByText('Open', { exact: true }).waitFor();
  await sp.getByRole('button', { name: 'Start a meeting' }).waitFor(); // the meeting is over
  await gp.goto(`${server.url}/practice/cases/${caseId}`);
  await details.getByText('Open', { exact: true }).waitFor();
  await gp.getByRole('button', { name: 'Close the discussion' }).click();
  await details.getByText('Closed', { exact: true }).waitFor();
  await spDetails.getByText('Closed', { exact: true }).waitFor({ timeout: 10000 });
  assert.equal(await sp.getByRole('button', { name: 'Send message' }).isVisible(), false);
  assert.equal(await sp.getByRole('button', { name: 'Start a meeting' }).count(), 0);
  assert.equal(await gp.locator('#invite-user').count(), 0);
  await sp.locator('.parley-transcript').getByText(msg).waitFor(); // still readable
  await check(sp, 'case-closed-specialist');
  await check(gp, 'case-closed-gp');

  // The closed filter lists it; the open one no longer does.
  await sp.goto(`${server.url}/practice/cases?filter=closed`);
  await sp.locator(`tr[data-case-id="${caseId}"]`).waitFor();
  await sp.goto(`${server.url}/practice/cases`);
  await sp.locator('#cases-empty').waitFor();

  // The GP's discussion at 320 px: no sideways scrolling, and still accessible.
  await gp.setViewportSize({ width: 320, height: 800 });
  const [sw, cw] = await gp.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `case discussion at 320 px: ${sw}px of content in a ${cw}px viewport`);
  await check(gp, 'case-closed-gp-320');

  assert.deepEqual(gp.errors, []);
  assert.deepEqual(sp.errors, []);
  assert.deepEqual(nurse.errors, []);
  for (const p of [gp, sp, nurse]) await p.context().close();
});

test('a GP of another practice cannot open the discussion, and the patient never sees it', async () => {
  const id = caseId || 1;
  const other = await newPage(browser);
  await signIn(other, server, 'dr.hughes'); // Hillside Medical Centre
  await other.goto(`${server.url}/practice/cases/${id}`);
  await other.locator('h1').waitFor();
  assert.equal(await other.locator('#error-page').getAttribute('data-code'), 'not_found');
  await other.getByRole('heading', { name: 'Page not found' }).waitFor();
  assert.doesNotMatch(await other.locator('main').innerText(), /Ann Taylor|pigmented/);
  await other.goto(`${server.url}/practice/cases?filter=all`);
  await other.locator('#cases-empty').waitFor();
  await check(other, 'case-not-found-other-practice');

  // A colleague of the same practice who is not a member cannot open it either.
  const colleague = await newPage(browser);
  await signIn(colleague, server, 'pharm.lee');
  await colleague.goto(`${server.url}/practice/cases/${id}`);
  await colleague.locator('#error-page').waitFor();
  assert.equal(await colleague.locator('#error-page').getAttribute('data-code'), 'not_found');

  // Ann: not in her requests, and the staff page is not hers to open.
  const pt = await newPage(browser);
  await signIn(pt, server, 'ann.taylor');
  await pt.waitForURL(/\/patient$/);
  await pt.locator('h1').waitFor();
  await sleep(500);
  assert.doesNotMatch(await pt.locator('main').innerText(), /pigmented|excise|case discussion/i);
  const kinds = await pt.evaluate(async () => (await window.parley.conn.request('conversation.list', {})).conversations.map((c) => c.kind));
  assert.ok(!kinds.includes('case'), `Ann's conversations: ${kinds.join(', ')}`);
  await pt.goto(`${server.url}/practice/cases/${id}`);
  await pt.waitForURL(/\/patient$/);
  assert.doesNotMatch(await pt.locator('main').innerText(), /pigmented/);
  for (const p of [other, colleague, pt]) await p.context().close();
});
