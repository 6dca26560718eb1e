/* Unit tests for storage/fhir.c: a handcrafted record holding every kind of thing the export
 * maps, checked resource by resource (counts, deterministic ids, identifiers, statuses,
 * threading, recipients, the Encounter class, Consent's policy rule, re-filing), a walk that
 * proves every reference resolves inside the Bundle, and malformed records refused whole.
 *
 * With PARLEY_FHIR_PRINT=1 in the environment the binary runs no tests and prints the Bundle of
 * its handcrafted record to stdout instead: tests/browser/fhir.test.mjs feeds that to the
 * independent validator (tests/browser/lib/fhir-validate.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "storage/fhir.h"

#define NOW_MS INT64_C(1795608000000) /* 2026-11-25T12:00:00.000Z */

/* Patient 100 of practice 1; a specialist service (2) and a network (3). Staff: GP 10,
 * receptionist 11, nurse and admin 12, specialist 20, network clinician 30; guests 40
 * (interpreter) and 41 (carer). Conversations: 500 clinical (messages out of seq order on
 * purpose, an attachment, one entered in error), 501 video with consultation 700, 502 the
 * advice thread of request 800 with an advice call 701, 503 the case thread of case 900 with a
 * case meeting 702. Filing 1001 re-files 1000 with a SNOMED CT summary. */
#include "tests/support/fhir_record.h" /* record_json */

static json_t *load_record(void)
{
    json_error_t e;
    json_t *r = json_loads(record_json, 0, &e);
    if (!r)
        fprintf(stderr, "fixture line %d: %s\n", e.line, e.text);
    assert_non_null(r);
    return r;
}

static json_t *export_fixture(void)
{
    json_t *rec = load_record(), *b = NULL;
    assert_int_equal(pl_fhir_bundle(rec, NOW_MS, &b), 0);
    assert_non_null(b);
    json_decref(rec);
    return b;
}

static size_t count_type(const json_t *b, const char *type)
{
    size_t i, n = 0;
    const json_t *e;
    json_array_foreach(json_object_get(b, "entry"), i, e) {
        const char *t = json_string_value(json_object_get(json_object_get(e, "resource"),
                                                          "resourceType"));
        if (t && strcmp(t, type) == 0)
            n++;
    }
    return n;
}

/* The resource of type whose identifier[0].value is value (Parley's id), or NULL. */
static json_t *find_resource(const json_t *b, const char *type, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(b, "entry"), i, e) {
        json_t *r = json_object_get(e, "resource");
        const char *t = json_string_value(json_object_get(r, "resourceType"));
        const json_t *id0 = json_array_get(json_object_get(r, "identifier"), 0);
        const char *v = json_string_value(json_object_get(id0, "value"));
        if (t && v && strcmp(t, type) == 0 && strcmp(v, value) == 0)
            return r;
    }
    return NULL;
}

/* "urn:uuid:" + the uuid of type:key, as the export writes references. */
static void expect_ref(const json_t *ref, const char *type, const char *key)
{
    char uuid[PL_FHIR_UUID_LEN + 1], want[64];
    assert_int_equal(pl_fhir_uuid(type, key, uuid), 0);
    snprintf(want, sizeof want, "urn:uuid:%s", uuid);
    assert_non_null(ref);
    assert_string_equal(json_string_value(json_object_get(ref, "reference")), want);
}

