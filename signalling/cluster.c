/* One service from several nodes: live events and typing across nodes (docs/CLUSTER.md).
 *
 * The store is the truth and the bus only says "look". With no bus configured a node fans out
 * what its own requests commit, straight from their done callbacks (events.c), as it always
 * has. With a bus, every node fans out from one place instead: the event log itself, read in
 * cursor order by a tail job on its storage thread. A node's own commits and other nodes'
 * alike reach its connections that way, so each connection sees every event once and in
 * cursor order, whichever node wrote it. The store's write lock (db_pg.c) makes cursors
 * commit in increasing order across nodes, so a tail that has read up to N never later finds
 * a smaller cursor behind it.
 *
 * What wakes the tail: this node's commits, a message on the bus from another node's, the bus
 * coming back (whatever was published while it was away is read from the store), and a timer
 * every second, in case a bus message was lost. The tail job runs on the storage thread like
 * every request, so a connection's replay pages and the tail's reads are ordered with each
 * other just as replays and commits are on one node (events.c): nothing is missed on the hand
 * over from replay to live.
 *
 * Typing is not stored: a node publishes it and the others hand it to their own connections. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/bus.h"
#include "signalling/server_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CH_EVENTS "parley:events"
#define CH_TYPING "parley:typing"
#define TAIL_PAGE 500
#define TAIL_POLL_MS 1000

struct pl_cluster {
    pl_server_t *srv;
    pl_bus_t *bus;
    char node[PL_BUS_NODE_ID_MAX + 1];
    char url[300]; /* where clients reach this node (node_url) */
    int64_t tail;   /* every event up to here has been fanned out by this node */
    bool reading;   /* a tail job is on the storage thread */
    bool again;     /* woken while reading: read once more when it is back */
    uv_timer_t poll;
};

typedef struct {
    pl_job_t job;
    pl_cluster_t *cl;
    int64_t after;
    int64_t now;
    json_t *events;
} tail_job_t;

static void tail_kick(pl_cluster_t *cl);

static int tail_run(pl_store_t *st, pl_job_t *job)
{
    tail_job_t *t = (tail_job_t *)job;
    return pl_store_events_tail(st, t->after, TAIL_PAGE, t->now, &t->events);
}

static void tail_done(pl_job_t *job, int status)
{
    tail_job_t *t = (tail_job_t *)job;
    pl_cluster_t *cl = t->cl;
    cl->reading = false;
    size_t n = status == 0 ? json_array_size(t->events) : 0;
    if (status < 0) {
        pl_log_warn("cluster", "reading the event log failed: %s", pl_strerror(status));
    } else if (n) {
        pl_events_fanout(cl->srv, t->events);
        json_t *last = json_array_get(t->events, n - 1);
        cl->tail = json_integer_value(json_object_get(last, "cursor"));
    }
    json_decref(t->events);
    free(t);
    /* A full page means more is waiting; a failure is retried by the poll timer. */
    if (status == 0 && (cl->again || n == TAIL_PAGE)) tail_kick(cl);
}

static void tail_kick(pl_cluster_t *cl)
{
    if (cl->srv->shutting_down || !cl->srv->worker) return;
    if (cl->reading) {
        cl->again = true;
        return;
    }
    tail_job_t *t = calloc(1, sizeof *t);
    if (!t) return; /* the poll timer tries again */
    t->cl = cl;
    t->after = cl->tail;
    t->now = pl_now_ms();
    t->job.read_only = true; /* never waits for the cluster's write lock */
    cl->again = false;
    if (pl_worker_submit(cl->srv->worker, &t->job, tail_run, tail_done) < 0) {
        free(t);
        return;
    }
    cl->reading = true;
}

static void poll_cb(uv_timer_t *h)
{
    pl_cluster_t *cl = h->data;
    pl_room_heartbeat(cl->srv, cl->url);
    tail_kick(cl);
}

/* ---- typing ---- */

static void typing_received(pl_cluster_t *cl, const char *payload, size_t len)
{
    json_t *j = json_loadb(payload, len, 0, NULL);
    const char *from = json_string_value(json_object_get(j, "node"));
    if (!j || !from || strcmp(from, cl->node) == 0) {
        json_decref(j);
        return; /* our own: already handed to our connections */
    }
    json_int_t conv_id = 0, org = 0, peer = 0, patient = 0, case_id = 0, user = 0, kind = 0;
    int typing = 0;
    if (json_unpack(j, "{s:{s:I s:I s:I s:I s:I} s:{s:I s:I} s:b}", "conv", "id", &conv_id,
                    "org_id", &org, "peer_org_id", &peer, "patient_id", &patient, "case_id",
                    &case_id, "who", "user_id", &user, "kind", &kind, "typing", &typing) == 0) {
        pl_conv_t conv = {.id = conv_id,
                          .org_id = org,
                          .peer_org_id = peer,
                          .patient_id = patient,
                          .case_id = case_id};
        pl_actor_t who = {.user_id = user, .kind = (pl_user_kind_t)kind};
        pl_events_typing(cl->srv, &conv, &who, typing != 0);
    }
    json_decref(j);
}

