/* Fuzz target: the FHIR export (storage/fhir.c, fhir_encounter.c, fhir_comm.c) and the
 * transcript HTML (storage/transcript_html.c), over inputs that are almost right.
 *
 * Random bytes as JSON would almost never get past pl_fhir_bundle's first type check, so the
 * input is a script of edits to a valid pair {"record": <the record tests/storage/test_fhir.c
 * builds>, "transcript": <a transcript of the shape transcript_html.h documents>}. Each edit
 * picks a place in that tree (every object member and array element, in document order) and
 * replaces it (null, a boolean, an interesting or raw integer, an interesting or raw string, a
 * real, an empty container, a copy of another place), deletes it, duplicates it in its array, or
 * adds a member of a known field name. An input starting with '{' is instead parsed as JSON and
 * used whole as both the record and the transcript, so hand-written records can be seeds.
 *
 * What must hold, whatever the record:
 * - pl_fhir_bundle returns 0 or -PL_EINVAL (nothing here fails to allocate, so -PL_ENOMEM would
 *   be a NULL from a builder: a bug), leaves *bundle untouched on error and the record unchanged,
 *   and gives the same Bundle twice;
 * - the Bundle serialises to JSON that parses back (no duplicate keys, valid UTF-8) to an equal
 *   value; every entry's fullUrl is urn:uuid:<its resource's id>, no fullUrl appears twice, and
 *   every "reference" in it names an entry (the export refuses a record rather than leave a
 *   hole: storage/fhir.c, "Strictness");
 * - pl_transcript_html succeeds for any object with an entries array, writes valid UTF-8, and
 *   every '<', '>', '"', '\'' and '&' in its output belongs to the template's own markup or an
 *   escape, so no text from the transcript can become markup.
 * Header byte of a script: which "now" to stamp (a valid time, or one at or past the limits). */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "storage/fhir.h"
#include "storage/transcript_html.h"

#define NOW_MS INT64_C(1795608000000)
#define MAX_TIME_MS INT64_C(253402300799999) /* fhir.c: 9999-12-31T23:59:59.999Z */
#define MAX_OPS 64
#define MAX_SLOTS 4096 /* edits that grow the tree stop when it holds this many places */
#define MAX_DEPTH 32

/* The record tests/storage/test_fhir.c exports (patient 100 of practice 1, every kind of thing). */
#include "tests/support/fhir_record.h" /* record_json */

static const char transcript_json[] =
    "{\"title\": \"Transcript: Repeat prescription\", \"patient\": {\"display_name\": "
    "\"Ada Patient\", \"nhs_number\": \"9434765919\", \"date_of_birth\": \"1948-03-12\"}, "
    "\"organisation\": \"Riverside Surgery\", \"filed_by\": \"Dr Grace GP\", "
    "\"filed_at\": 1795600400000, \"summary\": {\"code\": \"195967001\", \"display\": "
    "\"Asthma\"}, \"entries\": ["
    " {\"author\": \"Ada Patient\", \"role\": \"patient\", \"at\": 1795600000000, \"body\": "
    "\"Can I have my inhaler? <script>alert('x')</script> & \\\"more\\\"\", \"attachments\": "
    "[{\"filename\": \"inhaler<img src=x>.jpg\", \"content_type\": \"image/jpeg\"}]},"
    " {\"author\": \"Dr Grace GP\", \"role\": \"GP\", \"at\": 1795600100000, \"body\": "
    "\"Yes, issued today.\", \"attachments\": [], \"entered_in_error\": {\"by_name\": "
    "\"Dr Grace GP\", \"at\": 1795600250000, \"reason\": \"</del><b>wrong</b>\"}}]}";

