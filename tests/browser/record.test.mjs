// The patient's record exported as FHIR R4 from a real server (PROTOCOL 13), judged by the
// independent validator (lib/fhir-validate.mjs over the npm `fhir` package). Ann Taylor writes
// to her practice; Dr Patel replies (marking one reply entered in error), books a video consultation, asks the dermatology service
// for advice (a consent recorded), opens a case discussion and files the conversation twice;
// then Dr Patel downloads Ann's
// record through GET /api/v1/patients/{id}/fhir, and the operator exports it with
// `parley export fhir`: both Bundles are valid, hold what happened (and none of the practice's
// internal notes), and name every resource the same way (a re-export is idempotent). A
// receptionist and the patient herself are refused (403), another practice's GP gets 404, a request
// without a session 401; each export is in the audit trail, which still verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, newPage, signIn } from './lib/harness.mjs';
import { validateBundle, formatMessage } from './lib/fhir-validate.mjs';
import { tinyPng } from './lib/files.mjs';
import { createHash } from 'node:crypto';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.PARLEY_BIN || path.join(ROOT, 'build/parley');

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await server?.stop(); });

const call = (page, type, fields) => page.evaluate(([t, f]) => window.parley.conn.request(t, f), [type, fields]);

// GET the export in the page, with its session cookie: {status, type, body}.
const fetchExport = (page, id) => page.evaluate(async (pid) => {
  const r = await fetch(`/api/v1/patients/${pid}/fhir`);
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}, id);

function resources(bundle, type) {
  return bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === type);
}

function assertValid(bundle, what) {
  const v = validateBundle(bundle);
  assert.ok(v.valid, `${what} is not valid FHIR R4:\n${v.errors.map(formatMessage).join('\n')}`);
}

