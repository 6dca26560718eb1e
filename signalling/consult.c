/* Video consultations, the WebSocket requests: consult.book, consult.link, consult.get,
 * consult.list, consult.wait, consult.admit, consult.invite, consult.end and consult.cancel.
 * The patient's side of a join link (POST /api/v1/join) is in consult_join.c; presence in the
 * call, as the media layer reports it, in consult_presence.c; calls on advice threads in
 * advice_call.c.
 *
 * A consultation belongs to a conversation of its patient, so its chat, receipts, transcript
 * and event stream are the conversation's: every consult.* event is stored on that
 * conversation, visible to the patient and to the practice, and replayable by cursor. Booking
 * either starts a conversation of kind "video" or attaches to one the patient already has.
 *
 * As in conversations.c, a handler validates on the loop thread and its run function executes
 * on the storage thread: load the consultation, ask authz (PL_RES_CONSULTATION), move the
 * status, append events and audit in one transaction that the reply waits for.
 *
 * The join link's token is made here and handed back once, in the reply to the member of staff
 * who will send it; only its SHA-256 is stored. It goes in the URL fragment (/join#TOKEN), which
 * browsers never send to a server, so it stays out of request lines, logs and Referer. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 100
#define HOUR_MS (3600 * 1000LL)
#define LINK_AFTER_SCHEDULE_MS (12 * HOUR_MS) /* a scheduled consultation's link: until +12 h */
#define LINK_UNSCHEDULED_MS (24 * HOUR_MS)    /* an unscheduled one's: 24 h from issue */
#define SCHEDULE_AHEAD_MAX_MS (366 * 24 * HOUR_MS)
#define SUBJECT "Video consultation"

static const char *const filters[] = {"today", "upcoming", "all", NULL};

void pl_consult_patient_view(json_t *consultation)
{
    /* The practice answers as a team: its staff appear to patients by name only. Guests keep
     * their ids, which is how a guest's page finds itself in the list. */
    json_object_del(json_object_get(consultation, "clinician"), "id");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(consultation, "invited"), i, p)
    {
        const char *role = json_string_value(json_object_get(p, "role"));
        if (!role || strcmp(role, "staff") == 0) json_object_del(p, "id");
    }
    json_array_foreach(json_object_get(consultation, "present"), i, p)
    {
        const char *role = json_string_value(json_object_get(p, "role"));
        if (!role || strcmp(role, "staff") == 0) json_object_del(p, "user_id");
    }
    /* Which call the patient was brought into is the professionals' business. */
    json_object_del(consultation, "room_id");
}

static pl_resource_t resource_of(const pl_consult_t *k)
{
    pl_resource_t res = {.kind = PL_RES_CONSULTATION,
                         .org_id = k->org_id,
                         .patient_id = k->patient_id,
                         .conversation_id = k->conversation_id,
                         .consultation_id = k->id};
    return res;
}

int pl_consult_resource(pl_store_t *st, const pl_actor_t *actor, const pl_consult_t *k,
                        int64_t now, pl_resource_t *res)
{
    *res = resource_of(k);
    res->peer_org_id = k->peer_org_id;
    res->case_id = k->case_id;
    if (k->case_id) {
        bool member = false;
        int rc = pl_store_case_member(st, k->case_id, actor->user_id, now, &member);
        res->case_member = member;
        return rc;
    }
    if (!k->peer_org_id) return 0;
    pl_agreement_t ag;
    int rc = pl_store_agreement_active(st, k->org_id, k->peer_org_id, now, &ag);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    res->agreement_active = rc == 0;
    res->identity_shared = rc == 0 && strcmp(ag.shares, "identified") == 0;
    return 0;
}

/* Loads the consultation named by the request and asks authz; a refusal says why in the
 * caller's terms. */
static int load(pl_store_t *st, pl_req_t *r, pl_action_t act, pl_consult_t *k)
{
    pl_resource_t res;
    int rc = pl_store_consult_get(st, pl_req_param_id(r, "consultation_id"), k);
    if (rc == -PL_ENOTFOUND) pl_req_fail_msg(r, "no such consultation");
    if (rc < 0 || (rc = pl_consult_resource(st, &r->actor, k, r->now, &res)) < 0) return rc;
    if (pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0) {
        pl_req_fail_msg(r, "you do not have access to this consultation");
        return -PL_EPERM;
    }
    rc = pl_authz_check(&r->actor, &res, act);
    if (rc < 0)
        pl_req_fail_msg(r, act == PL_ACT_WAIT ? "the waiting room is for the patient"
                                       : "this is for the practice team");
    return rc;
}

