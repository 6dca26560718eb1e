/* Shared internals of the signalling front: the server context, a connection, and a request
 * in flight. Included by server.c (lws glue), ws.c (connections and dispatch), http.c (REST),
 * events.c (stream and fan-out) and the handler files. Not a public header. */
#ifndef PL_SERVER_INTERNAL_H
#define PL_SERVER_INTERNAL_H

#include "core/config.h"
#include "core/imap.h"
#include "core/metrics.h"
#include "signalling/authz.h"
#include "signalling/params.h"
#include "signalling/server.h"
#include "storage/store.h"
#include "storage/worker.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <uv.h>

typedef struct pl_conn pl_conn_t;

/* A client's User-Agent as kept for the audit trail: cut to this many bytes (with the NUL), on
 * the connection and on every request in flight. The store would keep up to PL_AUDIT_UA_MAX;
 * the first 255 bytes name the browser, and every request carries a copy. */
#define PL_UA_MAX 256
typedef struct pl_throttle pl_throttle_t;
typedef struct pl_outbox pl_outbox_t;
typedef struct pl_cluster pl_cluster_t;
typedef struct pl_send_rate pl_send_rate_t;

struct pl_server {
    uv_loop_t *loop;
    const pl_config_t *cfg;
    pl_metrics_t metrics;
    pl_store_t *store;
    pl_worker_t *worker;
    struct lws_context *lws;
    pl_conn_t *conns;   /* all WebSocket connections, doubly linked */
    pl_imap_t *by_user; /* user id -> conns of that user */
    pl_imap_t *by_org;  /* org id -> conns of staff who belong to it */
    pl_imap_t *guests;  /* consultation id -> conns of guests invited into it */
    pl_throttle_t *throttle;
    pl_send_rate_t *send_rate; /* messages per person (send_rate.c) */
    uint8_t data_key[32];
    bool shutting_down;
    bool store_ok;
    uv_timer_t housekeeping;
    uint64_t next_conn_id;
    /* video calls (call.c) */
    struct pl_media *media; /* NULL when video is off */
    struct pl_call *calls;  /* consultations with a live media room */
    uv_timer_t call_timer;
    uint64_t next_peer_key;
    uint64_t call_join_refused; /* consult.join by someone not allowed in that call */
    uint8_t turn_secret[256];
    size_t turn_secret_len;
    int attach_uploads; /* attachment uploads in flight (attach.c; at most PL_ATTACH_MAX_UPLOADS) */
    int64_t attach_sweep_at; /* ms: the next sweep of uploads never sent is due (0: at once) */
    bool attach_sweeping;    /* a sweep job is on the storage thread */
    pl_outbox_t *outbox;     /* write-back to the record system (outbox.c); NULL when off */
    pl_cluster_t *cluster;   /* the other nodes (cluster.c); NULL when this node is alone */
};

typedef struct pl_frame {
    struct pl_frame *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} pl_frame_t;

typedef enum { SUB_NONE = 0, SUB_REPLAY, SUB_LIVE } pl_sub_state_t;

struct pl_conn {
    pl_server_t *srv;
    struct lws *wsi; /* NULL once the socket has closed */
    int refs;        /* 1 for the socket + 1 per request in flight */
    uint64_t id;
    char ip[64];
    char user_agent[PL_UA_MAX]; /* from the upgrade request, for the audit trail */
    pl_conn_t *prev, *next;

    /* authentication */
    bool authed;
    bool must_enrol_totp; /* practice requires TOTP and the user has not enrolled */
    char token_hash[65];
    int64_t session_expires_at, session_idle_deadline, session_touched_at, session_checked_at;
    pl_actor_t actor;

    /* receive: one message may arrive in several fragments */
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_discard;

    /* send queue */
    pl_frame_t *txq, *txq_tail;
    size_t txq_bytes;
    int close_code; /* non-zero: close after the queue drains */
    bool close_sent;
    bool peer_closed; /* the client sent Close first: lws answers it, we must not send another */
    char close_reason[64];

    /* rate limit (token bucket) */
    double tokens;
    uint64_t tokens_at_ns;
    int strikes;

    /* event stream */
    pl_sub_state_t sub;
    int64_t last_cursor;
};

/* A request in flight through the storage thread. run fills result (merged into the reply)
 * and events (committed events to fan out). */
