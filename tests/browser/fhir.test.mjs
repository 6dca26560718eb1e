// The FHIR R4 export judged by an independent validator (issue 6): the Bundle that
// storage/fhir.c builds from tests/storage/test_fhir.c's handcrafted record (every resource
// kind Parley exports) must pass lib/fhir-validate.mjs, and deliberately broken copies of it
// must fail, which proves the harness can fail at all. No server and no browser.
//
// The Bundle comes from the unit test binary itself: with PARLEY_FHIR_PRINT=1 it prints the
// Bundle of its record to stdout instead of running its tests. The binary is found beside
// PARLEY_BIN (build/parley -> build/tests/storage/test_fhir), or PARLEY_FHIR_TEST_BIN, and is
// built with make when missing.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateBundle, formatMessage } from './lib/fhir-validate.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.dirname(process.env.PARLEY_BIN || path.join(ROOT, 'build/parley'));
const BIN = process.env.PARLEY_FHIR_TEST_BIN || path.join(BUILD, 'tests/storage/test_fhir');

let bundle;

before(() => {
  if (!existsSync(BIN)) {
    execFileSync('make', ['--no-print-directory', `B=${path.relative(ROOT, BUILD)}`,
      path.relative(ROOT, BIN)], { cwd: ROOT, stdio: 'inherit' });
  }
  const out = execFileSync(BIN, [], { env: { ...process.env, PARLEY_FHIR_PRINT: '1' } });
  bundle = JSON.parse(out.toString('utf8'));
});

const copy = () => structuredClone(bundle);
const resources = (b, type) =>
  b.entry.map((e) => e.resource).filter((r) => r.resourceType === type);

// Asserts v is invalid with an error whose location and message match.
function assertRejected(b, location, message) {
  const { valid, errors } = validateBundle(b);
  assert.equal(valid, false, 'the validator accepted a broken Bundle');
  const hit = errors.find((e) => (e.location || '').includes(location) && message.test(e.message));
  assert.ok(hit, `no error at ${location} matching ${message}; got:\n` +
    errors.map(formatMessage).join('\n'));
}

test('the export of a record holding every kind of resource is valid FHIR R4', () => {
  const kinds = new Set(bundle.entry.map((e) => e.resource.resourceType));
  for (const k of ['Patient', 'Organization', 'Practitioner', 'PractitionerRole', 'Encounter',
    'Communication', 'CommunicationRequest', 'Consent', 'DocumentReference']) {
    assert.ok(kinds.has(k), `no ${k} in the Bundle`);
  }
  const { valid, errors, messages } = validateBundle(bundle);
  for (const m of messages) console.log(formatMessage(m));
  assert.equal(valid, true, errors.map(formatMessage).join('\n'));
});

test('the validator rejects a Communication status outside the R4 value set', () => {
  const b = copy();
  resources(b, 'Communication')[0].status = 'done';
  assertRejected(b, 'Communication.status', /not found in value set/);
});

test('the validator rejects a birth date that is not a FHIR date', () => {
  const b = copy();
  resources(b, 'Patient')[0].birthDate = '12/03/1948';
  assertRejected(b, 'Patient.birthDate', /Invalid date format/);
});

test('the validator rejects a timestamp that is not an instant', () => {
  const b = copy();
  b.timestamp = '2026-11-25';
  assertRejected(b, 'Bundle.timestamp', /Invalid instant format/);
});

test('the validator rejects a Consent with no policy rule (ppc-1)', () => {
  const b = copy();
  delete resources(b, 'Consent')[0].policyRule;
  assertRejected(b, 'Bundle.entry', /ppc-1/);
});

test('the validator rejects a property R4 does not define', () => {
  const b = copy();
  resources(b, 'Encounter')[0].videoRoom = 'abc';
  assertRejected(b, 'Encounter.videoRoom', /Unexpected property/);
});

test('the validator rejects a reference to nothing in the Bundle and a duplicate fullUrl', () => {
  const b = copy();
  resources(b, 'Communication')[0].sender.reference = 'urn:uuid:00000000-0000-5000-8000-000000000000';
  assertRejected(b, 'sender', /resolves to no entry/);
  const d = copy();
  d.entry.push(structuredClone(d.entry[0]));
  assertRejected(d, 'Bundle.entry', /bdl-7/);
});