/* The refusal for a request that needs the consultation still open. */
static int closed(pl_req_t *r, const pl_consult_t *k)
{
    if (strcmp(k->status, "ended") == 0) {
        pl_req_fail_msg(r, "this consultation has ended");
        return -PL_ECONFLICT;
    }
    if (strcmp(k->status, "cancelled") == 0) {
        pl_req_fail_msg(r, "this consultation was cancelled");
        return -PL_ECONFLICT;
    }
    return 0;
}

/* Access to a consultation is audited like access to a conversation, by anyone. */
static int audit(pl_store_t *st, pl_req_t *r, const char *action, const pl_consult_t *k)
{
    return pl_req_audit(st, r, action, "consultation", k->id, k->patient_id,
                        pl_audit_org_for(&r->actor, k->org_id, k->peer_org_id));
}

/* Puts the consultation, as the caller may see it, into the reply. If full is given, *full gets
 * a copy of the staff view (for event payloads), which the caller owns. */
static int reply_consult(pl_store_t *st, pl_req_t *r, int64_t id, json_t **full)
{
    json_t *c = NULL;
    pl_consult_t k;
    pl_resource_t res;
    int rc = pl_store_consult_get(st, id, &k);
    if (rc < 0 || (rc = pl_consult_resource(st, &r->actor, &k, r->now, &res)) < 0 ||
        (rc = pl_store_consult_json(st, id, &c)) < 0)
        return rc;
    if (full) *full = json_deep_copy(c);
    if (r->actor.kind != PL_USER_STAFF) pl_consult_patient_view(c);
    /* A call on an advice thread: the service sees the patient only under an agreement in
     * force that shares who they are, as on the thread itself. */
    if (k.peer_org_id && pl_authz_check(&r->actor, &res, PL_ACT_IDENTITY) < 0) {
        json_object_del(c, "patient_id");
        json_object_set_new(c, "patient", json_pack("{sb}", "hidden", 1));
    }
    json_object_set_new(r->result, "consultation", c);
    return 0;
}

int pl_consult_reply(pl_store_t *st, pl_req_t *r, int64_t id)
{
    return reply_consult(st, r, id, NULL);
}

/* {"user_id","role","display_name"} from a store view's {"id","display_name"}. */
static json_t *person(json_t *who, const char *role)
{
    return json_pack("{sO ss sO}", "user_id", json_object_get(who, "id"), "role", role,
                     "display_name", json_object_get(who, "display_name"));
}

/* Appends a consult.* event to the consultation's conversation; payload stolen. */
static int consult_event(pl_store_t *st, pl_req_t *r, const pl_consult_t *k, const char *type,
                         json_t *payload)
{
    pl_conv_t conv = {.id = k->conversation_id,
                      .org_id = k->org_id,
                      .patient_id = k->patient_id,
                      .peer_org_id = k->peer_org_id,
                      .case_id = k->case_id};
    json_object_set_new(payload, "consultation_id", json_integer(k->id));
    if (k->case_id) json_object_set_new(payload, "case_id", json_integer(k->case_id));
    return pl_req_event(st, r, &conv, false, type, payload);
}

/* A new join link for k, the patient's (guest_id 0) or a guest's: the token goes into the reply
 * as {"path","expires_at"}, its hash into the store. A guest's link opens /guest, whose page
 * asks for no date of birth. */
static int issue_link(pl_store_t *st, pl_req_t *r, const pl_consult_t *k, int64_t guest_id)
{
    char token[PL_TOKEN_BUF], hash[65], path[16 + PL_TOKEN_BUF];
    int rc = pl_token_new(token, sizeof token);
    if (rc < 0) return rc;
    pl_token_hash(token, hash);
    int64_t expires =
        k->scheduled_at ? k->scheduled_at + LINK_AFTER_SCHEDULE_MS : r->now + LINK_UNSCHEDULED_MS;
    rc = pl_store_consult_link_create(st, k->id, guest_id, hash, r->now, expires, NULL);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s#%s", guest_id ? "/guest" : "/join", token);
        json_object_set_new(r->result, "link",
                            json_pack("{ss sI}", "path", path, "expires_at", (json_int_t)expires));
    }
    pl_wipe(token, sizeof token);
    pl_wipe(path, sizeof path);
    return rc;
}

