/* patient.lookup: practice staff find a registered patient by NHS number. The number is checked
 * with its Modulus 11 check digit before anything is looked up, and every lookup is audited. */
#include "core/err.h"
#include "signalling/nhs.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <string.h>

static int lookup_run(pl_store_t *st, pl_req_t *r)
{
    const char *nhs = json_string_value(json_object_get(r->params, "nhs"));
    int64_t pid = 0;
    json_t *p = NULL;
    int rc = pl_store_patient_by_nhs(st, nhs, &pid);
    if (rc == 0) rc = pl_store_user_json(st, pid, &p);
    if (rc < 0) return rc;
    pl_resource_t res = {.kind = PL_RES_PATIENT,
                         .org_id = json_integer_value(json_object_get(p, "practice_id")),
                         .patient_id = pid};
    /* Not registered with one of your organisations looks the same as not registered at all. */
    if (pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        json_decref(p);
        return -PL_ENOTFOUND;
    }
    json_object_set_new(p, "nhs_number", json_string(nhs));
    json_object_set_new(r->result, "patient", p);
    return pl_req_audit(st, r, "patient.lookup", "patient", pid, pid, res.org_id);
}

static int h_lookup(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    const char *in;
    char nhs[PL_NHS_LEN + 1];
    int rc = pl_param_str(req, "nhs_number", 1, 32, false, &in, &e);
    if (rc < 0) {
        pl_conn_reply_err(c, id, rc, e.msg);
        return 0;
    }
    if (c->actor.kind != PL_USER_STAFF) return -PL_EPERM;
    if (pl_nhs_normalise(in, nhs) < 0) {
        c->srv->metrics.bad_input++;
        pl_conn_reply_err(c, id, -PL_EINVAL,
                          "nhs_number is not a valid NHS number (10 digits with a valid check "
                          "digit)");
        return 0;
    }
    pl_req_t *r = pl_req_new(c, id, "patient.lookup", NULL, lookup_run);
    if (!r) return -PL_ENOMEM;
    r->params = json_pack("{ss}", "nhs", nhs);
    pl_req_submit(r);
    return 0;
}

pl_handler_fn pl__audit_handler(const char *type); /* audit_view.c */
pl_handler_fn pl__patient_handler(const char *type);
pl_handler_fn pl__patient_handler(const char *type)
{
    /* Who accessed a patient's data (audit.patient, audit.mine) is asked of the patient too. */
    return strcmp(type, "patient.lookup") == 0 ? h_lookup : pl__audit_handler(type);
}
