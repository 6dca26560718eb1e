/* FHIR R4 export: one patient's record (the plain JSON the store gathers) as a Bundle.
 *
 * Part of storage/ (DESIGN.md: "the transcript and FHIR export"). A pure function of the record
 * and a time: the gatherer reads the store, the fhir*.c files only map, and tests/browser/lib/
 * fhir-validate.mjs judges the result independently of this code.
 *
 * This file holds the input accessors, the ids and references, the people and organisations
 * (Patient, Organization, Practitioner, PractitionerRole) and pl_fhir_bundle, which runs the
 * passes in entry order. storage/fhir_encounter.c maps consultations and advice requests
 * (Encounter, CommunicationRequest, Consent); storage/fhir_comm.c maps conversations and
 * filings (Communication, DocumentReference). They share the context and the helpers through
 * storage/fhir_internal.h. The decisions below hold for all three.
 *
 * Shape of the Bundle: type collection; one entry per resource, fullUrl urn:uuid:<uuid> with
 * the uuid derived from "parley:<ResourceType>:<parley id>" (pl_fhir_uuid), so a re-export
 * gives every resource the same id and references use the same urn:uuid. Every resource
 * carries an identifier: the national one (NHS number, ODS code) where there is one, else
 * Parley's own id under a urn:parley:<kind> system. Entries come in a fixed order (Patient,
 * Organization, Practitioner, PractitionerRole, Encounter, CommunicationRequest each followed
 * by its Consent, Communication, DocumentReference), each in the record's order.
 *
 * Decisions that are not obvious from the FHIR spec:
 * - Attachment hash. R4 defines Attachment.hash as the SHA-1 of the data. A message's
 *   attachment is exported by reference (url urn:parley:attachment:<id>), not by value. The
 *   store works out the SHA-1 from the bytes at export and hands it as "sha1" (base64), which
 *   becomes `hash`; the SHA-256 Parley keys the blob by goes in an extension
 *   (PARLEY_EXT_SHA256, valueBase64Binary). Never the SHA-256 in `hash`: that would misstate it
 *   to a receiver that checks. A filed transcript is exported by value, so there `hash` is the
 *   SHA-1 of the HTML.
 * - Recipients. In the patient's own conversations (admin, clinical, video) a patient's message
 *   goes to the conversation's organisation and a staff message to the Patient. In an advice
 *   thread a message goes to the other organisation of the request (practice <-> service),
 *   judged by which of the two the sender holds a role in. In a case thread it goes to the
 *   case's organisation.
 * - Guests (interpreters, carers) get no resource: they have no chat, and a RelatedPerson
 *   would need a relationship to the patient the record does not hold. In an Encounter a guest
 *   who joined is a participant with a type (translator, or "Carer" text) and no individual;
 *   should a guest's message ever appear, it is exported without a sender and with a note.
 * - Every consultation is an Encounter of class VR, including advice calls and case meetings
 *   (their type text says which). The Patient is the subject; R4 allows only practitioners
 *   and related persons as participant individuals.
 * - Threading: inResponseTo names the previous message of the same conversation (by seq).
 *   A message in a conversation that holds consultations is partOf, and has as its encounter,
 *   the latest consultation created at or before it (else the first); advice-thread messages
 *   are basedOn the advice request's CommunicationRequest.
 * - Consent (one per advice request with consent_at): performer is the Patient (the grantor)
 *   and the Practitioner who recorded it; policyRule v3-ActCode OPTIN (R4 invariant ppc-1);
 *   the provision permits disclosure to the service, for the advice request's data.
 * - A filing's SNOMED CT summary goes in DocumentReference.context.event ("main clinical acts
 *   documented"): type says what the document is (a transcript), not what it is about.
 * - Strictness. The record comes from our own gatherer, so anything malformed or inconsistent
 *   (an id naming a person, organisation, conversation or filing the record does not hold, an
 *   unknown kind) is refused whole with -PL_EINVAL rather than exported with a hole in it.
 *   Unknown statuses map to FHIR's "unknown" where the value set has one. */
#include "storage/fhir.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/util.h"
#include "storage/fhir_internal.h"

#define NHS_NUMBER_SYSTEM "https://fhir.nhs.uk/Id/nhs-number"
#define ODS_SYSTEM "https://fhir.nhs.uk/Id/ods-organization-code"