typedef struct pl_req pl_req_t;
typedef int (*pl_req_run_fn)(pl_store_t *st, pl_req_t *r);
typedef void (*pl_req_after_fn)(pl_req_t *r, int status);
struct pl_req {
    pl_job_t job;
    pl_conn_t *conn;
    pl_server_t *srv;
    char id[72];     /* client's request id, echoed */
    char type[40];   /* request type, for logs */
    pl_actor_t actor;
    char ip[64];
    char user_agent[PL_UA_MAX];
    int64_t now;
    json_t *params;  /* owned */
    json_t *result;  /* owned; object merged into the ok reply */
    json_t *events;  /* owned; array of committed events */
    pl_req_run_fn run;
    pl_req_after_fn after; /* optional, on the loop before the reply is sent */
    bool no_reply;
    bool parked; /* set by after: it finishes later with pl_req_finish */
    int64_t i1, i2, i3; /* handler scratch */
};

/* ---- ws.c ---- */
pl_conn_t *pl_conn_create(pl_server_t *srv, struct lws *wsi);
void pl_conn_release(pl_conn_t *c); /* drops one ref; frees at zero */
void pl_conn_closed(pl_conn_t *c);  /* the socket is gone */
int pl_conn_receive(pl_conn_t *c, const void *in, size_t len, bool first, bool final,
                    bool binary);
int pl_conn_writeable(pl_conn_t *c);
/* Queues one text frame (copied). Returns 0, or -PL_ETOOBIG if the client is not reading (the
 * connection is then closed: a slow consumer must not grow the server's memory). */
int pl_conn_send(pl_conn_t *c, const char *data, size_t len);
int pl_conn_send_json(pl_conn_t *c, json_t *obj); /* steals obj */
void pl_conn_close(pl_conn_t *c, int code, const char *reason);
void pl_conn_reply_ok(pl_conn_t *c, const char *id, json_t *fields); /* steals fields (may be NULL) */
void pl_conn_reply_err(pl_conn_t *c, const char *id, int err, const char *message);
void pl_conn_authenticated(pl_conn_t *c); /* index for fan-out */

/* ---- requests (ws.c) ---- */
pl_req_t *pl_req_new(pl_conn_t *c, const char *id, const char *type, json_t *params,
                     pl_req_run_fn run);
/* Submits to the storage thread; on failure replies with the error and frees r. */
void pl_req_submit(pl_req_t *r);
/* Replies (unless no_reply), fans out the committed events and frees r: what the worker's done
 * callback does after `after`, for a request `after` parked. */
void pl_req_finish(pl_req_t *r, int status);
void pl_req_free(pl_req_t *r);
/* What every request module's handlers share. pl_req_start: new + submit, -PL_ENOMEM if it
 * could not be made. pl_req_reject: a malformed request, counted as bad input and answered on
 * the loop (returns 0, as handlers do). pl_req_fail_msg: the message a run function's refusal
 * is answered with. pl_req_param_id: an integer field of the request, already validated. */
int pl_req_start(pl_conn_t *c, const char *id, const char *type, json_t *params,
                 pl_req_run_fn run);
int pl_req_reject(pl_conn_t *c, const char *id, int rc, const pl_perr_t *e);
void pl_req_fail_msg(pl_req_t *r, const char *msg);
int64_t pl_req_param_id(const pl_req_t *r, const char *name);
/* Appends a new event to conv (payload borrowed) and its fan-out record to events: the one
 * place that decides who an event is for (the practice, an advice thread's service, a case
 * discussion's members, the patient). */
int pl_event_append(pl_store_t *st, const pl_conv_t *conv, bool staff_only, const char *type,
                    json_t *payload, int64_t now, json_t *events);
/* The conversation as authz needs it for this actor: on a case discussion's thread, whether
 * they are a member with access now. */
int pl_conv_resource_for(pl_store_t *st, const pl_actor_t *actor, const pl_conv_t *conv,
                         int64_t now, pl_resource_t *res);
/* Appends a new event inside a run function (payload stolen) and records it for fan-out. */
int pl_req_event(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, bool staff_only,
                 const char *type, json_t *payload /* stolen */);

/* ---- the audit trail, for every handler (ws.c) ----
 * Each row says who acted (user, the role they acted in, the organisation they acted for), on
 * what, with what outcome, when and from where. A request that fails with -PL_EPERM is rolled
 * back with everything it wrote, so ws.c records the refusal afterwards in a job of its own
 * (outcome "denied", the resource as far as the request's parameters name it). */

/* The organisation actor acted for on something belonging to org (and peer, a second
 * organisation such as an advice request's service; 0 if none): whichever of the two they are a
 * member of, else the one organisation they belong to, else 0 (patients and guests act for
 * none). */
