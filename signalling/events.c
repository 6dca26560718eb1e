/* The resumable event stream.
 *
 * Every stored event has a global, increasing cursor. A client subscribes with the last cursor
 * it saw; the server replays what it missed page by page from the store, then switches the
 * connection to live fan-out. Replay pages and live events both come back from the storage
 * thread in commit order, so while a connection is replaying its live events are skipped (the
 * replay will include them) and after the last page every later event arrives live: nothing is
 * missed and nothing is sent twice. last_cursor guards the hand-over as a second line.
 * Every event a connection receives passes pl_authz_check first. */
#include "core/err.h"
#include "core/log.h"
#include "signalling/server_internal.h"

#include <stdlib.h>
#include <string.h>

/* A member of staff named by role: their user id is left out. */
static void redact_person(json_t *p)
{
    const char *role = json_string_value(json_object_get(p, "role"));
    if (role && strcmp(role, "staff") == 0) json_object_del(p, "user_id");
}

/* What a patient may not learn from an event: which staff member acted (assigned, changed
 * status, read their message). The practice answers as a team; messages still carry their
 * author's name, as a letter would. */
static void redact_for_patient(json_t *e)
{
    json_object_del(e, "by");
    redact_person(e);
    json_t *conv = json_object_get(e, "conversation");
    if (json_is_object(conv)) json_object_del(conv, "updated_at");
    /* Consultation events name the people in the call; patients get their names, not the
     * staff members' ids. */
    json_t *p = json_object_get(e, "participant"), *consult = json_object_get(e, "consultation");
    if (json_is_object(p)) redact_person(p);
    size_t i;
    json_array_foreach(json_object_get(e, "participants"), i, p) redact_person(p);
    if (json_is_object(consult)) pl_consult_patient_view(consult);
}

json_t *pl_event_frame(json_t *ev, bool for_patient)
{
    json_t *e = json_deep_copy(json_object_get(ev, "payload"));
    if (!json_is_object(e)) {
        json_decref(e);
        e = json_object();
    }
    if (for_patient) redact_for_patient(e);
    json_object_set(e, "type", json_object_get(ev, "type"));
    json_object_set(e, "conversation_id", json_object_get(ev, "conversation_id"));
    json_object_set(e, "at", json_object_get(ev, "at"));
    return json_pack("{ss sO so}", "type", "event", "cursor", json_object_get(ev, "cursor"),
                     "event", e);
}

/* The consultation a consult.* event is about; 0 for any other event. */
static int64_t consultation_of(json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type || strncmp(type, "consult.", 8) != 0) return 0;
    return json_integer_value(json_object_get(json_object_get(ev, "payload"), "consultation_id"));
}

/* Whether the actor is a member of the case discussion the event belongs to: named in the
 * audience of a live event (computed when it was stored); a replayed event of a case comes from
 * the store only to members with access (store_sqlite_msg.c). */
static bool case_member(const pl_conn_t *c, json_t *ev)
{
    json_t *aud = json_object_get(ev, "audience"), *v;
    if (!aud) return json_integer_value(json_object_get(ev, "case_id")) != 0;
    size_t i;
    json_array_foreach(aud, i, v) if (json_integer_value(v) == c->actor.user_id) return true;
    return false;
}

static bool may_see(const pl_conn_t *c, json_t *ev)
{
    pl_resource_t res = {
        .case_id = json_integer_value(json_object_get(ev, "case_id")),
        .kind = PL_RES_EVENT,
        .org_id = json_integer_value(json_object_get(ev, "org_id")),
        .patient_id = json_integer_value(json_object_get(ev, "patient_id")),
        .staff_only = json_is_true(json_object_get(ev, "staff_only")),
        .conversation_id = json_integer_value(json_object_get(ev, "conversation_id")),
        .consultation_id = consultation_of(ev),
        .peer_org_id = json_integer_value(json_object_get(ev, "peer_org_id")),
    };
    if (res.case_id) res.case_member = case_member(c, ev);
    return pl_authz_check(&c->actor, &res, PL_ACT_READ) == 0;
}

static void deliver(pl_conn_t *c, json_t *ev, const char *frame)
{
    int64_t cursor = json_integer_value(json_object_get(ev, "cursor"));
    if (c->sub != SUB_LIVE || cursor <= c->last_cursor || !may_see(c, ev)) return;
    if (pl_conn_send(c, frame, strlen(frame)) == 0) {
        c->last_cursor = cursor;
        c->srv->metrics.messages_out++;
    }
}

