// The camera and microphone on this computer: opening them, choosing which ones, muting, and a
// microphone level meter. One LocalMedia lives from the waiting room into the call, so the
// devices the patient chose are the ones the call sends.
import { h, replace } from './dom.js';

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };

// Why the browser refused, in words a patient can act on.
export const MEDIA_ERRORS = {
  denied: 'Parley is not allowed to use your camera and microphone. Allow it in your browser’s settings for this site (usually the camera icon in the address bar), then reload the page.',
  none: 'No camera or microphone was found. Check they are plugged in and turned on, then reload the page. You can still join and use the messages.',
  busy: 'Your camera or microphone is being used by another app. Close the other app, then reload the page.',
  unsupported: 'This browser cannot make video calls. Use an up-to-date version of Chrome, Edge, Firefox or Safari.',
};

function classify(e) {
  const n = e && e.name;
  if (n === 'NotAllowedError' || n === 'SecurityError') return 'denied';
  if (n === 'NotFoundError' || n === 'OverconstrainedError' || n === 'DevicesNotFoundError') return 'none';
  if (n === 'NotReadableError' || n === 'AbortError' || n === 'TrackStartError') return 'busy';
  return 'none';
}

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.audio = null;   // MediaStreamTrack or null
    this.video = null;
    this.audioId = '';   // chosen device ids ('' = the browser's default)
    this.videoId = '';
    this.muted = false;
    this.cameraOff = false;
    this.error = null;   // a key of MEDIA_ERRORS, when something could not be opened
    this.stream = new MediaStream(); // what the self view shows
    this.stopped = false;
  }

  constraint(kind) {
    const id = kind === 'audio' ? this.audioId : this.videoId;
    const base = kind === 'video' ? { ...VIDEO } : { echoCancellation: true, noiseSuppression: true };
    return id ? { ...base, deviceId: { exact: id } } : base;
  }

  // Opens the microphone and the camera; when both cannot be had, whichever one can.
  async open() {
    this.error = null;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { this.error = 'unsupported'; return; }
    let first = null;
    try {
      const s = await navigator.mediaDevices.getUserMedia({ audio: this.constraint('audio'), video: this.constraint('video') });
      this.setTrack('audio', s.getAudioTracks()[0] || null);
      this.setTrack('video', s.getVideoTracks()[0] || null);
      return;
    } catch (e) { first = e; }
    for (const kind of ['audio', 'video']) {
      try {
        const s = await navigator.mediaDevices.getUserMedia({ [kind]: this.constraint(kind) });
        this.setTrack(kind, s.getTracks()[0] || null);
      } catch { /* the error of the first try says why */ }
    }
    this.error = classify(first);
  }

  setTrack(kind, track) {
    if (this.stopped) { if (track) track.stop(); return; }
    const old = this[kind];
    if (old && old !== track) { this.stream.removeTrack(old); old.stop(); }
    this[kind] = track;
    if (track) {
      if (kind === 'audio') track.enabled = !this.muted;
      const id = track.getSettings ? track.getSettings().deviceId : '';
      if (id) this[`${kind}Id`] = id;
      this.stream.addTrack(track);
    }
    this.dispatchEvent(new CustomEvent('change', { detail: { kind, track } }));
  }

  // Another camera or microphone, chosen by device id.
  async choose(kind, id) {
    this[`${kind}Id`] = id;
    if (kind === 'video' && this.cameraOff) return;
    const s = await navigator.mediaDevices.getUserMedia({ [kind]: this.constraint(kind) });
    this.setTrack(kind, s.getTracks()[0]);
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.audio) this.audio.enabled = !muted;
    this.dispatchEvent(new CustomEvent('change', { detail: { kind: 'audio', track: this.audio } }));
  }

  // Turning the camera off stops it (its light goes off); turning it on opens it again.
  async setCamera(on) {
    this.cameraOff = !on;
    if (!on) { this.setTrack('video', null); return; }
    const s = await navigator.mediaDevices.getUserMedia({ video: this.constraint('video') });
    this.setTrack('video', s.getVideoTracks()[0]);
  }

  async devices() {
    const all = await navigator.mediaDevices.enumerateDevices();
    return { audio: all.filter((d) => d.kind === 'audioinput'), video: all.filter((d) => d.kind === 'videoinput') };
  }

  stop() {
    this.stopped = true;
    for (const t of [this.audio, this.video]) if (t) t.stop();
    this.audio = null;
    this.video = null;
  }
}