int64_t pl_audit_org_for(const pl_actor_t *a, int64_t org, int64_t peer);
/* The role actor acted in at org_id, as text: "patient"; a guest's role ("interpreter");
 * staff's roles there joined with ',' ("gp,practice_admin"), "" when none. */
void pl_audit_role(const pl_actor_t *a, int64_t org_id, char *out, size_t cap);
/* Appends one row for actor a through pl_store_audit_ex, role filled from a at org_id (which
 * is kept only for staff: patients and guests act for no organisation). Strings borrowed;
 * outcome NULL means "ok". 0 or a store error. */
int pl_audit_actor(pl_store_t *st, const pl_actor_t *a, int64_t org_id, const char *action,
                   const char *resource_type, int64_t resource_id, int64_t patient_id,
                   const char *outcome, const char *ip, const char *user_agent,
                   const char *request_id, int64_t now);
/* pl_audit_actor for the request's actor, address, user agent, request id and time, outcome
 * ok; org_id the organisation that holds the resource (narrowed by pl_audit_org_for). */
int pl_req_audit(pl_store_t *st, const pl_req_t *r, const char *action, const char *resource_type,
                 int64_t resource_id, int64_t patient_id, int64_t org_id);
/* Records, in its own job, that c's actor was refused request type (params borrowed: only the
 * ids in it are read). Nothing for a connection without an actor. */
void pl_req_audit_denied(pl_conn_t *c, const pl_actor_t *a, const char *id, const char *type,
                         json_t *params);

/* ---- dispatch table (handlers.c) ---- */
typedef int (*pl_handler_fn)(pl_conn_t *c, const char *id, json_t *req);
/* A module's request types and their handlers; PL_HANDLER_IN looks one up (NULL if absent). */
typedef struct {
    const char *type;
    pl_handler_fn fn;
} pl_handler_entry_t;
pl_handler_fn pl_handler_in(const pl_handler_entry_t *table, size_t n, const char *type);
#define PL_HANDLER_IN(table, type) pl_handler_in(table, sizeof(table) / sizeof((table)[0]), type)
pl_handler_fn pl_handler_find(const char *type);
/* Types a session that must still enrol TOTP may use. */
bool pl_handler_allowed_before_totp(const char *type);

/* ---- events.c ---- */
void pl_events_fanout(pl_server_t *srv, json_t *events); /* borrowed array */
void pl_events_typing(pl_server_t *srv, const pl_conv_t *conv, const pl_actor_t *who,
                      bool typing);

/* ---- cluster.c ---- */
/* Starts listening to the other nodes when the bus option is set (0 and nothing otherwise);
 * head is the newest cursor when this node started: the tail fans out what comes after. */
int pl_cluster_start(pl_server_t *srv, int64_t head);
/* After the worker has drained. */
void pl_cluster_stop(pl_server_t *srv);
/* Events a request committed (borrowed): fanned out here alone, or through the cluster's log. */
void pl_events_committed(pl_server_t *srv, json_t *events);
/* Someone typing: to this node's connections and, in a cluster, the other nodes'. */
void pl_cluster_typing(pl_server_t *srv, const pl_conv_t *conv, const pl_actor_t *who,
                       bool typing);
/* This node's name in the cluster, or NULL alone. */
const char *pl_cluster_node(const pl_server_t *srv);
/* The bus, or NULL alone. */
struct pl_bus *pl_cluster_bus(const pl_server_t *srv);

/* ---- rooms.c: which node holds a call's media room ---- */
/* status 0: the room is here (pinned to this node); -PL_EMOVED: holder (its node id) holds it,
 * reachable at holder_url; -PL_EUNAVAIL: the bus cannot say now. */
typedef void (*pl_room_pin_cb)(void *ud, int status, const char *holder, const char *holder_url);
/* Pins room to this node, or finds who holds it. cb is called exactly once (at once when this
 * node is alone) unless an error is returned. */
int pl_room_pin(pl_server_t *srv, int64_t room, pl_room_pin_cb cb, void *ud);
void pl_room_renew(pl_server_t *srv, int64_t room);
void pl_room_unpin(pl_server_t *srv, int64_t room);
/* This node is alive, at url: every second (cluster.c). */
void pl_room_heartbeat(pl_server_t *srv, const char *url);
int pl_events_subscribe(pl_conn_t *c, const char *id, int64_t cursor);
/* Wire frame for a stored event, redacted for a patient's eyes if for_patient; new reference. */
json_t *pl_event_frame(json_t *ev, bool for_patient);

/* ---- consult.c ---- */
/* Turns a consultation object (store view) into what its patient may see: staff names without
 * their user ids. In place. */
