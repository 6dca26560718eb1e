/* Live escalation: a video call on an advice thread (advice.call), and bringing the patient into
 * it (consult.book with into_consultation_id). docs/PROTOCOL.md section 11.6.
 *
 * The call is a consultation on the thread's conversation, started straight in call: there is
 * no waiting room between professionals. Its events are the thread's (the practice's and the
 * service's, never the patient's), and it is joined with consult.join like any other. Either
 * side may start it; a second advice.call while one is open hands back the same one, so two
 * people pressing "Start a call" at once meet in one room.
 *
 * The patient never joins that consultation: it sits on a conversation between professionals.
 * Their GP books them an ordinary consultation of their own (link, date of birth, waiting
 * room, admit), whose call takes place in the advice call's media room (room_id). So the
 * patient is in a consultation with their GP, as always, and sees and hears the specialist
 * too; the specialist sees them only while an agreement is in force. */
#include "core/err.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <string.h>

/* The advice request named by advice_id, if the caller may see it. */
static int load_advice(pl_store_t *st, pl_req_t *r, pl_advice_t *a)
{
    pl_resource_t res;
    int rc = pl_store_advice_get(st, pl_req_param_id(r, "advice_id"), a);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && (rc = pl_advice_resource(st, a, r->now, &res)) < 0) return rc;
    if (rc == -PL_ENOTFOUND || pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "no such advice request");
        return -PL_ENOTFOUND;
    }
    return 0;
}

/* Appends a consult.* event to the thread; payload stolen. */
static int thread_event(pl_store_t *st, pl_req_t *r, int64_t conv_id, const char *type,
                        json_t *payload)
{
    pl_conv_t conv;
    int rc = pl_store_conv_get(st, conv_id, &conv);
    if (rc < 0) {
        json_decref(payload);
        return rc;
    }
    return pl_req_event(st, r, &conv, false, type, payload);
}

/* ---- advice.call ---- */

static int call_run(pl_store_t *st, pl_req_t *r)
{
    pl_advice_t a;
    pl_consult_t k;
    pl_resource_t res;
    int rc = load_advice(st, r, &a);
    if (rc < 0) return rc;
    /* The one open call on the thread, if someone started it already. */
    rc = pl_store_consult_open_call(st, a.conversation_id, &k);
    if (rc == 0) {
        json_object_set_new(r->result, "started", json_false());
        return pl_consult_reply(st, r, k.id);
    }
    if (rc != -PL_ENOTFOUND) return rc;
    if (strcmp(a.status, "closed") == 0) {
        pl_req_fail_msg(r, "this request is closed: ask a new one to talk again");
        return -PL_ECONFLICT;
    }
    k = (pl_consult_t){.conversation_id = a.conversation_id,
                       .org_id = a.practice_id,
                       .patient_id = a.patient_id,
                       .peer_org_id = a.service_id};
    if ((rc = pl_consult_resource(st, &r->actor, &k, r->now, &res)) < 0) return rc;
    if (pl_authz_check(&r->actor, &res, PL_ACT_CREATE) < 0) {
        pl_req_fail_msg(r, "calls are started by the practice's clinicians or the service's "
                           "specialists");
        return -PL_EPERM;
    }
    int64_t kid = 0;
    if ((rc = pl_store_consult_create(st, a.conversation_id, a.practice_id, a.patient_id,
                                      r->actor.user_id, 0, r->now, &kid)) < 0 ||
        (rc = pl_store_consult_set_status(st, kid, "booked", "in_call", r->now)) < 0 ||
        (rc = pl_consult_reply(st, r, kid)) < 0)
        return rc;
    json_object_set_new(r->result, "started", json_true());
    /* Names the call and who started it, never the patient: both teams get this event. */
    rc = thread_event(st, r, a.conversation_id, "consult.started",
                      json_pack("{sI sI ss sI sI ss}", "consultation_id", (json_int_t)kid,
                                "advice_id", (json_int_t)a.id, "status", "in_call", "started_at",
                                (json_int_t)r->now, "by", (json_int_t)r->actor.user_id,
                                "display_name", r->actor.display_name));
    if (rc < 0) return rc;
    return pl_req_audit(st, r, "consult.start", "consultation", kid, a.patient_id,
                        pl_audit_org_for(&r->actor, a.practice_id, a.service_id));
}

static int h_call(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t aid;
    int rc = pl_param_int(req, "advice_id", 1, INT64_MAX, false, 0, &aid, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, "advice.call", req, call_run);
}

/* ---- consult.book into an advice call ---- */

int pl_consult_bring_check(pl_store_t *st, pl_req_t *r, int64_t into, int64_t patient_id)
{
    pl_consult_t k;
    pl_resource_t res;
    int rc = pl_store_consult_get(st, into, &k);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && (rc = pl_consult_resource(st, &r->actor, &k, r->now, &res)) < 0) return rc;
    if (rc == -PL_ENOTFOUND || pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "no such call to bring the patient into");
        return -PL_ENOTFOUND;
    }
    if (!k.peer_org_id) {
        pl_req_fail_msg(r, "into_consultation_id must be a call on an advice request");
        return -PL_EINVAL;
    }
    if (pl_authz_check(&r->actor, &res, PL_ACT_INVITE) < 0) {
        pl_req_fail_msg(r, res.agreement_active
                               ? "the patient is brought in by their own practice"
                               : "no information-sharing agreement is in force with this "
                                 "service: the patient cannot be brought in");
        return -PL_EPERM;
    }
    if (strcmp(k.status, "in_call") != 0) {
        pl_req_fail_msg(r, "that call has ended: start a new one from the request");
        return -PL_ECONFLICT;
    }
    if (k.patient_id != patient_id) {
        pl_req_fail_msg(r, "that call is about another patient");
        return -PL_EINVAL;
    }
    int64_t open;
    int n = 0;
    if ((rc = pl_store_consult_in_room(st, into, &open, 1, &n)) < 0) return rc;
    if (n > 0) {
        pl_req_fail_msg(r, "the patient is already on their way into this call: send the same "
                           "link again with consult.link");
        return -PL_ECONFLICT;
    }
    return 0;
}

int pl_consult_brought(pl_store_t *st, pl_req_t *r, int64_t into, int64_t booked)
{
    pl_consult_t k;
    int rc = pl_store_consult_get(st, into, &k);
    if (rc < 0) return rc;
    /* The service learns that the patient is coming, not who: the call's captions and the
     * thread say that under the agreement. */
    return thread_event(st, r, k.conversation_id, "consult.patient_invited",
                        json_pack("{sI sI sI}", "consultation_id", (json_int_t)into,
                                  "patient_consultation_id", (json_int_t)booked, "by",
                                  (json_int_t)r->actor.user_id));
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__advice_call_handler(const char *type);
pl_handler_fn pl__advice_call_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"advice.call", h_call},
    };
    return PL_HANDLER_IN(table, type);
}
