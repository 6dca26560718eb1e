/* A patient's record as FHIR R4: the REST export for the practice, and the export the CLI runs
 * (signalling/record.c, docs/PROTOCOL.md section 13). */
#ifndef PL_RECORD_H
#define PL_RECORD_H

#include "signalling/server_internal.h"

#include <stdint.h>

/* The patient's whole record as a FHIR R4 Bundle (*bundle, the caller decrefs). No access
 * check and no audit: the caller does both. -PL_ENOTFOUND if patient_id is not a patient. */
int pl_record_export(pl_store_t *st, int64_t patient_id, int64_t now, json_t **bundle);

/* The patient id of a path "/api/v1/patients/{id}/fhir", or 0. */
int64_t pl_record_fhir_path(const char *path);

/* GET /api/v1/patients/{id}/fhir: the Bundle, to staff of the patient's practice with
 * PL_ACT_EXPORT, audited as record.export. Answers hr itself. */
void pl_record_fhir_http(pl_server_t *srv, pl_http_req_t *hr, struct lws *wsi, int64_t patient_id);

#endif