/* 9999-12-31T23:59:59.999Z, the last instant FHIR can write with a four-digit year. */
#define MAX_TIME_MS INT64_C(253402300799999)
#define URL_LEN (9 + PL_FHIR_UUID_LEN + 1) /* "urn:uuid:" + uuid + NUL */
#define ROLE_MAX 64 /* longest role name accepted; Parley's are a dozen characters */

/* ---- errors and input accessors --------------------------------------------------------- */

bool pl__fhir_fail(pl__fhir_ctx_t *c, int code)
{
    if (!c->err)
        c->err = code;
    return false;
}

/* An integer member. Absent or null: false, and an error if req. Another type: an error. */
bool pl__fhir_get_int(pl__fhir_ctx_t *c, const json_t *o, const char *k, bool req, int64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (req)
            pl__fhir_fail(c, -PL_EINVAL);
        return false;
    }
    if (!json_is_integer(v))
        return pl__fhir_fail(c, -PL_EINVAL);
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* A string member, borrowed from o. NULL when absent or null (an error if req) or mistyped. */
const char *pl__fhir_get_str(pl__fhir_ctx_t *c, const json_t *o, const char *k, bool req)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (req)
            pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    if (!json_is_string(v)) {
        pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    return json_string_value(v);
}

/* An array member. Absent or null gives NULL, which jansson treats as empty; mistyped fails. */
const json_t *pl__fhir_get_arr(pl__fhir_ctx_t *c, const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_array(v)) {
        pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    return v;
}

/* An optional object member (NULL when absent or null; mistyped fails). */
const json_t *pl__fhir_get_obj(pl__fhir_ctx_t *c, const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    return v;
}

/* Writes ms since the epoch as a FHIR instant in UTC with milliseconds. False if out of range. */
static bool fmt_instant(int64_t ms, char out[PL__FHIR_TIME_LEN])
{
    if (ms < 0 || ms > MAX_TIME_MS)
        return false;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return false;
    snprintf(out, PL__FHIR_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return true;
}

/* A time member (ms since the epoch) formatted into out. Same absent/required rules as
 * pl__fhir_get_int; a time out of range is an error. */
bool pl__fhir_get_time(pl__fhir_ctx_t *c, const json_t *o, const char *k, bool req,
                       char out[PL__FHIR_TIME_LEN], int64_t *ms_out)
{
    int64_t ms = 0;
    if (!pl__fhir_get_int(c, o, k, req, &ms))
        return false;
    if (!fmt_instant(ms, out))
        return pl__fhir_fail(c, -PL_EINVAL);
    if (ms_out)
        *ms_out = ms;
    return true;
}

/* YYYY-MM-DD with a plausible month and day: what FHIR's date type needs. */
static bool valid_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    /* A day that exists: FHIR's pattern alone would pass 1948-02-31, which validators refuse. */
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* The element of array arr whose "id" is id, or NULL. Elements that are not objects are
 * skipped here; the pass that maps that array refuses them. */
const json_t *pl__fhir_find_by_id(const json_t *arr, int64_t id)
{
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        const json_t *v = json_object_get(e, "id");
        if (json_is_integer(v) && (int64_t)json_integer_value(v) == id)
            return e;
    }
    return NULL;
}

bool pl__fhir_str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

/* ---- ids, references and output builders ----------------------------------------------- */

int pl_fhir_uuid(const char *type, const char *key, char out[PL_FHIR_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char name[PL_FHIR_NAME_MAX + 1];
    uint8_t h[32];

    if (!type || !key)
        return -PL_EINVAL;
    int n = snprintf(name, sizeof name, "parley:%s:%s", type, key);
    if (n < 0 || (size_t)n >= sizeof name)
        return -PL_EINVAL;
    pl_sha256(name, (size_t)n, h);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x50); /* version 5 (name-based) */
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* variant 10 (RFC 4122) */
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 0x0f];
    }
    out[o] = '\0';
    return 0;
}

/* Our keys are ids, or ids and a role name the caller has bounded, so they always fit. */
static void url_of(const char *type, const char *key, char url[URL_LEN])
{
    memcpy(url, "urn:uuid:", 9);
    if (pl_fhir_uuid(type, key, url + 9) != 0)
        abort(); /* a broken invariant: every key here is bounded well below the limit */
}

static void url_of_id(const char *type, int64_t id, char url[URL_LEN])
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    url_of(type, key, url);
}

/* Sets o[k] = v, taking v; a NULL v (a failed allocation upstream) records -PL_ENOMEM. */
void pl__fhir_put(pl__fhir_ctx_t *c, json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        pl__fhir_fail(c, -PL_ENOMEM);
}