/* ---- consult.book ---- */

static int book_run(pl_store_t *st, pl_req_t *r)
{
    int64_t patient_id = pl_req_param_id(r, "patient_id"), conv_id = pl_req_param_id(r, "conversation_id");
    bool staff = r->actor.kind == PL_USER_STAFF;
    pl_conv_t conv = {0};
    int rc;
    if (conv_id) {
        rc = pl_store_conv_get(st, conv_id, &conv);
        if (rc == -PL_ENOTFOUND) pl_req_fail_msg(r, "no such conversation");
        if (rc < 0) return rc;
        pl_resource_t cres = {.kind = PL_RES_CONVERSATION,
                              .org_id = conv.org_id,
                              .patient_id = conv.patient_id,
                              .conversation_id = conv.id};
        if (pl_authz_check(&r->actor, &cres, PL_ACT_READ) < 0) {
            pl_req_fail_msg(r, "you do not have access to this conversation");
            return -PL_EPERM;
        }
    }
    pl_actor_t pat;
    rc = pl_store_actor_load(st, patient_id, &pat);
    if (rc < 0 && rc != -PL_ENOTFOUND && rc != -PL_EAUTH) return rc;
    bool is_patient = rc == 0 && pat.kind == PL_USER_PATIENT;
    /* The consultation is the practice's that holds the conversation, else the patient's own. */
    int64_t org = conv_id ? conv.org_id : is_patient ? pat.practice_id : 0;
    pl_resource_t res = {.kind = PL_RES_CONSULTATION,
                         .org_id = org,
                         .patient_id = patient_id,
                         .conversation_id = conv_id};
    if (!is_patient || pl_authz_check(&r->actor, &res, PL_ACT_CREATE) < 0) {
        /* As with patient.lookup, a patient of another practice looks like no patient. */
        pl_req_fail_msg(r, staff ? "no such patient at your practice"
                          : "consultations are booked by the practice");
        return staff ? -PL_ENOTFOUND : -PL_EPERM;
    }
    if (conv_id && conv.patient_id != patient_id) {
        pl_req_fail_msg(r, "conversation_id is not a conversation of this patient");
        return -PL_EINVAL;
    }
    if (conv_id && strcmp(conv.status, "closed") == 0) {
        /* The patient could not write in it: the consultation's chat would be one-way. */
        pl_req_fail_msg(r, "that conversation is closed: reopen it, or book without conversation_id");
        return -PL_ECONFLICT;
    }
    int64_t into = pl_req_param_id(r, "into_consultation_id");
    if (into && (rc = pl_consult_bring_check(st, r, into, patient_id)) < 0) return rc;
    bool new_conv = !conv_id;
    if (new_conv) {
        if ((rc = pl_store_consult_conv_create(st, pat.practice_id, patient_id, SUBJECT, r->now,
                                               &conv_id)) < 0 ||
            (rc = pl_store_conv_get(st, conv_id, &conv)) < 0)
            return rc;
    }
    pl_consult_t k;
    int64_t kid = 0;
    if ((rc = pl_store_consult_create(st, conv.id, conv.org_id, patient_id, r->actor.user_id,
                                      pl_req_param_id(r, "scheduled_at"), r->now, &kid)) < 0 ||
        (into && (rc = pl_store_consult_set_room(st, kid, into)) < 0) ||
        (rc = pl_store_consult_get(st, kid, &k)) < 0 || (rc = issue_link(st, r, &k, 0)) < 0)
        return rc;
    json_t *full = NULL;
    if ((rc = reply_consult(st, r, kid, &full)) < 0) return rc;
    if (new_conv) {
        /* The inbox and the patient's list learn of the new conversation as of any other. */
        json_t *snap = NULL;
        if ((rc = pl_store_conv_json(st, conv.id, &snap)) == 0) {
            json_object_del(snap, "waited_seconds");
            json_object_del(snap, "overdue");
            json_object_del(snap, "assignee_user_id");
            json_object_del(snap, "assignee_role");
            rc = pl_req_event(st, r, &conv, false, "conversation.created",
                              json_pack("{so}", "conversation", snap));
        }
    }
    if (rc == 0)
        rc = consult_event(
            st, r, &k, "consult.booked",
            json_pack("{so sI}", "consultation", full, "by", (json_int_t)r->actor.user_id));
    else
        json_decref(full);
    if (rc == 0 && into) rc = pl_consult_brought(st, r, into, kid);
    return rc < 0 ? rc : audit(st, r, "consult.book", &k);
}

