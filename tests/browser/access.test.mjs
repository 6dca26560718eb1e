// Who accessed a patient's data (PROTOCOL 14), in the web app. Ann Taylor starts a request and
// Dr Patel opens it; Riverside Surgery's admin (admin.smith) follows the link on the request to
// the patient's access record and sees Dr Patel's read, as a GP of Riverside Surgery. Ann sees
// the organisations that accessed her data, never the people: Riverside Surgery, and after
// Dr Patel asks Dermatology, City Hospital for advice and its specialist opens the request, the
// service too. A GP who is not an admin has no link. axe and a screenshot on every new page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { startClinicalRequest } from './lib/flows.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await server?.stop(); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

test('an admin sees who accessed a patient; the patient sees which organisations did', async () => {
  // ---- Ann's request, opened by Dr Patel ----
  const ann = await newPage(browser);
  await signIn(ann, server, 'ann.taylor');
  const convId = await startClinicalRequest(ann, {
    subject: 'Itchy rash', problem: 'A rash on my arm', body: 'It has spread over a week.',
  });
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${convId}`);
  await gp.locator('#request-details').getByText('Ann Taylor').waitFor();
  // Not an admin: no way to the access record.
  assert.equal(await gp.locator('#access-link').count(), 0);

  // ---- the practice admin ----
  const admin = await newPage(browser);
  await signIn(admin, server, 'admin.smith');
  await admin.goto(`${server.url}/practice/requests/${convId}`);
  await admin.getByRole('link', { name: 'Who accessed this patient’s data' }).click();
  await admin.waitForURL(/\/practice\/patients\/\d+\/access$/);
  const read = admin.locator('#access-table tr[data-action="conversation.read"]', { hasText: 'Dr Asha Patel' });
  await read.first().waitFor();
  const text = await read.first().innerText();
  assert.match(text, /GP/);
  assert.match(text, /Riverside Surgery/);
  assert.match(text, /Opened a request/);
  assert.match(text, /Allowed/);
  assert.match(text, /127\.0\.0\.1/);
  // Ann's own request is there too, as hers.
  await admin.locator('#access-table tr[data-action="conversation.create"]', { hasText: 'Ann Taylor' }).first().waitFor();
  await check(admin, 'access-practice-admin');
  // A GP who types the address is refused, and the page says so.
  await gp.goto(admin.url());
  await gp.locator('#error-page[data-code="forbidden"]').waitFor();

  // ---- Ann: organisations, not people ----
  await ann.goto(`${server.url}/patient`);
  await ann.getByRole('link', { name: 'See which organisations have accessed your data' }).click();
  await ann.waitForURL(/\/patient\/access$/);
  const orgs = ann.locator('#access-orgs');
  await orgs.getByText('Riverside Surgery').waitFor();
  const before = await orgs.innerText();
  assert.doesNotMatch(before, /Dermatology/);
  assert.doesNotMatch(before, /Patel|Smith/);
  await check(ann, 'access-patient');

  // ---- Dr Patel asks Dermatology for advice; its specialist opens the request ----
  const adviceId = await gp.evaluate(async (nhs) => {
    const conn = window.parley.conn;
    const { services } = await conn.request('service.list');
    const svc = services.find((s) => s.name === 'Dermatology, City Hospital');
    const r = await conn.request('advice.create', {
      service_id: svc.id, specialty: 'Dermatology', urgency: 'routine', nhs_number: nhs,
      question: 'Is this eczema?', summary: 'Itchy rash, left forearm, one week.',
      txn_id: `access-${Date.now()}`, consent: true,
    });
    return r.advice.id;
  }, server.logins['ann.taylor'].nhs_number);
  const sp = await newPage(browser);
  await signIn(sp, server, 'dr.khan');
  await sp.goto(`${server.url}/practice/advice/${adviceId}`);
  await sp.locator('#advice-details').waitFor();

  await ann.reload();
  await orgs.getByText('Dermatology, City Hospital').waitFor();
  await orgs.getByText('Riverside Surgery').waitFor();
  assert.doesNotMatch(await orgs.innerText(), /Khan|Patel/);

  for (const p of [ann, gp, admin, sp]) assert.deepEqual(p.errors.filter((e) => !/403|forbidden/i.test(e)), []);
});
