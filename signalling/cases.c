/* Case discussions (MDT): case.create, case.get, case.list, case.candidates, case.invite,
 * case.close and case.call (docs/PROTOCOL.md section 12).
 *
 * A clinician of a practice opens a discussion about a patient of theirs and invites
 * professionals of the practice and of services with an agreement in force that shares the
 * patient's identity. Its thread is a conversation of kind 'case', so messages, receipts and
 * attachments work as on any other; its events reach its members only (ws.c's pl_event_append
 * names them as the audience). Its meeting is a consultation on that conversation, in call from
 * the start, with room for PL_CASE_MAX_MEMBERS.
 *
 * Every decision is authz.c's (PL_RES_CASE): the store says whether the caller is a member with
 * access now (store_sqlite_case.c's one rule), the handler asks. A case the caller may not see
 * looks like none. */
#include "core/err.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <string.h>

#define TITLE_MAX 200

static const char *const filters[] = {"open", "closed", "all", NULL};

static int resource_of(pl_store_t *st, const pl_actor_t *actor, const pl_case_t *k, int64_t now,
                       pl_resource_t *res)
{
    bool member = false;
    int rc = pl_store_case_member(st, k->id, actor->user_id, now, &member);
    *res = (pl_resource_t){.kind = PL_RES_CASE,
                           .org_id = k->org_id,
                           .patient_id = k->patient_id,
                           .conversation_id = k->conversation_id,
                           .case_id = k->id,
                           .case_member = member};
    return rc;
}

/* Loads the case named by case_id and asks authz for act (after READ: a case the caller may
 * not see looks like none). */
static int load(pl_store_t *st, pl_req_t *r, pl_action_t act, pl_case_t *k)
{
    pl_resource_t res;
    int rc = pl_store_case_get(st, pl_req_param_id(r, "case_id"), k);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && (rc = resource_of(st, &r->actor, k, r->now, &res)) < 0) return rc;
    if (rc == -PL_ENOTFOUND || pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "no such case discussion");
        return -PL_ENOTFOUND;
    }
    if (act != PL_ACT_READ && pl_authz_check(&r->actor, &res, act) < 0) {
        pl_req_fail_msg(r, "only the practice that opened the discussion may do that");
        return -PL_EPERM;
    }
    return 0;
}

static int open_or_refuse(pl_req_t *r, const pl_case_t *k)
{
    if (strcmp(k->status, "open") == 0) return 0;
    pl_req_fail_msg(r, "this case discussion is closed");
    return -PL_ECONFLICT;
}

/* The case into the reply, with its meeting in progress (or null). */
static int reply_case(pl_store_t *st, pl_req_t *r, const pl_case_t *k)
{
    json_t *j = NULL;
    pl_consult_t call;
    int rc = pl_store_case_json(st, k->id, &j);
    if (rc < 0) return rc;
    rc = pl_store_consult_open_call(st, k->conversation_id, &call);
    if (rc < 0 && rc != -PL_ENOTFOUND) {
        json_decref(j);
        return rc;
    }
    json_object_set_new(j, "call_id", rc == 0 ? json_integer(call.id) : json_null());
    json_object_set_new(r->result, "case", j);
    return 0;
}

/* Appends a case.* event to the case's thread; payload stolen. */
static int case_event(pl_store_t *st, pl_req_t *r, const pl_case_t *k, const char *type,
                      json_t *payload)
{
    pl_conv_t conv;
    int rc = pl_store_conv_get(st, k->conversation_id, &conv);
    if (rc < 0) {
        json_decref(payload);
        return rc;
    }
    json_object_set_new(payload, "case_id", json_integer(k->id));
    json_object_set_new(payload, "by", json_integer(r->actor.user_id));
    return pl_req_event(st, r, &conv, false, type, payload);
}

static int audit(pl_store_t *st, pl_req_t *r, const char *action, const pl_case_t *k)
{
    return pl_req_audit(st, r, action, "case", k->id, k->patient_id, k->org_id);
}

/* ---- case.create ---- */

