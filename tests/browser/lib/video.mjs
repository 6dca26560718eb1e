// What a page's call decodes, read from its RTCPeerConnection's getStats (window.parley.call.pc):
// the browser tests' proof that video really flows, per stream.

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// Frames decoded so far on each inbound video stream, by mid, and the connection state.
export function videoIn(page) {
  return page.evaluate(async () => {
    const pc = window.parley.call && window.parley.call.pc;
    if (!pc) return { state: 'none', frames: {} };
    const frames = {};
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames[s.mid] = s.framesDecoded || 0;
    });
    return { state: pc.connectionState, frames };
  });
}

// Waits until the page decodes rising video on at least `n` streams (20 s at most); returns
// the mids. who names the page in the error.
export async function decoding(page, who, n) {
  const deadline = Date.now() + 20000;
  let last;
  for (;;) {
    const a = await videoIn(page);
    await sleep(1000);
    const b = await videoIn(page);
    const rising = Object.keys(b.frames).filter((mid) => b.frames[mid] > (a.frames[mid] || 0) && b.frames[mid] > 5);
    last = [a, b];
    if (b.state === 'connected' && rising.length >= n) return rising.sort();
    if (Date.now() > deadline) throw new Error(`${who}: video from ${n} people was not decoded: ${JSON.stringify(last)}`);
  }
}