static char *frame_text(json_t *ev, bool for_patient)
{
    json_t *fr = pl_event_frame(ev, for_patient);
    char *t = json_dumps(fr, JSON_COMPACT);
    json_decref(fr);
    return t;
}

void pl_events_fanout(pl_server_t *srv, json_t *events)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        size_t n = 0;
        /* A case discussion's: its members' connections, and nobody else's. */
        json_t *aud = json_object_get(ev, "audience"), *who;
        if (aud) {
            char *frame = frame_text(ev, false);
            size_t j;
            json_array_foreach(aud, j, who)
            {
                void *const *conns = pl_imap_get(srv->by_user, json_integer_value(who), &n);
                for (size_t k = 0; frame && k < n; k++)
                    if (((pl_conn_t *)conns[k])->actor.kind == PL_USER_STAFF)
                        deliver(conns[k], ev, frame);
            }
            free(frame);
            continue;
        }
        /* Staff of the owning organisation, then the patient: disjoint sets. */
        void *const *conns =
            pl_imap_get(srv->by_org, json_integer_value(json_object_get(ev, "org_id")), &n);
        if (n) {
            char *frame = frame_text(ev, false);
            for (size_t k = 0; frame && k < n; k++) deliver(conns[k], ev, frame);
            free(frame);
        }
        /* The second organisation of an advice thread (the specialist service). A member of
         * both is reached once: deliver() moves last_cursor past the event. */
        int64_t peer = json_integer_value(json_object_get(ev, "peer_org_id"));
        conns = peer ? pl_imap_get(srv->by_org, peer, &n) : NULL;
        if (conns && n) {
            char *frame = frame_text(ev, false);
            for (size_t k = 0; frame && k < n; k++) deliver(conns[k], ev, frame);
            free(frame);
        }
        conns = pl_imap_get(srv->by_user, json_integer_value(json_object_get(ev, "patient_id")), &n);
        if (n && !json_is_true(json_object_get(ev, "staff_only"))) {
            char *frame = frame_text(ev, true);
            for (size_t k = 0; frame && k < n; k++)
                if (((pl_conn_t *)conns[k])->actor.kind == PL_USER_PATIENT)
                    deliver(conns[k], ev, frame);
            free(frame);
        }
        /* Guests in the consultation: they see it as the patient does. */
        int64_t kid = consultation_of(ev);
        conns = kid ? pl_imap_get(srv->guests, kid, &n) : NULL;
        if (conns && n && !json_is_true(json_object_get(ev, "staff_only"))) {
            char *frame = frame_text(ev, true);
            for (size_t k = 0; frame && k < n; k++) deliver(conns[k], ev, frame);
            free(frame);
        }
    }
}

static void typing_to(pl_conn_t *c, const pl_actor_t *who, const pl_resource_t *res,
                      const char *staff_frame, const char *patient_frame)
{
    if (c->sub != SUB_LIVE || c->actor.user_id == who->user_id) return;
    if (pl_authz_check(&c->actor, res, PL_ACT_READ) != 0) return;
    const char *f = c->actor.kind == PL_USER_PATIENT ? patient_frame : staff_frame;
    pl_conn_send(c, f, strlen(f));
}

static char *typing_frame(const pl_conv_t *conv, const pl_actor_t *who, bool typing,
                          bool with_user)
{
    json_t *fr = json_pack("{ss s{ss sI sb ss}}", "type", "event", "event", "type", "typing",
                           "conversation_id", (json_int_t)conv->id, "typing", typing, "role",
                           who->kind == PL_USER_PATIENT ? "patient" : "staff");
    if (with_user)
        json_object_set_new(json_object_get(fr, "event"), "user_id", json_integer(who->user_id));
    char *s = json_dumps(fr, JSON_COMPACT);
    json_decref(fr);
    return s;
}

