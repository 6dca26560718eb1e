/* Advice requests, GP to specialist service: advice.create, advice.get, advice.list,
 * advice.claim, advice.assign, advice.request_info, advice.close (docs/PROTOCOL.md section 11).
 *
 * A request's thread is a conversation of kind 'advice' (conversation.send, history, receipts
 * and typing work on it as on any other), shared by the practice that asked and the service
 * asked: its events carry the service as peer_org_id and no patient, so both teams get them
 * live and the patient does not. Every decision is authz.c's (PL_RES_ADVICE): the handler
 * loads the facts, among them whether an agreement is in force now and whether it shares the
 * patient's identity, and asks. The patient's identity is taken out of what a reader may not
 * see, on every reply: an agreement that has ended hides it again.
 *
 * Event payloads name the request, its status, the specialist and the outcome, never the
 * patient: the same event goes to both organisations, whose right to the identity differs. */
#include "core/err.h"
#include "core/util.h"
#include "signalling/nhs.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <string.h>

#define HOUR_MS (3600 * 1000LL)
#define LIST_MAX 100
#define QUESTION_MAX 4000
#define SUMMARY_MAX 8000

static const char *const urgencies[] = {"routine", "urgent", NULL};
static const char *const outcomes[] = {"advice_given", "referral", "seen_elsewhere", NULL};
static const char *const sides[] = {"sent", "queue", NULL};
static const char *const filters[] = {"open", "closed", "overdue", "mine", "new", "awaiting_gp",
                                      "all", NULL};

static const char *param_str(const pl_req_t *r, const char *name)
{
    return json_string_value(json_object_get(r->params, name));
}

int pl_advice_resource(pl_store_t *st, const pl_advice_t *a, int64_t now, pl_resource_t *res)
{
    pl_agreement_t ag;
    int rc = pl_store_agreement_active(st, a->practice_id, a->service_id, now, &ag);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    *res = (pl_resource_t){.kind = PL_RES_ADVICE,
                           .org_id = a->practice_id,
                           .peer_org_id = a->service_id,
                           .patient_id = a->patient_id,
                           .conversation_id = a->conversation_id,
                           .agreement_active = rc == 0,
                           .identity_shared = rc == 0 && strcmp(ag.shares, "identified") == 0};
    return 0;
}

/* Takes out of the view what this reader may not see. */
static void reader_view(const pl_actor_t *actor, const pl_resource_t *res, json_t *view)
{
    if (pl_authz_check(actor, res, PL_ACT_IDENTITY) == 0) return;
    json_object_set_new(view, "patient", json_pack("{sb}", "hidden", 1));
}

/* Loads the request named by advice_id and asks authz for act (after READ: a request the
 * caller may not see looks like none). */
static int load(pl_store_t *st, pl_req_t *r, pl_action_t act, pl_advice_t *a, pl_resource_t *res)
{
    int rc = pl_store_advice_get(st, pl_req_param_id(r, "advice_id"), a);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && (rc = pl_advice_resource(st, a, r->now, res)) < 0) return rc;
    if (rc == -PL_ENOTFOUND || pl_authz_check(&r->actor, res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "no such advice request");
        return -PL_ENOTFOUND;
    }
    if (act != PL_ACT_READ && pl_authz_check(&r->actor, res, act) < 0) {
        pl_req_fail_msg(r, act == PL_ACT_CLAIM     ? "requests are claimed by the service's specialists"
                    : act == PL_ACT_RESPOND ? "advice is given by the service's specialists"
                                            : "you may not do that to this request");
        return -PL_EPERM;
    }
    return 0;
}

static int reply_view(pl_store_t *st, pl_req_t *r, int64_t id, const pl_resource_t *res)
{
    json_t *v = NULL;
    int rc = pl_store_advice_json(st, id, r->now, &v);
    if (rc < 0) return rc;
    reader_view(&r->actor, res, v);
    json_object_set_new(r->result, "advice", v);
    return 0;
}

/* Appends an advice.* event to the request's thread; payload stolen. */
static int advice_event(pl_store_t *st, pl_req_t *r, const pl_advice_t *a, const char *type,
                        json_t *payload)
{
    pl_conv_t conv;
    int rc = pl_store_conv_get(st, a->conversation_id, &conv);
    if (rc < 0) {
        json_decref(payload);
        return rc;
    }
    json_object_set_new(payload, "advice_id", json_integer(a->id));
    json_object_set_new(payload, "by", json_integer(r->actor.user_id));
    return pl_req_event(st, r, &conv, false, type, payload);
}