static void fail(const char *why, const char *detail)
{
    fprintf(stderr, "fuzz_fhir: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* ---- reading the script ---------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} rd_t;

static uint8_t rd_u8(rd_t *r)
{
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

static uint16_t rd_u16(rd_t *r)
{
    uint16_t hi = rd_u8(r);
    return (uint16_t)(hi << 8 | rd_u8(r));
}

static int64_t rd_i64(rd_t *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | rd_u8(r);
    return (int64_t)v;
}

/* ---- the places of the tree ------------------------------------------------------------ */

typedef struct {
    json_t *parent;  /* object or array */
    const char *key; /* member name (borrowed from parent), or NULL for an array element */
    size_t index;
} slot_t;

static json_t *slot_get(const slot_t *s)
{
    return s->key ? json_object_get(s->parent, s->key) : json_array_get(s->parent, s->index);
}

/* Takes v. */
static void slot_set(const slot_t *s, json_t *v)
{
    if (!v) return;
    if (s->key)
        json_object_set_new(s->parent, s->key, v);
    else
        json_array_set_new(s->parent, s->index, v);
}

static void slot_del(const slot_t *s)
{
    if (s->key)
        json_object_del(s->parent, s->key);
    else
        json_array_remove(s->parent, s->index);
}

static size_t collect(json_t *v, slot_t *out, size_t n, int depth)
{
    if (depth > MAX_DEPTH) return n;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            if (n == MAX_SLOTS) return n;
            out[n++] = (slot_t){v, k, 0};
            n = collect(m, out, n, depth + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            if (n == MAX_SLOTS) return n;
            out[n++] = (slot_t){v, NULL, i};
            n = collect(m, out, n, depth + 1);
        }
    }
    return n;
}

/* ---- values an edit writes ------------------------------------------------------------- */

/* clang-format off: tables, many to a line */

static const int64_t ints[] = {
    0,
    1,
    -1,
    2,
    3,
    10,
    11,
    12,
    20,
    30,
    40,
    41,
    100,
    500,
    501,
    502,
    503,
    700,
    701,
    702,
    800,
    900,
    1000,
    1001,
    5001,
    5002,
    5003,
    77,
    INT32_MAX,
    (int64_t)INT32_MAX + 1,
    INT64_MAX,
    INT64_MIN,
    INT64_MIN + 1,
    MAX_TIME_MS,
    MAX_TIME_MS + 1,
    NOW_MS,
    INT64_C(1795600000000),
    INT64_C(1795605000000),
    INT64_C(-62135596800000),
    INT64_C(9223372036854775),
};

static const char *const strs[] = {
    "",
    "staff",
    "patient",
    "guest",
    "practice",
    "specialist_service",
    "network",
    "admin",
    "clinical",
    "video",
    "advice",
    "case",
    "interpreter",
    "carer",
    "routine",
    "urgent",
    "new",
    "in_progress",
    "awaiting_gp",
    "closed",
    "open",
    "booked",
    "waiting",
    "in_call",
    "ended",
    "cancelled",
    "advice_given",
    "referral",
    "seen_elsewhere",
    "gp",
    "nurse",
    "pharmacist",
    "clinician",
    "receptionist",
    "practice_admin",
    "specialist",
    "1948-03-12",
    "1948-02-31",
    "0000-00-00",
    "9999-12-31",
    "2024-13-01",
    "19480312",
    "9434765919",
    "943 476 5919",
    "195967001",
    "123456789012345678",
    "1234567890123456789",
    "12345",
    "12a456",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8",
    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    "zz0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    "image/jpeg",
    "application/pdf",
    "text/html",
    "<script>alert(1)</script>",
    "</p><script>x</script>",
    "&amp;&lt;\"'",
    "\"quoted\" 'single'",
    "caf\xc3\xa9",
    "\xe2\x80\xa8\xe2\x80\xa9",
    "\xf0\x9f\x98\x80 emoji",
    "\x01\x02\x1f\x7f",
    "tab\there\nnewline\r",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "\xef\xbf\xbf\xef\xbb\xbf",
    "%s%n%x",
    "\\u0000",
    /* ROLE_MAX is 64 bytes: 64 and 65, and 63 + a two-byte character */
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9",
};

static const char *const keys[] = {
    "id",
    "display_name",
    "nhs_number",
    "date_of_birth",
    "practice_id",
    "code",
    "name",
    "kind",
    "guest_role",
    "roles",
    "org_id",
    "role",
    "subject",
    "status",
    "created_at",
    "updated_at",
    "peer_org_id",
    "case_id",
    "messages",
    "seq",
    "sender_id",
    "body",
    "entered_in_error",
    "by",
    "at",
    "reason",
    "attachments",
    "content_type",
    "size",
    "sha256",
    "sha1",
    "filename",
    "conversation_id",
    "clinician_id",
    "started_at",
    "ended_at",
    "participants",
    "advice_id",
    "service_id",
    "specialty",
    "urgency",
    "question",
    "summary",
    "created_by",
    "due_at",
    "closed_at",
    "outcome",
    "specialist_id",
    "consent_by",
    "consent_at",
    "title",
    "members",
    "version",
    "filed_by",
    "filed_at",
    "html",
    "replaces_id",
    "display",
    "patient",
    "organisations",
    "people",
    "conversations",
    "consultations",
    "advice",
    "cases",
    "filings",
    "author",
    "entries",
    "organisation",
    "by_name",
};
/* clang-format on */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A string from the script's bytes: kept if valid UTF-8, else each byte folded to ASCII (the
 * store only holds valid text, so invalid UTF-8 is not an input the export can meet). */
static json_t *str_from_bytes(rd_t *r)
{
    size_t len = rd_u8(r);
    if (len > r->n) len = r->n;
    json_t *s = json_stringn((const char *)r->p, len);
    if (!s) {
        char buf[256];
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)(r->p[i] & 0x7F);
        s = json_stringn(buf, len);
    }
    r->p += len;
    r->n -= len;
    return s;
}

