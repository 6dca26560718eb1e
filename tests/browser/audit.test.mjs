// `parley audit export --patient N` (docs/SECURITY.md "Accountability"): the real binary, run
// on the data directory of a live server after some activity in the web app (Ann Taylor starts
// a request, Dr Patel opens it, Robert Green is refused it, a sign-in with a wrong password),
// writes Ann's trail as a FHIR R4 Bundle of AuditEvents that the independent validator
// (lib/fhir-validate.mjs) accepts, shaped after IHE BALP; and the trail still verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, ROOT } from './lib/harness.mjs';
import { startClinicalRequest } from './lib/flows.mjs';
import { validateBundle, formatMessage } from './lib/fhir-validate.mjs';

const BIN = process.env.PARLEY_BIN || path.join(ROOT, 'build/parley');
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await server?.stop(); });

const subtypeCodes = (ev) => (ev.subtype || []).map((c) => c.code);

test('a patient\u2019s audit trail exports as valid FHIR AuditEvents after BALP', async () => {
  const ann = server.logins['ann.taylor'];
  const pageAnn = await newPage(browser);
  await signIn(pageAnn, server, 'ann.taylor');
  const convId = await startClinicalRequest(pageAnn, {
    subject: 'Sore knee', problem: 'My knee hurts', body: 'Since a fall last week.',
  });
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${convId}`);
  await gp.locator('#request-details').getByText('Ann Taylor').waitFor();
  const rob = await newPage(browser);
  await signIn(rob, server, 'robert.green');
  const refused = await rob.evaluate(async (id) => {
    try { await window.parley.conn.request('conversation.get', { conversation_id: id }); return null; } catch (e) { return e.code; }
  }, convId);
  assert.equal(refused, 'forbidden');
  const bad = await gp.request.post(`${server.url}/api/v1/login`, {
    data: { username: 'ann.taylor', password: 'not-her-password' }, headers: { 'content-type': 'application/json' },
  });
  assert.equal(bad.status(), 401);
  await new Promise((r) => setTimeout(r, 300)); // the refusal's row is written after the answer

  const data = path.join(server.dir, 'data');
  const out = execFileSync(BIN, ['audit', 'export', '--patient', ann.nhs_number, '--data-dir', data], { encoding: 'utf8' });
  const bundle = JSON.parse(out);
  const { valid, messages } = validateBundle(bundle);
  assert.ok(valid, messages.map(formatMessage).join('\n'));
  assert.equal(bundle.resourceType, 'Bundle');
  assert.equal(bundle.type, 'collection');
  const events = bundle.entry.map((e) => e.resource);
  assert.ok(events.length >= 4, `only ${events.length} events`);
  for (const ev of events) {
    assert.equal(ev.resourceType, 'AuditEvent');
    assert.equal(ev.source.observer.identifier.value, 'urn:parley:server');
    const patient = ev.entity.find((x) => x.role?.code === '1');
    assert.equal(patient.what.identifier.system, 'https://fhir.nhs.uk/Id/nhs-number');
    assert.equal(patient.what.identifier.value, ann.nhs_number);
    assert.ok(['C', 'R', 'U', 'D', 'E'].includes(ev.action));
  }
  // Oldest first: her request, then the GP's read.
  const times = events.map((e) => Date.parse(e.recorded));
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  const create = events.find((e) => subtypeCodes(e).includes('conversation.create'));
  assert.equal(create.action, 'C');
  assert.ok(subtypeCodes(create).includes('create'));
  assert.equal(create.agent[0].who.type, 'Patient');
  // Every access, by anyone: Ann reading her own request is there, and so is the GP's read.
  const reads = events.filter((e) => subtypeCodes(e).includes('conversation.read'));
  assert.ok(reads.some((e) => e.agent.find((a) => a.requestor).who.type === 'Patient'), 'the patient’s own read is recorded');
  const read = reads.find((e) => e.agent.find((a) => a.requestor).who.type === 'Practitioner');
  assert.equal(read.action, 'R');
  assert.equal(read.outcome, '0');
  assert.equal(read.type.code, 'rest');
  const who = read.agent.find((a) => a.requestor);
  assert.equal(who.who.display, 'Dr Asha Patel');
  assert.equal(who.who.type, 'Practitioner');
  assert.equal(who.role[0].text, 'gp');
  assert.equal(who.network.address, '127.0.0.1');
  const org = read.agent.find((a) => !a.requestor);
  assert.equal(org.who.display, 'Riverside Surgery');
  assert.equal(org.who.identifier.value, 'Y90001');
  const resource = read.entity.find((x) => x.type.code === '2');
  assert.equal(resource.what.identifier.system, 'urn:parley:conversation');
  assert.equal(resource.what.identifier.value, String(convId));
  // Robert's refusal: a minor failure, as BALP records an access control refusal.
  const denied = events.find((e) => e.outcome === '4' && subtypeCodes(e).includes('conversation.get'));
  assert.ok(denied, 'the refusal is exported');
  assert.equal(denied.outcomeDesc, 'denied');
  assert.equal(denied.agent[0].who.display, 'Robert Green');

  // The export was recorded, and the chain is intact.
  const again = JSON.parse(execFileSync(BIN, ['audit', 'export', '--patient', ann.nhs_number, '--data-dir', data], { encoding: 'utf8' }));
  assert.ok(again.entry.some((e) => subtypeCodes(e.resource).includes('audit.export') && e.resource.action === 'E'));
  const verify = spawnSync(BIN, ['audit', 'verify', '--data-dir', data], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  // Not a patient: a clear refusal.
  const none = spawnSync(BIN, ['audit', 'export', '--patient', '123', '--data-dir', data], { encoding: 'utf8' });
  assert.equal(none.status, 2);
});