static json_t *specialist_json(pl_store_t *st, int64_t id)
{
    pl_actor_t who;
    if (!id || pl_store_actor_load(st, id, &who) < 0) return json_null();
    return json_pack("{sI ss}", "id", (json_int_t)id, "display_name", who.display_name);
}

/* Staff access to a patient's advice request is audited like any access to patient data. */
static int audit(pl_store_t *st, pl_req_t *r, const char *action, const pl_advice_t *a)
{
    return pl_req_audit(st, r, action, "advice", a->id, a->patient_id,
                        pl_audit_org_for(&r->actor, a->practice_id, a->service_id));
}

/* ---- advice.create ---- */

static int create_run(pl_store_t *st, pl_req_t *r)
{
    int64_t pid = pl_req_param_id(r, "practice_id"), sid = pl_req_param_id(r, "service_id");
    const char *specialty = param_str(r, "specialty");
    /* Which practice asks: the one named, or the caller's only one. */
    if (!pid) {
        for (int i = 0; i < r->actor.n_orgs; i++) {
            pl_org_t o;
            if (pl_store_org_get(st, r->actor.orgs[i].org_id, &o) == 0 &&
                strcmp(o.kind, "practice") == 0) {
                if (pid) {
                    pl_req_fail_msg(r, "you belong to several practices: give practice_id");
                    return -PL_EINVAL;
                }
                pid = o.id;
            }
        }
    }
    pl_service_t svc;
    int rc = pl_store_service_get(st, sid, &svc);
    if (rc == -PL_ENOTFOUND) pl_req_fail_msg(r, "service_id is not a specialist service");
    if (rc < 0) return rc == -PL_ENOTFOUND ? -PL_EINVAL : rc;
    bool offered = false;
    size_t i;
    json_t *sp;
    json_array_foreach(svc.specialties, i, sp)
    {
        const char *v = json_string_value(sp);
        offered |= v && strcmp(v, specialty) == 0;
    }
    json_decref(svc.specialties);
    if (!offered) {
        pl_req_fail_msg(r, "that service does not offer this specialty");
        return -PL_EINVAL;
    }
    /* Who may ask is settled before the patient is looked up: otherwise the answer would tell
     * anyone (another practice's staff, a patient) whether an NHS number is registered at the
     * practice they name. authz does not need the patient for CREATE. */
    pl_agreement_t ag;
    rc = pl_store_agreement_active(st, pid, sid, r->now, &ag);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    pl_resource_t res = {.kind = PL_RES_ADVICE,
                         .org_id = pid,
                         .peer_org_id = sid,
                         .agreement_active = rc == 0};
    if (pl_authz_check(&r->actor, &res, PL_ACT_CREATE) < 0) {
        /* The agreement is named only to the practice's own staff. */
        pl_req_fail_msg(r, rc == -PL_ENOTFOUND && pl_authz_roles_at(&r->actor, pid)
                        ? "your practice has no information-sharing agreement in force with "
                          "this service"
                        : "advice requests are raised by the practice's clinicians");
        return -PL_EPERM;
    }
    /* The patient, by NHS number: one registered at the asking practice. */
    int64_t patient = 0;
    pl_actor_t pat;
    rc = pl_store_patient_by_nhs(st, param_str(r, "nhs_number"), &patient);
    if (rc == 0) rc = pl_store_actor_load(st, patient, &pat);
    if (rc == -PL_ENOTFOUND || rc == -PL_EAUTH || (rc == 0 && pat.practice_id != pid)) {
        pl_req_fail_msg(r, "no such patient at your practice");
        return -PL_ENOTFOUND;
    }
    if (rc < 0) return rc;
    bool urgent = strcmp(param_str(r, "urgency"), "urgent") == 0;
    pl_advice_new_t n = {.practice_id = pid,
                         .service_id = sid,
                         .patient_id = patient,
                         .agreement_id = ag.id,
                         .specialty = specialty,
                         .urgency = urgent ? "urgent" : "routine",
                         .question = param_str(r, "question"),
                         .summary = param_str(r, "summary"),
                         .txn_id = param_str(r, "txn_id"),
                         .consent_by = r->actor.user_id,
                         .consent_at = r->now,
                         .created_by = r->actor.user_id,
                         .now = r->now,
                         .due_at = r->now + (urgent ? svc.urgent_target_hours
                                                    : svc.routine_target_hours) *
                                                HOUR_MS};
    int64_t id = 0;
    bool created = false;
    pl_advice_t a;
    if ((rc = pl_store_advice_create(st, &n, &id, &created)) < 0 ||
        (rc = pl_store_advice_get(st, id, &a)) < 0 || (rc = pl_advice_resource(st, &a, r->now, &res)) < 0)
        return rc;
    if (a.created_by != r->actor.user_id) return -PL_EINTERNAL;
    if ((rc = reply_view(st, r, id, &res)) < 0 || !created) return rc;
    rc = advice_event(st, r, &a, "advice.created",
                      json_pack("{ss ss ss sI}", "status", a.status, "urgency", a.urgency,
                                "specialty", a.specialty, "due_at", (json_int_t)a.due_at));
    return rc < 0 ? rc : audit(st, r, "advice.create", &a);
}