/* Text far over every limit: PL_FHIR_NAME_MAX, a uuid key, an HTML buffer's first 4 KiB. */
static json_t *str_long(uint8_t sel)
{
    static const size_t lens[] = {239, 240, 241, 4095, 4096, 70000};
    size_t n = lens[sel % COUNT(lens)];
    char *b = malloc(n + 1);
    if (!b) return NULL;
    for (size_t i = 0; i < n; i++)
        b[i] = (char)("<a&'\">x"[(i + sel) % 7]);
    b[n] = 0;
    json_t *s = json_string(b);
    free(b);
    return s;
}

/* A scalar or empty container from the script (kinds 0..8), or NULL for "no value". */
static json_t *gen_value(rd_t *r, uint8_t kind)
{
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rd_u8(r) & 1);
    case 2:
        return json_integer(ints[rd_u8(r) % COUNT(ints)]);
    case 3:
        return json_integer(rd_i64(r));
    case 4: {
        uint8_t i = rd_u8(r);
        return i < 2 * COUNT(strs) ? json_string(strs[i % COUNT(strs)]) : str_long(i);
    }
    case 5:
        return str_from_bytes(r);
    case 6:
        return json_real((double)(int8_t)rd_u8(r) * 0.5);
    case 7:
        return json_array();
    case 8:
        return json_object();
    default:
        return NULL;
    }
}

