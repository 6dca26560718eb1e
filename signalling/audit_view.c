/* Who accessed a patient's data, from the audit trail (docs/SECURITY.md "Accountability",
 * docs/PROTOCOL.md section 14):
 *   audit.patient  a practice admin reads one patient's trail, record by record, newest first
 *                  (authz PL_ACT_AUDIT on PL_RES_PATIENT);
 *   audit.mine     a patient reads which organisations accessed their data, and when.
 * Both read the trail inside the storage thread like any request; audit.patient is itself
 * audited (it shows who saw the patient's data, which is about the patient too). Reached through
 * patients.c's lookup (pl__audit_handler), so the dispatch table stays as it is. */
#include "core/err.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <string.h>

#define PAGE_DEFAULT 50
#define PAGE_MAX 200

/* One stored row as an admin sees it. */
static json_t *record_view(json_t *row)
{
    const char *name = json_string_value(json_object_get(row, "actor_name"));
    const char *kind = json_string_value(json_object_get(row, "actor_kind"));
    const char *org = json_string_value(json_object_get(row, "org_name"));
    json_int_t actor = json_integer_value(json_object_get(row, "actor_id"));
    json_int_t org_id = json_integer_value(json_object_get(row, "org_id"));
    /* nobody (null): a refused sign-in for no account, the command line */
    json_t *who = actor ? json_pack("{sI ss ss}", "user_id", actor, "display_name",
                                    name ? name : "", "kind", kind && kind[0] ? kind : "unknown")
                        : json_null();
    json_t *o = json_pack("{sO sO so sO sO sO sO sO sO sO sO}", "id", json_object_get(row, "id"),
                          "at", json_object_get(row, "at"), "who", who, "role",
                          json_object_get(row, "role"), "action", json_object_get(row, "action"),
                          "resource_type", json_object_get(row, "resource_type"), "resource_id",
                          json_object_get(row, "resource_id"), "outcome",
                          json_object_get(row, "outcome"), "ip", json_object_get(row, "ip"),
                          "user_agent", json_object_get(row, "user_agent"), "request_id",
                          json_object_get(row, "request_id"));
    if (o)
        json_object_set_new(o, "organisation",
                            org_id ? json_pack("{sI ss}", "id", org_id, "name", org ? org : "")
                                   : json_null());
    return o;
}

/* ---- audit.patient ---- */

static int patient_run(pl_store_t *st, pl_req_t *r)
{
    int64_t pid = r->i1, before = r->i2;
    int limit = (int)r->i3;
    pl_actor_t p;
    int rc = pl_store_actor_load(st, pid, &p);
    if (rc == -PL_ENOTFOUND || (rc == 0 && p.kind != PL_USER_PATIENT)) {
        pl_req_fail_msg(r, "no such patient");
        return -PL_ENOTFOUND;
    }
    if (rc < 0) return rc;
    pl_resource_t res = {.kind = PL_RES_PATIENT, .org_id = p.practice_id, .patient_id = pid};
    /* Another practice's patient looks the same as no patient, as in patient.lookup. */
    if (pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "no such patient");
        return -PL_ENOTFOUND;
    }
    if (pl_authz_check(&r->actor, &res, PL_ACT_AUDIT) < 0) {
        pl_req_fail_msg(r, "only the practice's admins can see who accessed a patient's data");
        return -PL_EPERM;
    }
    json_t *rows = NULL;
    if ((rc = pl_store_audit_of_patient(st, pid, before, limit + 1, &rows)) < 0) return rc;
    bool more = json_array_size(rows) > (size_t)limit;
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(rows) && i < (size_t)limit; i++)
        json_array_append_new(out, record_view(json_array_get(rows, i)));
    json_int_t next = more ? json_integer_value(json_object_get(json_array_get(out, limit - 1),
                                                                "id"))
                           : 0;
    json_decref(rows);
    json_object_set_new(r->result, "patient",
                        json_pack("{sI ss}", "id", (json_int_t)pid, "display_name",
                                  p.display_name));
    json_object_set_new(r->result, "records", out);
    json_object_set_new(r->result, "next_before_id", next ? json_integer(next) : json_null());
    return pl_req_audit(st, r, "audit.patient", "patient", pid, pid, p.practice_id);
}

static int h_patient(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t pid, before, limit;
    int rc;
    if ((rc = pl_param_int(req, "patient_id", 1, INT64_MAX, false, 0, &pid, &e)) < 0 ||
        (rc = pl_param_int(req, "before_id", 1, INT64_MAX, true, 0, &before, &e)) < 0 ||
        (rc = pl_param_int(req, "limit", 1, PAGE_MAX, true, PAGE_DEFAULT, &limit, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    pl_req_t *r = pl_req_new(c, id, "audit.patient", req, patient_run);
    if (!r) return -PL_ENOMEM;
    r->i1 = pid;
    r->i2 = before;
    r->i3 = limit;
    pl_req_submit(r);
    return 0;
}

/* ---- audit.mine ----
 * A patient sees the organisations that accessed their data and when, not the people. The
 * organisation is who answers to them for it (the data controller, or the service it shared
 * the request with); the names of individual staff are the staff's own personal data, and a
 * patient with a concern takes it to the practice, whose admin can see each access. */

static int mine_run(pl_store_t *st, pl_req_t *r)
{
    pl_resource_t res = {.kind = PL_RES_PATIENT,
                         .org_id = r->actor.practice_id,
                         .patient_id = r->actor.user_id};
    if (r->actor.kind != PL_USER_PATIENT || pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "this is for patients: it lists who accessed your own data");
        return -PL_EPERM;
    }
    json_t *rows = NULL;
    int rc = pl_store_audit_orgs_of_patient(st, r->actor.user_id, &rows);
    if (rc < 0) return rc;
    json_t *out = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_int_t org = json_integer_value(json_object_get(row, "org_id"));
        json_array_append_new(
            out, json_pack("{so so sO sO sO}", "organisation",
                           org ? json_pack("{sI sO sO}", "id", org, "name",
                                           json_object_get(row, "name"), "kind",
                                           json_object_get(row, "kind"))
                               : json_null(),
                           "own_practice", json_boolean(org && org == r->actor.practice_id),
                           "first_at", json_object_get(row, "first_at"), "last_at",
                           json_object_get(row, "last_at"), "count",
                           json_object_get(row, "count")));
    }
    json_decref(rows);
    json_object_set_new(r->result, "organisations", out);
    return 0;
}

static int h_mine(pl_conn_t *c, const char *id, json_t *req)
{
    return pl_req_start(c, id, "audit.mine", req, mine_run);
}

pl_handler_fn pl__audit_handler(const char *type);
pl_handler_fn pl__audit_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"audit.patient", h_patient},
        {"audit.mine", h_mine},
    };
    return PL_HANDLER_IN(table, type);
}
