/* record.outbox (docs/PROTOCOL.md section 13.4): how a practice's write-back to the record
 * system stands (pending, dead-lettered, sent), for the practice's staff, so that a filing the
 * record system never took is seen (the inbox shows a warning when any is dead). */
#include "core/err.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

static int summary_run(pl_store_t *st, pl_req_t *r)
{
    int64_t org = pl_req_param_id(r, "org_id");
    pl_resource_t res = {.kind = PL_RES_ORG, .org_id = org};
    int rc = pl_authz_check(&r->actor, &res, PL_ACT_READ);
    if (rc < 0) {
        pl_req_fail_msg(r, r->actor.kind == PL_USER_STAFF
                               ? "you are not a member of that organisation"
                               : "this is for the practice team only");
        return rc;
    }
    json_t *sum = NULL;
    if ((rc = pl_store_outbox_summary(st, org, &sum)) < 0) return rc;
    json_object_update(r->result, sum);
    json_decref(sum);
    json_object_set_new(r->result, "org_id", json_integer(org));
    json_object_set_new(r->result, "enabled", json_boolean(r->i1));
    return 0;
}

static int h_record_outbox(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t org;
    int rc = pl_param_int(req, "org_id", 1, INT64_MAX, true, 0, &org, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    if (!org) {
        /* Staff of one organisation need not name it; staff of several must. */
        if (c->actor.kind == PL_USER_STAFF && c->actor.n_orgs == 1) {
            org = c->actor.orgs[0].org_id;
        } else if (c->actor.kind == PL_USER_STAFF) {
            pl_conn_reply_err(c, id, -PL_EINVAL,
                              "org_id is required: you belong to more than one organisation");
            return 0;
        } else {
            pl_conn_reply_err(c, id, -PL_EPERM, "this is for the practice team only");
            return 0;
        }
    }
    json_t *params = json_pack("{sI}", "org_id", (json_int_t)org);
    if (!params) return -PL_ENOMEM;
    pl_req_t *r = pl_req_new(c, id, "record.outbox", params, summary_run);
    json_decref(params);
    if (!r) return -PL_ENOMEM;
    r->i1 = c->srv->outbox != NULL;
    pl_req_submit(r);
    return 0;
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__outbox_handler(const char *type);
pl_handler_fn pl__outbox_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"record.outbox", h_record_outbox},
    };
    return PL_HANDLER_IN(table, type);
}
