// The REST calls. All are JSON from this origin, which is what the server's same-site (CSRF)
// rule requires; the session cookie is HttpOnly and never seen by this code.
import { ConnError } from './conn.js';

async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {}),
    });
  } catch {
    throw new ConnError('unavailable', 'Parley could not be reached. Check your internet connection and try again.');
  }
  if (res.status === 204) return {};
  let json = {};
  try { json = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) {
    const e = json.error || {};
    const err = new ConnError(e.code || 'internal', e.message || `error ${res.status}`);
    err.retryAfter = Number(res.headers.get('retry-after')) || 0;
    throw err;
  }
  return json;
}

export function login(username, password, totp) {
  const body = { username, password };
  if (totp) body.totp = totp;
  return post('/api/v1/login', body);
}

export function logout() {
  return post('/api/v1/logout', {});
}

// Opens a video consultation link (PROTOCOL 8.7): the token from the link's fragment and the
// date of birth. On success the server sets a session cookie scoped to the consultation.
export function join(token, dateOfBirth) {
  return post('/api/v1/join', { token, date_of_birth: dateOfBirth });
}

// Uploads a photo or PDF to a conversation (PROTOCOL 10.2): the file itself is the body, and
// X-Parley-Upload is the same-site rule for a body that is not JSON. Returns the attachment,
// to put on a message with conversation.send's attachment_ids.
export async function upload(conversationId, file) {
  let res;
  try {
    res = await fetch(`/api/v1/conversations/${conversationId}/attachments`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': file.type, 'X-Parley-Upload': '1', 'X-Filename': encodeURIComponent(file.name) },
      body: file,
    });
  } catch {
    throw new ConnError('unavailable', 'Parley could not be reached. Check your internet connection and try again.');
  }
  let json = {};
  try { json = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) {
    const e = json.error || {};
    throw new ConnError(e.code || 'internal', e.message || `error ${res.status}`);
  }
  return json.attachment;
}
