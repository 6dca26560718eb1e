/* Internals shared by the FHIR export's files (fhir.c: input accessors, ids and references,
 * Patient, Organization, Practitioner, PractitionerRole, and pl_fhir_bundle, which runs the
 * passes; fhir_encounter.c: Encounter, CommunicationRequest, Consent; fhir_comm.c:
 * Communication, DocumentReference). Not part of fhir.h.
 *
 * Errors: every helper that takes the context records the first error in c->err and carries
 * on harmlessly, so a pass can read all its fields and check c->err once. */
#ifndef PL_FHIR_INTERNAL_H
#define PL_FHIR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "storage/fhir.h"

#define PL__FHIR_TIME_LEN 80 /* room for any int fields snprintf might see; 24 are used */

/* One export in progress: the record's parts (borrowed from the record) and the Bundle's
 * entries so far. */
typedef struct {
    const json_t *patient, *orgs, *people, *convs, *consults, *advice, *cases, *filings;
    int64_t patient_id, practice_id;
    json_t *entries; /* Bundle.entry, owned */
    json_t *seen;    /* fullUrl -> true, owned: refuses a resource twice */
    int err;         /* first error, 0 while all is well */
} pl__fhir_ctx_t;

/* ---- errors and input accessors (fhir.c) ---- */

/* Records code as c's error unless one is already set. Always returns false. */
bool pl__fhir_fail(pl__fhir_ctx_t *c, int code);
/* An integer member. Absent or null: false, and an error if req. Another type: an error. */
bool pl__fhir_get_int(pl__fhir_ctx_t *c, const json_t *o, const char *k, bool req, int64_t *out);
/* A string member, borrowed from o. NULL when absent or null (an error if req) or mistyped. */
const char *pl__fhir_get_str(pl__fhir_ctx_t *c, const json_t *o, const char *k, bool req);
/* An array member. Absent or null gives NULL, which jansson treats as empty; mistyped fails. */
const json_t *pl__fhir_get_arr(pl__fhir_ctx_t *c, const json_t *o, const char *k);
/* An optional object member (NULL when absent or null; mistyped fails). */
const json_t *pl__fhir_get_obj(pl__fhir_ctx_t *c, const json_t *o, const char *k);
/* A time member (ms since the epoch) formatted into out as a FHIR instant, and its ms into
 * *ms_out if not NULL. Same absent/required rules as pl__fhir_get_int; out of range fails. */
bool pl__fhir_get_time(pl__fhir_ctx_t *c, const json_t *o, const char *k, bool req,
                       char out[PL__FHIR_TIME_LEN], int64_t *ms_out);
/* The element of array arr whose "id" is id (borrowed), or NULL. Non-objects are skipped. */
const json_t *pl__fhir_find_by_id(const json_t *arr, int64_t id);
/* s is not NULL and equals want. */
bool pl__fhir_str_is(const char *s, const char *want);

/* ---- references and output builders (fhir.c) ---- */

/* Sets o[k] = v, taking v; a NULL v (a failed allocation upstream) records -PL_ENOMEM. */
void pl__fhir_put(pl__fhir_ctx_t *c, json_t *o, const char *k, json_t *v);
/* Sets o[k] to a copy of s when s is not NULL. */
void pl__fhir_put_str(pl__fhir_ctx_t *c, json_t *o, const char *k, const char *s);
/* Appends v to arr, taking v; a NULL v records -PL_ENOMEM. */
void pl__fhir_push(pl__fhir_ctx_t *c, json_t *arr, json_t *v);
/* The rest return a new reference, or NULL on allocation failure (pl__fhir_put and
 * pl__fhir_push turn that into -PL_ENOMEM). */
/* {"reference": "urn:uuid:...", "type": type} for resource type/id. */
json_t *pl__fhir_ref_id(const char *type, int64_t id);
/* [{"system": system, "value": "<id>"}]. */
json_t *pl__fhir_identifier_id(const char *system, int64_t id);
/* A CodeableConcept with text only. */
json_t *pl__fhir_text_concept(const char *text);
/* A CodeableConcept with one coding; text may be NULL. */
json_t *pl__fhir_coded(const char *system, const char *code, const char *display,
                       const char *text);
/* Creates resource {resourceType, id} for "<type>:<id>" and adds its entry. Returns it borrowed
 * (the entry list owns it), or NULL on error (recorded in c; an id seen twice is -PL_EINVAL). */
json_t *pl__fhir_resource_new_id(pl__fhir_ctx_t *c, const char *type, int64_t id);

/* ---- lookups that make references safe (fhir.c) ---- */

/* The record holds organisation id; else false and an error. */
bool pl__fhir_org_exists(pl__fhir_ctx_t *c, int64_t id);
/* The kind of person id ("staff", "patient", "guest"), with their people entry (borrowed, or
 * NULL) in *person if person is not NULL. The record's patient is "patient" even when people
 * does not list them. NULL and an error when the record does not hold them. */
const char *pl__fhir_person_kind(pl__fhir_ctx_t *c, int64_t id, const json_t **person);
/* A Practitioner reference (new) for staff member id; NULL and an error if id is not staff. */
json_t *pl__fhir_staff_ref(pl__fhir_ctx_t *c, int64_t id);

/* ---- the passes pl_fhir_bundle runs after the people (in entry order) ---- */

/* Encounter per consultation (fhir_encounter.c). */
void pl__fhir_map_consultations(pl__fhir_ctx_t *c);
/* CommunicationRequest per advice request, each followed by its Consent (fhir_encounter.c). */
void pl__fhir_map_advice(pl__fhir_ctx_t *c);
/* Communication per message, conversation by conversation (fhir_comm.c). */
void pl__fhir_map_conversations(pl__fhir_ctx_t *c);
/* DocumentReference per filing (fhir_comm.c). */
void pl__fhir_map_filings(pl__fhir_ctx_t *c);

#endif
