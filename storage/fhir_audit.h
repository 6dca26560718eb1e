/* A patient's audit trail as FHIR R4 AuditEvent resources, shaped after IHE Basic Audit Log
 * Patterns (BALP): for `parley audit export --patient N` (signalling/audit_cli.c).
 *
 * Pure, like storage/fhir.h: no store, no I/O, no clock. The caller passes the rows
 * (pl_store_audit_of_patient's shape) and the time to stamp; resource ids are deterministic
 * (pl_fhir_uuid of "AuditEvent" and the audit row's id), so a second export names every event
 * the same way. The mapping is described at the top of storage/fhir_audit.c. */
#ifndef PL_FHIR_AUDIT_H
#define PL_FHIR_AUDIT_H

#include <stdint.h>

#include <jansson.h>

/* Builds a Bundle (type collection, timestamp now_ms) of one AuditEvent per row.
 * patient: {"display_name": text, "nhs_number": 10 digits}; rows: an array of
 * {id, at, actor_id, actor_name, actor_kind, role, org_id, org_name, org_code, action,
 * resource_type, resource_id, outcome, ip, user_agent, request_id}, in the order wanted (oldest
 * first, say). Both borrowed. 0 and *bundle (a new reference the caller releases), -PL_EINVAL
 * if a row or the patient is malformed, -PL_ENOMEM; on error *bundle is untouched. */
int pl_fhir_audit_bundle(const json_t *patient, const json_t *rows, int64_t now_ms,
                         json_t **bundle);

#endif