void pl_consult_patient_view(json_t *consultation);
/* The facts authz needs about k as of now, for actor: on an advice thread, the service and
 * whether an agreement in force shares the patient's identity with it; a case discussion's
 * meeting, whether actor is a member with access. */
int pl_consult_resource(pl_store_t *st, const pl_actor_t *actor, const pl_consult_t *k,
                        int64_t now, pl_resource_t *res);
/* Puts consultation id, as the caller may see it, into r's reply as "consultation". */
int pl_consult_reply(pl_store_t *st, pl_req_t *r, int64_t id);
/* advice_call.c, for consult.book with into_consultation_id: whether the caller may bring
 * patient_id into the advice call `into` (a refusal says why), and, once booked, the event on
 * the thread that says the patient's consultation `booked` is on its way in. */
int pl_consult_bring_check(pl_store_t *st, pl_req_t *r, int64_t into, int64_t patient_id);
int pl_consult_brought(pl_store_t *st, pl_req_t *r, int64_t into, int64_t booked);

/* ---- auth.c ---- */
/* The actor of the session whose token hashes to hash, for the WebSocket and REST alike: live
 * and not idle (an expired one is deleted), a consultation link's scope carried (its patient,
 * or a guest still invited), last_seen moved on. *must_enrol_totp: staff whose organisation
 * requires two-factor sign-in and who have not enrolled. -PL_EAUTH, or a store error. */
int pl_auth_session_actor(pl_store_t *st, const pl_config_t *cfg, const char *hash, int64_t now,
                          pl_actor_t *out, int64_t *expires_at, bool *must_enrol_totp);

/* ---- advice.c ---- */
/* conversation.send calls this in its transaction: a practice message on an advice thread
 * awaiting the GP moves the request back to in progress. */
int pl_advice_on_message(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv);
/* conversation.get calls this on the conversation's JSON: on an advice thread, a reader who may
 * not know who the patient is (authz PL_ACT_IDENTITY) gets {"patient":{"hidden":true}}. */
int pl_advice_conv_view(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, json_t *cj);
/* The facts authz needs about an advice request as of now (PL_RES_ADVICE). */
int pl_advice_resource(pl_store_t *st, const pl_advice_t *a, int64_t now, pl_resource_t *res);
/* For the media integration: records that user_id joined, left or reconnected to the call of
 * consultation_id, as a consult.joined / consult.left / consult.reconnected event on its
 * conversation (visible to the patient and the practice), and fans it out. The caller has
 * already asked authz (PL_RES_CONSULTATION, PL_ACT_JOIN) before letting the user into the call.
 * Fire and forget: it runs on the storage thread and a failure is logged. 0, or -PL_ENOMEM /
 * -PL_EUNAVAIL when it could not be queued. */
int pl_consult_presence(pl_server_t *srv, int64_t consultation_id, int64_t user_id,
                        pl_presence_t what);

/* ---- attach.c, for the housekeeping timer (server.c) ---- */
/* How often uploads never sent are swept: an hour, or half attachment_unsent_ttl_s if that is
 * shorter (so a short TTL, as tests use, is kept to within half its length). */
uint64_t pl_attach_sweep_every_ms(const pl_config_t *cfg);
/* If a sweep is due at now and none is running, queues one on the storage thread: it deletes
 * the uploads older than attachment_unsent_ttl_s that no message carries, and the blobs left
 * with no attachment. Fire and forget: the count is logged and added to the metrics; a failure
 * is logged and the next sweep tries again. */
void pl_attach_sweep_tick(pl_server_t *srv, int64_t now);

/* ---- outbox.c: write-back of filed transcripts to the record system ---- */
/* With record_fhir_url set: reads the bearer token and the TLS files, makes the client, and
 * starts delivering what the outbox holds (what a previous run left pending first). 0 with
 * write-back off; a negative code if a setting is unusable (the server must not start: filings
 * would pile up unsent). Call once the lws context exists. */
int pl_outbox_start(pl_server_t *srv);
/* A filing has just put a Bundle in the outbox: look now rather than at the next pass (every
 * 2 s). Call on the loop once the filing is committed. No-op with write-back off. */
void pl_outbox_kick(pl_server_t *srv);
/* Shutdown, before the worker drains: no new passes; a request in flight is dropped (its entry
 * stays pending and is sent again on the next start). Closes the timers. */
void pl_outbox_stop(pl_server_t *srv);
/* Frees the sender once the loop has run its close callbacks and lws is destroyed. NULL ok. */
void pl_outbox_destroy(pl_server_t *srv);