static const char *str_at(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static void test_bundle_holds_one_resource_per_record_item(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    assert_string_equal(str_at(b, "resourceType"), "Bundle");
    assert_string_equal(str_at(b, "type"), "collection");
    assert_string_equal(str_at(b, "timestamp"), "2026-11-25T12:00:00.000Z");
    assert_int_equal(count_type(b, "Patient"), 1);
    assert_int_equal(count_type(b, "Organization"), 3);
    assert_int_equal(count_type(b, "Practitioner"), 5);      /* staff only: no guests */
    assert_int_equal(count_type(b, "PractitionerRole"), 6);  /* nurse 12 holds two roles */
    assert_int_equal(count_type(b, "Encounter"), 3);         /* incl. advice call, case meeting */
    assert_int_equal(count_type(b, "CommunicationRequest"), 1);
    assert_int_equal(count_type(b, "Consent"), 1);
    assert_int_equal(count_type(b, "Communication"), 9);
    assert_int_equal(count_type(b, "DocumentReference"), 2);
    assert_int_equal(json_array_size(json_object_get(b, "entry")), 31);
    json_decref(b);
}

static void test_export_is_deterministic_apart_from_the_timestamp(void **state)
{
    (void)state;
    json_t *rec = load_record(), *a = NULL, *b = NULL, *later = NULL;
    assert_int_equal(pl_fhir_bundle(rec, NOW_MS, &a), 0);
    assert_int_equal(pl_fhir_bundle(rec, NOW_MS, &b), 0);
    assert_true(json_equal(a, b));
    assert_int_equal(pl_fhir_bundle(rec, NOW_MS + 61234, &later), 0);
    assert_string_equal(str_at(later, "timestamp"), "2026-11-25T12:01:01.234Z");
    assert_true(json_equal(json_object_get(a, "entry"), json_object_get(later, "entry")));
    json_decref(a);
    json_decref(b);
    json_decref(later);
    json_decref(rec);
}

static void assert_uuid_shape(const char *u)
{
    assert_int_equal(strlen(u), PL_FHIR_UUID_LEN);
    for (int i = 0; i < PL_FHIR_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", u[i]));
    }
    assert_int_equal(u[14], '5');                 /* version */
    assert_non_null(strchr("89ab", u[19]));       /* RFC 4122 variant */
}

static void test_uuids_are_version5_shaped_and_differ_by_type_and_id(void **state)
{
    (void)state;
    char a[PL_FHIR_UUID_LEN + 1], b[PL_FHIR_UUID_LEN + 1], c[PL_FHIR_UUID_LEN + 1];
    char a2[PL_FHIR_UUID_LEN + 1];
    assert_int_equal(pl_fhir_uuid("Patient", "1", a), 0);
    assert_int_equal(pl_fhir_uuid("Patient", "2", b), 0);
    assert_int_equal(pl_fhir_uuid("Practitioner", "1", c), 0);
    assert_int_equal(pl_fhir_uuid("Patient", "1", a2), 0);
    assert_string_equal(a, a2);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    assert_uuid_shape(a);
    assert_uuid_shape(b);
    assert_uuid_shape(c);

    /* The derivation is the documented one: SHA-256("parley:Patient:1"), bits set. */
    uint8_t h[32];
    char hex[65];
    pl_sha256("parley:Patient:1", 16, h);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x50);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    pl_hex_encode(h, 16, hex);
    char want[PL_FHIR_UUID_LEN + 1];
    snprintf(want, sizeof want, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    assert_string_equal(a, want);

    char big[PL_FHIR_NAME_MAX + 8];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pl_fhir_uuid("Patient", big, a), -PL_EINVAL);
    assert_int_equal(pl_fhir_uuid(NULL, "1", a), -PL_EINVAL);

    /* In the Bundle: every fullUrl is urn:uuid:<its resource id>, well formed and unique. */
    json_t *bundle = export_fixture(), *seen = json_object();
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e) {
        const char *url = str_at(e, "fullUrl");
        const char *id = str_at(json_object_get(e, "resource"), "id");
        assert_int_equal(strncmp(url, "urn:uuid:", 9), 0);
        assert_string_equal(url + 9, id);
        assert_uuid_shape(id);
        assert_null(json_object_get(seen, url));
        json_object_set_new(seen, url, json_true());
    }
    json_decref(seen);
    json_decref(bundle);
}

static int export_patched(const char *const *path, size_t depth, const char *patch, json_t **out);

static void test_a_leap_day_birth_date_is_a_date(void **state)
{
    (void)state;
    static const char *const path[] = {"patient", "date_of_birth"};
    json_t *out = NULL;
    assert_int_equal(export_patched(path, 2, "\"2000-02-29\"", &out), 0);
    json_decref(out);
    assert_int_equal(export_patched(path, 2, "\"1900-02-29\"", &out), -PL_EINVAL);
}

