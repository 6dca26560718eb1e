/* Presence in a video call, as the media layer reports it (signalling/call.c): who joined, left
 * or came back, recorded as consult.joined / consult.left / consult.reconnected events on the
 * consultation's conversation, in the store's order, and delivered like every other event. The
 * store work runs on the storage thread; the report comes from the loop thread and never
 * waits for it. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/server_internal.h"

#include <stdlib.h>

/* ---- presence, reported by the media layer ---- */

typedef struct {
    pl_job_t job;
    pl_server_t *srv;
    int64_t consultation_id, user_id, now;
    pl_presence_t what;
    json_t *events;
} presence_t;

static const char *presence_type(pl_presence_t what)
{
    return what == PL_CONSULT_JOINED ? "consult.joined"
           : what == PL_CONSULT_LEFT ? "consult.left"
                                     : "consult.reconnected";
}

static int presence_run(pl_store_t *st, pl_job_t *job)
{
    presence_t *p = (presence_t *)job;
    pl_consult_t k;
    pl_actor_t who;
    int rc = pl_store_consult_get(st, p->consultation_id, &k);
    if (rc == 0) rc = pl_store_actor_load(st, p->user_id, &who);
    if (rc == 0) rc = pl_store_consult_presence(st, k.id, who.user_id, p->what, p->now);
    if (rc < 0) return rc;
    const char *type = presence_type(p->what);
    json_t *payload = json_pack("{sI s{sI ss ss}}", "consultation_id", (json_int_t)k.id,
                                "participant", "user_id", (json_int_t)who.user_id, "role",
                                pl_actor_role(&who), "display_name", who.display_name);
    pl_conv_t conv = {.id = k.conversation_id,
                      .org_id = k.org_id,
                      .patient_id = k.patient_id,
                      .peer_org_id = k.peer_org_id,
                      .case_id = k.case_id};
    if (k.case_id) json_object_set_new(payload, "case_id", json_integer(k.case_id));
    rc = pl_event_append(st, &conv, false, type, payload, p->now, p->events);
    json_decref(payload);
    return rc;
}

static void presence_done(pl_job_t *job, int status)
{
    presence_t *p = (presence_t *)job;
    if (status == 0)
        pl_events_committed(p->srv, p->events);
    else
        pl_log_warn("consult", "could not record %s for consultation %lld: %s",
                    presence_type(p->what), (long long)p->consultation_id, pl_strerror(status));
    json_decref(p->events);
    free(p);
}

int pl_consult_presence(pl_server_t *srv, int64_t consultation_id, int64_t user_id,
                        pl_presence_t what)
{
    presence_t *p = calloc(1, sizeof *p);
    if (!p || !(p->events = json_array())) {
        free(p);
        return -PL_ENOMEM;
    }
    p->srv = srv;
    p->consultation_id = consultation_id;
    p->user_id = user_id;
    p->what = what;
    p->now = pl_now_ms();
    int rc = pl_worker_submit(srv->worker, &p->job, presence_run, presence_done);
    if (rc < 0) {
        json_decref(p->events);
        free(p);
    }
    return rc;
}