// Two labelled selects, for the camera and the microphone. Choosing one switches the device
// at once (the preview and, in a call, what is sent).
export function deviceChooser(media, { onError } = {}) {
  const cam = h('select', { class: 'nhsuk-select', id: 'camera', name: 'camera' });
  const mic = h('select', { class: 'nhsuk-select', id: 'microphone', name: 'microphone' });
  const el = h('div', { class: 'parley-devices' },
    h('div', { class: 'nhsuk-form-group' }, h('label', { class: 'nhsuk-label', for: 'camera' }, 'Camera'), cam),
    h('div', { class: 'nhsuk-form-group' }, h('label', { class: 'nhsuk-label', for: 'microphone' }, 'Microphone'), mic));
  const fill = async () => {
    let d;
    try { d = await media.devices(); } catch { return; }
    const put = (sel, list, current, noun) => {
      if (!list.length) {
        replace(sel, h('option', { value: '' }, `No ${noun} found`));
        sel.disabled = true;
        return;
      }
      sel.disabled = false;
      replace(sel, list.map((dev, i) => h('option', { value: dev.deviceId, selected: dev.deviceId === current },
        dev.label || `${noun[0].toUpperCase()}${noun.slice(1)} ${i + 1}`)));
    };
    put(cam, d.video, media.videoId, 'camera');
    put(mic, d.audio, media.audioId, 'microphone');
  };
  const pick = (kind, sel) => async () => {
    try { await media.choose(kind, sel.value); } catch (e) { if (onError) onError(classify(e)); }
  };
  cam.addEventListener('change', pick('video', cam));
  mic.addEventListener('change', pick('audio', mic));
  const onDevices = () => fill();
  navigator.mediaDevices?.addEventListener?.('devicechange', onDevices);
  fill();
  return { el, refresh: fill, destroy: () => navigator.mediaDevices?.removeEventListener?.('devicechange', onDevices) };
}

// A meter showing how loud the microphone is, so people can see it works before the call.
export function levelMeter(media) {
  const meter = h('meter', { id: 'mic-level', class: 'parley-meter', min: '0', max: '1', low: '0.1', high: '0.9', optimum: '0.5', value: '0' });
  const el = h('div', { class: 'nhsuk-form-group parley-level' },
    h('label', { class: 'nhsuk-label', for: 'mic-level' }, 'Microphone level'),
    h('div', { class: 'nhsuk-hint', id: 'mic-level-hint' }, 'Say something: the bar moves when your microphone hears you.'),
    meter);
  meter.setAttribute('aria-describedby', 'mic-level-hint');
  let ctx = null;
  let source = null;
  let analyser = null;
  const buf = new Float32Array(1024);
  const connect = () => {
    if (source) { source.disconnect(); source = null; }
    if (!media.audio || !window.AudioContext) return;
    try {
      if (!ctx) {
        ctx = new AudioContext();
        analyser = ctx.createAnalyser();
        analyser.fftSize = 1024;
      }
      source = ctx.createMediaStreamSource(new MediaStream([media.audio]));
      source.connect(analyser);
      if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    } catch { /* no meter, no harm */ }
  };
  const onChange = (e) => { if (e.detail.kind === 'audio') connect(); };
  media.addEventListener('change', onChange);
  connect();
  const timer = setInterval(() => {
    if (!analyser || !source || media.muted) { meter.value = 0; return; }
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    meter.value = Math.min(1, Math.sqrt(sum / buf.length) * 4);
  }, 100);
  return {
    el,
    destroy() {
      clearInterval(timer);
      media.removeEventListener('change', onChange);
      if (source) source.disconnect();
      if (ctx) ctx.close().catch(() => {});
    },
  };
}
