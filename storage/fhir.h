/* FHIR R4 export: maps one patient's record (plain JSON gathered by the store) to a Bundle.
 *
 * Pure: no store, no I/O, no clock. The caller passes the record and the time to stamp, so the
 * same record always gives the same Bundle apart from Bundle.timestamp. Resource ids are
 * deterministic (see pl_fhir_uuid), so a re-export names every resource the same way and a
 * receiver can update rather than duplicate. The record's shape and the mapping decisions are
 * described at the top of storage/fhir.c. */
#ifndef PL_FHIR_H
#define PL_FHIR_H

#include <stdint.h>

#include <jansson.h>

/* Characters of a uuid's text form (8-4-4-4-12 lowercase hex), without the NUL. */
#define PL_FHIR_UUID_LEN 36

/* Longest "parley:<type>:<key>" text pl_fhir_uuid accepts, in bytes. */
#define PL_FHIR_NAME_MAX 240

/* Writes the deterministic uuid of the resource "parley:<type>:<key>" to out (36 characters
 * plus NUL): the first 16 bytes of SHA-256 of that text, with the RFC 4122 version nibble set
 * to 5 and the variant bits to 10 (version-5 style, but SHA-256 rather than SHA-1 and no
 * namespace uuid). type is a FHIR resource type ("Patient"), key Parley's id for it in text
 * ("42", or "7:3:gp" for a composite). Returns 0, or -PL_EINVAL if either is NULL or the
 * text is longer than PL_FHIR_NAME_MAX (out is then untouched). */
int pl_fhir_uuid(const char *type, const char *key, char out[PL_FHIR_UUID_LEN + 1]);

/* Builds the FHIR R4 Bundle (type collection, timestamp now_ms) for record.
 * record is borrowed. On success returns 0 and sets *bundle to a new reference the caller
 * releases with json_decref. Returns -PL_EINVAL if the record is malformed (a missing or
 * wrongly typed field, an unknown kind, a time out of range, or an id that names something the
 * record does not hold), -PL_ENOMEM on allocation failure; on error *bundle is left untouched.
 * Never reads past what jansson holds, whatever the input. */
int pl_fhir_bundle(const json_t *record, int64_t now_ms, json_t **bundle);

#endif