static int h_book(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t patient, conv, when, into;
    int rc;
    if ((rc = pl_param_int(req, "patient_id", 1, INT64_MAX, false, 0, &patient, &e)) < 0 ||
        (rc = pl_param_int(req, "conversation_id", 1, INT64_MAX, true, 0, &conv, &e)) < 0 ||
        (rc = pl_param_int(req, "scheduled_at", 1, INT64_MAX, true, 0, &when, &e)) < 0 ||
        (rc = pl_param_int(req, "into_consultation_id", 1, INT64_MAX, true, 0, &into, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (into && when) {
        snprintf(e.msg, sizeof e.msg, "a patient brought into a call is not scheduled: give "
                                      "into_consultation_id or scheduled_at, not both");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    if (when > pl_now_ms() + SCHEDULE_AHEAD_MAX_MS) {
        snprintf(e.msg, sizeof e.msg, "scheduled_at must be at most a year from now");
        return pl_req_reject(c, id, -PL_EINVAL, &e);
    }
    return pl_req_start(c, id, "consult.book", req, book_run);
}

/* Whether user_id is a guest invited into k; if so *who gets them. A refusal says why. */
static int invited_guest(pl_store_t *st, pl_req_t *r, const pl_consult_t *k, int64_t user_id,
                         pl_actor_t *who)
{
    pl_consult_part_t part;
    int rc = pl_store_actor_load(st, user_id, who);
    if (rc == 0) rc = pl_store_consult_part_get(st, k->id, user_id, &part);
    if (rc == 0 && (!part.invited || who->kind != PL_USER_GUEST)) rc = -PL_ENOTFOUND;
    if (rc == -PL_ENOTFOUND || rc == -PL_EAUTH) {
        pl_req_fail_msg(r, "user_id is not a guest invited to this consultation");
        return -PL_EINVAL;
    }
    return rc;
}

/* ---- consult.link: a new link, the old ones revoked (for re-sending) ----
 * The patient's, or with user_id an invited guest's. */

static int link_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    pl_actor_t guest;
    int64_t gid = pl_req_param_id(r, "user_id");
    int rc = load(st, r, PL_ACT_LINK, &k);
    if (rc < 0 || (rc = closed(r, &k)) < 0) return rc;
    if (gid && (rc = invited_guest(st, r, &k, gid, &guest)) < 0) return rc;
    if ((rc = pl_store_consult_links_revoke(st, k.id, gid)) < 0 ||
        (rc = issue_link(st, r, &k, gid)) < 0)
        return rc;
    return audit(st, r, "consult.link", &k);
}

/* ---- consult.get ---- */

static int get_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    int rc = load(st, r, PL_ACT_READ, &k);
    if (rc < 0 || (rc = reply_consult(st, r, k.id, NULL)) < 0) return rc;
    return audit(st, r, "consult.read", &k);
}

/* ---- consult.list ---- */

static int list_run(pl_store_t *st, pl_req_t *r)
{
    const char *filter = json_string_value(json_object_get(r->params, "filter"));
    int64_t org = pl_req_param_id(r, "org_id");
    json_t *out = NULL;
    int rc;
    if (r->actor.kind == PL_USER_PATIENT) {
        rc = pl_store_consult_list_patient(st, r->actor.user_id, filter, r->i1, (int)r->i2, r->now,
                                           &out);
    } else {
        int64_t ids[PL_ACTOR_MAX_ORGS];
        int n = 0;
        for (int i = 0; i < r->actor.n_orgs; i++) {
            pl_resource_t res = {.kind = PL_RES_CONSULTATION, .org_id = r->actor.orgs[i].org_id};
            if ((org == 0 || org == res.org_id) &&
                pl_authz_check(&r->actor, &res, PL_ACT_READ) == 0)
                ids[n++] = res.org_id;
        }
        if (n == 0) {
            pl_req_fail_msg(r, "you are not a member of that organisation");
            return -PL_EPERM;
        }
        rc = pl_store_consult_list_org(st, ids, n, filter, r->i1, (int)r->i2, r->now, &out);
        if (rc == 0)
            rc = pl_req_audit(st, r, "consult.list", "org", org, 0, org);
    }
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    /* Every consultation handed out passes authz itself, not just the query that found it. */
    json_t *list = json_object_get(out, "consultations"), *c;
    for (size_t i = json_array_size(list); i-- > 0;) {
        c = json_array_get(list, i);
        pl_consult_t k = {.id = json_integer_value(json_object_get(c, "id")),
                          .org_id = json_integer_value(json_object_get(c, "org_id")),
                          .patient_id = json_integer_value(json_object_get(c, "patient_id")),
                          .conversation_id =
                              json_integer_value(json_object_get(c, "conversation_id"))};
        pl_resource_t res = resource_of(&k);
        if (pl_authz_check(&r->actor, &res, PL_ACT_READ) < 0)
            json_array_remove(list, i);
        else if (r->actor.kind == PL_USER_PATIENT)
            pl_consult_patient_view(c);
    }
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
    pl_req_t *r = pl_req_new(c, id, "consult.list", req, list_run);
    if (!r) return -PL_ENOMEM;
    r->i1 = before;
    r->i2 = limit;
    pl_req_submit(r);
    return 0;
}

/* ---- consult.wait: the patient enters the waiting room ---- */

/* A guest waits on its own: the consultation's status is the patient's. */
static int guest_wait(pl_store_t *st, pl_req_t *r, const pl_consult_t *k)
{
    bool moved = false;
    int rc = pl_store_consult_part_wait(st, k->id, r->actor.user_id, r->now, &moved);
    if (rc == -PL_ECONFLICT) pl_req_fail_msg(r, "you are no longer invited to this consultation");
    if (rc < 0 || (rc = reply_consult(st, r, k->id, NULL)) < 0 || !moved) return rc;
    return consult_event(st, r, k, "consult.waiting",
                         json_pack("{s{sI ss ss}}", "participant", "user_id",
                                   (json_int_t)r->actor.user_id, "role",
                                   pl_actor_role(&r->actor), "display_name",
                                   r->actor.display_name));
}

static int wait_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    int rc = load(st, r, PL_ACT_WAIT, &k);
    if (rc < 0 || (rc = closed(r, &k)) < 0) return rc;
    if (r->actor.kind == PL_USER_GUEST) return guest_wait(st, r, &k);
    /* Already waiting, or already admitted (back after a dropped connection): nothing changes,
     * and the reply's status tells the client where the patient belongs. */
    bool moved = strcmp(k.status, "booked") == 0;
    if (moved && (rc = pl_store_consult_set_status(st, k.id, "booked", "waiting", r->now)) < 0)
        return rc;
    json_t *full = NULL;
    if ((rc = reply_consult(st, r, k.id, &full)) < 0 || !moved) {
        json_decref(full);
        return rc;
    }
    json_t *who = person(json_object_get(full, "patient"), "patient");
    json_decref(full);
    return consult_event(st, r, &k, "consult.waiting",
                         json_pack("{ss so}", "status", "waiting", "participant", who));
}

/* ---- consult.admit: staff let the waiting patient in ---- */

/* Staff let a guest in (user_id given). A guest may be admitted before the patient, so that
 * an interpreter is ready when the patient arrives. */
static int admit_guest(pl_store_t *st, pl_req_t *r, const pl_consult_t *k, int64_t gid)
{
    pl_actor_t who;
    bool moved = false;
    int rc = invited_guest(st, r, k, gid, &who);
    if (rc < 0 || (rc = pl_store_consult_part_admit(st, k->id, gid, r->now, &moved)) < 0 ||
        (rc = reply_consult(st, r, k->id, NULL)) < 0 || !moved)
        return rc;
    rc = consult_event(st, r, k, "consult.admitted",
                       json_pack("{s{sI ss ss} sI}", "participant", "user_id", (json_int_t)gid,
                                 "role", pl_actor_role(&who), "display_name", who.display_name,
                                 "by", (json_int_t)r->actor.user_id));
    return rc < 0 ? rc : audit(st, r, "consult.admit", k);
}

static int admit_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    int rc = load(st, r, PL_ACT_ADMIT, &k);
    if (rc < 0 || (rc = closed(r, &k)) < 0) return rc;
    if (pl_req_param_id(r, "user_id")) return admit_guest(st, r, &k, pl_req_param_id(r, "user_id"));
    if (strcmp(k.status, "waiting") != 0) {
        pl_req_fail_msg(r, strcmp(k.status, "booked") == 0 ? "the patient is not in the waiting room"
                                                    : "the consultation is already in progress");
        return -PL_ECONFLICT;
    }
    if ((rc = pl_store_consult_set_status(st, k.id, "waiting", "in_call", r->now)) < 0) return rc;
    json_t *full = NULL;
    if ((rc = reply_consult(st, r, k.id, &full)) < 0) return rc;
    json_t *who = person(json_object_get(full, "patient"), "patient");
    json_decref(full);
    rc = consult_event(st, r, &k, "consult.admitted",
                       json_pack("{ss sI so sI}", "status", "in_call", "started_at",
                                 (json_int_t)r->now, "participant", who, "by",
                                 (json_int_t)r->actor.user_id));
    return rc < 0 ? rc : audit(st, r, "consult.admit", &k);
}