/* Applies one edit to the tree under root. False when the script has run out. */
static bool apply_op(rd_t *r, json_t *root, slot_t *slots)
{
    if (r->n < 3) return false;
    size_t n = collect(root, slots, 0, 0);
    if (n == 0) return false;
    const slot_t s = slots[rd_u16(r) % n];
    bool full = n >= MAX_SLOTS;
    uint8_t kind = rd_u8(r) % 14;
    json_t *cur = slot_get(&s);
    switch (kind) {
    case 9: /* a copy of another place: ids that collide, a person where an org should be */
        if (!full) {
            json_t *v = slot_get(&slots[rd_u16(r) % n]);
            slot_set(&s, json_deep_copy(v));
        }
        break;
    case 10:
        slot_del(&s);
        break;
    case 11: /* the same element twice in its array */
        if (!full && !s.key) json_array_append_new(s.parent, json_deep_copy(cur));
        break;
    case 12: { /* a member of a known name, on this object or the one holding this place */
        json_t *o = json_is_object(cur) ? cur : s.parent;
        const char *k = keys[rd_u8(r) % COUNT(keys)];
        json_t *v = gen_value(r, rd_u8(r) % 9);
        if (json_is_object(o) && v && !full)
            json_object_set_new(o, k, v);
        else
            json_decref(v);
        break;
    }
    case 13: /* an array element moved to the front: order the export must not rely on */
        if (!s.key && s.index > 0) {
            json_t *v = json_incref(cur);
            json_array_remove(s.parent, s.index);
            json_array_insert_new(s.parent, 0, v);
        }
        break;
    default:
        slot_set(&s, gen_value(r, kind));
        break;
    }
    return true;
}

/* ---- the checks ------------------------------------------------------------------------ */

/* Every {"reference": "..."} anywhere under v names a fullUrl in seen. */
static void check_refs(const json_t *v, const json_t *seen)
{
    if (json_is_object(v)) {
        const char *k;
        const json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            /* Consent.provision.data.reference is itself a Reference: checked on the way down */
            if (strcmp(k, "reference") == 0 && !json_is_object(m)) {
                const char *ref = json_string_value(m);
                if (!ref) fail("a reference that is not a string", k);
                if (!json_object_get(seen, ref)) fail("a reference to no entry", ref);
            }
            check_refs(m, seen);
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *m;
        json_array_foreach(v, i, m) check_refs(m, seen);
    }
}

static void check_bundle(const json_t *b)
{
    char *s = json_dumps(b, JSON_COMPACT);
    if (!s) fail("json_dumps failed on the Bundle", NULL);
    json_error_t e;
    json_t *back = json_loads(s, JSON_REJECT_DUPLICATES, &e);
    if (!back) fail("the Bundle's JSON does not parse back", e.text);
    if (!json_equal(b, back)) fail("the Bundle's JSON parses back to another value", NULL);
    json_decref(back);
    free(s);

    const char *rt = json_string_value(json_object_get(b, "resourceType"));
    if (!rt || strcmp(rt, "Bundle") != 0) fail("not a Bundle", NULL);
    const json_t *entries = json_object_get(b, "entry");
    if (!json_is_array(entries)) fail("Bundle.entry is not an array", NULL);
    json_t *seen = json_object();
    size_t i;
    const json_t *en;
    json_array_foreach(entries, i, en)
    {
        const char *url = json_string_value(json_object_get(en, "fullUrl"));
        const json_t *res = json_object_get(en, "resource");
        const char *id = json_string_value(json_object_get(res, "id"));
        if (!url || strncmp(url, "urn:uuid:", 9) != 0 || strlen(url) != 9 + PL_FHIR_UUID_LEN)
            fail("an entry without a urn:uuid fullUrl", url);
        if (!id || strcmp(url + 9, id) != 0) fail("an entry whose id is not its fullUrl's", url);
        if (!json_string_value(json_object_get(res, "resourceType")))
            fail("a resource without a resourceType", url);
        if (json_object_get(seen, url)) fail("two entries with one fullUrl", url);
        json_object_set_new(seen, url, json_true());
    }
    check_refs(b, seen);
    json_decref(seen);
}

/* The tags transcript_html.c writes itself: any other '<' in its output came from the text. */
static const char *const tags[] = {
    "<!DOCTYPE html>",
    "<html lang=\"en\">",
    "<head>",
    "<meta charset=\"utf-8\">",
    "<title>",
    "</title>",
    "</head>",
    "<body>",
    "</body>",
    "</html>",
    "<h1>",
    "</h1>",
    "<dl>",
    "</dl>",
    "<dt>",
    "</dt>",
    "<dd>",
    "</dd>",
    "<ol>",
    "</ol>",
    "<li>",
    "</li>",
    "<p>",
    "</p>",
    "<strong>",
    "</strong>",
    "<del>",
    "</del>",
};
static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};

