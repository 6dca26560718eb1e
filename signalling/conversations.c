/* The first journey's handlers: a patient's request to their practice and the practice inbox.
 * Each handler validates on the loop thread, then its run function executes on the storage
 * thread: load the conversation, ask authz, write, append events and audit, all in one
 * transaction that the reply waits for (an acknowledgement is a durable promise). */
#include "core/err.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <string.h>

#define TXN_MAX 64
#define SUBJECT_MAX 200
#define ANSWERS_MAX 8192
#define LIST_MAX 100

static const char *const kinds[] = {"admin", "clinical", NULL};
static const char *const statuses[] = {"new", "in_progress", "awaiting_patient", "closed", NULL};
static const char *const filters[] = {"all",  "new",    "assigned_to_me", "awaiting_patient",
                                      "open", "closed", "overdue",        NULL};

/* Sends a validated request to the storage thread; the reply comes when it is done. */
static int submit(pl_conn_t *c, const char *id, const char *type, json_t *req, pl_req_run_fn run,
                  pl_req_after_fn after, int64_t i1, int64_t i2)
{
    pl_req_t *r = pl_req_new(c, id, type, req, run);
    if (!r) return -PL_ENOMEM;
    r->after = after;
    r->i1 = i1;
    r->i2 = i2;
    pl_req_submit(r);
    return 0;
}

/* Loads the conversation and asks authz; on refusal the reply says so plainly. */
static int load_conv(pl_store_t *st, pl_req_t *r, int64_t id, pl_action_t act, pl_conv_t *conv)
{
    pl_resource_t res;
    int rc = pl_store_conv_get(st, id, conv);
    if (rc < 0 || (rc = pl_conv_resource_for(st, &r->actor, conv, r->now, &res)) < 0) return rc;
    rc = pl_authz_check(&r->actor, &res, act);
    if (rc < 0) pl_req_fail_msg(r, "you do not have access to this conversation");
    return rc;
}

/* Who handles a request is the practice's business: patients see status, not assignees. */
static void patient_view(const pl_actor_t *a, json_t *conv)
{
    if (a->kind != PL_USER_PATIENT) return;
    json_object_del(conv, "assignee_user_id");
    json_object_del(conv, "assignee_role");
    json_object_del(conv, "updated_at"); /* moves with assignment: would betray it */
}

/* Every access to patient data is audited, by anyone: staff, and the patient reading their
 * own (the practice's view of the trail shows it; the patient's own view, audit.mine, lists
 * organisations and so leaves it out). org and peer: the conversation's organisations (peer 0
 * unless an advice thread). */
static int audit_write(pl_store_t *st, pl_req_t *r, const char *action, const char *type,
                       int64_t id, int64_t patient_id, int64_t org, int64_t peer)
{
    return pl_req_audit(st, r, action, type, id, patient_id,
                        pl_audit_org_for(&r->actor, org, peer));
}

static int audit(pl_store_t *st, pl_req_t *r, const char *action, const char *type, int64_t id,
                 int64_t patient_id, int64_t org, int64_t peer)
{
    return audit_write(st, r, action, type, id, patient_id, org, peer);
}

static int conv_updated(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, bool staff_only,
                        json_t *changes)
{
    json_object_set_new(changes, "by", json_integer(r->actor.user_id));
    return pl_req_event(st, r, conv, staff_only, "conversation.updated", changes);
}

/* The stored message as JSON, built from what was just written (the same shape as
 * pl_store_msg_json) so the hot path does not read its own write back. */
static json_t *new_msg_json(const pl_msg_t *m, const pl_actor_t *sender, const char *txn,
                            const char *body)
{
    return json_pack("{sI sI sI s{sI ss ss} ss ss ss sI}", "id", (json_int_t)m->id,
                     "conversation_id", (json_int_t)m->conversation_id, "seq", (json_int_t)m->seq,
                     "sender", "id", (json_int_t)sender->user_id, "display_name",
                     sender->display_name, "kind",
                     sender->kind == PL_USER_PATIENT ? "patient" : "staff", "kind",
                     m->internal ? "note" : "message", "txn_id", txn, "body", body, "created_at",
                     (json_int_t)m->created_at);
}