/* ---- consult.invite: a third participant ----
 * A colleague of the same practice (user_id), who joins from their own consultations page; or
 * a guest from outside (guest: {display_name, role}), an interpreter or a carer, who gets a
 * link of their own and is admitted from the waiting room like the patient. */

static const char *const guest_roles[] = {"interpreter", "carer", NULL};

static int invite_guest(pl_store_t *st, pl_req_t *r, const pl_consult_t *k)
{
    json_t *g = json_object_get(r->params, "guest");
    const char *name = json_string_value(json_object_get(g, "display_name"));
    const char *role = json_string_value(json_object_get(g, "role"));
    int64_t gid = 0;
    bool added = false;
    int rc = pl_store_guest_create(st, name, role, r->now, &gid);
    if (rc == 0) rc = pl_store_consult_invite(st, k->id, gid, r->actor.user_id, r->now, &added);
    if (rc == -PL_ECONFLICT)
        pl_req_fail_msg(r, "the call has room for one more person, and someone else is invited");
    if (rc < 0 || (rc = issue_link(st, r, k, gid)) < 0 ||
        (rc = reply_consult(st, r, k->id, NULL)) < 0)
        return rc;
    json_object_set_new(r->result, "user_id", json_integer(gid));
    rc = consult_event(st, r, k, "consult.invited",
                       json_pack("{s{sI ss ss} sI}", "participant", "user_id", (json_int_t)gid,
                                 "role", role, "display_name", name, "by",
                                 (json_int_t)r->actor.user_id));
    return rc < 0 ? rc : audit(st, r, "consult.invite", k);
}

