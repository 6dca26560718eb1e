// One browser's place in a video consultation or meeting (PROTOCOL 8.9, 12): the
// RTCPeerConnection to Parley's media server, its fixed transceivers, ICE restarts after a
// network change, and screen sharing. No DOM here: pages/call.js draws it.
//
// The offer always has the same sections, in this order, so nobody renegotiates when people
// come and go. It has K "slots", one per other person it can show (K = the consultation's
// capacity - 1: 2 for a consultation of three, up to 7 for a meeting of eight), 2K + 1
// sections in all (media/README.md, "How a call is negotiated"):
//   0      audio sendrecv  my microphone; slot 0's voice (the first other person)
//   1      video sendrecv  my camera; slot 0's video
//   2k     audio recvonly  slot k's voice, for k = 1 .. K-1
//   2k+1   video recvonly  slot k's video
//   2K     video sendrecv  screen share: staff send it, everyone receives it
// With K = 2 (the default) that is the original five: slot a = 0,1; slot b = 2,3; screen = 4.
// Slots are named by letter too, as the page's tiles are: slot 0 is a, slot 1 is b, ... g.
// The server is ICE-lite and answers with its one host candidate, so the offer is sent at
// once, without waiting for candidates (no trickle ICE).

export const MIN_SLOTS = 2;
export const MAX_SLOTS = 7;
export const SLOT_LETTERS = 'abcdefg';

// The transceiver indexes of each slot, and of the screen, for K slots.
function layout(k) {
  const slots = [];
  for (let i = 0; i < k; i++) slots.push([2 * i, 2 * i + 1]);
  return { slots, screen: [2 * k] };
}

const idle = () => ({ audio: false, video: false });

const RESTART_AFTER_MS = 3000;   // 'disconnected' this long: restart ICE
const ACTIVE_FOR_MS = 3000;      // a slot counts as live while packets arrived this recently
const STATS_EVERY_MS = 1000;

export class Call extends EventTarget {
  // media: a LocalMedia (media.js). canShare: staff may send their screen. slots: how many
  // other people the offer has room for, K (2 to 7; the consultation's capacity - 1).
  constructor(app, consultationId, media, { canShare = false, slots = MIN_SLOTS } = {}) {
    super();
    const n = Math.trunc(Number(slots));
    this.slots = Number.isFinite(n) ? Math.min(MAX_SLOTS, Math.max(MIN_SLOTS, n)) : MIN_SLOTS;
    this.layout = layout(this.slots);
    this.app = app;
    this.consultationId = consultationId;
    this.media = media;
    this.canShare = canShare;
    this.pc = null;
    this.tx = [];
    // What the server sends, as MediaStreams: {slots: [one per slot], screen, a, b, ...}, where
    // a is slots[0], b is slots[1], and so on by letter for each slot there is.
    this.remote = null;
    this.state = 'idle';      // idle | connecting | connected | reconnecting | failed | closed
    this.iceServers = [];
    this.icePolicy = 'all'; // the server may require TURN only ("relay")
    this.screenTrack = null;
    this.restarting = false;
    this.restartTimer = null;
    this.restarts = 0;
    // Which slots have media arriving, {audio, video} each: the same shape as remote.
    this.activity = this.shaped(this.layout.slots.map(idle), idle());
    this.seen = new Map();    // mid -> {packets, frames, rose}
    this.onMedia = (e) => this.mediaChanged(e.detail);
    media.addEventListener('change', this.onMedia);
  }

  setState(state, why) {
    if (this.state === 'closed') return;
    const changed = state !== this.state;
    this.state = state;
    if (changed || why) this.dispatchEvent(new CustomEvent('state', { detail: { state, why } }));
  }

  build() {
    const pc = new RTCPeerConnection(this.config(this.iceServers));
    const m = this.media;
    this.tx = [
      pc.addTransceiver(m.audio || 'audio', { direction: 'sendrecv' }),
      pc.addTransceiver(m.video || 'video', { direction: 'sendrecv' }),
    ];
    for (let i = 1; i < this.slots; i++) {
      this.tx.push(pc.addTransceiver('audio', { direction: 'recvonly' }));
      this.tx.push(pc.addTransceiver('video', { direction: 'recvonly' }));
    }
    this.tx.push(pc.addTransceiver(this.screenTrack || 'video', { direction: 'sendrecv' }));
    const stream = (idx) => new MediaStream(idx.map((i) => this.tx[i].receiver.track));
    this.remote = this.shaped(this.layout.slots.map(stream), stream(this.layout.screen));
    pc.addEventListener('iceconnectionstatechange', () => this.iceChanged(pc));
    this.pc = pc;
    this.seen.clear();
    this.dispatchEvent(new CustomEvent('tracks', { detail: this.remote }));
  }

