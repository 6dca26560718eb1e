/* A patient's record as FHIR R4 (docs/PROTOCOL.md section 13): GET /api/v1/patients/{id}/fhir
 * for the practice's clinicians and admins, and pl_record_export for `parley export fhir`.
 *
 * The store gathers the record (store_sqlite_record.c), storage/fhir.c maps it to a Bundle;
 * this file decides who may have it (authz.c, PL_ACT_EXPORT on the patient) and records that
 * they did: an export of patient data is audited like any access, with the patient. The patient
 * is named by id in the path, never by NHS number: paths reach logs and proxies. */
#include "signalling/record.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/attach.h"
#include "storage/fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pl_record_export(pl_store_t *st, int64_t patient_id, int64_t now, json_t **bundle)
{
    json_t *rec = NULL;
    int rc = pl_store_patient_record(st, patient_id, now, &rec);
    if (rc < 0) return rc;
    rc = pl_fhir_bundle(rec, now, bundle);
    json_decref(rec);
    if (rc == -PL_EINVAL) {
        /* The store handed the mapper a record it refused: a bug, not bad input. */
        pl_log_error("record", "the record of patient %lld could not be mapped to FHIR",
                     (long long)patient_id);
        rc = -PL_EINTERNAL;
    }
    return rc;
}

int64_t pl_record_fhir_path(const char *path)
{
    static const char pre[] = "/api/v1/patients/";
    if (strncmp(path, pre, sizeof pre - 1) != 0) return 0;
    const char *p = path + sizeof pre - 1;
    /* One id, one spelling: digits only, no leading zero, at most 18 of them. */
    if (*p < '1' || *p > '9') return 0;
    int64_t id = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if (++digits > 18) return 0;
        else id = id * 10 + (*p - '0');
    return strcmp(p, "/fhir") == 0 ? id : 0;
}

typedef struct {
    pl_job_t job;
    pl_server_t *srv;
    pl_http_req_t *hr;
    int64_t patient_id, now;
    char token_hash[65];
    char ip[64];
    char ua[256];
    const char *msg;
    char *body;
    size_t len;
} export_t;

static int export_run(pl_store_t *st, pl_job_t *job)
{
    export_t *x = (export_t *)job;
    pl_actor_t a;
    int64_t expires = 0;
    bool must_enrol = false;
    int rc = pl_auth_session_actor(st, x->srv->cfg, x->token_hash, x->now, &a, &expires,
                                   &must_enrol);
    if (rc == 0 && must_enrol) rc = -PL_ETOTP;
    if (rc < 0) {
        x->msg = rc == -PL_ETOTP ? "your practice requires two-factor sign-in: enrol first"
                                 : "no valid session: sign in again";
        return rc == -PL_ETOTP ? rc : -PL_EAUTH;
    }
    pl_actor_t pat;
    rc = pl_store_actor_load(st, x->patient_id, &pat);
    if (rc < 0 && rc != -PL_ENOTFOUND && rc != -PL_EAUTH) return rc;
    pl_resource_t res = {.kind = PL_RES_PATIENT,
                         .org_id = rc == 0 ? pat.practice_id : 0,
                         .patient_id = x->patient_id};
    if (rc < 0 || pat.kind != PL_USER_PATIENT || pl_authz_check(&a, &res, PL_ACT_READ) < 0) {
        /* As with patient.lookup: a patient of another practice looks like no patient. */
        x->msg = "no such patient at your practice";
        return -PL_ENOTFOUND;
    }
    if (pl_authz_check(&a, &res, PL_ACT_EXPORT) < 0) {
        x->msg = "a patient's record is exported by the practice's clinicians and admins";
        return -PL_EPERM;
    }
    json_t *bundle = NULL;
    if ((rc = pl_record_export(st, x->patient_id, x->now, &bundle)) < 0) return rc;
    x->body = json_dumps(bundle, JSON_COMPACT);
    json_decref(bundle);
    if (!x->body) return -PL_ENOMEM;
    x->len = strlen(x->body);
    return pl_audit_actor(st, &a, pat.practice_id, "record.export", "patient", x->patient_id,
                          x->patient_id, NULL, x->ip, x->ua, NULL, x->now);
}

static void export_done(pl_job_t *job, int status)
{
    export_t *x = (export_t *)job;
    if (status == 0) {
        char name[48];
        snprintf(name, sizeof name, "patient-%lld.fhir.json", (long long)x->patient_id);
        pl_http_respond_bytes(x->hr, "application/fhir+json", (uint8_t *)x->body, x->len, name);
        x->body = NULL; /* taken */
    } else {
        if (status == -PL_EAUTH) x->srv->metrics.auth_failures++;
        pl_http_respond_err(x->hr, status, x->msg ? x->msg : "could not export the record; try again");
    }
    if (x->body) {
        pl_wipe(x->body, x->len);
        free(x->body);
    }
    free(x);
}

void pl_record_fhir_http(pl_server_t *srv, pl_http_req_t *hr, struct lws *wsi, int64_t patient_id)
{
    char token[128];
    export_t *x = calloc(1, sizeof *x);
    if (!x) {
        pl_http_respond_err(hr, -PL_ENOMEM, NULL);
        return;
    }
    x->srv = srv;
    x->hr = hr;
    x->patient_id = patient_id;
    x->now = pl_now_ms();
    snprintf(x->ip, sizeof x->ip, "%s", pl_http_ip(hr));
    snprintf(x->ua, sizeof x->ua, "%s", pl_http_user_agent(hr));
    if (pl_http_token(wsi, token, sizeof token) < 0) {
        srv->metrics.auth_failures++;
        pl_http_respond_err(hr, -PL_EAUTH, "no session: sign in first");
        free(x);
        return;
    }
    pl_token_hash(token, x->token_hash);
    pl_wipe(token, sizeof token);
    int rc = pl_worker_submit(srv->worker, &x->job, export_run, export_done);
    if (rc < 0) {
        pl_http_respond_err(hr, rc, NULL);
        free(x);
    }
}