static int create_run(pl_store_t *st, pl_req_t *r)
{
    int64_t patient_id = pl_req_param_id(r, "patient_id");
    const char *title = json_string_value(json_object_get(r->params, "title"));
    const char *txn = json_string_value(json_object_get(r->params, "txn_id"));
    pl_actor_t pat;
    int rc = pl_store_actor_load(st, patient_id, &pat);
    if (rc < 0 && rc != -PL_ENOTFOUND && rc != -PL_EAUTH) return rc;
    bool is_patient = rc == 0 && pat.kind == PL_USER_PATIENT;
    pl_resource_t res = {.kind = PL_RES_CASE,
                         .org_id = is_patient ? pat.practice_id : 0,
                         .patient_id = patient_id};
    if (!is_patient || pl_authz_check(&r->actor, &res, PL_ACT_CREATE) < 0) {
        /* As with patient.lookup, a patient of another practice looks like no patient. */
        if (is_patient && pl_authz_roles_at(&r->actor, pat.practice_id)) {
            pl_req_fail_msg(r, "case discussions are opened by the practice's clinicians");
            return -PL_EPERM;
        }
        pl_req_fail_msg(r, "no such patient at your practice");
        return -PL_ENOTFOUND;
    }
    int64_t id = 0;
    bool created = false;
    pl_case_t k;
    if ((rc = pl_store_case_create(st, pat.practice_id, patient_id, title, txn, r->actor.user_id,
                                   r->now, &id, &created)) < 0 ||
        (rc = pl_store_case_get(st, id, &k)) < 0 || (rc = reply_case(st, r, &k)) < 0)
        return rc;
    if (!created) return 0; /* a retry: the first one, nothing new */
    rc = case_event(st, r, &k, "case.created", json_pack("{ss}", "title", title));
    return rc < 0 ? rc : audit(st, r, "case.create", &k);
}

/* A title as people will read it in a list: no control characters, not only spaces. */
static bool title_ok(const char *s)
{
    bool seen = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) return false;
        if (*p != ' ') seen = true;
    }
    return seen;
}

