// A video call forced through TURN: Debian's coturn runs on loopback with the TURN REST API
// secret (--use-auth-secret, --allow-loopback-peers), Parley hands out its credentials and, with
// media_force_relay, tells browsers to use relay candidates only (iceTransportPolicy "relay").
// Both browsers' media must flow, and both must be using a relayed candidate pair.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, signIn, writeToneWav, screenshot } from './lib/harness.mjs';
import { inboundMedia } from './lib/flows.mjs';

let server;
let browser;
let turn;
let dir;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'parley-turn-'));
  const secret = 'loopback-only-browser-test-secret';
  const secretFile = path.join(dir, 'turn.secret');
  writeFileSync(secretFile, `${secret}\n`);
  chmodSync(secretFile, 0o600);
  const port = await freeUdpPort();
  turn = spawn('turnserver', ['--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', '-p', String(port),
    '--min-port=49152', '--max-port=65535', '--use-auth-secret', `--static-auth-secret=${secret}`,
    '--realm=parley.test', '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls', '--fingerprint',
    '--no-stdout-log', `--log-file=${path.join(dir, 'turn.log')}`], { stdio: 'ignore' });
  server = await startServer(['--turn-urls', `turn:127.0.0.1:${port}?transport=udp`,
    '--turn-secret-file', secretFile, '--media-force-relay', '1']);
  writeToneWav(path.join(dir, 'tone.wav'));
  browser = await launchBrowser({ media: true, audioFile: path.join(dir, 'tone.wav') });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  turn?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// The page's call, once connected: inbound counters and the selected pair's candidate types.
async function relayed(page, who) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const m = await inboundMedia(page);
    const pair = await page.evaluate(async () => {
      const pc = window.parley.call && window.parley.call.pc;
      if (!pc) return null;
      const st = await pc.getStats();
      let local = null;
      st.forEach((s) => {
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) {
          const l = st.get(s.localCandidateId);
          local = l ? l.candidateType : null;
        }
      });
      return { local, policy: pc.getConfiguration().iceTransportPolicy };
    });
    if (m && m.state === 'connected' && pair && pair.local) return { ...m, ...pair };
    if (Date.now() > deadline) throw new Error(`${who}: no relayed call: ${JSON.stringify({ m, pair })}`);
    await sleep(250);
  }
}

test('a call passes with both browsers forced through TURN', async () => {
  const gp = await newPage(browser);
  const patient = await newPage(browser);
  await Promise.all([signIn(gp, server, 'dr.patel'), signIn(patient, server, 'ann.taylor')]);
  const k = await gp.evaluate(async (nhs) => {
    const p = await window.parley.conn.request('patient.lookup', { nhs_number: nhs });
    const r = await window.parley.conn.request('consult.book', { patient_id: p.patient.id });
    return r.consultation.id;
  }, server.logins['ann.taylor'].nhs_number);
  // Ann goes to the waiting room from her requests; the GP joins and admits her.
  await patient.goto(`${server.url}/patient`);
  const card = patient.locator(`.parley-consult-card[data-consultation-id="${k}"]`);
  await card.waitFor({ timeout: 10000 });
  await card.getByRole('button', { name: 'Go to the waiting room' }).click();
  await patient.locator('#waiting-text').waitFor({ timeout: 10000 });
  await gp.goto(`${server.url}/practice/consultations/${k}/call`);
  await gp.getByRole('button', { name: 'Admit Ann Taylor' }).click();
  await patient.waitForURL(new RegExp(`/consult/${k}/call$`), { timeout: 10000 });

  const [g0, p0] = await Promise.all([relayed(gp, 'GP'), relayed(patient, 'patient')]);
  for (const s of [g0, p0]) {
    assert.equal(s.policy, 'relay');
    assert.equal(s.local, 'relay', 'media goes through the TURN relay');
  }
  await sleep(4000);
  const [g1, p1] = await Promise.all([inboundMedia(gp), inboundMedia(patient)]);
  assert.ok(g1.framesDecoded > g0.framesDecoded, `GP decodes video through TURN: ${g0.framesDecoded} -> ${g1.framesDecoded}`);
  assert.ok(p1.framesDecoded > p0.framesDecoded, `patient decodes video through TURN: ${p0.framesDecoded} -> ${p1.framesDecoded}`);
  assert.ok(g1.audioPackets > g0.audioPackets && p1.audioPackets > p0.audioPackets, 'audio flows both ways');
  await screenshot(patient, 'consult-call-turn');
  for (const p of [gp, patient]) assert.deepEqual(p.errors, [], 'no script errors or CSP violations');
});
