// Independent FHIR R4 validation of a Bundle, so Parley's C code is never the only judge of its
// own export (issue 6). The structural and terminology checks are the npm `fhir` package's
// (FHIR.js 4.12, R4 definitions, offline): unknown properties, cardinality, types, required
// value sets. FHIR.js tests primitive formats with unanchored regexes ("12/03/1948" passes as
// a date because it contains "1948") and skips instant and base64Binary, and it checks no
// invariants; so this file adds, through its onBeforeValidateProperty hook, the anchored
// regexes the R4 spec gives for each primitive type, plus the few invariants a Bundle like
// ours can break (bdl-7 unique fullUrls, ppc-1 Consent policy, att-1, per-1) and a check that
// every urn:uuid reference resolves inside the Bundle.
//
// Use: import { validateBundle } from './lib/fhir-validate.mjs' -> { valid, errors, messages },
// or as a command: node lib/fhir-validate.mjs [bundle.json]   (stdin when no path)
// which prints every message and exits 1 if any is an error.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import fhirPackage from 'fhir';

const { Fhir } = fhirPackage;
const fhir = new Fhir();

// The regexes of the R4 specification's primitive types (datatypes.html), anchored.
const Y = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const MO = '(0[1-9]|1[0-2])';
const D = '(0[1-9]|[1-2][0-9]|3[0-1])';
const T = '([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?';
const TZ = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))';
const PRIMITIVE = {
  date: new RegExp(`^${Y}(-${MO}(-${D})?)?$`),
  dateTime: new RegExp(`^${Y}(-${MO}(-${D}(T${T}${TZ})?)?)?$`),
  instant: new RegExp(`^${Y}-${MO}-${D}T${T}${TZ}$`),
  time: new RegExp(`^${T}$`),
  code: /^[^\s]+( [^\s]+)*$/,
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  uri: /^\S*$/,
  url: /^\S*$/,
  canonical: /^\S*$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/,
  base64Binary: /^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/,
};
const STRINGY = new Set(['string', 'markdown', ...Object.keys(PRIMITIVE)]);

function primitiveMessages(property, location, value) {
  const out = [];
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) {
    if (STRINGY.has(property._type)) {
      if (typeof v !== 'string') {
        out.push({ location, severity: 'error', message: `${property._type} must be a string` });
      } else if (PRIMITIVE[property._type] && !PRIMITIVE[property._type].test(v)) {
        out.push({ location, severity: 'error',
          message: `Invalid ${property._type} format for value "${v}"` });
      }
    }
  }
  return out;
}

const errorOf = (location, message) => ({ location, severity: 'error', message });

// Invariants of R4 that FHIR.js does not evaluate, for the resources Parley exports.
function invariantMessages(resource, where) {
  const out = [];
  const t = resource.resourceType;
  const periods = [];
  const attachments = [];
  (function walk(v, path) {
    if (Array.isArray(v)) { v.forEach((x, i) => walk(x, `${path}[${i}]`)); return; }
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (/^(period|occurrencePeriod)$/.test(k)) periods.push([x, `${path}.${k}`]);
      if (/^(attachment|contentAttachment)$/.test(k)) attachments.push([x, `${path}.${k}`]);
      walk(x, `${path}.${k}`);
    }
  })(resource, where);
  for (const [p, at] of periods) {
    if (p && p.start && p.end && Date.parse(p.start) > Date.parse(p.end)) {
      out.push(errorOf(at, 'per-1: start must be before or the same as end'));
    }
  }
  for (const [a, at] of attachments) {
    if (a && a.data && !a.contentType) out.push(errorOf(at, 'att-1: data needs a contentType'));
  }
  if (t === 'Consent' && !resource.policy && !resource.policyRule) {
    out.push(errorOf(where, 'ppc-1: Consent needs a policy or a policyRule'));
  }
  if (t === 'Consent') {
    const scope = (resource.scope?.coding || []).map((c) => c.code);
    if (scope.some((c) => ['patient-privacy', 'research', 'adr', 'treatment'].includes(c)) &&
        !resource.patient) {
      out.push(errorOf(where, 'ppc-2..5: this Consent scope needs a patient'));
    }
  }
  if (t === 'Organization' && !resource.name && !(resource.identifier || []).length) {
    out.push(errorOf(where, 'org-1: an Organization needs a name or an identifier'));
  }
  return out;
}

function collectReferences(v, path, out) {
  if (Array.isArray(v)) { v.forEach((x, i) => collectReferences(x, `${path}[${i}]`, out)); return; }
  if (!v || typeof v !== 'object') return;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'reference' && typeof x === 'string') out.push([x, path, v.type]);
    else collectReferences(x, `${path}.${k}`, out);
  }
}

// Validates a Bundle (an object, or JSON text) and every resource in it.
// Returns { valid, errors, messages }: errors are the messages of severity error or fatal,
// messages every message (warnings and information included), each { location, severity,
// message, resourceId }.
export function validateBundle(input) {
  let bundle = input;
  if (typeof input === 'string') {
    try { bundle = JSON.parse(input); } catch (e) {
      const m = errorOf('', `not JSON: ${e.message}`);
      return { valid: false, errors: [m], messages: [m] };
    }
  }
  const messages = [];
  if (!bundle || bundle.resourceType !== 'Bundle') {
    messages.push(errorOf('', 'not a Bundle'));
  } else {
    const res = fhir.validate(bundle, {
      errorOnUnexpected: true,
      onBeforeValidateProperty: (_resource, property, location, value) =>
        primitiveMessages(property, location, value),
    });
    messages.push(...res.messages);
    const urls = new Map();
    (bundle.entry || []).forEach((e, i) => {
      const where = `Bundle.entry[${i}]`;
      if (!e || typeof e !== 'object') return;
      if (e.fullUrl) {
        if (urls.has(e.fullUrl)) messages.push(errorOf(where, `bdl-7: fullUrl ${e.fullUrl} twice`));
        urls.set(e.fullUrl, e.resource?.resourceType);
        const m = /^urn:uuid:(.*)$/.exec(e.fullUrl);
        if (m && e.resource?.id && m[1] !== e.resource.id) {
          messages.push(errorOf(where, 'fullUrl urn:uuid does not match the resource id'));
        }
      }
      if (e.resource) messages.push(...invariantMessages(e.resource, `${where}.resource`));
    });
    const refs = [];
    collectReferences(bundle.entry || [], 'Bundle.entry', refs);
    for (const [ref, where, type] of refs) {
      if (!ref.startsWith('urn:uuid:')) continue; // a literal URL may live elsewhere
      if (!urls.has(ref)) messages.push(errorOf(where, `reference ${ref} resolves to no entry`));
      else if (type && urls.get(ref) !== type) {
        messages.push(errorOf(where, `reference ${ref} says ${type} but is a ${urls.get(ref)}`));
      }
    }
  }
  const errors = messages.filter((m) => m.severity === 'error' || m.severity === 'fatal');
  return { valid: errors.length === 0, errors, messages };
}

export function formatMessage(m) {
  return `${m.severity}\t${m.location || '-'}\t${m.message}`;
}

// The command: a path argument, or the Bundle on stdin.
if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const text = fs.readFileSync(process.argv[2] || 0, 'utf8');
  const { valid, messages } = validateBundle(text);
  for (const m of messages) console.log(formatMessage(m));
  console.log(valid ? 'valid' : 'INVALID');
  process.exitCode = valid ? 0 : 1;
}
