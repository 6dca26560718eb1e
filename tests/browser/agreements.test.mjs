// Information-sharing agreements (PROTOCOL 11.1) in the web app: Riverside Surgery's admin
// (admin.smith) sees the demo agreement in force, gets the form's errors, then proposes a
// pseudonymised agreement to Dermatology, City Hospital; the service's admin (admin.city, a
// second browser context) sees the proposal with an Accept button and accepts it; it is in
// force on both sides, and the service's admin ends it. A clinician who is not an admin has no
// Agreements item and no buttons. axe and a screenshot on every new page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';

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

test('a practice admin proposes an agreement, the service admin accepts it and ends it', async () => {
  const gp = await newPage(browser);
  await signIn(gp, server, 'admin.smith');
  await gp.getByRole('link', { name: 'Agreements', exact: true }).click();
  await gp.waitForURL(/\/practice\/agreements$/);
  const demo = gp.locator('[data-agreement-id][data-state="active"]');
  await demo.first().waitFor();
  assert.match(await demo.first().innerText(), /Riverside Surgery and Dermatology, City Hospital.*In force.*Identified/s);
  await check(gp, 'agreements-practice-admin');

  // Nothing chosen: the NHS.UK error summary names both missing answers.
  await gp.getByRole('button', { name: 'Propose the agreement' }).click();
  const summary = gp.locator('.nhsuk-error-summary');
  await summary.getByText('Select what the service may see').waitFor();
  await summary.getByText('Enter the end date').waitFor();
  assert.match(await gp.title(), /^Error: /);
  await check(gp, 'agreements-propose-errors');

  const year = new Date().getFullYear() + 1;
  await gp.getByLabel(/Pseudonymised/).check();
  await gp.getByLabel('Day').fill('31');
  await gp.getByLabel('Month').fill('3');
  await gp.getByLabel('Year').fill(String(year));
  await gp.getByRole('button', { name: 'Propose the agreement' }).click();
  await gp.locator('#agreement-result').getByText(/Proposed\./).waitFor();
  const proposed = gp.locator('[data-agreement-id][data-state="proposed"]');
  await proposed.waitFor();
  assert.match(await proposed.innerText(), /Pseudonymised/);
  // Our own proposal: the other side accepts it.
  assert.equal(await proposed.getByRole('button', { name: 'Accept' }).count(), 0);
  const id = await proposed.getAttribute('data-agreement-id');

  // ---- the service's admin accepts it ----
  const svc = await newPage(browser);
  await signIn(svc, server, 'admin.city');
  await svc.goto(`${server.url}/practice/agreements`);
  const card = svc.locator(`[data-agreement-id="${id}"]`);
  await card.waitFor();
  assert.equal(await svc.locator('#agreement-form').count(), 0); // services accept, practices propose
  await check(svc, 'agreements-service-admin');
  await card.getByRole('button', { name: 'Accept' }).click();
  await svc.locator(`[data-agreement-id="${id}"][data-state="active"]`).waitFor();
  await svc.locator('#agreement-result').getByText(/is accepted/).waitFor();
  await gp.reload();
  await gp.locator(`[data-agreement-id="${id}"][data-state="active"]`).waitFor();

  // ---- and ends it ----
  await svc.locator(`[data-agreement-id="${id}"]`).getByRole('button', { name: 'End this agreement' }).click();
  await svc.locator(`[data-agreement-id="${id}"][data-state="ended"]`).waitFor();
  await gp.reload();
  await gp.locator(`[data-agreement-id="${id}"][data-state="ended"]`).waitFor();
  // The demo's own agreement is untouched.
  await gp.locator('[data-agreement-id][data-state="active"]').first().waitFor();

  // At 320 px: no sideways scrolling.
  await gp.setViewportSize({ width: 320, height: 800 });
  const [sw, cw] = await gp.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `agreements at 320 px: ${sw}px of content in a ${cw}px viewport`);
  await check(gp, 'agreements-320');
  assert.deepEqual(gp.errors, []);
  assert.deepEqual(svc.errors, []);
});

test('a clinician who is not an admin sees the agreements but cannot change them', async () => {
  const page = await newPage(browser);
  await signIn(page, server, 'dr.patel');
  assert.equal(await page.getByRole('link', { name: 'Agreements', exact: true }).count(), 0);
  await page.goto(`${server.url}/practice/agreements`);
  await page.locator('[data-agreement-id]').first().waitFor();
  assert.equal(await page.getByRole('button', { name: /Accept|End this agreement|Propose/ }).count(), 0);
  assert.deepEqual(page.errors, []);
});