  // {slots, screen, a, b, ...}: one value per slot, reachable by index and by letter.
  shaped(perSlot, screen) {
    const out = { slots: perSlot, screen };
    perSlot.forEach((v, i) => { out[SLOT_LETTERS[i]] = v; });
    return out;
  }

  // The screen share's transceiver: the last section.
  get screenTx() { return this.tx[this.layout.screen[0]]; }

  // Joins the call: TURN servers first (for networks that block UDP), then the offer.
  async start() {
    this.app.call = this; // window.parley.call.pc, for the browser tests
    this.setState('connecting');
    try {
      const r = await this.app.conn.request('media.ice_servers', {});
      this.iceServers = r.ice_servers || [];
      if (r.ice_transport_policy === 'relay') this.icePolicy = 'relay';
    } catch (e) {
      if (e.code === 'unauthorised') throw e;
    }
    if (this.state === 'closed') return;
    this.build();
    await this.join();
    this.statsTimer = setInterval(() => this.poll(), STATS_EVERY_MS);
  }

  async join(moves = 0) {
    const pc = this.pc;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let r;
    try {
      r = await this.app.conn.request('consult.join', { consultation_id: this.consultationId, offer: pc.localDescription.sdp });
    } catch (e) {
      // In a cluster the call is held by one server: go there and offer again.
      if (e.code !== 'moved' || !e.node || moves >= 3 || pc !== this.pc) throw e;
      await pc.setLocalDescription({ type: 'rollback' });
      this.app.conn.moveTo(e.node.url);
      return this.join(moves + 1);
    }
    if (pc !== this.pc || this.state === 'closed') return;
    this.useIceServers(r.ice_servers);
    await pc.setRemoteDescription({ type: 'answer', sdp: r.answer });
  }

  config(iceServers) {
    return { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers, iceTransportPolicy: this.icePolicy };
  }

  useIceServers(list) {
    if (!Array.isArray(list) || JSON.stringify(list) === JSON.stringify(this.iceServers)) return;
    this.iceServers = list;
    try {
      this.pc.setConfiguration(this.config(list));
    } catch { /* keeps the servers it had */ }
  }