static int h_create(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t patient;
    const char *title, *txn;
    int rc;
    if ((rc = pl_param_int(req, "patient_id", 1, INT64_MAX, false, 0, &patient, &e)) < 0 ||
        (rc = pl_param_str(req, "title", 1, TITLE_MAX, false, &title, &e)) < 0 ||
        (rc = pl_param_str(req, "txn_id", 1, 64, false, &txn, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (!title_ok(title)) {
        snprintf(e.msg, sizeof e.msg, "title must be text on one line, without control characters");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    return pl_req_start(c, id, "case.create", req, create_run);
}

/* ---- case.get, case.list, case.candidates ---- */

static int get_run(pl_store_t *st, pl_req_t *r)
{
    pl_case_t k;
    int rc = load(st, r, PL_ACT_READ, &k);
    if (rc < 0 || (rc = reply_case(st, r, &k)) < 0) return rc;
    return audit(st, r, "case.read", &k);
}

static int list_run(pl_store_t *st, pl_req_t *r)
{
    const char *filter = json_string_value(json_object_get(r->params, "filter"));
    json_t *out = NULL;
    int rc = pl_store_case_list(st, r->actor.user_id, filter ? filter : "open", r->now, &out);
    if (rc < 0) return rc;
    json_object_update(r->result, out);
    json_decref(out);
    return pl_req_audit(st, r, "case.list", "case", 0, 0, 0);
}

static int h_list(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    const char *f;
    int rc = pl_param_enum(req, "filter", filters, true, &f, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    /* Staff only: a patient has no case discussions to list. */
    if (c->actor.kind != PL_USER_STAFF) {
        pl_conn_reply_err(c, id, -PL_EPERM, "case discussions are between professionals");
        return 0;
    }
    return pl_req_start(c, id, "case.list", req, list_run);
}

static int candidates_run(pl_store_t *st, pl_req_t *r)
{
    pl_case_t k;
    json_t *out = NULL;
    int rc = load(st, r, PL_ACT_INVITE, &k);
    if (rc < 0 || (rc = pl_store_case_candidates(st, k.id, r->now, &out)) < 0) return rc;
    json_object_update(r->result, out);
    json_decref(out);
    return 0;
}

/* ---- case.invite, case.close ---- */

static int invite_run(pl_store_t *st, pl_req_t *r)
{
    pl_case_t k;
    int64_t uid = pl_req_param_id(r, "user_id"), org_id = 0;
    int rc = load(st, r, PL_ACT_INVITE, &k);
    if (rc < 0 || (rc = open_or_refuse(r, &k)) < 0) return rc;
    rc = pl_store_case_eligible_org(st, k.id, uid, r->now, &org_id);
    if (rc == -PL_ENOTFOUND) {
        pl_req_fail_msg(r, "user_id is not a professional of this practice or of a service with "
                           "an agreement in force that shares the patient's identity");
        return -PL_EINVAL;
    }
    bool added = false;
    if (rc < 0 ||
        (rc = pl_store_case_add_member(st, k.id, uid, org_id, r->actor.user_id, r->now, &added)) <
            0) {
        if (rc == -PL_ECONFLICT) pl_req_fail_msg(r, "a case discussion has room for 8 members");
        return rc;
    }
    if ((rc = reply_case(st, r, &k)) < 0 || !added) return rc;
    pl_actor_t who;
    pl_org_t org;
    if ((rc = pl_store_actor_load(st, uid, &who)) < 0 || (rc = pl_store_org_get(st, org_id, &org)) < 0)
        return rc;
    rc = case_event(st, r, &k, "case.member_added",
                    json_pack("{s{sI ss s{sI ss}}}", "member", "user_id", (json_int_t)uid,
                              "display_name", who.display_name, "org", "id", (json_int_t)org_id,
                              "name", org.name));
    return rc < 0 ? rc : audit(st, r, "case.invite", &k);
}

static int close_run(pl_store_t *st, pl_req_t *r)
{
    pl_case_t k;
    int rc = load(st, r, PL_ACT_END, &k);
    if (rc < 0 || (rc = open_or_refuse(r, &k)) < 0) return rc;
    /* Its thread closes with it: conversation.send refuses new messages. */
    if ((rc = pl_store_case_close(st, k.id, r->actor.user_id, r->now)) < 0 ||
        (rc = pl_store_conv_set_status(st, k.conversation_id, "closed", r->now)) < 0 ||
        (rc = pl_store_case_get(st, k.id, &k)) < 0 || (rc = reply_case(st, r, &k)) < 0)
        return rc;
    rc = case_event(st, r, &k, "case.closed",
                    json_pack("{ss sI}", "status", "closed", "closed_at", (json_int_t)r->now));
    return rc < 0 ? rc : audit(st, r, "case.close", &k);
}

/* ---- case.call: the meeting ---- */

static int call_run(pl_store_t *st, pl_req_t *r)
{
    pl_case_t k;
    pl_consult_t m;
    pl_resource_t res;
    int rc = load(st, r, PL_ACT_READ, &k);
    if (rc < 0) return rc;
    rc = pl_store_consult_open_call(st, k.conversation_id, &m);
    if (rc == 0) {
        json_object_set_new(r->result, "started", json_false());
        return pl_consult_reply(st, r, m.id);
    }
    if (rc != -PL_ENOTFOUND || (rc = open_or_refuse(r, &k)) < 0) return rc;
    m = (pl_consult_t){.conversation_id = k.conversation_id,
                       .org_id = k.org_id,
                       .patient_id = k.patient_id,
                       .case_id = k.id};
    if ((rc = pl_consult_resource(st, &r->actor, &m, r->now, &res)) < 0) return rc;
    if (pl_authz_check(&r->actor, &res, PL_ACT_CREATE) < 0) {
        pl_req_fail_msg(r, "no such case discussion");
        return -PL_ENOTFOUND;
    }
    int64_t kid = 0;
    if ((rc = pl_store_consult_create(st, k.conversation_id, k.org_id, k.patient_id,
                                      r->actor.user_id, 0, r->now, &kid)) < 0 ||
        (rc = pl_store_consult_set_status(st, kid, "booked", "in_call", r->now)) < 0 ||
        (rc = pl_consult_reply(st, r, kid)) < 0)
        return rc;
    json_object_set_new(r->result, "started", json_true());
    rc = case_event(st, r, &k, "consult.started",
                    json_pack("{sI ss sI ss}", "consultation_id", (json_int_t)kid, "status",
                              "in_call", "started_at", (json_int_t)r->now, "display_name",
                              r->actor.display_name));
    if (rc < 0) return rc;
    return pl_req_audit(st, r, "consult.start", "consultation", kid, k.patient_id, k.org_id);
}

/* The requests that take case_id, and user_id for an invitation. */
static int by_id(pl_conn_t *c, const char *id, json_t *req, const char *type, pl_req_run_fn run,
                 bool user)
{
    pl_perr_t e;
    int64_t k, u;
    int rc;
    if ((rc = pl_param_int(req, "case_id", 1, INT64_MAX, false, 0, &k, &e)) < 0 ||
        (user && (rc = pl_param_int(req, "user_id", 1, INT64_MAX, false, 0, &u, &e)) < 0))
        return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, type, req, run);
}

static int h_get(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "case.get", get_run, false);
}
static int h_candidates(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "case.candidates", candidates_run, false);
}
static int h_invite(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "case.invite", invite_run, true);
}
static int h_close(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "case.close", close_run, false);
}
static int h_call(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "case.call", call_run, false);
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__case_handler(const char *type);
pl_handler_fn pl__case_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"case.create", h_create}, {"case.get", h_get},       {"case.list", h_list},
        {"case.candidates", h_candidates}, {"case.invite", h_invite}, {"case.close", h_close},
        {"case.call", h_call},
    };
    return PL_HANDLER_IN(table, type);
}