test('a clinician and the operator export the record; both Bundles are valid, complete and stable', async () => {
  const ann = server.logins['ann.taylor'];
  const pt = await newPage(browser);
  await signIn(pt, server, 'ann.taylor');
  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');

  // ---- what happens in Ann's care ----
  const created = await call(pt, 'conversation.create', {
    txn_id: 'rec-1', kind: 'clinical', subject: 'Rash on my arm', body: 'It has spread since Monday.',
  });
  const convId = created.conversation.id;
  await call(gp, 'conversation.send', { conversation_id: convId, body: 'Please send a photo.', txn_id: 'rec-2' });
  // Ann sends the photo: its Communication carries it with R4's SHA-1 hash of the bytes.
  const png = tinyPng();
  const att = await pt.evaluate(async ([id, bytes]) => {
    const r = await fetch(`/api/v1/conversations/${id}/attachments`, {
      method: 'POST', headers: { 'Content-Type': 'image/png', 'X-Parley-Upload': '1', 'X-Filename': 'arm.png' }, body: new Uint8Array(bytes),
    });
    return (await r.json()).attachment;
  }, [convId, [...png]]);
  await call(pt, 'conversation.send', { conversation_id: convId, body: 'Here it is.', txn_id: 'rec-2a', attachment_ids: [att.id] });
  const wrong = await call(gp, 'conversation.send', { conversation_id: convId, body: 'Take two tablets.', txn_id: 'rec-2b' });
  await call(gp, 'message.mark_error', { message_id: wrong.message.id, reason: 'Meant for another patient' });
  await call(gp, 'conversation.note', { conversation_id: convId, body: 'INTERNAL: check the allergy list', txn_id: 'rec-3' });
  const lookup = await call(gp, 'patient.lookup', { nhs_number: ann.nhs_number });
  const pid = lookup.patient.id;
  await call(gp, 'consult.book', { patient_id: pid });
  const services = await call(gp, 'service.list', {});
  const svc = services.services.find((s) => s.agreements && s.agreements.length);
  await call(gp, 'advice.create', {
    service_id: svc.id, specialty: svc.specialties[0], urgency: 'routine', question: 'Is this eczema?',
    summary: 'Itchy rash, three weeks.', nhs_number: ann.nhs_number, consent: true, txn_id: 'rec-4',
  });
  await call(gp, 'case.create', { patient_id: pid, title: 'Rash: treatment plan', txn_id: 'rec-5' });
  // Filed twice: the second version replaces the first.
  await call(gp, 'conversation.file', { conversation_id: convId, summary: { code: '271807003', display: 'Eruption of skin' } });
  await call(gp, 'conversation.file', { conversation_id: convId });

  // ---- the clinician's export over REST ----
  const r1 = await fetchExport(gp, pid);
  assert.equal(r1.status, 200, r1.body);
  assert.match(r1.type, /^application\/fhir\+json/);
  const b1 = JSON.parse(r1.body);
  assert.equal(b1.resourceType, 'Bundle');
  assert.equal(b1.type, 'collection');
  assertValid(b1, 'the REST export');
  const [patient] = resources(b1, 'Patient');
  assert.deepEqual(patient.identifier, [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: ann.nhs_number }]);
  assert.equal(patient.birthDate, '1948-03-12');
  const orgCodes = resources(b1, 'Organization').map((o) => o.identifier[0].value).sort();
  assert.ok(orgCodes.includes('Y90001') && orgCodes.includes('R0D01'), `organisations: ${orgCodes}`);
  const texts = resources(b1, 'Communication').map((c) => c.payload.map((p) => p.contentString).join(''));
  assert.ok(texts.includes('It has spread since Monday.'), `communications: ${texts}`);
  assert.ok(texts.includes('Please send a photo.'));
  assert.ok(!JSON.stringify(b1).includes('INTERNAL: check the allergy list'), 'internal notes stay in Parley');
  assert.equal(resources(b1, 'Encounter').length, 1);
  assert.equal(resources(b1, 'Encounter')[0].class.code, 'VR');
  assert.equal(resources(b1, 'CommunicationRequest').length, 1);
  assert.equal(resources(b1, 'Consent').length, 1);
  assert.ok(resources(b1, 'Practitioner').some((p) => p.name[0].text === 'Dr Asha Patel'));
  const photo = resources(b1, 'Communication').find((c) => c.payload[0].contentString === 'Here it is.');
  const content = photo.payload.find((p) => p.contentAttachment).contentAttachment;
  assert.equal(content.contentType, 'image/png');
  assert.equal(content.size, png.length);
  assert.equal(content.hash, createHash('sha1').update(png).digest('base64'));
  const wrongComm = resources(b1, 'Communication').find((c) => c.payload[0].contentString === 'Take two tablets.');
  assert.equal(wrongComm.status, 'entered-in-error');
  const docs = resources(b1, 'DocumentReference');
  assert.equal(docs.length, 2);
  const latest = docs.find((d) => d.relatesTo);
  assert.equal(latest.relatesTo[0].code, 'replaces');
  assert.equal(docs.find((d) => !d.relatesTo).status, 'superseded');
  const html = Buffer.from(latest.content[0].attachment.data, 'base64').toString('utf8');
  assert.match(html, /Entered in error/);
  assert.match(html, /It has spread since Monday\./);

  // A second export names everything the same way.
  const b2 = JSON.parse((await fetchExport(gp, pid)).body);
  assert.deepEqual(b2.entry.map((e) => e.fullUrl), b1.entry.map((e) => e.fullUrl));

  // ---- the operator's export with the CLI: the same resources ----
  const out = execFileSync(BIN, ['export', 'fhir', '--patient', ann.nhs_number, '--data-dir', path.join(server.dir, 'data')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const b3 = JSON.parse(out);
  assertValid(b3, 'the CLI export');
  assert.deepEqual(b3.entry.map((e) => e.fullUrl).sort(), b1.entry.map((e) => e.fullUrl).sort());

  // ---- who may not ----
  const rec = await newPage(browser);
  await signIn(rec, server, 'reception.jones');
  const denied = await fetchExport(rec, pid);
  assert.equal(denied.status, 403);
  assert.equal(JSON.parse(denied.body).error.code, 'forbidden');
  const other = await newPage(browser);
  await signIn(other, server, 'dr.hughes');
  assert.equal((await fetchExport(other, pid)).status, 404);
  // Ann herself: hers to read, not this export's (patients download their transcripts instead).
  assert.equal((await fetchExport(pt, pid)).status, 403);
  const anon = await newPage(browser);
  await anon.goto(`${server.url}/signin`);
  assert.equal((await fetchExport(anon, pid)).status, 401);
  assert.equal((await fetchExport(gp, 999999)).status, 404);

  // ---- accountable: three exports audited, and the trail intact ----
  const verify = execFileSync(BIN, ['audit', 'verify', '--data-dir', path.join(server.dir, 'data')], { encoding: 'utf8' });
  assert.match(verify, /intact/);
  assert.ok(!server.log().includes(ann.nhs_number), 'the NHS number is never logged');
});