void pl_events_typing(pl_server_t *srv, const pl_conv_t *conv, const pl_actor_t *who,
                      bool typing)
{
    /* Ephemeral: not stored, no cursor. Patients see "the practice is typing", not who. A case
     * discussion has no typing indicators: its members are not an organisation's index. */
    if (conv->case_id) return;
    pl_resource_t res = {.kind = PL_RES_EVENT,
                         .org_id = conv->org_id,
                         .peer_org_id = conv->peer_org_id,
                         .patient_id = conv->peer_org_id ? 0 : conv->patient_id,
                         .conversation_id = conv->id};
    char *staff = typing_frame(conv, who, typing, true);
    char *patient = typing_frame(conv, who, typing, who->kind == PL_USER_PATIENT);
    if (staff && patient) {
        size_t n = 0;
        void *const *conns = pl_imap_get(srv->by_org, conv->org_id, &n);
        for (size_t k = 0; k < n; k++) typing_to(conns[k], who, &res, staff, patient);
        conns = conv->peer_org_id ? pl_imap_get(srv->by_org, conv->peer_org_id, &n) : NULL;
        for (size_t k = 0; conns && k < n; k++) typing_to(conns[k], who, &res, staff, patient);
        conns = pl_imap_get(srv->by_user, conv->patient_id, &n);
        for (size_t k = 0; k < n; k++)
            if (((pl_conn_t *)conns[k])->actor.kind == PL_USER_PATIENT)
                typing_to(conns[k], who, &res, staff, patient);
    }
    free(staff);
    free(patient);
}

/* ---- replay ---- */

static int replay_run(pl_store_t *st, pl_req_t *r)
{
    int64_t head = 0;
    int rc = pl_store_events_head(st, &head);
    if (rc < 0) return rc;
    json_object_set_new(r->result, "head", json_integer(head));
    json_t *evs = NULL;
    /* No cursor (-1) means "from now": nothing to replay. */
    if (r->i1 < 0)
        evs = json_array();
    else if ((rc = pl_store_events_since(st, &r->actor, r->i1, (int)r->i2, &evs)) < 0)
        return rc;
    json_object_set_new(r->result, "events", evs);
    /* A replay hands patient data to staff: one audit row per page, naming where it started.
     * (Live events are covered by the subscription's row; auditing each would double writes.) */
    if (r->actor.kind == PL_USER_STAFF)
        rc = pl_req_audit(st, r, "events.replay", "event_stream", r->i1 < 0 ? head : r->i1, 0,
                          0);
    return rc;
}

static void replay_page(pl_conn_t *c, int64_t after);

static void replay_after(pl_req_t *r, int status)
{
    pl_conn_t *c = r->conn;
    if (!c->wsi) return;
    if (status < 0) {
        /* The stream cannot be trusted past this point: let the client resume cleanly. */
        c->sub = SUB_NONE;
        pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "events.error", "error", "code",
                                       pl_err_code(status), "message",
                                       "event replay failed; subscribe again with your cursor"));
        return;
    }
    json_t *evs = json_object_get(r->result, "events"), *ev;
    size_t i;
    int64_t head = json_integer_value(json_object_get(r->result, "head"));
    /* A cursor from the future (or none) starts at the head: later events then arrive live. */
    if (c->last_cursor < 0 || c->last_cursor > head) c->last_cursor = head;
    int64_t last = c->last_cursor;
    json_array_foreach(evs, i, ev)
    {
        int64_t cur = json_integer_value(json_object_get(ev, "cursor"));
        if (cur > last) last = cur;
        if (cur <= c->last_cursor || !may_see(c, ev)) continue;
        if (pl_conn_send_json(c, pl_event_frame(ev, c->actor.kind != PL_USER_STAFF)) < 0)
            return;
        c->srv->metrics.messages_out++;
    }
    c->last_cursor = last;
    if ((int64_t)json_array_size(evs) == r->i2) {
        replay_page(c, last);
    } else {
        c->sub = SUB_LIVE;
        pl_conn_send_json(c, json_pack("{ss sI}", "type", "events.live", "cursor",
                                       (json_int_t)c->last_cursor));
    }
}

static void replay_page(pl_conn_t *c, int64_t after)
{
    pl_req_t *r = pl_req_new(c, NULL, "events.replay", NULL, replay_run);
    if (!r) {
        pl_conn_close(c, 1011, "out of memory");
        return;
    }
    r->i1 = after;
    r->i2 = c->srv->cfg->event_page_size;
    r->no_reply = true;
    r->after = replay_after;
    pl_req_submit(r);
}

int pl_events_subscribe(pl_conn_t *c, const char *id, int64_t cursor)
{
    c->sub = SUB_REPLAY;
    c->last_cursor = cursor;
    pl_conn_reply_ok(c, id, cursor >= 0 ? json_pack("{sI}", "cursor", (json_int_t)cursor) : NULL);
    replay_page(c, cursor);
    return 0;
}
