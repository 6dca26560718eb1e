// Write-back that fails for good is seen (PROTOCOL 13.4): the server's record system is a port
// nobody listens on and one attempt is all it may make, so a filed transcript is dead-lettered;
// the practice's inbox then warns that it could not be sent. axe on the warning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';

let server;
let browser;

// A loopback port that refuses connections: bound for a moment, then closed.
function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  const port = await closedPort();
  server = await startServer(['--record-fhir-url', `http://127.0.0.1:${port}`, '--record-max-attempts', '1', '--record-retry-base-s', '1']);
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await server?.stop(); });

const call = (page, type, fields) => page.evaluate(([t, f]) => window.parley.conn.request(t, f), [type, fields]);

test('a filing the record system never takes is dead-lettered and the inbox warns', async () => {
  const ann = await newPage(browser);
  await signIn(ann, server, 'ann.taylor');
  const created = await call(ann, 'conversation.create', { txn_id: 'ob-1', kind: 'clinical', subject: 'Cough', body: 'Three weeks now.' });
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await call(gp, 'conversation.file', { conversation_id: created.conversation.id });
  let status = null;
  for (let i = 0; i < 40; i++) {
    status = await call(gp, 'record.outbox', {});
    if (status.dead === 1) break;
    await new Promise((r) => { setTimeout(r, 250); });
  }
  assert.equal(status.dead, 1, `outbox: ${JSON.stringify(status)}`);
  assert.equal(status.enabled, true);
  await gp.goto(`${server.url}/practice`);
  const alert = gp.locator('#record-alert-callout');
  await alert.waitFor({ timeout: 10000 });
  assert.match(await alert.innerText(), /1 filed transcript could not be sent to the record system/);
  assert.doesNotMatch(await gp.locator('main').innerText(), /\bnull\b/);
  assert.deepEqual(await axe(gp), []);
  await screenshot(gp, 'inbox-record-alert');
});