static int invite_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    int rc = load(st, r, PL_ACT_INVITE, &k);
    if (rc < 0 || (rc = closed(r, &k)) < 0) return rc;
    if (json_object_get(r->params, "guest")) {
        if (k.peer_org_id) {
            /* A guest is there for the patient: in the patient's own consultation. */
            pl_req_fail_msg(r, "a call between professionals has no guests: invite the "
                               "interpreter or carer to the patient's consultation");
            return -PL_EINVAL;
        }
        return invite_guest(st, r, &k);
    }
    pl_actor_t who;
    int64_t uid = pl_req_param_id(r, "user_id");
    rc = pl_store_actor_load(st, uid, &who);
    if (rc < 0 || who.kind != PL_USER_STAFF || !pl_authz_roles_at(&who, k.org_id)) {
        if (rc < 0 && rc != -PL_ENOTFOUND && rc != -PL_EAUTH) return rc;
        pl_req_fail_msg(r, "user_id is not a member of this practice's team");
        return -PL_EINVAL;
    }
    bool added = false;
    /* The clinician who leads it is in already. */
    if (uid != k.clinician_user_id &&
        (rc = pl_store_consult_invite(st, k.id, uid, r->actor.user_id, r->now, &added)) < 0) {
        if (rc == -PL_ECONFLICT)
            pl_req_fail_msg(r, "the call has room for one more person, and someone else is invited");
        return rc;
    }
    if ((rc = reply_consult(st, r, k.id, NULL)) < 0 || !added) return rc;
    rc = consult_event(st, r, &k, "consult.invited",
                       json_pack("{s{sI ss ss} sI}", "participant", "user_id", (json_int_t)uid,
                                 "role", "staff", "display_name", who.display_name, "by",
                                 (json_int_t)r->actor.user_id));
    return rc < 0 ? rc : audit(st, r, "consult.invite", &k);
}

