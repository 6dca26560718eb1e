// Scenario 1: the whole messaging journey, with three people in three browser contexts at once.
// A patient starts a clinical request; the receptionist sees it arrive live and assigns it to
// a GP; the GP sees it arrive in "assigned to me", adds a note and replies; the patient sees
// the practice typing and then the reply, live; the GP sees the read receipt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot } from './lib/harness.mjs';
import { startClinicalRequest } from './lib/flows.mjs';

let server;
let browser;
before(async () => { server = await startServer(); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await server?.stop(); });

test('patient request, live triage, GP reply, read receipt', async () => {
  const patient = await newPage(browser);
  const reception = await newPage(browser);
  const gp = await newPage(browser);
  await Promise.all([signIn(patient, server, 'ann.taylor'), signIn(reception, server, 'reception.jones'), signIn(gp, server, 'dr.patel')]);
  assert.equal(new URL(patient.url()).pathname, '/patient');
  assert.equal(new URL(reception.url()).pathname, '/practice');

  // Both staff watch their inbox before the request exists: it must arrive without a reload.
  await reception.getByRole('heading', { name: /Inbox/ }).waitFor();
  await reception.locator('#inbox-empty').waitFor();
  await gp.goto(`${server.url}/practice?filter=assigned_to_me`);
  await gp.locator('#inbox-empty').waitFor();
  let receptionLoads = 0;
  reception.on('load', () => { receptionLoads++; });
  let gpLoads = 0;
  gp.on('load', () => { gpLoads++; });

  const subject = 'Cough and fever';
  const id = await startClinicalRequest(patient, {
    subject, problem: 'A cough with a temperature of 38.5', body: 'It started on Saturday and is keeping me awake.',
  });
  await patient.getByText('Request sent').waitFor();
  await patient.getByText('It started on Saturday and is keeping me awake.').waitFor();
  await screenshot(patient, 'patient-request');

  // Reception: the new request appears live, with the waiting time against the target.
  const row = reception.locator(`tr[data-conversation-id="${id}"]`);
  await row.waitFor({ timeout: 10000 });
  assert.match(await row.innerText(), /Ann Taylor/);
  assert.match(await row.innerText(), /Waiting/);
  assert.match(await row.innerText(), /Reply due/);
  await screenshot(reception, 'practice-inbox');
  await row.getByRole('link', { name: subject }).click();
  await reception.waitForURL(new RegExp(`/practice/requests/${id}$`));
  await reception.getByText('A cough with a temperature of 38.5').first().waitFor();
  await reception.getByLabel('Assign to a person').selectOption({ label: 'Dr Asha Patel (GP)' });
  await reception.getByRole('button', { name: 'Assign' }).click();
  await reception.getByText('Assigned to Dr Asha Patel').first().waitFor();
  await reception.locator('#request-details').getByText('In progress').waitFor();

  // GP: it arrives in "assigned to me" without a reload.
  const gpRow = gp.locator(`tr[data-conversation-id="${id}"]`);
  await gpRow.waitFor({ timeout: 10000 });
  assert.equal(gpLoads, 0, 'the GP inbox must update without reloading');
  assert.equal(receptionLoads, 0, 'the reception inbox must update without reloading');
  await gpRow.getByRole('link', { name: subject }).click();
  await gp.waitForURL(new RegExp(`/practice/requests/${id}$`));

  // The patient's status moved to "being looked at", live, and never names the assignee.
  await patient.locator('#request-status').getByText('Being looked at').waitFor();
  assert.doesNotMatch(await patient.locator('main').innerText(), /Assigned/);

  // An internal note: staff see it, the patient never does.
  await gp.getByText('Add an internal note').click();
  await gp.getByLabel('Internal note').fill('Check the last chest X-ray before calling.');
  await gp.getByRole('button', { name: 'Add note' }).click();
  await gp.locator('.parley-msg--note').getByText('Check the last chest X-ray before calling.').waitFor();

  // Typing is shown to the patient, then the reply arrives live.
  const reply = 'Please book a telephone appointment today. If you feel short of breath, call 111.';
  await gp.getByLabel('Reply to Ann Taylor').pressSequentially('Please book', { delay: 20 });
  await patient.getByText('The practice is typing…').waitFor({ timeout: 10000 });
  await gp.getByLabel('Reply to Ann Taylor').fill(reply);
  await screenshot(gp, 'practice-request');
  await gp.getByRole('button', { name: 'Send reply' }).click();
  await patient.getByText(reply).waitFor({ timeout: 10000 });
  assert.equal(await patient.getByText('Check the last chest X-ray').count(), 0, 'notes must not reach the patient');
  await screenshot(patient, 'patient-reply');

  // The patient had the page open, so it was read: the GP sees the receipt.
  const receipt = gp.locator(`.parley-msg`, { hasText: reply }).locator('[data-receipt]');
  await receipt.waitFor({ timeout: 10000 });
  assert.equal(await receipt.innerText(), 'Read by the patient');

  // The patient replies; the GP sees it live, and it is read-receipted back.
  await patient.getByLabel('Reply to your practice').fill('Thank you, I have booked for 4pm.');
  await patient.getByRole('button', { name: 'Send reply' }).click();
  await gp.getByText('Thank you, I have booked for 4pm.').waitFor({ timeout: 10000 });
  await patient.locator('.parley-msg', { hasText: 'Thank you, I have booked for 4pm.' }).locator('[data-receipt]').waitFor({ timeout: 10000 });

  // The GP closes it; the patient's page says so and offers a new request instead.
  await gp.getByLabel('Status').selectOption('closed');
  await gp.getByRole('button', { name: 'Update status' }).click();
  await patient.getByText('This request is closed.').waitFor({ timeout: 10000 });

  for (const p of [patient, reception, gp]) assert.deepEqual(p.errors, [], 'no script errors or CSP violations');
});