static int h_create(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t p, s;
    const char *spec, *urg, *q, *sum, *nhs, *txn;
    bool consent = false;
    int rc;
    if ((rc = pl_param_int(req, "service_id", 1, INT64_MAX, false, 0, &s, &e)) < 0 ||
        (rc = pl_param_int(req, "practice_id", 1, INT64_MAX, true, 0, &p, &e)) < 0 ||
        (rc = pl_param_str(req, "specialty", 1, 63, false, &spec, &e)) < 0 ||
        (rc = pl_param_enum(req, "urgency", urgencies, false, &urg, &e)) < 0 ||
        (rc = pl_param_str(req, "question", 1, QUESTION_MAX, false, &q, &e)) < 0 ||
        (rc = pl_param_str(req, "summary", 1, SUMMARY_MAX, false, &sum, &e)) < 0 ||
        (rc = pl_param_str(req, "nhs_number", 1, 16, false, &nhs, &e)) < 0 ||
        (rc = pl_param_str(req, "txn_id", 1, 64, false, &txn, &e)) < 0 ||
        (rc = pl_param_bool(req, "consent", false, false, &consent, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (!consent) {
        snprintf(e.msg, sizeof e.msg,
                 "consent must be true: record that the patient agreed to share this");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    char norm[PL_NHS_LEN + 1];
    if (pl_nhs_normalise(nhs, norm) < 0) {
        snprintf(e.msg, sizeof e.msg, "nhs_number is not a valid NHS number");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    json_object_set_new(req, "nhs_number", json_string(norm));
    return pl_req_start(c, id, "advice.create", req, create_run);
}

/* ---- advice.get ---- */

static int get_run(pl_store_t *st, pl_req_t *r)
{
    pl_advice_t a;
    pl_resource_t res;
    pl_consult_t call;
    int rc = load(st, r, PL_ACT_READ, &a, &res);
    if (rc < 0 || (rc = reply_view(st, r, a.id, &res)) < 0) return rc;
    /* The call in progress on the thread, if any (advice.call, section 11.6): a page opened
     * late offers to join it. */
    rc = pl_store_consult_open_call(st, a.conversation_id, &call);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    json_object_set_new(json_object_get(r->result, "advice"), "call_id",
                        rc == 0 ? json_integer(call.id) : json_null());
    return audit(st, r, "advice.read", &a);
}

/* ---- advice.list ---- */

static int list_run(pl_store_t *st, pl_req_t *r)
{
    const char *side = param_str(r, "side");
    const char *filter = param_str(r, "filter");
    bool queue = strcmp(side, "queue") == 0;
    int64_t ids[PL_ACTOR_MAX_ORGS];
    int n = 0;
    for (int i = 0; i < r->actor.n_orgs; i++) {
        pl_org_t o;
        int rc = pl_store_org_get(st, r->actor.orgs[i].org_id, &o);
        if (rc < 0) return rc;
        if (strcmp(o.kind, queue ? "specialist_service" : "practice") == 0) ids[n++] = o.id;
    }
    json_t *out = NULL;
    int rc = n ? pl_store_advice_list(st, side, ids, n,
                                      filter && strcmp(filter, "all") ? filter : NULL,
                                      r->actor.user_id, r->i1, (int)r->i2, r->now, &out)
               : 0;
    if (rc < 0) return rc;
    if (!out) out = json_pack("{s[] sn}", "requests", "next_before");
    /* Each request passes authz itself, and loses what this reader may not see. */
    json_t *list = json_object_get(out, "requests");
    for (size_t i = json_array_size(list); i-- > 0;) {
        json_t *v = json_array_get(list, i);
        pl_advice_t a;
        pl_resource_t res;
        if ((rc = pl_store_advice_get(st, json_integer_value(json_object_get(v, "id")), &a)) < 0 ||
            (rc = pl_advice_resource(st, &a, r->now, &res)) < 0) {
            json_decref(out);
            return rc;
        }
        if (pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0)
            json_array_remove(list, i);
        else
            reader_view(&r->actor, &res, v);
    }
    json_object_update(r->result, out);
    json_decref(out);
    return pl_req_audit(st, r, "advice.list", "org", 0, 0, 0);
}

static int h_list(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    const char *side, *f;
    int64_t before, limit;
    int rc;
    if ((rc = pl_param_enum(req, "side", sides, false, &side, &e)) < 0 ||
        (rc = pl_param_enum(req, "filter", filters, true, &f, &e)) < 0 ||
        (rc = pl_param_int(req, "before", 0, INT64_MAX, true, 0, &before, &e)) < 0 ||
        (rc = pl_param_int(req, "limit", 1, LIST_MAX, true, 50, &limit, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (c->actor.kind != PL_USER_STAFF) {
        pl_conn_reply_err(c, id, -PL_EPERM, "advice requests are between professionals");
        return 0;
    }
    pl_req_t *r = pl_req_new(c, id, "advice.list", req, list_run);
    if (!r) return -PL_ENOMEM;
    r->i1 = before;
    r->i2 = limit;
    pl_req_submit(r);
    return 0;
}

/* ---- advice.claim / advice.assign ---- */

static int claimed(pl_store_t *st, pl_req_t *r, pl_advice_t *a, const pl_resource_t *res,
                   int64_t specialist, const char *type)
{
    int rc = pl_store_advice_get(st, a->id, a);
    if (rc < 0 || (rc = reply_view(st, r, a->id, res)) < 0) return rc;
    rc = advice_event(st, r, a, type,
                      json_pack("{ss so}", "status", a->status, "specialist",
                                specialist_json(st, specialist)));
    return rc < 0 ? rc : audit(st, r, type, a);
}

static int claim_run(pl_store_t *st, pl_req_t *r)
{
    pl_advice_t a;
    pl_resource_t res;
    int rc = load(st, r, PL_ACT_CLAIM, &a, &res);
    if (rc < 0) return rc;
    if (!(pl_authz_roles_at(&r->actor, a.service_id) & PL_ROLE_SPECIALIST)) {
        pl_req_fail_msg(r, "requests are claimed by the service's specialists");
        return -PL_EPERM;
    }
    if (a.specialist_id == r->actor.user_id) return reply_view(st, r, a.id, &res);
    rc = pl_store_advice_claim(st, a.id, r->actor.user_id, r->now);
    if (rc == -PL_ECONFLICT)
        pl_req_fail_msg(r, strcmp(a.status, "closed") == 0 ? "this request is closed"
                                                     : "another specialist has claimed it");
    if (rc < 0) return rc;
    return claimed(st, r, &a, &res, r->actor.user_id, "advice.claimed");
}

static int assign_run(pl_store_t *st, pl_req_t *r)
{
    pl_advice_t a;
    pl_resource_t res;
    int rc = load(st, r, PL_ACT_CLAIM, &a, &res);
    if (rc < 0) return rc;
    pl_actor_t who;
    int64_t uid = pl_req_param_id(r, "user_id");
    rc = pl_store_actor_load(st, uid, &who);
    if (rc < 0 && rc != -PL_ENOTFOUND && rc != -PL_EAUTH) return rc;
    if (rc < 0 || !(pl_authz_roles_at(&who, a.service_id) & PL_ROLE_SPECIALIST)) {
        pl_req_fail_msg(r, "user_id is not a specialist of this service");
        return -PL_EINVAL;
    }
    if ((rc = pl_store_advice_assign(st, a.id, uid, r->now)) == -PL_ECONFLICT)
        pl_req_fail_msg(r, "this request is closed");
    if (rc < 0) return rc;
    return claimed(st, r, &a, &res, uid, "advice.assigned");
}

/* ---- advice.request_info / advice.close ---- */

/* Answering is the job of the specialist who has the request: claim it first. */
static int holder(pl_req_t *r, const pl_advice_t *a, const char *closed_msg)
{
    if (strcmp(a->status, "closed") == 0) {
        pl_req_fail_msg(r, closed_msg);
        return -PL_ECONFLICT;
    }
    if (a->specialist_id == r->actor.user_id) return 0;
    pl_req_fail_msg(r, a->specialist_id ? "another specialist has this request"
                                 : "claim this request first");
    return -PL_ECONFLICT;
}

static int request_info_run(pl_store_t *st, pl_req_t *r)
{
    pl_advice_t a;
    pl_resource_t res;
    int rc = load(st, r, PL_ACT_RESPOND, &a, &res);
    if (rc < 0 || (rc = holder(r, &a, "this request is closed")) < 0) return rc;
    if ((rc = pl_store_advice_set_status(st, a.id, "awaiting_gp", r->now)) == -PL_ECONFLICT)
        pl_req_fail_msg(r, "this request is closed");
    if (rc < 0 || (rc = pl_store_advice_get(st, a.id, &a)) < 0 ||
        (rc = reply_view(st, r, a.id, &res)) < 0)
        return rc;
    rc = advice_event(st, r, &a, "advice.status", json_pack("{ss}", "status", a.status));
    return rc < 0 ? rc : audit(st, r, "advice.request_info", &a);
}

static int close_run(pl_store_t *st, pl_req_t *r)
{
    pl_advice_t a;
    pl_resource_t res;
    int rc = load(st, r, PL_ACT_RESPOND, &a, &res);
    if (rc < 0 || (rc = holder(r, &a, "this request is closed already")) < 0) return rc;
    const char *outcome = param_str(r, "outcome");
    if ((rc = pl_store_advice_close(st, a.id, outcome, r->now)) == -PL_ECONFLICT)
        pl_req_fail_msg(r, "this request is closed already");
    if (rc < 0 || (rc = pl_store_advice_get(st, a.id, &a)) < 0 ||
        (rc = reply_view(st, r, a.id, &res)) < 0)
        return rc;
    rc = advice_event(st, r, &a, "advice.closed",
                      json_pack("{ss ss sI}", "status", a.status, "outcome", a.outcome,
                                "closed_at", (json_int_t)a.closed_at));
    return rc < 0 ? rc : audit(st, r, "advice.close", &a);
}

static int by_id(pl_conn_t *c, const char *id, json_t *req, const char *type, pl_req_run_fn run)
{
    pl_perr_t e;
    int64_t a;
    int rc = pl_param_int(req, "advice_id", 1, INT64_MAX, false, 0, &a, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, type, req, run);
}

static int h_get(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "advice.get", get_run);
}
static int h_claim(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "advice.claim", claim_run);
}
static int h_request_info(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "advice.request_info", request_info_run);
}

static int h_assign(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t a, u;
    int rc;
    if ((rc = pl_param_int(req, "advice_id", 1, INT64_MAX, false, 0, &a, &e)) < 0 ||
        (rc = pl_param_int(req, "user_id", 1, INT64_MAX, false, 0, &u, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "advice.assign", req, assign_run);
}

static int h_close(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t a;
    const char *o;
    int rc;
    if ((rc = pl_param_int(req, "advice_id", 1, INT64_MAX, false, 0, &a, &e)) < 0 ||
        (rc = pl_param_enum(req, "outcome", outcomes, false, &o, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "advice.close", req, close_run);
}

/* A message from the practice on a thread awaiting the GP is the answer the specialist asked
 * for: the request goes back to in progress. Called inside conversation.send's transaction. */
int pl_advice_on_message(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv)
{
    if (!conv->peer_org_id || !pl_authz_roles_at(&r->actor, conv->org_id)) return 0;
    pl_advice_t a;
    int rc = pl_store_advice_by_conv(st, conv->id, &a);
    if (rc == -PL_ENOTFOUND || (rc == 0 && strcmp(a.status, "awaiting_gp") != 0)) return 0;
    if (rc < 0 || (rc = pl_store_advice_set_status(st, a.id, "in_progress", r->now)) < 0)
        return rc == -PL_ECONFLICT ? 0 : rc;
    return advice_event(st, r, &a, "advice.status", json_pack("{ss}", "status", "in_progress"));
}

int pl_advice_conv_view(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, json_t *cj)
{
    if (!conv->peer_org_id) return 0;
    pl_advice_t a;
    pl_resource_t res;
    int rc = pl_store_advice_by_conv(st, conv->id, &a);
    if (rc == 0) rc = pl_advice_resource(st, &a, r->now, &res);
    if (rc < 0) return rc;
    if (pl_authz_check(&r->actor, &res, PL_ACT_IDENTITY) == 0) return 0;
    /* The thread says who the patient is in the same fields as any conversation. */
    json_object_del(cj, "patient_id");
    json_object_set_new(cj, "patient", json_pack("{sb}", "hidden", 1));
    return 0;
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__advice_handler(const char *type);
pl_handler_fn pl__advice_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"advice.create", h_create},
        {"advice.get", h_get},
        {"advice.list", h_list},
        {"advice.claim", h_claim},
        {"advice.assign", h_assign},
        {"advice.request_info", h_request_info},
        {"advice.close", h_close},
    };
    return PL_HANDLER_IN(table, type);
}