void pl_cluster_typing(pl_server_t *srv, const pl_conv_t *conv, const pl_actor_t *who,
                       bool typing)
{
    pl_events_typing(srv, conv, who, typing);
    pl_cluster_t *cl = srv->cluster;
    if (!cl) return;
    json_t *j = json_pack("{ss s{sI sI sI sI sI} s{sI sI} sb}", "node", cl->node, "conv", "id",
                          (json_int_t)conv->id, "org_id", (json_int_t)conv->org_id,
                          "peer_org_id", (json_int_t)conv->peer_org_id, "patient_id",
                          (json_int_t)conv->patient_id, "case_id", (json_int_t)conv->case_id,
                          "who", "user_id", (json_int_t)who->user_id, "kind",
                          (json_int_t)who->kind, "typing", typing);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    /* Best effort, as typing always is: lost while the bus is down. */
    if (txt) pl_bus_publish(cl->bus, CH_TYPING, txt, strlen(txt));
    free(txt);
    json_decref(j);
}

/* ---- committed events ---- */

void pl_events_committed(pl_server_t *srv, json_t *events)
{
    pl_cluster_t *cl = srv->cluster;
    if (!cl) {
        pl_events_fanout(srv, events);
        return;
    }
    json_t *last = json_array_get(events, json_array_size(events) - 1);
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%lld",
             (long long)json_integer_value(json_object_get(last, "cursor")));
    /* Other nodes look when told; if this is lost their poll finds it. */
    pl_bus_publish(cl->bus, CH_EVENTS, cursor, strlen(cursor));
    tail_kick(cl);
}

/* ---- the bus ---- */

static void bus_message(void *ud, const char *channel, const char *payload, size_t len)
{
    pl_cluster_t *cl = ud;
    if (strcmp(channel, CH_EVENTS) == 0)
        tail_kick(cl);
    else if (strcmp(channel, CH_TYPING) == 0)
        typing_received(cl, payload, len);
}

static void bus_state(void *ud, bool up)
{
    pl_cluster_t *cl = ud;
    if (!up) return;
    /* Whatever other nodes published while we could not hear is in the store. */
    pl_room_heartbeat(cl->srv, cl->url);
    tail_kick(cl);
}

int pl_cluster_start(pl_server_t *srv, int64_t head)
{
    const pl_config_t *cfg = srv->cfg;
    if (!cfg->bus[0]) return 0;
    pl_cluster_t *cl = calloc(1, sizeof *cl);
    if (!cl) return -PL_ENOMEM;
    cl->srv = srv;
    cl->tail = head;
    if (cfg->node_id[0]) {
        snprintf(cl->node, sizeof cl->node, "%s", cfg->node_id);
    } else {
        char host[48] = "node";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf(cl->node, sizeof cl->node, "%s:%d", host, cfg->port);
    }
    if (cfg->node_url[0])
        snprintf(cl->url, sizeof cl->url, "%s", cfg->node_url);
    else
        snprintf(cl->url, sizeof cl->url, "wss://%s:%d/", cfg->bind, cfg->port);
    pl_bus_listener_t l = {.message = bus_message, .state = bus_state, .ud = cl};
    int rc = pl_bus_create(&cl->bus, srv->loop, cfg->bus, cl->node, &l);
    if (rc == 0) rc = pl_bus_subscribe(cl->bus, CH_EVENTS);
    if (rc == 0) rc = pl_bus_subscribe(cl->bus, CH_TYPING);
    if (rc < 0) {
        pl_log_error("cluster", "bus setting refused: %s", pl_strerror(rc));
        pl_bus_destroy(cl->bus);
        free(cl);
        return rc;
    }
    uv_timer_init(srv->loop, &cl->poll);
    cl->poll.data = cl;
    uv_timer_start(&cl->poll, poll_cb, TAIL_POLL_MS, TAIL_POLL_MS);
    srv->cluster = cl;
    pl_log_info("cluster", "node %s: events from the store's log, woken by the bus", cl->node);
    return 0;
}

const char *pl_cluster_node(const pl_server_t *srv)
{
    return srv->cluster ? srv->cluster->node : NULL;
}

struct pl_bus *pl_cluster_bus(const pl_server_t *srv)
{
    return srv->cluster ? srv->cluster->bus : NULL;
}

static void poll_closed(uv_handle_t *h)
{
    free(h->data);
}

void pl_cluster_stop(pl_server_t *srv)
{
    pl_cluster_t *cl = srv->cluster;
    if (!cl) return;
    srv->cluster = NULL;
    pl_bus_destroy(cl->bus);
    uv_timer_stop(&cl->poll);
    /* A tail job still on the storage thread holds cl: the drain delivers it before the worker
     * goes, and tail_done then finds shutting_down. Freed in the timer's close callback. */
    uv_close((uv_handle_t *)&cl->poll, poll_closed);
}
