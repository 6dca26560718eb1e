// Attachments in a request's thread (PROTOCOL 10): Ann Taylor starts a request, then adds a real
// PNG to a reply from the reply box; Dr Patel, with the request open, sees the message and its
// link arrive live, and opening it (a fresh attachment.url link) downloads the very same bytes.
// A zip archive named photo.jpg is refused by the server, by its content: Ann is shown the
// server's reason, her typed message stays, and nothing reaches the practice. A file over 10 MB
// and six files at once are refused in the browser, before anything is uploaded. Dr Patel sends
// a PDF back with no text; internal notes offer no files. axe and a screenshot on each state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { startServer, launchBrowser, newPage, signIn, screenshot, axe } from './lib/harness.mjs';
import { tinyPng } from './lib/files.mjs';
import { startClinicalRequest } from './lib/flows.mjs';

let server;
let browser;
let dir;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  dir = mkdtempSync(path.join(tmpdir(), 'parley-attach-'));
});
after(async () => { await browser?.close(); await server?.stop(); if (dir) rmSync(dir, { recursive: true, force: true }); });

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function check(page, name) {
  await page.locator('h1').first().waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], `${name}: serious or critical accessibility violations`);
  await screenshot(page, name);
}

// A small PDF: the header, one object, startxref near the end and %%EOF last.
function tinyPdf() {
  return Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\nstartxref\n9\n%%EOF\n', 'latin1');
}

// A zip archive with one stored entry: a local file header, the data, the central directory
// and the end record.
function tinyZip() {
  const name = Buffer.from('note.txt');
  const data = Buffer.from('not a photo\n');
  const crc = zlib.crc32(data) >>> 0;
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(name.length, 28);
  const cdOffset = local.length + name.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12); end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