static void test_patient_carries_nhs_number_birth_date_and_practice(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    json_t *p = find_resource(b, "Patient", "9434765919");
    assert_non_null(p);
    const json_t *id0 = json_array_get(json_object_get(p, "identifier"), 0);
    assert_string_equal(str_at(id0, "system"), "https://fhir.nhs.uk/Id/nhs-number");
    assert_string_equal(str_at(p, "birthDate"), "1948-03-12");
    assert_string_equal(str_at(json_array_get(json_object_get(p, "name"), 0), "text"),
                        "Ada Patient");
    expect_ref(json_object_get(p, "managingOrganization"), "Organization", "1");
    expect_ref(json_array_get(json_object_get(p, "generalPractitioner"), 0), "Organization", "1");
    json_t *o = find_resource(b, "Organization", "A81001");
    assert_non_null(o);
    assert_string_equal(str_at(json_array_get(json_object_get(o, "identifier"), 0), "system"),
                        "https://fhir.nhs.uk/Id/ods-organization-code");
    json_decref(b);
}

static void test_entered_in_error_message_keeps_body_and_says_why(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    json_t *m = find_resource(b, "Communication", "5003");
    assert_non_null(m);
    assert_string_equal(str_at(m, "status"), "entered-in-error");
    const json_t *note = json_array_get(json_object_get(m, "note"), 0);
    assert_non_null(strstr(str_at(note, "text"), "Patient sent the wrong photo"));
    assert_string_equal(str_at(note, "time"), "2026-11-25T09:50:50.000Z");
    expect_ref(json_object_get(note, "authorReference"), "Practitioner", "10");
    assert_string_equal(
        str_at(json_array_get(json_object_get(m, "payload"), 0), "contentString"),
        "Wrong photo, sorry");
    assert_string_equal(str_at(find_resource(b, "Communication", "5002"), "status"), "completed");
    json_decref(b);
}

static void test_in_response_to_chains_each_message_to_the_previous_by_seq(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    /* The record lists 5003, 5001, 5002: the chain follows seq, not record order. */
    assert_null(json_object_get(find_resource(b, "Communication", "5001"), "inResponseTo"));
    expect_ref(json_array_get(json_object_get(find_resource(b, "Communication", "5002"),
                                              "inResponseTo"), 0),
               "Communication", "5001");
    expect_ref(json_array_get(json_object_get(find_resource(b, "Communication", "5003"),
                                              "inResponseTo"), 0),
               "Communication", "5002");
    /* A chain never crosses conversations. */
    assert_null(json_object_get(find_resource(b, "Communication", "5011"), "inResponseTo"));
    json_decref(b);
}

