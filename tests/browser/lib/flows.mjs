// User journeys the scenarios share, driven through the UI the way a person would.
import { createHmac } from 'node:crypto';

// A patient starts a clinical request: route, red-flag screen, guided questions, details,
// check your answers, send. Returns the new conversation id (from the URL).
export async function startClinicalRequest(page, { subject, problem, body }) {
  await page.getByRole('link', { name: 'Start a request' }).first().click();
  await page.getByLabel('A medical problem').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('group', { name: 'Do you have any of these symptoms now?' }).getByLabel('No').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('What is the problem?').fill(problem);
  await page.getByLabel('1 to 7 days').check();
  await page.getByLabel('Getting worse').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Give your request a short title').fill(subject);
  await page.getByLabel('What would you like the practice to know or do?').fill(body);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Check your request before sending it' }).waitFor();
  await page.getByRole('button', { name: 'Send request' }).click();
  await page.waitForURL(/\/patient\/requests\/\d+$/);
  return Number(new URL(page.url()).pathname.split('/').pop());
}

// RFC 6238 code for a base32 secret, `steps` periods from now.
export function totpCode(secretB32, steps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretB32.replace(/\s+/g, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + steps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(off) & 0x7fffffff) % 1000000;
  return String(n).padStart(6, '0');
}

// Every WebSocket frame the page sends and receives, for checks on what was fetched.
export function recordFrames(page) {
  const frames = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => frames.sent.push(String(f.payload)));
    ws.on('framereceived', (f) => frames.received.push(String(f.payload)));
  });
  return frames;
}

// The events a signed-in page may see, replayed from the start of the stream on a WebSocket
// of its own (the page's session cookie goes with it), for one conversation.
export async function replayEvents(page, conversationId) {
  return page.evaluate(async (convId) => {
    const ws = new WebSocket(`wss://${location.host}/`, 'parley.v1');
    const events = [];
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no events.live within 10 s')), 10000);
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'session.ready') ws.send(JSON.stringify({ id: 'replay', type: 'events.subscribe', cursor: 0 }));
        else if (f.type === 'event' && f.event.conversation_id === convId) events.push(f.event);
        else if (f.type === 'events.live' || f.type === 'session.error') { clearTimeout(t); resolve(); }
      };
      ws.onerror = () => { clearTimeout(t); reject(new Error('websocket failed')); };
    });
    ws.close();
    return events;
  }, conversationId);
}

// What the page's call has received so far: decoded video frames and audio packets, summed
// over its inbound RTP streams (window.parley.call.pc, the RTCPeerConnection).
export async function inboundMedia(page) {
  return page.evaluate(async () => {
    const pc = window.parley.call && window.parley.call.pc;
    if (!pc) return null;
    const out = { state: pc.connectionState, ice: pc.iceConnectionState, framesDecoded: 0, audioPackets: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
      if (s.kind === 'audio') out.audioPackets += s.packetsReceived || 0;
    });
    return out;
  });
}