test('a patient adds a photo to her request; the practice opens it; a disguised zip and an oversize file are refused', async () => {
  const png = tinyPng();
  const photo = path.join(dir, 'rash on arm.png');
  writeFileSync(photo, png);
  const zip = tinyZip();
  assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
  const fakeJpeg = path.join(dir, 'photo.jpg');
  writeFileSync(fakeJpeg, zip);
  const big = path.join(dir, 'big scan.pdf');
  writeFileSync(big, Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(10 * 1024 * 1024 + 1 - 9)]));
  const pdf = path.join(dir, 'letter.pdf');
  writeFileSync(pdf, tinyPdf());
  const six = [];
  for (let i = 1; i <= 6; i++) { const p = path.join(dir, `photo ${i}.png`); writeFileSync(p, png); six.push(p); }

  // ---- Ann starts a request; Dr Patel opens it ----
  const ann = await newPage(browser);
  await signIn(ann, server, 'ann.taylor');
  const id = await startClinicalRequest(ann, {
    subject: 'Rash on my arm', problem: 'A red rash on my left arm', body: 'It appeared three days ago and is itchy.',
  });
  const uploads = [];
  ann.on('request', (r) => { if (r.method() === 'POST' && /\/attachments$/.test(new URL(r.url()).pathname)) uploads.push(r.url()); });

  const gp = await newPage(browser);
  await signIn(gp, server, 'dr.patel');
  await gp.goto(`${server.url}/practice/requests/${id}`);
  await gp.locator('.parley-transcript').getByText('It appeared three days ago and is itchy.').waitFor();
  const gpMessages = gp.locator('.parley-transcript .parley-msg');
  assert.equal(await gpMessages.count(), 1);
  // Staff may send files to the patient; an internal note takes none.
  await gp.getByLabel('Add a photo or PDF').waitFor();
  assert.equal(await gp.locator('#note-files').count(), 0, 'internal notes cannot carry attachments');

  // ---- Ann adds the photo to a reply ----
  await ann.getByLabel('Reply to your practice').fill('Here is the rash this morning.');
  await ann.getByLabel('Add a photo or PDF').setInputFiles(photo);
  await check(ann, 'attach-patient-chosen');
  await ann.getByRole('button', { name: 'Send reply' }).click();
  const annMsg = ann.locator('.parley-transcript .parley-msg:not(.parley-msg--pending)', { hasText: 'Here is the rash this morning.' });
  await annMsg.getByRole('link', { name: 'Open rash on arm.png' }).waitFor({ timeout: 10000 });
  assert.equal(uploads.length, 1);
  assert.equal(await ann.getByLabel('Reply to your practice').inputValue(), '', 'the reply box is emptied once sent');
  assert.equal(await ann.getByLabel('Add a photo or PDF').evaluate((el) => el.files.length), 0, 'the chosen file is cleared once sent');
  await check(ann, 'attach-patient-sent');

  // ---- Dr Patel sees it arrive live, and opening it downloads the same bytes ----
  const gpMsg = gp.locator('.parley-transcript .parley-msg', { hasText: 'Here is the rash this morning.' });
  const open = gpMsg.getByRole('link', { name: 'Open rash on arm.png' });
  await open.waitFor({ timeout: 10000 });
  assert.match(await gpMsg.innerText(), /PNG image, \d+ bytes/);
  await check(gp, 'attach-practice-received');
  const [download] = await Promise.all([gp.waitForEvent('download'), open.click()]);
  assert.equal(download.suggestedFilename(), 'rash on arm.png');
  const link = new URL(download.url());
  assert.match(link.pathname + link.search, /^\/api\/v1\/attachments\/\d+\?expires=\d+&sig=[0-9a-f]{64}$/, 'the link comes from attachment.url');
  assert.ok(readFileSync(await download.path()).equals(png), 'the download is the very file Ann sent');
  assert.match(gp.url(), new RegExp(`/practice/requests/${id}$`), 'opening the photo leaves the page where it is');
  assert.equal(await gpMessages.count(), 2);

  // ---- a zip archive named photo.jpg: refused by the server, by content ----
  await ann.getByLabel('Reply to your practice').fill('And another one.');
  await ann.getByLabel('Add a photo or PDF').setInputFiles(fakeJpeg);
  await ann.getByRole('button', { name: 'Send reply' }).click();
  const fileErr = ann.locator('#reply-files-error');
  await fileErr.waitFor({ timeout: 10000 });
  const zipText = await fileErr.textContent();
  assert.match(zipText, /^Error: photo\.jpg could not be attached: the file is or contains a zip archive$/, zipText);
  assert.equal(uploads.length, 2, 'it was uploaded, and the server refused it');
  assert.equal(await ann.getByLabel('Reply to your practice').inputValue(), 'And another one.', 'the typed message is kept');
  assert.equal(await ann.locator('.parley-msg--pending').count(), 0, 'nothing waits to send');
  assert.equal(await ann.locator('#reply-files').getAttribute('aria-describedby'), 'reply-files-hint reply-files-error');
  await check(ann, 'attach-patient-zip-refused');
  await sleep(1500);
  assert.equal(await gpMessages.count(), 2, 'the practice gets no new message');
  assert.equal(await gp.getByText('And another one.').count(), 0);
  const history = await ann.evaluate(async (convId) =>
    (await window.parley.conn.request('conversation.history', { conversation_id: convId, limit: 50 })).messages.length, id);
  assert.equal(history, 2, 'nothing was stored');

  // ---- over 10 MB: refused in the browser, before any upload ----
  await ann.getByLabel('Add a photo or PDF').setInputFiles(big);
  await ann.getByRole('button', { name: 'Send reply' }).click();
  await fileErr.getByText('big scan.pdf must be smaller than 10 MB').waitFor();
  assert.equal(uploads.length, 2, 'the oversize file was not uploaded');
  assert.equal(await ann.getByLabel('Reply to your practice').inputValue(), 'And another one.');
  assert.equal(await ann.evaluate(() => document.activeElement.id), 'reply-files', 'focus moves to the field in error');
  await check(ann, 'attach-patient-too-large');

  // ---- six files: a message carries at most five ----
  await ann.getByLabel('Add a photo or PDF').setInputFiles(six);
  assert.equal(await fileErr.count(), 0, 'choosing again clears the error');
  await ann.getByRole('button', { name: 'Send reply' }).click();
  await fileErr.getByText('Select up to 5 files').waitFor();
  assert.equal(uploads.length, 2);

  // ---- the right photo this time: the kept text goes with it ----
  await ann.getByLabel('Add a photo or PDF').setInputFiles(photo);
  await ann.getByRole('button', { name: 'Send reply' }).click();
  await gp.locator('.parley-transcript .parley-msg', { hasText: 'And another one.' }).getByRole('link', { name: 'Open rash on arm.png' }).waitFor({ timeout: 10000 });
  assert.equal(await gpMessages.count(), 3);
  assert.equal(uploads.length, 3);

  // ---- Dr Patel sends a PDF back with no text ----
  await gp.getByLabel('Add a photo or PDF').setInputFiles(pdf);
  await gp.getByRole('button', { name: 'Send reply' }).click();
  const annPdf = ann.locator('.parley-transcript .parley-msg', { hasText: 'letter.pdf attached' });
  await annPdf.getByRole('link', { name: 'Open letter.pdf' }).waitFor({ timeout: 10000 });
  assert.match(await annPdf.innerText(), /PDF, \d+ bytes/);
  const [pdfDownload] = await Promise.all([ann.waitForEvent('download'), annPdf.getByRole('link', { name: 'Open letter.pdf' }).click()]);
  assert.ok(readFileSync(await pdfDownload.path()).equals(tinyPdf()), 'Ann downloads the PDF her practice sent');
  await check(ann, 'attach-patient-pdf-received');

  // Still usable at 320 px: no sideways scrolling.
  await ann.setViewportSize({ width: 320, height: 800 });
  const [sw, cw] = await ann.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `request page at 320 px: ${sw}px of content in a ${cw}px viewport`);
  await check(ann, 'attach-patient-320');

  // Chromium logs the refused upload's 400 answer itself; nothing else may be logged.
  assert.deepEqual(ann.errors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)'],
    'no script errors or CSP violations');
  assert.deepEqual(gp.errors, []);
});
