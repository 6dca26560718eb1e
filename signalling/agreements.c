/* Specialist services and information-sharing agreements: service.list, agreement.propose,
 * agreement.accept, agreement.end and agreement.list (docs/PROTOCOL.md section 11).
 *
 * A practice may send a specialist service advice requests only under an agreement in force
 * between the two. An admin of one side proposes it (what the service may see, and for how
 * long); an admin of the other side accepts it; an admin of either side may end it. authz.c
 * decides who may do each (PL_RES_AGREEMENT); the order (the other side accepts, nothing ends
 * twice) is this file's. */
#include "core/err.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS (24 * 3600 * 1000LL)
#define AGREEMENT_MAX_MS (5 * 366 * DAY_MS) /* renewed at least every five years */

static const char *const shares_words[] = {"identified", "pseudonymised", NULL};

static pl_resource_t agreement_res(int64_t practice_id, int64_t service_id)
{
    pl_resource_t res = {.kind = PL_RES_AGREEMENT, .org_id = practice_id,
                         .peer_org_id = service_id};
    return res;
}

static int audit(pl_store_t *st, pl_req_t *r, const char *action, const pl_agreement_t *a)
{
    return pl_req_audit(st, r, action, "agreement", a->id, 0,
                        pl_audit_org_for(&r->actor, a->practice_id, a->service_id));
}

/* ---- service.list: the services a practice may ask, each with its agreement ---- */

static int services_run(pl_store_t *st, pl_req_t *r)
{
    json_t *list = NULL;
    int rc = pl_store_service_list(st, &list);
    if (rc < 0) return rc;
    /* For each practice the caller belongs to, whether an agreement is in force with each
     * service: what the "ask a specialist" form offers. */
    size_t i;
    json_t *svc;
    json_array_foreach(list, i, svc)
    {
        json_t *with = json_array();
        for (int k = 0; k < r->actor.n_orgs; k++) {
            pl_agreement_t a;
            int64_t sid = json_integer_value(json_object_get(svc, "id"));
            int arc = pl_store_agreement_active(st, r->actor.orgs[k].org_id, sid, r->now, &a);
            if (arc == 0)
                json_array_append_new(with, json_pack("{sI sI ss sI}", "practice_id",
                                                      (json_int_t)a.practice_id, "agreement_id",
                                                      (json_int_t)a.id, "shares", a.shares,
                                                      "ends_at", (json_int_t)a.ends_at));
            else if (arc != -PL_ENOTFOUND) {
                json_decref(with);
                json_decref(list);
                return arc;
            }
        }
        json_object_set_new(svc, "agreements", with);
    }
    json_object_set_new(r->result, "services", list);
    return 0;
}

static int h_services(pl_conn_t *c, const char *id, json_t *req)
{
    if (c->actor.kind != PL_USER_STAFF) {
        pl_conn_reply_err(c, id, -PL_EPERM, "specialist services are for practice staff");
        return 0;
    }
    return pl_req_start(c, id, "service.list", req, services_run);
}

/* ---- agreement.propose ---- */

static int propose_run(pl_store_t *st, pl_req_t *r)
{
    pl_org_t practice, service;
    int64_t pid = pl_req_param_id(r, "practice_id"), sid = pl_req_param_id(r, "service_id");
    int rc = pl_store_org_get(st, pid, &practice);
    if (rc == 0) rc = pl_store_org_get(st, sid, &service);
    if (rc == -PL_ENOTFOUND || (rc == 0 && (strcmp(practice.kind, "practice") != 0 ||
                                            strcmp(service.kind, "specialist_service") != 0))) {
        pl_req_fail_msg(r, "practice_id must be a practice and service_id a specialist service");
        return -PL_EINVAL;
    }
    if (rc < 0) return rc;
    pl_resource_t res = agreement_res(pid, sid);
    if (pl_authz_check(&r->actor, &res, PL_ACT_ADMIN) < 0) {
        pl_req_fail_msg(r, "an admin of the practice or of the service records agreements");
        return -PL_EPERM;
    }
    pl_agreement_t a = {.practice_id = pid,
                        .service_id = sid,
                        .starts_at = pl_req_param_id(r, "starts_at") ? pl_req_param_id(r, "starts_at") : r->now,
                        .ends_at = pl_req_param_id(r, "ends_at"),
                        .proposed_by = r->actor.user_id,
                        .proposed_at = r->now};
    snprintf(a.shares, sizeof a.shares, "%s",
             json_string_value(json_object_get(r->params, "shares")));
    /* Proposed for the side the admin speaks for (the practice, if an admin of both). */
    a.proposed_org_id = pl_authz_roles_at(&r->actor, pid) & PL_ROLE_PRACTICE_ADMIN ? pid : sid;
    if (a.ends_at <= a.starts_at || a.ends_at <= r->now ||
        a.ends_at - a.starts_at > AGREEMENT_MAX_MS) {
        pl_req_fail_msg(r, "ends_at must be after starts_at and now, and at most five years on");
        return -PL_EINVAL;
    }
    if ((rc = pl_store_agreement_create(st, &a, &a.id)) < 0) return rc;
    json_object_set_new(r->result, "agreement", pl_agreement_json(&a, r->now));
    return audit(st, r, "agreement.propose", &a);
}

