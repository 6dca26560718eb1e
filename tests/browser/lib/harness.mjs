// The browser tests' harness: a real `parley serve` on loopback with a fresh data directory and
// demo data, and Debian's Chromium driven by playwright-core. No browser is downloaded.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
export const SCREENSHOTS = path.join(ROOT, 'tests/browser/screenshots');
const BIN = process.env.PARLEY_BIN || path.join(ROOT, 'build/parley');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
];

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `parley serve` on a fresh demo data directory. Returns {url, logins, stop}.
// logins: username -> {password, nhs_number, ...} from `parley demo --json`.
export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-browser-'));
  const data = path.join(dir, 'data');
  const out = execFileSync(BIN, ['demo', '--data-dir', data, '--json', '--kdf-log-n', '10'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const logins = {};
  for (const u of JSON.parse(out.trim().split('\n').pop())) logins[u.username] = u;
  const port = await freeTcpPort();
  const media = await freeUdpPort();
  const log = openSync(path.join(dir, 'server.log'), 'w');
  const child = spawn(BIN, ['serve', '--data-dir', data, '--port', String(port), '--media-port', String(media),
    '--bind', '127.0.0.1', '--web-root', path.join(ROOT, 'web/public'), ...extraArgs],
  { stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const url = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited) throw new Error(`parley serve exited early (${JSON.stringify(exited)}): ${readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000)}`);
    try {
      const ok = await probe(port);
      if (ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('parley serve did not become healthy within 15 s'); }
    await sleep(100);
  }
  return {
    url, port, dir, logins,
    log: () => readFileSync(path.join(dir, 'server.log'), 'utf8'),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        for (let i = 0; i < 50 && !exited; i++) await sleep(100);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function probe(port) {
  const https = await import('node:https');
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 1000 },
      (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

// Chromium's switches for video calls in tests: a fake camera and microphone (a test pattern
// and a beep), permission prompts answered yes, and loopback candidates allowed. Chromium
// leaves the loopback interface out of ICE by default; Parley's media server advertises
// 127.0.0.1 in tests, so without the last switch a machine whose only interface is `lo`
// gathers no candidate at all. With it every packet of the call stays on loopback.
export const MEDIA_ARGS = [
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
];

// opts.media: add MEDIA_ARGS (for the video consultation scenarios). The base flags stay.
// opts.audioFile: a WAV file the fake microphone plays (in a loop) instead of its own beeps.
export async function launchBrowser({ media = false, audioFile = null } = {}) {
  const args = media ? [...CHROMIUM_ARGS, ...MEDIA_ARGS] : [...CHROMIUM_ARGS];
  if (media && audioFile) args.push(`--use-file-for-fake-audio-capture=${audioFile}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// Writes a WAV file (16-bit mono PCM) of a steady tone. Chromium's own fake microphone is
// silent between short beeps, too quiet for the media server's active-speaker detection;
// this one talks all the time.
export function writeToneWav(file, { seconds = 2, hz = 440, rate = 48000, amplitude = 8000 } = {}) {
  const n = seconds * rate;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8);
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  writeFileSync(file, b);
}

// A fresh browser context: its own cookies, as a separate person on a separate computer.
export async function newPage(browser, { width = 1280, height = 900 } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return page;
}

export async function signIn(page, server, username) {
  await page.goto(`${server.url}/signin`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(server.logins[username].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
}

// axe-core against WCAG 2.1 A and AA. Returns the serious and critical violations.
export async function axe(page) {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