void pl__fhir_put_str(pl__fhir_ctx_t *c, json_t *o, const char *k, const char *s)
{
    if (s)
        pl__fhir_put(c, o, k, json_string(s));
}

void pl__fhir_push(pl__fhir_ctx_t *c, json_t *arr, json_t *v)
{
    if (!v || json_array_append_new(arr, v) != 0)
        pl__fhir_fail(c, -PL_ENOMEM);
}

/* {"reference": "urn:uuid:...", "type": type}: the type lets a validator check the target. */
json_t *pl__fhir_ref_id(const char *type, int64_t id)
{
    char url[URL_LEN];
    url_of_id(type, id, url);
    return json_pack("{ss ss}", "reference", url, "type", type);
}

static json_t *identifier(const char *system, const char *value)
{
    return json_pack("[{ss ss}]", "system", system, "value", value);
}

json_t *pl__fhir_identifier_id(const char *system, int64_t id)
{
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, id);
    return identifier(system, v);
}

json_t *pl__fhir_text_concept(const char *text)
{
    return json_pack("{ss}", "text", text);
}

json_t *pl__fhir_coded(const char *system, const char *code, const char *display,
                       const char *text)
{
    return json_pack("{s[{ss ss ss}] ss*}", "coding", "system", system, "code", code, "display",
                     display, "text", text);
}

/* Creates resource {resourceType, id} under fullUrl urn:uuid:<uuid of type:key> and adds its
 * entry. Returns it borrowed (the entry list owns it), or NULL on error (recorded in c). */
static json_t *resource_new(pl__fhir_ctx_t *c, const char *type, const char *key)
{
    char url[URL_LEN];
    url_of(type, key, url);
    if (json_object_get(c->seen, url)) {
        pl__fhir_fail(c, -PL_EINVAL); /* the same id twice in the record */
        return NULL;
    }
    json_t *r = json_pack("{ss ss}", "resourceType", type, "id", url + 9);
    json_t *e = r ? json_pack("{ss sO}", "fullUrl", url, "resource", r) : NULL;
    json_decref(r); /* e holds its own reference */
    if (!e || json_array_append_new(c->entries, e) != 0 ||
        json_object_set_new(c->seen, url, json_true()) != 0) {
        pl__fhir_fail(c, -PL_ENOMEM);
        return NULL;
    }
    return r;
}

json_t *pl__fhir_resource_new_id(pl__fhir_ctx_t *c, const char *type, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    return resource_new(c, type, key);
}

/* ---- lookups that make references safe ------------------------------------------------- */

bool pl__fhir_org_exists(pl__fhir_ctx_t *c, int64_t id)
{
    return pl__fhir_find_by_id(c->orgs, id) ? true : pl__fhir_fail(c, -PL_EINVAL);
}

/* The kind of person id ("staff", "patient", "guest"); the record's patient is "patient" even
 * when people does not list them. NULL (and an error) when the record does not hold them. */
const char *pl__fhir_person_kind(pl__fhir_ctx_t *c, int64_t id, const json_t **person)
{
    const json_t *p = pl__fhir_find_by_id(c->people, id);
    if (person)
        *person = p;
    if (id == c->patient_id)
        return "patient";
    const char *kind = p ? json_string_value(json_object_get(p, "kind")) : NULL;
    if (!kind)
        pl__fhir_fail(c, -PL_EINVAL);
    return kind;
}

/* A Practitioner reference for staff member id; an error if id is not staff. */
json_t *pl__fhir_staff_ref(pl__fhir_ctx_t *c, int64_t id)
{
    if (!pl__fhir_str_is(pl__fhir_person_kind(c, id, NULL), "staff")) {
        pl__fhir_fail(c, -PL_EINVAL);
        return NULL;
    }
    return pl__fhir_ref_id("Practitioner", id);
}

/* ---- Patient, Organization, Practitioner, PractitionerRole ---------------------------- */