  iceChanged(pc) {
    if (pc !== this.pc || this.state === 'closed') return;
    const s = pc.iceConnectionState;
    if (s === 'connected' || s === 'completed') {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
      this.restarts = 0;
      this.setState('connected');
    } else if (s === 'disconnected') {
      // Often a moment's loss that heals by itself; if not, a new path is needed.
      if (this.state === 'connected') this.setState('reconnecting');
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => this.restartIce(), RESTART_AFTER_MS);
    } else if (s === 'failed') {
      clearTimeout(this.restartTimer);
      this.restartIce();
    }
  }

  // An ICE restart after a network change: new ICE credentials, same call, same media. The
  // old path keeps working until the new one is checked. force: restart even though the
  // connection looks healthy (the browser tests use it; a page could offer it as "fix").
  async restartIce(force = false) {
    this.restartTimer = null;
    if (this.restarting || this.state === 'closed' || !this.pc) return;
    const st = this.pc.iceConnectionState;
    if (!force && (st === 'connected' || st === 'completed')) return;
    this.restarting = true;
    if (!force) this.setState('reconnecting');
    const pc = this.pc;
    try {
      this.restarts++;
      if (this.restarts > 3) { await this.rejoin(); return; }
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      const r = await this.app.conn.request('consult.reoffer', { consultation_id: this.consultationId, offer: pc.localDescription.sdp });
      if (pc !== this.pc || this.state === 'closed') return;
      this.useIceServers(r.ice_servers);
      await pc.setRemoteDescription({ type: 'answer', sdp: r.answer });
      this.reoffers = (this.reoffers || 0) + 1;
      const now = pc.iceConnectionState;
      if (now === 'connected' || now === 'completed') this.setState('connected');
    } catch (e) {
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      if (this.state === 'closed' || e.code === 'unauthorised') return;
      if (e.code === 'conflict' && /join it first/.test(e.message || '')) {
        // The server gave up our place (30 s without media): join afresh.
        this.restarting = false;
        this.rejoin().catch((err) => this.failed(err));
        return;
      }
      if (e.code === 'conflict' || e.code === 'forbidden' || e.code === 'not_found') { this.failed(e); return; }
      // The signalling connection is down too (or busy): try again shortly.
      this.restartTimer = setTimeout(() => this.restartIce(), 2000);
    } finally {
      this.restarting = false;
    }
  }

  // A new peer connection and a fresh consult.join, keeping the same camera and microphone.
  async rejoin() {
    if (this.state === 'closed') return;
    this.restarts = 0;
    const old = this.pc;
    this.setState('connecting');
    this.build();
    if (old) old.close();
    await this.join();
  }

  failed(e) {
    if (this.state === 'closed') return;
    this.setState('failed', e && e.message);
  }

  // The camera or microphone changed (another device chosen, camera turned off or on).
  mediaChanged({ kind, track }) {
    if (!this.pc || this.state === 'closed') return;
    const sender = this.tx[kind === 'audio' ? 0 : 1].sender;
    if (sender.track !== track) sender.replaceTrack(track || null).catch(() => {});
  }

  async shareScreen() {
    if (!this.canShare || this.screenTrack) return;
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const t = s.getVideoTracks()[0];
    if (!t) return;
    t.contentHint = 'detail';
    this.screenTrack = t;
    t.addEventListener('ended', () => this.stopSharing());
    if (this.pc) await this.screenTx.sender.replaceTrack(t);
    this.dispatchEvent(new CustomEvent('share', { detail: { on: true, track: t } }));
  }

  async stopSharing() {
    const t = this.screenTrack;
    if (!t) return;
    this.screenTrack = null;
    if (this.pc && this.state !== 'closed') await this.screenTx.sender.replaceTrack(null).catch(() => {});
    t.stop();
    this.dispatchEvent(new CustomEvent('share', { detail: { on: false } }));
  }

  // Which slots have media arriving: from the inbound RTP counters, by transceiver mid.
  async poll() {
    const pc = this.pc;
    if (!pc || this.state === 'closed') return;
    let stats;
    try { stats = await pc.getStats(); } catch { return; }
    const now = Date.now();
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.mid === undefined) return;
      const prev = this.seen.get(s.mid) || { packets: 0, rose: 0 };
      const packets = s.packetsReceived || 0;
      const moved = s.kind === 'video' ? (s.framesDecoded || 0) > (prev.frames || 0) : packets > prev.packets;
      this.seen.set(s.mid, { packets, frames: s.framesDecoded || 0, rose: moved ? now : prev.rose });
    });
    let changed = false;
    const active = (idx, was) => {
      const got = idle();
      for (const i of idx) {
        const t = this.tx[i];
        const seen = t && t.mid !== null ? this.seen.get(t.mid) : null;
        if (seen && now - seen.rose < ACTIVE_FOR_MS) got[t.receiver.track.kind] = true;
      }
      if (!was || got.audio !== was.audio || got.video !== was.video) changed = true;
      return got;
    };
    const next = this.shaped(this.layout.slots.map((idx, i) => active(idx, (this.activity.slots || [])[i])),
      active(this.layout.screen, this.activity.screen));
    this.activity = next;
    if (changed) this.dispatchEvent(new CustomEvent('activity', { detail: next }));
  }

  // Leaves the call; the consultation goes on for the others.
  async leave() {
    if (this.state === 'closed') return;
    const wasIn = this.pc !== null;
    this.close();
    if (wasIn) await this.app.conn.request('consult.leave', { consultation_id: this.consultationId }).catch(() => {});
  }

  // Stops everything here, without telling the server (it already knows: the call ended).
  close() {
    if (this.state === 'closed') return;
    this.setState('closed');
    clearTimeout(this.restartTimer);
    clearInterval(this.statsTimer);
    this.media.removeEventListener('change', this.onMedia);
    if (this.screenTrack) { this.screenTrack.stop(); this.screenTrack = null; }
    if (this.pc) this.pc.close();
    if (this.app.call === this) this.app.call = null;
  }
}