/* ---- conversation.create ---- */

static int create_run(pl_store_t *st, pl_req_t *r)
{
    json_t *p = r->params;
    const char *txn = json_string_value(json_object_get(p, "txn_id"));
    const char *body = json_string_value(json_object_get(p, "body"));
    int64_t org_id = json_integer_value(json_object_get(p, "org_id"));
    if (org_id == 0) org_id = r->actor.practice_id;
    pl_resource_t res = {.kind = PL_RES_CONVERSATION, .org_id = org_id,
                         .patient_id = r->actor.user_id};
    int rc = pl_authz_check(&r->actor, &res, PL_ACT_CREATE);
    if (rc < 0) {
        pl_req_fail_msg(r, r->actor.kind == PL_USER_PATIENT
                        ? "you can only start requests with your own practice"
                        : "requests are started by patients");
        return rc;
    }
    int64_t conv_id = 0;
    bool dup = false;
    rc = pl_store_conv_create(st, org_id, r->actor.user_id,
                              json_string_value(json_object_get(p, "kind")),
                              json_string_value(json_object_get(p, "subject")),
                              json_object_get(p, "answers"), txn, r->now, &conv_id, &dup);
    if (rc < 0) return rc;
    pl_conv_t conv;
    if ((rc = pl_store_conv_get(st, conv_id, &conv)) < 0) return rc;
    pl_msg_t msg;
    bool mdup = false;
    rc = pl_store_msg_append(st, &conv, r->actor.user_id, false, txn, body, strlen(body), r->now,
                             &msg, &mdup);
    if (rc == -PL_ECONFLICT) pl_req_fail_msg(r, "txn_id was already used for another message");
    if (rc < 0) return rc;
    json_t *cj = NULL, *mj = NULL;
    if ((rc = pl_store_conv_json(st, conv_id, &cj)) < 0) return rc;
    if ((rc = pl_store_msg_json(st, msg.id, &mj)) < 0) {
        json_decref(cj);
        return rc;
    }
    patient_view(&r->actor, cj);
    json_object_set_new(r->result, "conversation", cj);
    json_object_set_new(r->result, "message", mj);
    json_object_set_new(r->result, "duplicate", json_boolean(dup));
    if (dup) return 0;
    if ((rc = audit_write(st, r, "conversation.create", "conversation", conv.id, conv.patient_id,
                          conv.org_id, 0)) < 0)
        return rc;
    /* Stored events are replayed later: leave out what is computed at read time. */
    json_t *snap = json_deep_copy(cj);
    json_object_del(snap, "waited_seconds");
    json_object_del(snap, "overdue");
    patient_view(&r->actor, snap);
    rc = pl_req_event(st, r, &conv, false, "conversation.created",
                      json_pack("{so}", "conversation", snap));
    if (rc == 0)
        rc = pl_req_event(st, r, &conv, false, "message.created", json_pack("{sO}", "message", mj));
    return rc;
}

static void count_in(pl_req_t *r, int status)
{
    if (status == 0 && !json_is_true(json_object_get(r->result, "duplicate")))
        r->srv->metrics.messages_in++;
}

/* One more message from this person, or the refusal sent (-PL_ERATE). Before the store is
 * asked anything: a flood costs the server no more than this. */
static int send_allowed(pl_conn_t *c, const char *id)
{
    if (pl_send_rate_take(c->srv->send_rate, c->srv->cfg, c->actor.user_id, pl_now_ms()))
        return 0;
    c->srv->metrics.rate_limited++;
    pl_conn_reply_err(c, id, -PL_ERATE, "too many messages: wait a moment and send again");
    return -PL_ERATE;
}