static void map_patient(pl__fhir_ctx_t *c)
{
    const json_t *p = c->patient;
    if (!pl__fhir_get_int(c, p, "id", true, &c->patient_id) ||
        !pl__fhir_get_int(c, p, "practice_id", true, &c->practice_id))
        return;
    const char *name = pl__fhir_get_str(c, p, "display_name", false);
    const char *nhs = pl__fhir_get_str(c, p, "nhs_number", false);
    const char *dob = pl__fhir_get_str(c, p, "date_of_birth", false);
    if (c->err || !pl__fhir_org_exists(c, c->practice_id))
        return;
    if (dob && !valid_date(dob)) {
        pl__fhir_fail(c, -PL_EINVAL);
        return;
    }
    json_t *r = pl__fhir_resource_new_id(c, "Patient", c->patient_id);
    if (!r)
        return;
    pl__fhir_put(c, r, "identifier",
                 nhs ? identifier(NHS_NUMBER_SYSTEM, nhs)
                     : pl__fhir_identifier_id("urn:parley:user", c->patient_id));
    if (name)
        pl__fhir_put(c, r, "name", json_pack("[{ss}]", "text", name));
    pl__fhir_put_str(c, r, "birthDate", dob);
    pl__fhir_put(c, r, "generalPractitioner",
                 json_pack("[o]", pl__fhir_ref_id("Organization", c->practice_id)));
    pl__fhir_put(c, r, "managingOrganization", pl__fhir_ref_id("Organization", c->practice_id));
}

static void map_orgs(pl__fhir_ctx_t *c)
{
    size_t i;
    const json_t *o;
    json_array_foreach(c->orgs, i, o) {
        int64_t id = 0;
        if (!json_is_object(o)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, o, "id", true, &id);
        const char *code = pl__fhir_get_str(c, o, "code", false);
        const char *name = pl__fhir_get_str(c, o, "name", false);
        const char *kind = pl__fhir_get_str(c, o, "kind", true);
        if (c->err)
            return;
        json_t *type;
        if (pl__fhir_str_is(kind, "practice"))
            type = pl__fhir_coded("http://terminology.hl7.org/CodeSystem/organization-type",
                                  "prov", "Healthcare Provider", "GP practice");
        else if (pl__fhir_str_is(kind, "specialist_service"))
            type = pl__fhir_coded("http://terminology.hl7.org/CodeSystem/organization-type",
                                  "prov", "Healthcare Provider", "Specialist service");
        else if (pl__fhir_str_is(kind, "network"))
            type = pl__fhir_coded("http://terminology.hl7.org/CodeSystem/organization-type",
                                  "team", "Organizational team", "Network of practices");
        else {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        json_t *r = pl__fhir_resource_new_id(c, "Organization", id);
        if (!r) {
            json_decref(type);
            return;
        }
        pl__fhir_put(c, r, "identifier",
                     code ? identifier(ODS_SYSTEM, code)
                          : pl__fhir_identifier_id("urn:parley:org", id));
        pl__fhir_put(c, r, "active", json_true());
        pl__fhir_put(c, r, "type", json_pack("[o]", type));
        pl__fhir_put_str(c, r, "name", name);
    }
}

/* Text and, where HL7's practitioner-role code system has one, a coding for a Parley role. */
static json_t *role_concept(const char *role)
{
    static const struct {
        const char *role, *text, *code, *display;
    } map[] = {
        {"gp", "GP", "doctor", "Doctor"},
        {"nurse", "Nurse", "nurse", "Nurse"},
        {"pharmacist", "Pharmacist", "pharmacist", "Pharmacist"},
        {"clinician", "Clinician", NULL, NULL},
        {"receptionist", "Receptionist", NULL, NULL},
        {"practice_admin", "Practice administrator", NULL, NULL},
        {"specialist", "Specialist", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].role, role) != 0)
            continue;
        if (!map[i].code)
            return pl__fhir_text_concept(map[i].text);
        return pl__fhir_coded("http://terminology.hl7.org/CodeSystem/practitioner-role",
                              map[i].code, map[i].display, map[i].text);
    }
    return pl__fhir_text_concept(role); /* a role this file does not know yet: its own name */
}

static void map_roles(pl__fhir_ctx_t *c, int64_t person_id, const json_t *roles)
{
    size_t i;
    const json_t *ro;
    json_array_foreach(roles, i, ro) {
        int64_t org = 0;
        if (!json_is_object(ro)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, ro, "org_id", true, &org);
        const char *role = pl__fhir_get_str(c, ro, "role", true);
        if (c->err || !pl__fhir_org_exists(c, org))
            return;
        /* Keyed "person:org:role". A role is a short enum name: a long one is malformed. */
        if (strlen(role) > ROLE_MAX) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        char key[48 + ROLE_MAX + 1];
        snprintf(key, sizeof key, "%" PRId64 ":%" PRId64 ":%s", person_id, org, role);
        json_t *r = resource_new(c, "PractitionerRole", key);
        if (!r)
            return;
        pl__fhir_put(c, r, "identifier", identifier("urn:parley:practitioner-role", key));
        pl__fhir_put(c, r, "active", json_true());
        pl__fhir_put(c, r, "practitioner", pl__fhir_ref_id("Practitioner", person_id));
        pl__fhir_put(c, r, "organization", pl__fhir_ref_id("Organization", org));
        pl__fhir_put(c, r, "code", json_pack("[o]", role_concept(role)));
    }
}