static int h_propose(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t p, s, from, to;
    const char *shares;
    int rc;
    if ((rc = pl_param_int(req, "practice_id", 1, INT64_MAX, false, 0, &p, &e)) < 0 ||
        (rc = pl_param_int(req, "service_id", 1, INT64_MAX, false, 0, &s, &e)) < 0 ||
        (rc = pl_param_enum(req, "shares", shares_words, false, &shares, &e)) < 0 ||
        (rc = pl_param_int(req, "starts_at", 1, INT64_MAX, true, 0, &from, &e)) < 0 ||
        (rc = pl_param_int(req, "ends_at", 1, INT64_MAX, false, 0, &to, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "agreement.propose", req, propose_run);
}

/* ---- agreement.accept / agreement.end ---- */

static int load(pl_store_t *st, pl_req_t *r, pl_agreement_t *a)
{
    int rc = pl_store_agreement_get(st, pl_req_param_id(r, "agreement_id"), a);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    /* Another organisations' agreement looks like none. */
    pl_resource_t res = agreement_res(rc == 0 ? a->practice_id : 0, rc == 0 ? a->service_id : 0);
    if (rc < 0 || pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "no such agreement");
        return -PL_ENOTFOUND;
    }
    if (pl_authz_check(&r->actor, &res, PL_ACT_ADMIN) < 0) {
        pl_req_fail_msg(r, "an admin of the practice or of the service records agreements");
        return -PL_EPERM;
    }
    return 0;
}

static int accept_run(pl_store_t *st, pl_req_t *r)
{
    pl_agreement_t a;
    int rc = load(st, r, &a);
    if (rc < 0) return rc;
    /* The other side says yes: an admin of the proposing side only, cannot. */
    int64_t other = a.proposed_org_id == a.practice_id ? a.service_id : a.practice_id;
    if (!(pl_authz_roles_at(&r->actor, other) & PL_ROLE_PRACTICE_ADMIN)) {
        pl_req_fail_msg(r, "the other organisation accepts an agreement: an admin of it");
        return -PL_EPERM;
    }
    if ((rc = pl_store_agreement_accept(st, a.id, r->actor.user_id, r->now)) == -PL_ECONFLICT)
        pl_req_fail_msg(r, a.ended_at ? "this agreement has been ended" : "this agreement is accepted");
    if (rc < 0 || (rc = pl_store_agreement_get(st, a.id, &a)) < 0) return rc;
    json_object_set_new(r->result, "agreement", pl_agreement_json(&a, r->now));
    return audit(st, r, "agreement.accept", &a);
}

static int end_run(pl_store_t *st, pl_req_t *r)
{
    pl_agreement_t a;
    int rc = load(st, r, &a);
    if (rc < 0) return rc;
    if ((rc = pl_store_agreement_end(st, a.id, r->actor.user_id, r->now)) == -PL_ECONFLICT)
        pl_req_fail_msg(r, "this agreement has been ended");
    if (rc < 0 || (rc = pl_store_agreement_get(st, a.id, &a)) < 0) return rc;
    json_object_set_new(r->result, "agreement", pl_agreement_json(&a, r->now));
    return audit(st, r, "agreement.end", &a);
}

static int by_id(pl_conn_t *c, const char *id, json_t *req, const char *type, pl_req_run_fn run)
{
    pl_perr_t e;
    int64_t a;
    int rc = pl_param_int(req, "agreement_id", 1, INT64_MAX, false, 0, &a, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, type, req, run);
}

static int h_accept(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "agreement.accept", accept_run);
}

static int h_end(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "agreement.end", end_run);
}

/* ---- agreement.list ---- */

static int list_run(pl_store_t *st, pl_req_t *r)
{
    int64_t ids[PL_ACTOR_MAX_ORGS];
    int n = 0;
    for (int i = 0; i < r->actor.n_orgs; i++) ids[n++] = r->actor.orgs[i].org_id;
    json_t *list = NULL;
    int rc = n ? pl_store_agreement_list(st, ids, n, r->now, &list) : 0;
    if (rc < 0) return rc;
    if (!list) list = json_array();
    /* Each one passes authz itself, not only the query that found it. */
    for (size_t i = json_array_size(list); i-- > 0;) {
        json_t *a = json_array_get(list, i);
        pl_resource_t res = agreement_res(json_integer_value(json_object_get(a, "practice_id")),
                                          json_integer_value(json_object_get(a, "service_id")));
        if (pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) json_array_remove(list, i);
    }
    json_object_set_new(r->result, "agreements", list);
    return 0;
}

static int h_list(pl_conn_t *c, const char *id, json_t *req)
{
    if (c->actor.kind != PL_USER_STAFF) {
        pl_conn_reply_err(c, id, -PL_EPERM, "agreements are between organisations");
        return 0;
    }
    return pl_req_start(c, id, "agreement.list", req, list_run);
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__agreement_handler(const char *type);
pl_handler_fn pl__agreement_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"service.list", h_services},    {"agreement.propose", h_propose},
        {"agreement.accept", h_accept},  {"agreement.end", h_end},
        {"agreement.list", h_list},
    };
    return PL_HANDLER_IN(table, type);
}