test('reply templates: kept per practice and used in a reply', async () => {
  const admin = await newPage(browser);
  await signIn(admin, server, 'admin.smith');
  await admin.getByRole('link', { name: 'Reply templates' }).click();
  await admin.getByText('Prescription ready').first().waitFor();
  await admin.getByLabel('Title').fill('Blood test booked');
  await admin.getByLabel('Message').fill('We have booked you a blood test. The surgery will text you the time.');
  await admin.getByRole('button', { name: 'Save template' }).click();
  await admin.getByText('Template "Blood test booked" saved').waitFor();
  await screenshot(admin, 'practice-templates');

  // A colleague in the same practice sees it at once in the reply box.
  const patient = await newPage(browser);
  await signIn(patient, server, 'robert.green');
  const id = await startClinicalRequest(patient, { subject: 'Tired all the time', problem: 'Tired for weeks', body: 'Could I have a blood test?' });
  const nurse = await newPage(browser);
  await signIn(nurse, server, 'nurse.okafor');
  await nurse.goto(`${server.url}/practice/requests/${id}`);
  await nurse.getByLabel('Start from a template (optional)').selectOption({ label: 'Blood test booked' });
  assert.equal(await nurse.getByLabel('Reply to Robert Green').inputValue(), 'We have booked you a blood test. The surgery will text you the time.');
  await nurse.getByRole('button', { name: 'Send reply' }).click();
  await patient.getByText('We have booked you a blood test.').waitFor({ timeout: 10000 });

  // Another practice does not see Riverside's templates.
  const other = await newPage(browser);
  await signIn(other, server, 'dr.hughes');
  await other.getByRole('link', { name: 'Reply templates' }).click();
  await other.getByText('There are no templates yet.').waitFor();
  for (const p of [admin, patient, nurse, other]) assert.deepEqual(p.errors, []);
});

test('keyboard only: sign in and start a request without a mouse', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/signin`);
  await page.locator('#username').waitFor(); // the form is drawn once the app has started
  // The skip link is the first stop, then the header, then the form.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to main content');
  await page.keyboard.press('Enter');
  let guard = 0;
  while (await page.evaluate(() => document.activeElement.id) !== 'username' && guard++ < 10) await page.keyboard.press('Tab');
  await page.keyboard.type('cara.evans');
  await page.keyboard.press('Tab');
  await page.keyboard.type(server.logins['cara.evans'].password);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/patient$/);
  await page.getByRole('heading', { name: 'Your requests' }).waitFor();
  // Focus moves to the new page's heading; the "start" button is reachable by Tab.
  guard = 0;
  while (!(await page.evaluate(() => document.activeElement.textContent.trim() === 'Start a new request')) && guard++ < 20) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'What do you need help with?' }).waitFor();
  // Continue without choosing: the error summary takes focus and links to the field.
  guard = 0;
  while (!(await page.evaluate(() => document.activeElement.textContent.trim() === 'Continue')) && guard++ < 20) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.locator('.nhsuk-error-summary').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('nhsuk-error-summary')), true);
  assert.match(await page.title(), /^Error: /);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'route');
  await page.keyboard.press('Space');
  assert.equal(await page.locator('#route').isChecked(), true);
  assert.deepEqual(page.errors, []);
});

test('long lists page: the inbox and the patient list show older requests on demand', async () => {
  const patient = await newPage(browser);
  await signIn(patient, server, 'cara.evans'); // Hillside: an inbox of its own
  const made = await patient.evaluate(async () => {
    const ids = [];
    for (let i = 0; i < 105; i++) {
      const r = await window.parley.conn.request('conversation.create', {
        txn_id: `bulk-${i}`, kind: 'admin', subject: `Bulk request ${i}`, body: `Body ${i}`,
      });
      ids.push(r.conversation.id);
    }
    return ids;
  });
  assert.equal(made.length, 105);
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.hughes');
  await gp.locator('tr[data-conversation-id]').first().waitFor();
  assert.equal(await gp.locator('tr[data-conversation-id]').count(), 100);
  await gp.getByRole('button', { name: 'Show older requests' }).click();
  await gp.locator(`tr[data-conversation-id="${made[0]}"]`).waitFor();
  assert.equal(await gp.locator('tr[data-conversation-id]').count(), 105);
  assert.equal(await gp.getByRole('button', { name: 'Show older requests' }).count(), 0);

  await patient.reload();
  await patient.locator('.parley-request').first().waitFor();
  assert.equal(await patient.locator('.parley-request').count(), 50);
  await patient.getByRole('button', { name: 'Show older requests' }).click();
  await patient.locator('.parley-request').nth(99).waitFor();
  await patient.getByRole('button', { name: 'Show older requests' }).click();
  await patient.getByText('Bulk request 0', { exact: true }).waitFor();
  assert.equal(await patient.locator('.parley-request').count(), 105);
  assert.deepEqual(gp.errors, []);
  assert.deepEqual(patient.errors, []);
});