static void test_messages_go_to_the_other_side_of_their_thread(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    static const struct {
        const char *msg, *sender_type, *sender, *to_type, *to;
    } want[] = {
        {"5001", "Patient", "100", "Organization", "1"},       /* patient -> practice */
        {"5002", "Practitioner", "10", "Patient", "100"},      /* GP -> patient */
        {"5021", "Practitioner", "10", "Organization", "2"},   /* GP -> the service */
        {"5022", "Practitioner", "20", "Organization", "1"},   /* specialist -> the practice */
        {"5031", "Practitioner", "30", "Organization", "3"},   /* case -> its organisation */
        {"5032", "Practitioner", "10", "Organization", "3"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *m = find_resource(b, "Communication", want[i].msg);
        assert_non_null(m);
        expect_ref(json_object_get(m, "sender"), want[i].sender_type, want[i].sender);
        expect_ref(json_array_get(json_object_get(m, "recipient"), 0), want[i].to_type,
                   want[i].to);
        expect_ref(json_object_get(m, "subject"), "Patient", "100");
    }
    /* Advice-thread messages are based on the request; consultation chat is part of it. */
    expect_ref(json_array_get(json_object_get(find_resource(b, "Communication", "5021"),
                                              "basedOn"), 0),
               "CommunicationRequest", "800");
    expect_ref(json_array_get(json_object_get(find_resource(b, "Communication", "5011"),
                                              "partOf"), 0),
               "Encounter", "700");
    assert_null(json_object_get(find_resource(b, "Communication", "5001"), "partOf"));
    json_decref(b);
}

static void test_attachment_is_referenced_with_its_sha256_not_as_sha1_hash(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    json_t *m = find_resource(b, "Communication", "5001");
    const json_t *a = json_object_get(json_array_get(json_object_get(m, "payload"), 1),
                                      "contentAttachment");
    assert_non_null(a);
    assert_string_equal(str_at(a, "contentType"), "image/jpeg");
    assert_string_equal(str_at(a, "url"), "urn:parley:attachment:77");
    assert_string_equal(str_at(a, "title"), "inhaler.jpg");
    assert_int_equal(json_integer_value(json_object_get(a, "size")), 12345);
    assert_null(json_object_get(a, "hash")); /* R4's hash is SHA-1: we do not misstate it */
    const json_t *ext = json_array_get(json_object_get(a, "extension"), 0);
    uint8_t *raw = NULL;
    size_t n = 0;
    char hex[65];
    assert_int_equal(pl_b64_decode(str_at(ext, "valueBase64Binary"), &raw, &n), 0);
    assert_int_equal(n, 32);
    pl_hex_encode(raw, n, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(raw);
    json_decref(b);
}

static void test_every_consultation_is_a_virtual_encounter_with_its_period(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    json_t *e = find_resource(b, "Encounter", "700");
    assert_non_null(e);
    const json_t *cls = json_object_get(e, "class");
    assert_string_equal(str_at(cls, "system"),
                        "http://terminology.hl7.org/CodeSystem/v3-ActCode");
    assert_string_equal(str_at(cls, "code"), "VR");
    assert_string_equal(str_at(e, "status"), "finished");
    const json_t *period = json_object_get(e, "period");
    assert_string_equal(str_at(period, "start"), "2026-11-25T10:10:00.000Z");
    assert_string_equal(str_at(period, "end"), "2026-11-25T10:20:00.000Z");
    expect_ref(json_object_get(e, "subject"), "Patient", "100");
    expect_ref(json_object_get(e, "serviceProvider"), "Organization", "1");
    /* GP (primary), interpreter and carer (no individual), nurse; the patient is the subject. */
    const json_t *parts = json_object_get(e, "participant");
    assert_int_equal(json_array_size(parts), 4);
    expect_ref(json_object_get(json_array_get(parts, 0), "individual"), "Practitioner", "10");
    assert_null(json_object_get(json_array_get(parts, 1), "individual"));
    assert_null(json_object_get(json_array_get(parts, 2), "individual"));
    expect_ref(json_object_get(json_array_get(parts, 3), "individual"), "Practitioner", "12");

    assert_string_equal(str_at(find_resource(b, "Encounter", "701"), "status"), "planned");
    json_t *meeting = find_resource(b, "Encounter", "702");
    assert_string_equal(str_at(meeting, "status"), "in-progress");
    assert_null(json_object_get(json_object_get(meeting, "period"), "end"));
    assert_string_equal(str_at(json_object_get(find_resource(b, "Encounter", "701"), "class"),
                               "code"),
                        "VR");
    json_decref(b);
}

static void test_advice_request_and_its_consent(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    json_t *r = find_resource(b, "CommunicationRequest", "800");
    assert_non_null(r);
    assert_string_equal(str_at(r, "status"), "completed");
    assert_string_equal(str_at(r, "priority"), "urgent");
    expect_ref(json_object_get(r, "requester"), "Practitioner", "10");
    expect_ref(json_array_get(json_object_get(r, "recipient"), 0), "Organization", "2");
    assert_non_null(strstr(str_at(json_array_get(json_object_get(r, "note"), 0), "text"),
                           "advice given"));

    json_t *c = find_resource(b, "Consent", "800");
    assert_non_null(c);
    assert_string_equal(str_at(c, "status"), "active");
    assert_string_equal(str_at(c, "dateTime"), "2026-11-25T10:35:00.000Z");
    /* R4 ppc-1: a policy or a policyRule. */
    const json_t *rule = json_array_get(json_object_get(json_object_get(c, "policyRule"),
                                                        "coding"), 0);
    assert_string_equal(str_at(rule, "code"), "OPTIN");
    const json_t *scope = json_array_get(json_object_get(json_object_get(c, "scope"), "coding"), 0);
    assert_string_equal(str_at(scope, "code"), "patient-privacy");
    const json_t *prov = json_object_get(c, "provision");
    assert_string_equal(str_at(prov, "type"), "permit");
    expect_ref(json_object_get(json_array_get(json_object_get(prov, "actor"), 0), "reference"),
               "Organization", "2");
    expect_ref(json_array_get(json_object_get(c, "performer"), 1), "Practitioner", "10");
    json_decref(b);
}

static void test_refiling_replaces_and_supersedes_the_previous_document(void **state)
{
    (void)state;
    json_t *b = export_fixture();
    json_t *old = find_resource(b, "DocumentReference", "1000");
    json_t *now = find_resource(b, "DocumentReference", "1001");
    assert_string_equal(str_at(old, "status"), "superseded");
    assert_string_equal(str_at(now, "status"), "current");
    const json_t *rel = json_array_get(json_object_get(now, "relatesTo"), 0);
    assert_string_equal(str_at(rel, "code"), "replaces");
    expect_ref(json_object_get(rel, "target"), "DocumentReference", "1000");
    const json_t *att = json_object_get(json_array_get(json_object_get(now, "content"), 0),
                                        "attachment");
    assert_string_equal(str_at(att, "contentType"), "text/html");
    uint8_t *html = NULL;
    size_t n = 0;
    assert_int_equal(pl_b64_decode(str_at(att, "data"), &html, &n), 0);
    assert_int_equal(n, strlen("<p>Inhaler request, corrected</p>"));
    assert_memory_equal(html, "<p>Inhaler request, corrected</p>", n);
    free(html);
    const json_t *ev = json_array_get(json_object_get(json_object_get(now, "context"), "event"), 0);
    const json_t *sct = json_array_get(json_object_get(ev, "coding"), 0);
    assert_string_equal(str_at(sct, "system"), "http://snomed.info/sct");
    assert_string_equal(str_at(sct, "code"), "195967001");
    assert_string_equal(str_at(sct, "display"), "Asthma");
    expect_ref(json_array_get(json_object_get(now, "author"), 0), "Practitioner", "10");
    expect_ref(json_object_get(now, "custodian"), "Organization", "1");
    json_decref(b);
}

/* Adds every "reference" string found anywhere under v to refs. */
static void collect_refs(const json_t *v, json_t *refs)
{
    if (json_is_object(v)) {
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (strcmp(k, "reference") == 0 && json_is_string(x))
                json_array_append(refs, (json_t *)x);
            else
                collect_refs(x, refs);
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
            collect_refs(x, refs);
    }
}

static void test_every_reference_resolves_to_an_entry(void **state)
{
    (void)state;
    json_t *b = export_fixture(), *urls = json_object(), *refs = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(b, "entry"), i, e) {
        json_object_set_new(urls, str_at(e, "fullUrl"),
                            json_incref(json_object_get(json_object_get(e, "resource"),
                                                        "resourceType")));
        collect_refs(json_object_get(e, "resource"), refs);
    }
    assert_true(json_array_size(refs) > 80);
    json_array_foreach(refs, i, e) {
        const json_t *type = json_object_get(urls, json_string_value(e));
        if (!type)
            fail_msg("unresolved reference %s", json_string_value(e));
    }
    /* And the type each Reference declares is the type of what it names. */
    json_array_foreach(json_object_get(b, "entry"), i, e) {
        json_t *stack = json_array();
        json_array_append(stack, json_object_get(e, "resource"));
        while (json_array_size(stack) > 0) {
            json_t *v = json_incref(json_array_get(stack, json_array_size(stack) - 1));
            json_array_remove(stack, json_array_size(stack) - 1);
            const char *k;
            json_t *x;
            size_t j;
            if (json_is_object(v)) {
                const json_t *r = json_object_get(v, "reference"), *t = json_object_get(v, "type");
                if (json_is_string(r) && json_is_string(t))
                    assert_string_equal(json_string_value(json_object_get(urls,
                                                                          json_string_value(r))),
                                        json_string_value(t));
                json_object_foreach(v, k, x)
                    json_array_append(stack, x);
            } else if (json_is_array(v)) {
                json_array_foreach(v, j, x)
                    json_array_append(stack, x);
            }
            json_decref(v);
        }
        json_decref(stack);
    }
    json_decref(refs);
    json_decref(urls);
    json_decref(b);
}

/* Applies patch (a JSON text) at path in a fresh copy of the record, where path is a list of
 * object keys and array indexes ("conversations", "0", "messages"); key NULL in patch deletes. */
static int export_patched(const char *const *path, size_t depth, const char *patch, json_t **out)
{
    json_t *rec = load_record(), *parent = rec;
    for (size_t i = 0; i + 1 < depth; i++) {
        json_t *next = json_is_array(parent) ? json_array_get(parent, (size_t)atoi(path[i]))
                                             : json_object_get(parent, path[i]);
        assert_non_null(next);
        parent = next;
    }
    const char *last = path[depth - 1];
    if (patch == NULL) {
        if (json_is_array(parent))
            json_array_remove(parent, (size_t)atoi(last));
        else
            json_object_del(parent, last);
    } else {
        json_t *v = json_loads(patch, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        if (json_is_array(parent))
            json_array_set_new(parent, (size_t)atoi(last), v);
        else
            json_object_set_new(parent, last, v);
    }
    int rc = pl_fhir_bundle(rec, NOW_MS, out);
    json_decref(rec);
    return rc;
}

static void test_malformed_records_are_refused_and_leave_the_output_alone(void **state)
{
    (void)state;
    static const struct {
        const char *path[8];
        size_t depth;
        const char *patch;
    } cases[] = {
        {{"patient"}, 1, NULL},                                  /* no patient */
        {{"patient"}, 1, "\"Ada\""},                             /* patient not an object */
        {{"patient", "id"}, 2, "\"100\""},                       /* string for an int */
        {{"patient", "id"}, 2, "1.5"},
        {{"patient", "practice_id"}, 2, "99"},                   /* no such practice */
        {{"patient", "date_of_birth"}, 2, "\"12/03/1948\""},
        {{"patient", "date_of_birth"}, 2, "\"1948-13-01\""},
        {{"patient", "date_of_birth"}, 2, "\"1948-02-31\""},   /* no such day */
        {{"patient", "date_of_birth"}, 2, "\"1947-02-29\""},   /* not a leap year */
        {{"organisations"}, 1, "{}"},
        {{"organisations", "0", "kind"}, 3, "\"hospital\""},
        {{"people", "0"}, 2, "7"},
        {{"people", "0", "kind"}, 3, "\"robot\""},
        {{"people", "0", "roles"}, 3, "\"gp\""},
        {{"people", "1", "roles", "0", "org_id"}, 5, "42"},
        {{"conversations", "0", "messages"}, 3, "{\"id\": 1}"},  /* messages not an array */
        {{"conversations", "0", "messages", "0", "seq"}, 5, "\"3\""},
        {{"conversations", "0", "messages", "0", "sender_id"}, 5, "999"}, /* dangling */
        {{"conversations", "0", "messages", "0", "created_at"}, 5, "-1"},
        {{"conversations", "0", "messages", "0", "entered_in_error"}, 5, "\"yes\""},
        {{"conversations", "0", "messages", "1", "attachments", "0", "sha256"}, 7, "\"zz\""},
        {{"conversations", "0", "messages", "1", "id"}, 5, "5003"}, /* the same id twice */
        {{"conversations", "0", "kind"}, 3, "\"gossip\""},
        {{"consultations", "0", "participants"}, 3, "[\"10\"]"},
        {{"consultations", "0", "participants"}, 3, "[999]"},
        {{"consultations", "0", "conversation_id"}, 3, "4242"},
        {{"advice", "0", "urgency"}, 3, "\"whenever\""},
        {{"advice", "0", "created_by"}, 3, "40"},                /* a guest cannot request */
        {{"filings", "1", "replaces_id"}, 3, "4242"},
        {{"filings", "1", "summary"}, 3, "{\"code\": \"asthma\"}"},
        {{"filings", "0", "html"}, 3, "null"},
    };
    json_t *sentinel = json_string("untouched"), *out;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        out = sentinel;
        int rc = export_patched(cases[i].path, cases[i].depth, cases[i].patch, &out);
        if (rc != -PL_EINVAL)
            fail_msg("case %zu (%s): rc %d", i, cases[i].path[cases[i].depth - 1], rc);
        assert_ptr_equal(out, sentinel);
    }
    out = sentinel;
    assert_int_equal(pl_fhir_bundle(NULL, NOW_MS, &out), -PL_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(pl_fhir_bundle(arr, NOW_MS, &out), -PL_EINVAL);
    json_t *rec = load_record();
    assert_int_equal(pl_fhir_bundle(rec, -5, &out), -PL_EINVAL);
    assert_int_equal(pl_fhir_bundle(rec, NOW_MS, NULL), -PL_EINVAL);
    assert_ptr_equal(out, sentinel);
    json_decref(rec);
    json_decref(arr);
    json_decref(sentinel);
}

/* Replaces each value in the record in turn with each of a few wrongly typed values: the
 * export must refuse or succeed, never crash (a small, deterministic fuzz). */
static void mutate_everywhere(json_t *root, json_t *v, size_t *tried)
{
    static const char *const subs[] = {"null", "\"x\"", "-7", "[]", "{}", "1e300"};
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x) {
            json_t *orig = json_incref(x);
            for (size_t s = 0; s < sizeof subs / sizeof subs[0]; s++) {
                json_object_set_new(v, k, json_loads(subs[s], JSON_DECODE_ANY, NULL));
                json_t *out = NULL;
                int rc = pl_fhir_bundle(root, NOW_MS, &out);
                assert_true(rc == 0 || rc == -PL_EINVAL);
                assert_true((rc == 0) == (out != NULL));
                json_decref(out);
                (*tried)++;
            }
            json_object_set_new(v, k, orig);
            mutate_everywhere(root, orig, tried);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *orig = json_incref(json_array_get(v, i));
            for (size_t s = 0; s < sizeof subs / sizeof subs[0]; s++) {
                json_array_set_new(v, i, json_loads(subs[s], JSON_DECODE_ANY, NULL));
                json_t *out = NULL;
                int rc = pl_fhir_bundle(root, NOW_MS, &out);
                assert_true(rc == 0 || rc == -PL_EINVAL);
                json_decref(out);
                (*tried)++;
            }
            json_array_set_new(v, i, orig);
            mutate_everywhere(root, orig, tried);
        }
    }
}