static int h_create(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    const char *s;
    int64_t org;
    int rc;
    if ((rc = pl_param_str(req, "txn_id", 1, TXN_MAX, false, &s, &e)) < 0 ||
        (rc = pl_param_enum(req, "kind", kinds, false, &s, &e)) < 0 ||
        (rc = pl_param_str(req, "subject", 1, SUBJECT_MAX, false, &s, &e)) < 0 ||
        (rc = pl_param_str(req, "body", 1, (size_t)c->srv->cfg->max_message_bytes, false, &s,
                           &e)) < 0 ||
        (rc = pl_param_int(req, "org_id", 1, INT64_MAX, true, 0, &org, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    json_t *answers = json_object_get(req, "answers");
    if (answers && !json_is_null(answers)) {
        if (!json_is_object(answers)) {
            snprintf(e.msg, sizeof e.msg, "answers must be an object of question: answer");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
        char *txt = json_dumps(answers, JSON_COMPACT);
        size_t n = txt ? strlen(txt) : 0;
        free(txt);
        if (n > ANSWERS_MAX) {
            snprintf(e.msg, sizeof e.msg, "answers are over %d bytes", ANSWERS_MAX);
            return pl_req_reject(c, id, -PL_ETOOBIG, &e);
        }
    }
    if ((rc = send_allowed(c, id)) < 0) return 0;
    return submit(c, id, "conversation.create", req, create_run, count_in, 0, 0);
}

/* ---- conversation.send / conversation.note ---- */

/* Puts the message's attachment_ids (checked for shape on the loop) on msg, inside the send's
 * transaction, and lists them in its JSON. A refusal undoes the message too. */
static int bind_attachments(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv,
                            const pl_msg_t *msg, json_t *mj)
{
    json_t *arr = json_object_get(r->params, "attachment_ids");
    int64_t ids[PL_STORE_ATTACH_MAX], bad = 0;
    size_t n = json_array_size(arr);
    if (n == 0) return 0;
    for (size_t i = 0; i < n && i < PL_STORE_ATTACH_MAX; i++)
        ids[i] = json_integer_value(json_array_get(arr, i));
    int rc = pl_store_attach_bind(st, conv->id, r->actor.user_id, msg->id, ids, (int)n, &bad);
    if (rc == -PL_ENOTFOUND || rc == -PL_EINVAL || rc == -PL_ECONFLICT) {
        char m[128];
        snprintf(m, sizeof m, "attachment %lld %s", (long long)bad,
                 rc == -PL_ENOTFOUND  ? "is not one you uploaded"
                 : rc == -PL_EINVAL ? "was uploaded to another conversation"
                                    : "is already on a message");
        pl_req_fail_msg(r, m);
        return -PL_EINVAL;
    }
    json_t *list = NULL;
    if (rc == 0) rc = pl_store_attach_of_msg(st, msg->id, &list);
    if (rc == 0) json_object_set_new(mj, "attachments", list);
    return rc;
}

/* The attachments of a stored message, on its JSON, if it has any. */
static int add_attachments(pl_store_t *st, int64_t msg_id, json_t *mj)
{
    json_t *list = NULL;
    int rc = pl_store_attach_of_msg(st, msg_id, &list);
    if (rc == 0 && json_array_size(list)) json_object_set(mj, "attachments", list);
    json_decref(list);
    return rc;
}

static int send_run(pl_store_t *st, pl_req_t *r)
{
    json_t *p = r->params;
    bool internal = r->i1 != 0;
    pl_conv_t conv;
    int64_t conv_id = json_integer_value(json_object_get(p, "conversation_id"));
    int rc = load_conv(st, r, conv_id, internal ? PL_ACT_NOTE : PL_ACT_SEND, &conv);
    if (rc < 0) return rc;
    const char *txn = json_string_value(json_object_get(p, "txn_id"));
    /* A retry of a message already stored is answered as a duplicate whatever has happened to
     * the conversation since; only new messages to a closed request are refused. */
    pl_msg_t prior;
    if (!internal && r->actor.kind == PL_USER_PATIENT && strcmp(conv.status, "closed") == 0 &&
        pl_store_msg_find_txn(st, r->actor.user_id, txn, &prior) != 0) {
        pl_req_fail_msg(r, "this request is closed: start a new one");
        return -PL_ECONFLICT;
    }
    if (conv.case_id && strcmp(conv.status, "closed") == 0 &&
        pl_store_msg_find_txn(st, r->actor.user_id, txn, &prior) != 0) {
        pl_req_fail_msg(r, "this case discussion is closed");
        return -PL_ECONFLICT;
    }
    const char *body = json_string_value(json_object_get(p, "body"));
    pl_msg_t msg;
    bool dup = false;
    rc = pl_store_msg_append(st, &conv, r->actor.user_id, internal, txn, body, strlen(body),
                             r->now, &msg, &dup);
    if (rc == -PL_ECONFLICT) pl_req_fail_msg(r, "txn_id was already used for another message");
    if (rc < 0) return rc;
    json_t *mj = NULL;
    if (dup) {
        /* the original, whatever this retry carried (its attachment_ids too: bound once) */
        if ((rc = pl_store_msg_json(st, msg.id, &mj)) == 0) rc = add_attachments(st, msg.id, mj);
    } else if (!(mj = new_msg_json(&msg, &r->actor, txn, body))) {
        rc = -PL_ENOMEM;
    } else {
        rc = bind_attachments(st, r, &conv, &msg, mj);
    }
    if (rc < 0) {
        json_decref(mj);
        return rc;
    }
    json_object_set_new(r->result, "message", mj);
    json_object_set_new(r->result, "duplicate", json_boolean(dup));
    if (dup) return 0;
    if ((rc = audit_write(st, r, internal ? "note.create" : "message.create", "conversation",
                          conv.id, conv.patient_id, conv.org_id, conv.peer_org_id)) < 0)
        return rc;
    rc = pl_req_event(st, r, &conv, internal, internal ? "note.created" : "message.created",
                      json_pack("{sO}", "message", mj));
    if (rc < 0 || internal) return rc;
    /* A patient's reply puts a request that was waiting on them back in the practice's court;
     * the first staff reply takes a new request into progress. */
    const char *next = NULL;
    if (r->actor.kind == PL_USER_PATIENT && strcmp(conv.status, "awaiting_patient") == 0)
        next = "in_progress";
    else if (r->actor.kind == PL_USER_STAFF && strcmp(conv.status, "new") == 0)
        next = "in_progress";
    if (next) {
        if ((rc = pl_store_conv_set_status(st, conv.id, next, r->now)) < 0) return rc;
        rc = conv_updated(st, r, &conv, false, json_pack("{ss}", "status", next));
    }
    /* On an advice thread, the practice's answer may move the request on (advice.c). */
    if (rc == 0) rc = pl_advice_on_message(st, r, &conv);
    return rc;
}

/* attachment_ids: absent, null, or an array of at most PL_STORE_ATTACH_MAX distinct positive
 * integer ids; notes carry none. */
static int check_attachment_ids(json_t *req, bool internal, pl_perr_t *e)
{
    json_t *arr = json_object_get(req, "attachment_ids"), *v;
    size_t i, j;
    if (!arr || json_is_null(arr) || (json_is_array(arr) && json_array_size(arr) == 0)) return 0;
    if (internal) {
        snprintf(e->msg, sizeof e->msg, "internal notes cannot carry attachments");
        return -PL_EINVAL;
    }
    if (!json_is_array(arr)) {
        snprintf(e->msg, sizeof e->msg, "attachment_ids must be an array of attachment ids");
        return -PL_EINVAL;
    }
    if (json_array_size(arr) > PL_STORE_ATTACH_MAX) {
        snprintf(e->msg, sizeof e->msg, "a message can carry at most %d attachments",
                 PL_STORE_ATTACH_MAX);
        return -PL_ETOOBIG;
    }
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            snprintf(e->msg, sizeof e->msg, "attachment_ids must be an array of attachment ids");
            return -PL_EINVAL;
        }
        for (j = 0; j < i; j++)
            if (json_integer_value(json_array_get(arr, j)) == json_integer_value(v)) {
                snprintf(e->msg, sizeof e->msg, "attachment %lld is named twice",
                         (long long)json_integer_value(v));
                return -PL_EINVAL;
            }
    }
    return 0;
}

static int send_common(pl_conn_t *c, const char *id, json_t *req, bool internal)
{
    pl_perr_t e;
    const char *s;
    int64_t conv;
    int rc;
    if ((rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e)) < 0 ||
        (rc = pl_param_str(req, "txn_id", 1, TXN_MAX, false, &s, &e)) < 0 ||
        (rc = pl_param_str(req, "body", 1, (size_t)c->srv->cfg->max_message_bytes, false, &s,
                           &e)) < 0 ||
        (rc = check_attachment_ids(req, internal, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if ((rc = send_allowed(c, id)) < 0) return 0;
    return submit(c, id, internal ? "conversation.note" : "conversation.send", req, send_run,
                  count_in, internal, 0);
}

static int h_send(pl_conn_t *c, const char *id, json_t *req)
{
    return send_common(c, id, req, false);
}

static int h_note(pl_conn_t *c, const char *id, json_t *req)
{
    return send_common(c, id, req, true);
}

/* ---- conversation.get / conversation.history ---- */

static int get_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    int rc = load_conv(st, r, json_integer_value(json_object_get(r->params, "conversation_id")),
                       PL_ACT_READ, &conv);
    if (rc < 0) return rc;
    json_t *cj = NULL;
    if ((rc = pl_store_conv_json(st, conv.id, &cj)) < 0) return rc;
    patient_view(&r->actor, cj);
    if ((rc = pl_advice_conv_view(st, r, &conv, cj)) < 0) {
        json_decref(cj);
        return rc;
    }
    json_object_set_new(r->result, "conversation", cj);
    pl_receipt_sum_t rs;
    if ((rc = pl_store_receipt_summary(st, conv.id, conv.patient_id, &rs)) < 0) return rc;
    json_object_set_new(r->result, "receipts",
                        json_pack("{s{sI sI} s{sI sI}}", "patient", "delivered_seq",
                                  (json_int_t)rs.patient_delivered, "read_seq",
                                  (json_int_t)rs.patient_read, "staff", "delivered_seq",
                                  (json_int_t)rs.staff_delivered, "read_seq",
                                  (json_int_t)rs.staff_read));
    return audit(st, r, "conversation.read", "conversation", conv.id, conv.patient_id,
                 conv.org_id, conv.peer_org_id);
}

static int history_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    int rc = load_conv(st, r, json_integer_value(json_object_get(r->params, "conversation_id")),
                       PL_ACT_READ, &conv);
    if (rc < 0) return rc;
    pl_resource_t res;
    if ((rc = pl_conv_resource_for(st, &r->actor, &conv, r->now, &res)) < 0) return rc;
    bool notes = pl_authz_check(&r->actor, &res, PL_ACT_READ_NOTES) == 0;
    json_t *h = NULL;
    if ((rc = pl_store_msg_history(st, conv.id, r->i1, (int)r->i2, notes, &h)) < 0) return rc;
    if ((rc = pl_store_attach_decorate(st, conv.id, json_object_get(h, "messages"))) < 0) {
        json_decref(h);
        return rc;
    }
    json_object_update(r->result, h);
    json_decref(h);
    return audit(st, r, "conversation.history", "conversation", conv.id, conv.patient_id,
                 conv.org_id, conv.peer_org_id);
}

static int h_get(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t conv;
    int rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return submit(c, id, "conversation.get", req, get_run, NULL, 0, 0);
}

static int h_history(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t conv, before, limit;
    int rc;
    if ((rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e)) < 0 ||
        (rc = pl_param_int(req, "before", 0, INT64_MAX, true, 0, &before, &e)) < 0 ||
        (rc = pl_param_int(req, "limit", 1, LIST_MAX, true, 50, &limit, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return submit(c, id, "conversation.history", req, history_run, NULL, before, limit);
}

/* ---- conversation.list ---- */

static int list_run(pl_store_t *st, pl_req_t *r)
{
    const char *filter = json_string_value(json_object_get(r->params, "filter"));
    json_t *out = NULL;
    int rc;
    if (r->actor.kind == PL_USER_PATIENT) {
        rc = pl_store_conv_list_patient(st, r->actor.user_id, r->i1, (int)r->i2, &out);
        size_t i;
        json_t *c;
        if (rc == 0) json_array_foreach(json_object_get(out, "conversations"), i, c)
                patient_view(&r->actor, c);
    } else {
        int64_t org = json_integer_value(json_object_get(r->params, "org_id"));
        int64_t ids[PL_ACTOR_MAX_ORGS];
        int n = 0;
        for (int i = 0; i < r->actor.n_orgs; i++) {
            pl_resource_t res = {.kind = PL_RES_CONVERSATION, .org_id = r->actor.orgs[i].org_id};
            if ((org == 0 || org == res.org_id) &&
                pl_authz_check(&r->actor, &res, PL_ACT_READ) == 0)
                ids[n++] = res.org_id;
        }
        if (n == 0) {
            pl_req_fail_msg(r, "you are not a member of that organisation");
            return -PL_EPERM;
        }
        rc = pl_store_conv_list_org(st, ids, n, r->actor.user_id, filter, r->i1, (int)r->i2,
                                    r->now, &out);
        if (rc == 0) rc = audit(st, r, "inbox.list", "org", org, 0, org, 0);
    }
    if (rc < 0) return rc;
    json_object_update(r->result, out);
    json_decref(out);
    return 0;
}

static int h_list(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    const char *f;
    int64_t before, limit, org;
    int rc;
    if ((rc = pl_param_enum(req, "filter", filters, true, &f, &e)) < 0 ||
        (rc = pl_param_int(req, "before", 0, INT64_MAX, true, 0, &before, &e)) < 0 ||
        (rc = pl_param_int(req, "org_id", 1, INT64_MAX, true, 0, &org, &e)) < 0 ||
        (rc = pl_param_int(req, "limit", 1, LIST_MAX, true, 50, &limit, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return submit(c, id, "conversation.list", req, list_run, NULL, before, limit);
}

/* ---- conversation.assign / conversation.set_status ---- */

static int assign_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    int rc = load_conv(st, r, json_integer_value(json_object_get(r->params, "conversation_id")),
                       PL_ACT_ASSIGN, &conv);
    if (rc < 0) return rc;
    int64_t to = json_integer_value(json_object_get(r->params, "user_id"));
    const char *role = json_string_value(json_object_get(r->params, "role"));
    if (to > 0) {
        pl_actor_t target;
        rc = pl_store_actor_load(st, to, &target);
        if (rc < 0 || target.kind != PL_USER_STAFF || !pl_authz_roles_at(&target, conv.org_id)) {
            pl_req_fail_msg(r, "user_id is not a member of this practice's team");
            return -PL_EINVAL;
        }
    }
    if ((rc = pl_store_conv_assign(st, conv.id, to, role, r->now)) < 0) return rc;
    if ((rc = audit(st, r, "conversation.assign", "conversation", conv.id, conv.patient_id,
                    conv.org_id, conv.peer_org_id)) < 0)
        return rc;
    json_t *ch = json_pack("{so so}", "assignee_user_id", to ? json_integer(to) : json_null(),
                           "assignee_role", role ? json_string(role) : json_null());
    /* Who handles a request is the practice's business (a staff-only event); the patient
     * hears only that their new request is now in progress. */
    if ((rc = conv_updated(st, r, &conv, true, ch)) < 0) return rc;
    if (strcmp(conv.status, "new") == 0)
        rc = conv_updated(st, r, &conv, false, json_pack("{ss}", "status", "in_progress"));
    return rc;
}

static int h_assign(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t conv, user;
    const char *role;
    int rc;
    if ((rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e)) < 0 ||
        (rc = pl_param_int(req, "user_id", 1, INT64_MAX, true, 0, &user, &e)) < 0 ||
        (rc = pl_param_str(req, "role", 1, 32, true, &role, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (role && !pl_role_from_name(role)) {
        snprintf(e.msg, sizeof e.msg, "role is not a known role");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    if (!role && !user) {
        snprintf(e.msg, sizeof e.msg, "give user_id, role or both");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    return submit(c, id, "conversation.assign", req, assign_run, NULL, 0, 0);
}

static int status_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    int rc = load_conv(st, r, json_integer_value(json_object_get(r->params, "conversation_id")),
                       PL_ACT_SET_STATUS, &conv);
    if (rc < 0) return rc;
    const char *status = json_string_value(json_object_get(r->params, "status"));
    if (strcmp(status, conv.status) == 0) return 0;
    if ((rc = pl_store_conv_set_status(st, conv.id, status, r->now)) < 0) return rc;
    if ((rc = audit(st, r, "conversation.status", "conversation", conv.id, conv.patient_id,
                    conv.org_id, conv.peer_org_id)) < 0)
        return rc;
    return conv_updated(st, r, &conv, false, json_pack("{ss}", "status", status));
}

static int h_status(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t conv;
    const char *s;
    int rc;
    if ((rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e)) < 0 ||
        (rc = pl_param_enum(req, "status", statuses, false, &s, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return submit(c, id, "conversation.set_status", req, status_run, NULL, 0, 0);
}

/* ---- receipt.mark / typing.set ---- */

static int receipt_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    int rc = load_conv(st, r, json_integer_value(json_object_get(r->params, "conversation_id")),
                       PL_ACT_RECEIPT, &conv);
    if (rc < 0) return rc;
    int64_t seq = r->i1;
    if (seq > conv.last_seq) {
        pl_req_fail_msg(r, "seq is beyond the last message");
        return -PL_EINVAL;
    }
    bool read = r->i2 != 0, changed = false;
    int64_t d = 0, rd = 0;
    rc = pl_store_receipt_set(st, conv.id, r->actor.user_id, seq, read ? seq : 0, &changed, &d,
                              &rd);
    if (rc < 0) return rc;
    json_object_set_new(r->result, "delivered_seq", json_integer(d));
    json_object_set_new(r->result, "read_seq", json_integer(rd));
    if (!changed) return 0;
    return pl_req_event(st, r, &conv, false, "receipt.updated",
                        json_pack("{sI ss sI sI}", "user_id", (json_int_t)r->actor.user_id,
                                  "role", r->actor.kind == PL_USER_PATIENT ? "patient" : "staff",
                                  "delivered_seq", (json_int_t)d, "read_seq", (json_int_t)rd));
}

static int h_receipt(pl_conn_t *c, const char *id, json_t *req)
{
    static const char *const rkinds[] = {"delivered", "read", NULL};
    pl_perr_t e;
    int64_t conv, seq;
    const char *k;
    int rc;
    if ((rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e)) < 0 ||
        (rc = pl_param_int(req, "seq", 1, INT64_MAX, false, 0, &seq, &e)) < 0 ||
        (rc = pl_param_enum(req, "kind", rkinds, false, &k, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return submit(c, id, "receipt.mark", req, receipt_run, NULL, seq, strcmp(k, "read") == 0);
}

static int typing_run(pl_store_t *st, pl_req_t *r)
{
    pl_conv_t conv;
    int rc = load_conv(st, r, json_integer_value(json_object_get(r->params, "conversation_id")),
                       PL_ACT_TYPING, &conv);
    if (rc == 0) {
        r->i1 = conv.org_id;
        r->i2 = conv.patient_id;
    }
    return rc;
}

static void typing_after(pl_req_t *r, int status)
{
    if (status < 0) return;
    pl_conv_t conv = {.id = json_integer_value(json_object_get(r->params, "conversation_id")),
                      .org_id = r->i1, .patient_id = r->i2};
    pl_cluster_typing(r->srv, &conv, &r->actor,
                     json_is_true(json_object_get(r->params, "typing")));
}

static int h_typing(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t conv;
    bool typing;
    int rc;
    if ((rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, false, 0, &conv, &e)) < 0 ||
        (rc = pl_param_bool(req, "typing", false, false, &typing, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return submit(c, id, "typing.set", req, typing_run, typing_after, 0, 0);
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__conv_handler(const char *type);
pl_handler_fn pl__conv_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"conversation.create", h_create},     {"conversation.send", h_send},
        {"conversation.note", h_note},         {"conversation.get", h_get},
        {"conversation.history", h_history},   {"conversation.list", h_list},
        {"conversation.assign", h_assign},     {"conversation.set_status", h_status},
        {"receipt.mark", h_receipt},           {"typing.set", h_typing},
    };
    return PL_HANDLER_IN(table, type);
}