/* A name as people will see it in the call: no control characters, not only spaces. */
static bool name_ok(const char *s)
{
    bool seen = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) return false;
        if (*p != ' ') seen = true;
    }
    return seen;
}

static int h_invite(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t k, user;
    const char *name, *role;
    int rc;
    json_t *guest = json_object_get(req, "guest");
    if ((rc = pl_param_int(req, "consultation_id", 1, INT64_MAX, false, 0, &k, &e)) < 0 ||
        (rc = pl_param_int(req, "user_id", 1, INT64_MAX, guest != NULL, 0, &user, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    if (guest) {
        if (user) {
            snprintf(e.msg, sizeof e.msg, "give user_id (a colleague) or guest, not both");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
        if (!json_is_object(guest)) {
            snprintf(e.msg, sizeof e.msg, "guest must be an object {display_name, role}");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
        if ((rc = pl_param_str(guest, "display_name", 1, 80, false, &name, &e)) < 0 ||
            (rc = pl_param_enum(guest, "role", guest_roles, false, &role, &e)) < 0)
            return pl_req_reject(c, id, rc, &e);
        if (!name_ok(name)) {
            snprintf(e.msg, sizeof e.msg,
                     "display_name must be a name, without line breaks or control characters");
            return pl_req_reject(c, id, -PL_EINVAL, &e);
        }
    }
    return pl_req_start(c, id, "consult.invite", req, invite_run);
}

/* ---- consult.end (for everyone) and consult.cancel ---- */

static int cancel_one(pl_store_t *st, pl_req_t *r, const pl_consult_t *k);

/* Ends k, in call, for everyone; the reply gets the consultation as the caller sees it. */
static int end_one(pl_store_t *st, pl_req_t *r, const pl_consult_t *k)
{
    /* Once it is over, the link opens nothing: a later visit needs a new booking. */
    int rc;
    if ((rc = pl_store_consult_set_status(st, k->id, "in_call", "ended", r->now)) < 0 ||
        (rc = pl_store_consult_links_revoke(st, k->id, PL_LINKS_ALL)) < 0)
        return rc;
    json_t *full = NULL;
    if ((rc = reply_consult(st, r, k->id, &full)) < 0) return rc;
    /* Everyone the consultation involved: the patient, the clinician, invited colleagues. A
     * call between professionals has no patient in it (a patient brought in has their own). */
    json_t *people = json_array(), *p;
    size_t i;
    bool professionals = k->peer_org_id || k->case_id;
    if (!professionals)
        json_array_append_new(people, person(json_object_get(full, "patient"), "patient"));
    json_array_append_new(people, person(json_object_get(full, "clinician"), "staff"));
    json_array_foreach(json_object_get(full, "invited"), i, p)
        json_array_append_new(people, person(p, json_string_value(json_object_get(p, "role"))));
    /* Between professionals (an advice call, a case meeting) nobody is booked or invited:
     * whoever is in the call took part. */
    if (professionals) json_array_foreach(json_object_get(full, "present"), i, p)
        {
            json_t *id = json_object_get(p, "user_id"), *q;
            size_t j;
            bool listed = false;
            json_array_foreach(people, j, q) listed |= json_equal(json_object_get(q, "user_id"), id);
            if (!listed) json_array_append(people, p);
        }
    json_t *payload = json_pack("{ss sO sO sO so sI}", "status", "ended", "started_at",
                                json_object_get(full, "started_at"), "ended_at",
                                json_object_get(full, "ended_at"), "duration_seconds",
                                json_object_get(full, "duration_seconds"), "participants", people,
                                "by", (json_int_t)r->actor.user_id);
    json_decref(full);
    rc = consult_event(st, r, k, "consult.ended", payload);
    return rc < 0 ? rc : audit(st, r, "consult.end", k);
}

static int end_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    int rc = load(st, r, PL_ACT_END, &k);
    if (rc < 0 || (rc = closed(r, &k)) < 0) return rc;
    if (strcmp(k.status, "in_call") != 0) {
        pl_req_fail_msg(r, "the consultation has not started: cancel it instead");
        return -PL_ECONFLICT;
    }
    /* The consultations held in this one's room (a patient brought into an advice call) end
     * with it, each on its own conversation; the reply is this one's, so it goes last. */
    int64_t ids[8];
    int n = 0;
    if ((rc = pl_store_consult_in_room(st, k.id, ids, 8, &n)) < 0) return rc;
    for (int i = 0; i < n; i++) {
        pl_consult_t b;
        if ((rc = pl_store_consult_get(st, ids[i], &b)) < 0 ||
            (rc = strcmp(b.status, "in_call") == 0 ? end_one(st, r, &b) : cancel_one(st, r, &b)) < 0)
            return rc;
    }
    return end_one(st, r, &k);
}

static int cancel_one(pl_store_t *st, pl_req_t *r, const pl_consult_t *k)
{
    int rc;
    if ((rc = pl_store_consult_set_status(st, k->id, k->status, "cancelled", r->now)) < 0 ||
        (rc = pl_store_consult_links_revoke(st, k->id, PL_LINKS_ALL)) < 0 ||
        (rc = reply_consult(st, r, k->id, NULL)) < 0)
        return rc;
    rc = consult_event(
        st, r, k, "consult.cancelled",
        json_pack("{ss sI}", "status", "cancelled", "by", (json_int_t)r->actor.user_id));
    return rc < 0 ? rc : audit(st, r, "consult.cancel", k);
}

static int cancel_run(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    int rc = load(st, r, PL_ACT_END, &k);
    if (rc < 0 || (rc = closed(r, &k)) < 0) return rc;
    if (strcmp(k.status, "in_call") == 0) {
        pl_req_fail_msg(r, "the consultation is in progress: end it instead");
        return -PL_ECONFLICT;
    }
    return cancel_one(st, r, &k);
}

/* The requests that take only consultation_id. */
static int by_id(pl_conn_t *c, const char *id, json_t *req, const char *type, pl_req_run_fn run)
{
    pl_perr_t e;
    int64_t k;
    int rc = pl_param_int(req, "consultation_id", 1, INT64_MAX, false, 0, &k, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, type, req, run);
}

/* consultation_id and an optional user_id (a guest's). */
static int with_user(pl_conn_t *c, const char *id, json_t *req, const char *type,
                     pl_req_run_fn run)
{
    pl_perr_t e;
    int64_t k, user;
    int rc;
    if ((rc = pl_param_int(req, "consultation_id", 1, INT64_MAX, false, 0, &k, &e)) < 0 ||
        (rc = pl_param_int(req, "user_id", 1, INT64_MAX, true, 0, &user, &e)) < 0)
        return pl_req_reject(c, id, rc, &e);
    return pl_req_start(c, id, type, req, run);
}

static int h_link(pl_conn_t *c, const char *id, json_t *req)
{
    return with_user(c, id, req, "consult.link", link_run);
}
static int h_get(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "consult.get", get_run);
}
static int h_wait(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "consult.wait", wait_run);
}
static int h_admit(pl_conn_t *c, const char *id, json_t *req)
{
    return with_user(c, id, req, "consult.admit", admit_run);
}
static void end_after(pl_req_t *r, int status)
{
    /* Ended for everyone: the media room closes with it. */
    if (status == 0) pl_call_close(r->srv, pl_req_param_id(r, "consultation_id"));
}

static int h_end(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t k;
    int rc = pl_param_int(req, "consultation_id", 1, INT64_MAX, false, 0, &k, &e);
    if (rc < 0) return pl_req_reject(c, id, rc, &e);
    pl_req_t *r = pl_req_new(c, id, "consult.end", req, end_run);
    if (!r) return -PL_ENOMEM;
    r->after = end_after;
    pl_req_submit(r);
    return 0;
}
static int h_cancel(pl_conn_t *c, const char *id, json_t *req)
{
    return by_id(c, id, req, "consult.cancel", cancel_run);
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__consult_handler(const char *type);
pl_handler_fn pl__consult_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"consult.book", h_book},     {"consult.link", h_link}, {"consult.get", h_get},
        {"consult.list", h_list},     {"consult.wait", h_wait}, {"consult.admit", h_admit},
        {"consult.invite", h_invite}, {"consult.end", h_end},   {"consult.cancel", h_cancel},
    };
    return PL_HANDLER_IN(table, type);
}