/* ---- call.c ---- */
typedef struct pl_call pl_call_t;
/* Opens the media port and loads the TURN secret. 0, or a negative code (the server must not
 * start: a practice expecting video would otherwise find out in a consultation). */
int pl_call_start(pl_server_t *srv);
/* Closes every call and the media port. */
void pl_call_stop(pl_server_t *srv);
/* The media counters in Prometheus text (malloc'd, *len set), or NULL when video is off. */
char *pl_call_metrics(pl_server_t *srv, size_t *len);
/* The consultation ended: its media room closes and everyone's media stops; and anyone who
 * came into another's room through it (room_id) leaves that room. */
void pl_call_close(pl_server_t *srv, int64_t consultation_id);

/* ---- http.c ---- */
int pl_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
size_t pl_http_pss_size(void);
/* Copies wsi's User-Agent header into out (cap bytes with the NUL), cut at a UTF-8 character
 * boundary to fit; "" if there is none. For the audit trail (HTTP requests and WebSocket
 * upgrades alike). */
void pl_http_copy_user_agent(struct lws *wsi, char *out, size_t cap);

/* ---- auth.c ---- */
/* Resolves the session for a new WebSocket connection (token hash already in c). */
void pl_auth_resolve_ws(pl_conn_t *c);
void pl_auth_logout_conns(pl_server_t *srv, const char *token_hash);
/* Re-checks in the store that the connection's session still exists (it is deleted by sign-out
 * elsewhere, `parley user disable` and `parley user passwd`); ends the connection if not. */
void pl_auth_recheck(pl_conn_t *c);

/* ---- throttle.c ---- */
/* ---- send_rate.c ---- */
int pl_send_rate_create(pl_send_rate_t **out);
void pl_send_rate_destroy(pl_send_rate_t *r);
/* Whether user_id may send one more message now (taking it). Always true when the limit is off
 * (send_rate_per_min 0). */
bool pl_send_rate_take(pl_send_rate_t *r, const pl_config_t *cfg, int64_t user_id, int64_t now);
/* Forgets people idle for ten minutes (housekeeping). */
void pl_send_rate_expire(pl_send_rate_t *r, int64_t now);

int pl_throttle_create(pl_throttle_t **out);
void pl_throttle_destroy(pl_throttle_t *t);
/* ms to wait before another attempt for key is allowed (0 = allowed now). */
int64_t pl_throttle_wait(pl_throttle_t *t, const char *key, int64_t now);
void pl_throttle_failure(pl_throttle_t *t, const char *key, int64_t now);
void pl_throttle_success(pl_throttle_t *t, const char *key);
void pl_throttle_expire(pl_throttle_t *t, int64_t now);

#endif

/* ---- HTTP requests (http.c) ---- */
#ifndef PL_HTTP_REQ_DECLARED
#define PL_HTTP_REQ_DECLARED
typedef struct pl_http_req pl_http_req_t;
/* Sends the response (JSON body stolen, may be NULL for 204) once the request is still alive;
 * set_cookie may be NULL, or one or more cookies separated by '\n' (each becomes its own
 * Set-Cookie header). Releases the hold taken for async work. */
void pl_http_respond(pl_http_req_t *hr, int status, json_t *body, const char *set_cookie);
void pl_http_respond_err(pl_http_req_t *hr, int err, const char *message);
/* Retry-After for a 429 answer (seconds). */
void pl_http_set_retry_after(pl_http_req_t *hr, int seconds);
const char *pl_http_ip(const pl_http_req_t *hr);
/* The request's User-Agent, cut to PL_UA_MAX - 1 bytes ("" if none), for the audit trail. */
const char *pl_http_user_agent(const pl_http_req_t *hr);
/* Copies the session token from "Authorization: Bearer" or the parley_session cookie.
 * 0 or -PL_EAUTH when absent/malformed. */
int pl_http_token(struct lws *wsi, char *out, size_t cap);
#define PL_SESSION_COOKIE "parley_session"

/* Copies the value of the request's cookie `name` into out. 0, or -PL_ENOTFOUND when absent,
 * empty or longer than cap - 1. */
int pl_http_cookie(pl_http_req_t *hr, const char *name, char *out, size_t cap);

/* auth.c entry points for REST */
void pl_auth_login(pl_server_t *srv, pl_http_req_t *hr, json_t *body);
void pl_auth_logout(pl_server_t *srv, pl_http_req_t *hr, const char *token);
/* consult_join.c: POST /api/v1/join (body borrowed) */
void pl_consult_join(pl_server_t *srv, pl_http_req_t *hr, json_t *body);
#endif