static size_t match_any(const char *p, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(list[i]);
        if (strncmp(p, list[i], k) == 0) return k;
    }
    return 0;
}

static void check_html(const char *html)
{
    json_t *utf8 = json_string(html);
    if (!utf8) fail("the transcript HTML is not valid UTF-8", NULL);
    json_decref(utf8);
    if (strstr(html, "<script") || strstr(html, "<img")) fail("script in the transcript", NULL);
    for (const char *p = html; *p;) {
        size_t k = 0;
        if (*p == '<') {
            k = match_any(p, tags, COUNT(tags));
            if (!k) fail("a '<' that is not the template's", p);
        } else if (*p == '&') {
            k = match_any(p, entities, COUNT(entities));
            if (!k) fail("a '&' that is not an escape", p);
        } else if (*p == '>' || *p == '"' || *p == '\'') {
            fail("an unescaped '>', '\"' or '\\'' in text", p);
        }
        p += k ? k : 1;
    }
}

static void run_fhir(const json_t *record, int64_t now)
{
    json_t *copy = json_deep_copy(record);
    json_t *sentinel = json_null(), *b = sentinel, *again = sentinel;
    int rc = pl_fhir_bundle(record, now, &b);
    if (rc == -PL_ENOMEM) fail("-PL_ENOMEM with no allocation failing", NULL);
    if (rc != 0 && rc != -PL_EINVAL) fail("an error code the contract does not name", NULL);
    if (rc != 0 && b != sentinel) fail("*bundle changed on error", NULL);
    if (copy && !json_equal(copy, record)) fail("the record was changed", NULL);
    json_decref(copy);
    if (rc != 0) return;
    if (!b || b == sentinel) fail("0 without a Bundle", NULL);
    check_bundle(b);
    if (pl_fhir_bundle(record, now, &again) != 0 || !json_equal(b, again))
        fail("the same record gave another Bundle", NULL);
    json_decref(again);
    json_decref(b);
}

static void run_html(const json_t *t)
{
    char *html = NULL;
    int rc = pl_transcript_html(t, &html);
    bool shaped = json_is_object(t) && json_is_array(json_object_get(t, "entries"));
    if (rc != (shaped ? 0 : -PL_EINVAL)) fail("pl_transcript_html returned the wrong code", NULL);
    if (rc != 0) return;
    if (!html) fail("0 without a document", NULL);
    check_html(html);
    free(html);
}

static const int64_t nows[] = {NOW_MS,          0,         -1,        MAX_TIME_MS,
                               MAX_TIME_MS + 1, INT64_MAX, INT64_MIN, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '{') {
        json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
        if (v) {
            run_fhir(v, NOW_MS);
            run_html(v);
            json_decref(v);
        }
        return 0;
    }
    rd_t r = {data, size};
    int64_t now = nows[rd_u8(&r) % COUNT(nows)];
    json_t *rec = json_loads(record_json, 0, NULL), *t = json_loads(transcript_json, 0, NULL);
    json_t *root = json_pack("{so so}", "record", rec, "transcript", t);
    slot_t *slots = malloc(MAX_SLOTS * sizeof *slots);
    if (!rec || !t || !root || !slots) fail("the base record did not load", NULL);
    for (int i = 0; i < MAX_OPS && apply_op(&r, root, slots); i++) {
    }
    free(slots);
    /* Edits may have replaced "record" or "transcript" themselves: that is input too. */
    run_fhir(json_object_get(root, "record"), now);
    run_html(json_object_get(root, "transcript"));
    json_decref(root);
    return 0;
}
