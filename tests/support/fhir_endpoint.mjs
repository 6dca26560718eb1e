#!/usr/bin/env node
// A small FHIR-like record endpoint for the outbox tests (tests/integration/test_outbox.c): it
// takes POST /Bundle as a FHIR server's conditional create does, and can be made to misbehave.
//
//   node fhir_endpoint.mjs --dir DIR [--port P] [--fail-first N] [--lose-first N]
//                          [--always STATUS] [--token TOKEN]
//
// --port 0 (the default) takes a free port; the port listened on is written to DIR/port once
// listening, so a test waits for that file. Kill it and start it again with --port P and the
// same DIR: it keeps what it stored (DIR/stored.jsonl) and listens on the same port.
//
// POST /Bundle with Content-Type application/fhir+json and If-None-Exist:
// identifier=<system>|<value> (the Bundle's own identifier): the first time an identifier
// comes, the Bundle is stored (one line in stored.jsonl, written before the answer) and the
// answer is 201; a repeat stores nothing and answers 200, as a FHIR server does for a
// conditional create that matches. A Bundle without that header, or whose identifier differs
// from it, is refused with 400 (the outbox must always send it).
//
//   --fail-first N  the first N POSTs of this run are answered 503 and store nothing
//   --lose-first N  the next N POSTs are stored (if new), then the connection is destroyed
//                   without an answer: a delivery that arrived but was never acknowledged
//   --always S      every POST is answered with status S (say 503 or 422), storing nothing
//   --token T       an Authorization other than "Bearer T" is answered 401
//   --cert F --key F  HTTPS with this certificate and key (PEM) instead of HTTP
//   --client-ca F   with --cert: a client certificate issued by this CA is required (mutual
//                   TLS); a connection without one is refused during the handshake
//
// Every request is recorded in DIR/requests.jsonl: {at, method, path, status, if_none_exist,
// content_type, bearer_ok, identifier, bytes}. Loopback only.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
if (!args.dir) {
  process.stderr.write('usage: fhir_endpoint.mjs --dir DIR [--port P] [...]\n');
  process.exit(2);
}
const dir = args.dir;
let failFirst = Number(args['fail-first'] || 0);
let loseFirst = Number(args['lose-first'] || 0);
const always = Number(args.always || 0);
const token = args.token || '';
const storedPath = path.join(dir, 'stored.jsonl');
const requestsPath = path.join(dir, 'requests.jsonl');

const stored = new Set();
if (fs.existsSync(storedPath)) {
  for (const line of fs.readFileSync(storedPath, 'utf8').split('\n')) {
    if (line) stored.add(JSON.parse(line).identifier);
  }
}

function outcome(code, text) {
  return JSON.stringify({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics: text }],
  });
}

function append(file, obj) {
  // Synchronous, and flushed before the answer: a test that sees the answer sees the line.
  const fd = fs.openSync(file, 'a');
  fs.writeSync(fd, `${JSON.stringify(obj)}\n`);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

const tls = args.cert ? {
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  ...(args['client-ca'] ? { ca: fs.readFileSync(args['client-ca']), requestCert: true, rejectUnauthorized: true } : {}),
} : null;
const handler = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://localhost');
    const ine = req.headers['if-none-exist'] || null;
    const rec = {
      at: Date.now(),
      method: req.method,
      path: url.pathname,
      if_none_exist: ine,
      content_type: req.headers['content-type'] || null,
      bearer_ok: token ? req.headers.authorization === `Bearer ${token}` : null,
      client_cert: tls && args['client-ca'] ? (req.socket.getPeerCertificate().subject || {}).CN || null : null,
      identifier: null,
      bytes: body.length,
      status: 0,
    };
    let status = 0;
    let text = '';
    let lose = false;
    if (req.method !== 'POST' || url.pathname !== '/Bundle') {
      status = 404;
      text = 'only POST /Bundle is served here';
    } else if (token && !rec.bearer_ok) {
      status = 401;
      text = 'bad or missing bearer token';
    } else if (failFirst > 0) {
      failFirst--;
      status = 503;
      text = 'unavailable (told to fail)';
    } else if (always) {
      status = always;
      text = `told to answer ${always}`;
    } else {
      let bundle = null;
      try { bundle = JSON.parse(body); } catch { /* refused below */ }
      const m = ine && /^identifier=([^|]*)\|(.+)$/.exec(ine);
      const ident = m ? `${decodeURIComponent(m[1])}|${decodeURIComponent(m[2])}` : null;
      const own = bundle && bundle.identifier ? `${bundle.identifier.system}|${bundle.identifier.value}` : null;
      rec.identifier = ident;
      if (!/^application\/fhir\+json/.test(rec.content_type || '')) {
        status = 415;
        text = 'Content-Type must be application/fhir+json';
      } else if (!bundle || bundle.resourceType !== 'Bundle') {
        status = 400;
        text = 'not a Bundle';
      } else if (!ident || ident !== own) {
        status = 400;
        text = 'If-None-Exist must name the Bundle\'s identifier';
      } else if (stored.has(ident)) {
        status = 200;
      } else {
        stored.add(ident);
        append(storedPath, { identifier: ident, at: rec.at, type: bundle.type, entries: (bundle.entry || []).length });
        status = 201;
      }
      if (status < 300 && loseFirst > 0) {
        loseFirst--;
        lose = true;
      }
    }
    rec.status = lose ? -1 : status;
    append(requestsPath, rec);
    if (lose) {
      req.socket.destroy();
      return;
    }
    const headers = { 'content-type': 'application/fhir+json' };
    if (status === 201) headers.location = `/Bundle/${stored.size}/_history/1`;
    res.writeHead(status, headers);
    res.end(status < 300 ? '' : outcome(status === 503 ? 'transient' : 'invalid', text));
  });
};
const server = tls ? https.createServer(tls, handler) : http.createServer(handler);

server.listen(Number(args.port || 0), '127.0.0.1', () => {
  const tmp = path.join(dir, 'port.tmp');
  fs.writeFileSync(tmp, String(server.address().port));
  fs.renameSync(tmp, path.join(dir, 'port'));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