static void test_any_single_wrongly_typed_value_is_refused_or_mapped_never_a_crash(void **state)
{
    (void)state;
    json_t *rec = load_record();
    size_t tried = 0;
    mutate_everywhere(rec, rec, &tried);
    assert_true(tried > 1000);
    /* The record is whole again afterwards, and still exports. */
    json_t *out = NULL;
    assert_int_equal(pl_fhir_bundle(rec, NOW_MS, &out), 0);
    json_decref(out);
    json_decref(rec);
}

int main(void)
{
    if (getenv("PARLEY_FHIR_PRINT")) {
        json_t *rec = json_loads(record_json, 0, NULL), *b = NULL;
        int rc = rec ? pl_fhir_bundle(rec, NOW_MS, &b) : -PL_EINVAL;
        if (rc == 0)
            rc = json_dumpf(b, stdout, JSON_INDENT(2)) == 0 ? 0 : -PL_EIO;
        json_decref(b);
        json_decref(rec);
        return rc == 0 ? 0 : 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_holds_one_resource_per_record_item),
        cmocka_unit_test(test_export_is_deterministic_apart_from_the_timestamp),
        cmocka_unit_test(test_uuids_are_version5_shaped_and_differ_by_type_and_id),
        cmocka_unit_test(test_patient_carries_nhs_number_birth_date_and_practice),
        cmocka_unit_test(test_a_leap_day_birth_date_is_a_date),
        cmocka_unit_test(test_entered_in_error_message_keeps_body_and_says_why),
        cmocka_unit_test(test_in_response_to_chains_each_message_to_the_previous_by_seq),
        cmocka_unit_test(test_messages_go_to_the_other_side_of_their_thread),
        cmocka_unit_test(test_attachment_is_referenced_with_its_sha256_not_as_sha1_hash),
        cmocka_unit_test(test_every_consultation_is_a_virtual_encounter_with_its_period),
        cmocka_unit_test(test_advice_request_and_its_consent),
        cmocka_unit_test(test_refiling_replaces_and_supersedes_the_previous_document),
        cmocka_unit_test(test_every_reference_resolves_to_an_entry),
        cmocka_unit_test(test_malformed_records_are_refused_and_leave_the_output_alone),
        cmocka_unit_test(test_any_single_wrongly_typed_value_is_refused_or_mapped_never_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
