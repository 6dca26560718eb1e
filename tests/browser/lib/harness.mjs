// The browser tests' harness: a real `parley serve` on loopback with a fresh data directory and
// demo data, and Debian's Chromium driven by playwright-core. No browser is downloaded.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync, openSync } from 'node:fs';
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

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
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