static void map_people(pl__fhir_ctx_t *c)
{
    size_t i;
    const json_t *p;
    json_array_foreach(c->people, i, p) {
        int64_t id = 0;
        if (!json_is_object(p)) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        pl__fhir_get_int(c, p, "id", true, &id);
        const char *name = pl__fhir_get_str(c, p, "display_name", false);
        const char *kind = pl__fhir_get_str(c, p, "kind", true);
        /* Type-checked here: guest_role is used by Encounter, roles mapped below. */
        (void)pl__fhir_get_str(c, p, "guest_role", false);
        (void)pl__fhir_get_arr(c, p, "roles");
        if (c->err)
            return;
        if (pl__fhir_str_is(kind, "patient") || pl__fhir_str_is(kind, "guest"))
            continue; /* no Practitioner: the file comment, "Guests" */
        if (!pl__fhir_str_is(kind, "staff")) {
            pl__fhir_fail(c, -PL_EINVAL);
            return;
        }
        json_t *r = pl__fhir_resource_new_id(c, "Practitioner", id);
        if (!r)
            return;
        pl__fhir_put(c, r, "identifier", pl__fhir_identifier_id("urn:parley:user", id));
        pl__fhir_put(c, r, "active", json_true());
        if (name)
            pl__fhir_put(c, r, "name", json_pack("[{ss}]", "text", name));
    }
    /* Roles after every Practitioner, so the entries group by type. */
    json_array_foreach(c->people, i, p) {
        int64_t id = 0;
        pl__fhir_get_int(c, p, "id", true, &id);
        if (c->err)
            return;
        if (pl__fhir_str_is(json_string_value(json_object_get(p, "kind")), "staff"))
            map_roles(c, id, pl__fhir_get_arr(c, p, "roles"));
        if (c->err)
            return;
    }
}

/* ---- the Bundle ----------------------------------------------------------------------- */

int pl_fhir_bundle(const json_t *record, int64_t now_ms, json_t **bundle)
{
    char stamp[PL__FHIR_TIME_LEN];
    pl__fhir_ctx_t c;
    memset(&c, 0, sizeof c);
    if (!bundle || !json_is_object(record) || !fmt_instant(now_ms, stamp))
        return -PL_EINVAL;
    c.patient = json_object_get(record, "patient");
    if (!json_is_object(c.patient))
        return -PL_EINVAL;
    c.orgs = pl__fhir_get_arr(&c, record, "organisations");
    c.people = pl__fhir_get_arr(&c, record, "people");
    c.convs = pl__fhir_get_arr(&c, record, "conversations");
    c.consults = pl__fhir_get_arr(&c, record, "consultations");
    c.advice = pl__fhir_get_arr(&c, record, "advice");
    c.cases = pl__fhir_get_arr(&c, record, "cases");
    c.filings = pl__fhir_get_arr(&c, record, "filings");
    if (c.err)
        return c.err;
    c.entries = json_array();
    c.seen = json_object();
    if (!c.entries || !c.seen) {
        json_decref(c.entries);
        json_decref(c.seen);
        return -PL_ENOMEM;
    }
    /* Each pass stops at the first error; the later ones then return at once. */
    map_patient(&c);
    if (!c.err)
        map_orgs(&c);
    if (!c.err)
        map_people(&c);
    if (!c.err)
        pl__fhir_map_consultations(&c);
    if (!c.err)
        pl__fhir_map_advice(&c);
    if (!c.err)
        pl__fhir_map_conversations(&c);
    if (!c.err)
        pl__fhir_map_filings(&c);
    json_decref(c.seen);
    json_t *b = NULL;
    if (!c.err) {
        b = json_pack("{ss ss ss so}", "resourceType", "Bundle", "type", "collection",
                      "timestamp", stamp, "entry", c.entries);
        c.entries = NULL; /* taken by json_pack, even when it fails */
        if (!b)
            c.err = -PL_ENOMEM;
    }
    json_decref(c.entries);
    if (c.err)
        return c.err;
    *bundle = b;
    return 0;
}
