/* WebSocket connections: receive and reassemble frames, enforce the size cap and the
 * per-connection rate limit, decode each message and dispatch it to its handler, queue replies
 * and events for sending, and carry requests through the storage thread.
 * A connection is reference counted: the socket holds one reference and every request in flight
 * holds one, so a reply that arrives after the client left is dropped, never written to freed
 * memory. */
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXQ_MAX_BYTES (4u << 20) /* a client this far behind is not reading: drop it */
#define LWS_WRITE_CLOSE_ 4         /* lws's own value for a Close frame (lws-write.h) */

pl_conn_t *pl_conn_create(pl_server_t *srv, struct lws *wsi)
{
    pl_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = srv;
    c->wsi = wsi;
    c->refs = 1;
    c->id = ++srv->next_conn_id;
    c->tokens = srv->cfg->rate_limit_burst;
    c->tokens_at_ns = pl_mono_ns();
    lws_get_peer_simple(wsi, c->ip, sizeof c->ip);
    pl_http_copy_user_agent(wsi, c->user_agent, sizeof c->user_agent);
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->metrics.connections++;
    srv->metrics.connections_total++;
    return c;
}

static void free_txq(pl_conn_t *c)
{
    for (pl_frame_t *f = c->txq; f;) {
        pl_frame_t *n = f->next;
        free(f);
        f = n;
    }
    c->txq = c->txq_tail = NULL;
    c->txq_bytes = 0;
}

static void unindex(pl_conn_t *c)
{
    if (!c->authed) return;
    pl_imap_remove(c->srv->by_user, c->actor.user_id, c);
    if (c->actor.kind == PL_USER_GUEST)
        pl_imap_remove(c->srv->guests, c->actor.scope_consultation_id, c);
    if (c->actor.kind == PL_USER_STAFF)
        for (int i = 0; i < c->actor.n_orgs; i++)
            pl_imap_remove(c->srv->by_org, c->actor.orgs[i].org_id, c);
}

void pl_conn_authenticated(pl_conn_t *c)
{
    c->authed = true;
    pl_imap_add(c->srv->by_user, c->actor.user_id, c);
    if (c->actor.kind == PL_USER_GUEST)
        pl_imap_add(c->srv->guests, c->actor.scope_consultation_id, c);
    if (c->actor.kind == PL_USER_STAFF)
        for (int i = 0; i < c->actor.n_orgs; i++)
            pl_imap_add(c->srv->by_org, c->actor.orgs[i].org_id, c);
}

void pl_conn_closed(pl_conn_t *c)
{
    pl_server_t *srv = c->srv;
    unindex(c);
    c->authed = false;
    c->wsi = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->metrics.connections--;
    free_txq(c);
    free(c->rx);
    c->rx = NULL;
    pl_wipe(c->token_hash, sizeof c->token_hash);
    pl_conn_release(c);
}

void pl_conn_release(pl_conn_t *c)
{
    if (--c->refs > 0) return;
    free(c);
}

int pl_conn_send(pl_conn_t *c, const char *data, size_t len)
{
    if (!c->wsi || c->close_code) return -PL_EUNAVAIL;
    if (c->txq_bytes + len > TXQ_MAX_BYTES) {
        /* A client this far behind is not reading: a polite close would wait behind the queue
         * it never drains, so drop the queue and the socket now. */
        pl_log_warn("ws", "conn %llu not reading; dropping it", (unsigned long long)c->id);
        free_txq(c);
        c->close_code = 1008;
        snprintf(c->close_reason, sizeof c->close_reason, "not reading");
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return -PL_ETOOBIG;
    }
    pl_frame_t *f = malloc(sizeof *f + LWS_PRE + len);
    if (!f) return -PL_ENOMEM;
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, data, len);
    if (c->txq_tail)
        c->txq_tail->next = f;
    else
        c->txq = f;
    c->txq_tail = f;
    c->txq_bytes += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

int pl_conn_send_json(pl_conn_t *c, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) return -PL_ENOMEM;
    int rc = pl_conn_send(c, s, strlen(s));
    free(s);
    return rc;
}

void pl_conn_close(pl_conn_t *c, int code, const char *reason)
{
    if (!c->wsi || c->close_code) return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

int pl_conn_writeable(pl_conn_t *c)
{
    pl_frame_t *f = c->txq;
    if (f) {
        int n = lws_write(c->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
        if (n < (int)f->len) return -1;
        c->txq = f->next;
        if (!c->txq) c->txq_tail = NULL;
        c->txq_bytes -= f->len;
        free(f);
        /* One write per callback: the close frame, if any, goes in the next one. */
        if (c->txq || c->close_code) lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_code && !c->close_sent && !c->peer_closed) {
        /* lws 4.1 drops the socket without a Close frame when a callback just returns -1, so
         * write the frame (code + reason, RFC 6455 5.5.1) ourselves, then hang up. */
        unsigned char buf[LWS_PRE + 2 + sizeof c->close_reason];
        size_t rl = strlen(c->close_reason);
        buf[LWS_PRE] = (unsigned char)(c->close_code >> 8);
        buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
        memcpy(buf + LWS_PRE + 2, c->close_reason, rl);
        c->close_sent = true;
        lws_write(c->wsi, buf + LWS_PRE, 2 + rl, (enum lws_write_protocol)LWS_WRITE_CLOSE_);
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    return c->close_code ? -1 : 0;
}

void pl_conn_reply_ok(pl_conn_t *c, const char *id, json_t *fields)
{
    json_t *o = fields && json_is_object(fields) ? fields : json_object();
    if (fields && o != fields) json_decref(fields);
    json_object_set_new(o, "id", id ? json_string(id) : json_null());
    json_object_set_new(o, "ok", json_true());
    pl_conn_send_json(c, o);
}

void pl_conn_reply_err(pl_conn_t *c, const char *id, int err, const char *message)
{
    pl_conn_send_json(c, json_pack("{so sb s{ss ss}}", "id", id ? json_string(id) : json_null(),
                                   "ok", 0, "error", "code", pl_err_code(err), "message",
                                   message ? message : pl_strerror(err)));
}

/* Token bucket: refill at rate_limit_per_sec up to rate_limit_burst. */
static bool rate_ok(pl_conn_t *c)
{
    const pl_config_t *cfg = c->srv->cfg;
    uint64_t now = pl_mono_ns();
    c->tokens += (double)(now - c->tokens_at_ns) / 1e9 * cfg->rate_limit_per_sec;
    if (c->tokens > cfg->rate_limit_burst) c->tokens = cfg->rate_limit_burst;
    c->tokens_at_ns = now;
    if (c->tokens < 1) return false;
    c->tokens -= 1;
    return true;
}

static int touch_run(pl_store_t *st, pl_req_t *r)
{
    int rc = pl_store_session_touch(st, json_string_value(json_object_get(r->params, "h")), r->now);
    return rc == -PL_ENOTFOUND ? -PL_EAUTH : rc;
}

static void touch_after(pl_req_t *r, int status)
{
    pl_conn_t *c = r->conn;
    if (status != -PL_EAUTH || !c->wsi) return;
    pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "session.ended", "error", "code",
                                   "unauthorised", "message", "session ended: sign in again"));
    pl_conn_close(c, 4401, "session ended");
}

/* Activity keeps a session alive: in memory at once, in the store at most once a minute (so a
 * reconnect after a busy hour is not refused as idle, without a write per message). */
static bool session_live(pl_conn_t *c)
{
    int64_t now = pl_now_ms();
    if (now >= c->session_expires_at || now >= c->session_idle_deadline) return false;
    c->session_idle_deadline = now + (int64_t)c->srv->cfg->session_idle_timeout_s * 1000;
    if (now - c->session_touched_at > 60000) {
        c->session_touched_at = now;
        pl_req_t *r = pl_req_new(c, NULL, "session.touch", NULL, touch_run);
        if (r) {
            r->params = json_pack("{ss}", "h", c->token_hash);
            r->no_reply = true;
            r->after = touch_after;
            pl_req_submit(r);
        }
    }
    return true;
}

static void dispatch(pl_conn_t *c, const char *buf, size_t len)
{
    pl_server_t *srv = c->srv;
    json_error_t jerr;
    json_t *req = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req || !json_is_object(req)) {
        srv->metrics.bad_input++;
        pl_conn_reply_err(c, NULL, -PL_EINVAL, req ? "a request must be a JSON object"
                                                   : "malformed JSON");
        json_decref(req);
        return;
    }
    json_t *jid = json_object_get(req, "id"), *jtype = json_object_get(req, "type");
    const char *id = json_string_value(jid);
    if (!id || strlen(id) == 0 || strlen(id) > 64) {
        srv->metrics.bad_input++;
        pl_conn_reply_err(c, NULL, -PL_EINVAL, "id must be a string of 1 to 64 characters");
        json_decref(req);
        return;
    }
    if (!json_is_string(jtype)) {
        srv->metrics.bad_input++;
        pl_conn_reply_err(c, id, -PL_EINVAL, "type must be a string");
        json_decref(req);
        return;
    }
    const char *type = json_string_value(jtype);
    if (!rate_ok(c)) {
        srv->metrics.rate_limited++;
        pl_conn_reply_err(c, id, -PL_ERATE, "slow down");
        if (++c->strikes > 1000) pl_conn_close(c, 1008, "rate limit");
        json_decref(req);
        return;
    }
    c->strikes = 0;
    if (!session_live(c)) {
        srv->metrics.auth_failures++;
        pl_conn_reply_err(c, id, -PL_EAUTH, "session expired");
        pl_conn_close(c, 4401, "session expired");
        json_decref(req);
        return;
    }
    pl_handler_fn fn = pl_handler_find(type);
    if (!fn) {
        srv->metrics.bad_input++;
        pl_conn_reply_err(c, id, -PL_EUNKNOWN_TYPE, "unknown message type");
        json_decref(req);
        return;
    }
    if (c->must_enrol_totp && !pl_handler_allowed_before_totp(type)) {
        pl_conn_reply_err(c, id, -PL_ETOTP, "your practice requires two-factor sign-in: "
                                            "enrol with totp.enrol first");
        json_decref(req);
        return;
    }
    srv->metrics.requests++;
    int rc = fn(c, id, req);
    if (rc < 0) {
        if (rc == -PL_EINVAL) srv->metrics.bad_input++;
        pl_conn_reply_err(c, id, rc, NULL);
        if (rc == -PL_EPERM) pl_req_audit_denied(c, &c->actor, id, type, req);
    }
    json_decref(req);
}

int pl_conn_receive(pl_conn_t *c, const void *in, size_t len, bool first, bool final,
                    bool binary)
{
    size_t cap = (size_t)c->srv->cfg->max_frame_bytes;
    if (first) {
        c->rx_len = 0;
        c->rx_discard = false;
        /* The usual case, a whole message in one piece, is parsed where it lies: no copy, and
         * no buffer kept per connection. */
        if (final && len <= cap && !binary) {
            if (c->authed) dispatch(c, in, len);
            return 0;
        }
    }
    if (!c->rx_discard && c->rx_len + len > cap) {
        /* Over the hard cap: drop the rest of this message but keep the connection. */
        c->rx_discard = true;
        c->rx_len = 0;
    }
    if (!c->rx_discard) {
        if (c->rx_len + len > c->rx_cap) {
            size_t ncap = c->rx_len + len < 4096 ? 4096 : (c->rx_len + len) * 2;
            if (ncap > cap) ncap = cap;
            char *nb = realloc(c->rx, ncap);
            if (!nb) return -1;
            c->rx = nb;
            c->rx_cap = ncap;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!final) return 0;
    if (c->rx_discard) {
        c->srv->metrics.bad_input++;
        pl_conn_reply_err(c, NULL, -PL_ETOOBIG, "message over the size limit");
        c->rx_discard = false;
    } else if (binary) {
        c->srv->metrics.bad_input++;
        pl_conn_reply_err(c, NULL, -PL_EINVAL, "binary frames are not accepted");
    } else if (c->authed) { /* rx is paused until the session resolves */
        dispatch(c, c->rx, c->rx_len);
    }
    /* Fragmented messages are rare: do not keep their buffer. */
    free(c->rx);
    c->rx = NULL;
    c->rx_cap = c->rx_len = 0;
    return 0;
}

/* ---- requests through the storage thread ---- */

int pl_req_start(pl_conn_t *c, const char *id, const char *type, json_t *params,
                 pl_req_run_fn run)
{
    pl_req_t *r = pl_req_new(c, id, type, params, run);
    if (!r) return -PL_ENOMEM;
    pl_req_submit(r);
    return 0;
}

int pl_req_reject(pl_conn_t *c, const char *id, int rc, const pl_perr_t *e)
{
    c->srv->metrics.bad_input++;
    pl_conn_reply_err(c, id, rc, e->msg);
    return 0;
}

void pl_req_fail_msg(pl_req_t *r, const char *msg)
{
    json_object_set_new(r->result, "error_message", json_string(msg));
}

int64_t pl_req_param_id(const pl_req_t *r, const char *name)
{
    return json_integer_value(json_object_get(r->params, name));
}

pl_req_t *pl_req_new(pl_conn_t *c, const char *id, const char *type, json_t *params,
                     pl_req_run_fn run)
{
    pl_req_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->conn = c;
    r->srv = c->srv;
    c->refs++;
    snprintf(r->id, sizeof r->id, "%s", id ? id : "");
    snprintf(r->type, sizeof r->type, "%s", type);
    r->actor = c->actor;
    snprintf(r->ip, sizeof r->ip, "%s", c->ip);
    memcpy(r->user_agent, c->user_agent, sizeof r->user_agent);
    r->now = pl_now_ms();
    r->params = params ? json_incref(params) : NULL;
    r->run = run;
    return r;
}

void pl_req_free(pl_req_t *r)
{
    if (!r) return;
    json_decref(r->params);
    json_decref(r->result);
    json_decref(r->events);
    if (r->conn) pl_conn_release(r->conn);
    free(r);
}

static int req_run(pl_store_t *st, pl_job_t *job)
{
    pl_req_t *r = (pl_req_t *)job;
    json_decref(r->result);
    json_decref(r->events);
    r->result = json_object();
    r->events = json_array();
    int rc = r->run(st, r);
    if (rc < 0) {
        json_array_clear(r->events);
    }
    return rc;
}

static void req_done(pl_job_t *job, int status)
{
    pl_req_t *r = (pl_req_t *)job;
    if (status < 0) json_array_clear(r->events);
    if (r->after) r->after(r, status);
    /* after has more to do first (asked another node): it calls pl_req_finish itself. */
    if (r->parked) return;
    pl_req_finish(r, status);
}

void pl_req_finish(pl_req_t *r, int status)
{
    r->parked = false;
    /* The refused request's own writes were rolled back: the refusal is written on its own. */
    if (status == -PL_EPERM && !r->no_reply && r->conn)
        pl_req_audit_denied(r->conn, &r->actor, r->id, r->type, r->params);
    if (!r->no_reply && r->conn && r->conn->wsi) {
        if (status < 0) {
            const char *msg = json_string_value(json_object_get(r->result, "error_message"));
            pl_conn_reply_err(r->conn, r->id, status, msg);
        } else {
            pl_conn_reply_ok(r->conn, r->id, json_incref(r->result));
        }
    }
    if (status == 0 && json_array_size(r->events)) pl_events_committed(r->srv, r->events);
    pl_req_free(r);
}

void pl_req_submit(pl_req_t *r)
{
    int rc;
    /* Past this the store cannot keep up: refusing now (the client retries with the same txn_id)
     * beats letting every acknowledgement wait behind an ever longer queue. */
    if (r->srv->worker && !r->no_reply &&
        pl_worker_pending(r->srv->worker) >= r->srv->cfg->max_store_queue) {
        r->srv->metrics.rate_limited++;
        if (r->conn && r->conn->wsi)
            pl_conn_reply_err(r->conn, r->id, -PL_EUNAVAIL, "server busy: retry shortly");
        pl_req_free(r);
        return;
    }
    rc = pl_worker_submit(r->srv->worker, &r->job, req_run, req_done);
    if (rc < 0) {
        if (r->conn && r->conn->wsi && !r->no_reply) pl_conn_reply_err(r->conn, r->id, rc, NULL);
        pl_req_free(r);
    }
}

int pl_event_append(pl_store_t *st, const pl_conv_t *conv, bool staff_only, const char *type,
                    json_t *payload, int64_t now, json_t *events)
{
    int64_t id = 0;
    /* An advice thread is between professionals: its events go to the practice and the
     * service (peer_org_id), and carry no patient, so they never reach the patient. A case
     * discussion's go to its members only (audience), and likewise carry no patient. */
    int64_t patient = conv->peer_org_id || conv->case_id ? 0 : conv->patient_id;
    int rc = pl_store_event_append_peer(st, conv->id, conv->org_id, conv->peer_org_id, patient,
                                        staff_only, type, payload, now, &id);
    json_t *audience = NULL;
    if (rc == 0 && conv->case_id) {
        int64_t ids[PL_CASE_MAX_MEMBERS];
        int n = 0;
        if ((rc = pl_store_event_set_case(st, id, conv->case_id)) == 0)
            rc = pl_store_case_audience(st, conv->case_id, now, ids, PL_CASE_MAX_MEMBERS, &n);
        audience = json_array();
        for (int i = 0; rc == 0 && i < n; i++) json_array_append_new(audience, json_integer(ids[i]));
    }
    if (rc == 0) {
        json_t *ev = json_pack("{sI sI sI sI sI sb ss sO sI}", "cursor", (json_int_t)id,
                               "conversation_id", (json_int_t)conv->id, "org_id",
                               (json_int_t)conv->org_id, "peer_org_id",
                               (json_int_t)conv->peer_org_id, "patient_id", (json_int_t)patient,
                               "staff_only", staff_only, "type", type, "payload", payload, "at",
                               (json_int_t)now);
        if (ev && conv->case_id) {
            json_object_set_new(ev, "case_id", json_integer(conv->case_id));
            json_object_set(ev, "audience", audience);
        }
        json_array_append_new(events, ev);
    }
    json_decref(audience);
    return rc;
}

int pl_req_event(pl_store_t *st, pl_req_t *r, const pl_conv_t *conv, bool staff_only,
                 const char *type, json_t *payload)
{
    int rc = pl_event_append(st, conv, staff_only, type, payload, r->now, r->events);
    json_decref(payload);
    return rc;
}

int pl_conv_resource_for(pl_store_t *st, const pl_actor_t *actor, const pl_conv_t *conv,
                         int64_t now, pl_resource_t *res)
{
    *res = pl_conv_resource(conv);
    if (!conv->case_id) return 0;
    bool member = false;
    int rc = pl_store_case_member(st, conv->case_id, actor->user_id, now, &member);
    res->case_member = member;
    return rc;
}

/* ---- the audit trail ---- */

int64_t pl_audit_org_for(const pl_actor_t *a, int64_t org, int64_t peer)
{
    if (a->kind != PL_USER_STAFF) return 0;
    if (org && pl_authz_roles_at(a, org)) return org;
    if (peer && pl_authz_roles_at(a, peer)) return peer;
    return a->n_orgs == 1 ? a->orgs[0].org_id : 0;
}

void pl_audit_role(const pl_actor_t *a, int64_t org_id, char *out, size_t cap)
{
    out[0] = 0;
    if (a->kind == PL_USER_PATIENT) {
        snprintf(out, cap, "patient");
        return;
    }
    if (a->kind == PL_USER_GUEST) {
        snprintf(out, cap, "%s", a->guest_role);
        return;
    }
    unsigned roles = org_id ? pl_authz_roles_at(a, org_id) : 0;
    size_t n = 0;
    for (int i = 0; i < PL_ROLE_COUNT; i++) {
        const char *name = (roles & (1u << i)) ? pl_role_name(1u << i) : NULL;
        if (!name) continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", name);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
}

int pl_audit_actor(pl_store_t *st, const pl_actor_t *a, int64_t org_id, const char *action,
                   const char *resource_type, int64_t resource_id, int64_t patient_id,
                   const char *outcome, const char *ip, const char *user_agent,
                   const char *request_id, int64_t now)
{
    char role[128];
    int64_t org = a->kind == PL_USER_STAFF ? org_id : 0;
    pl_audit_role(a, org, role, sizeof role);
    pl_audit_rec_t rec = {.at = now,
                          .actor_id = a->user_id,
                          .role = role[0] ? role : NULL,
                          .org_id = org,
                          .action = action,
                          .resource_type = resource_type,
                          .resource_id = resource_id,
                          .patient_id = patient_id,
                          .outcome = outcome,
                          .ip = ip,
                          .user_agent = user_agent && user_agent[0] ? user_agent : NULL,
                          .request_id = request_id};
    return pl_store_audit_ex(st, &rec);
}

int pl_req_audit(pl_store_t *st, const pl_req_t *r, const char *action, const char *resource_type,
                 int64_t resource_id, int64_t patient_id, int64_t org_id)
{
    return pl_audit_actor(st, &r->actor, pl_audit_org_for(&r->actor, org_id, 0), action,
                          resource_type, resource_id, patient_id, NULL, r->ip, r->user_agent,
                          r->id, r->now);
}

/* What a refused request was about, from the first of these ids its parameters carry. */
static const struct {
    const char *param, *type;
} denied_ids[] = {
    {"conversation_id", "conversation"}, {"consultation_id", "consultation"},
    {"advice_id", "advice"},             {"case_id", "case"},
    {"attachment_id", "attachment"},     {"template_id", "template"},
    {"agreement_id", "agreement"},       {"patient_id", "patient"},
    {"org_id", "org"},
};

/* Finds the patient and organisation of what the refused request named, so the refusal shows
 * in that patient's trail; what cannot be found stays 0. */
static void denied_facts(pl_store_t *st, const char *type, int64_t id, int64_t *patient,
                         int64_t *org, int64_t *peer)
{
    if (!strcmp(type, "conversation")) {
        pl_conv_t c;
        if (pl_store_conv_get(st, id, &c) == 0)
            *patient = c.patient_id, *org = c.org_id, *peer = c.peer_org_id;
    } else if (!strcmp(type, "consultation")) {
        pl_consult_t k;
        if (pl_store_consult_get(st, id, &k) == 0)
            *patient = k.patient_id, *org = k.org_id, *peer = k.peer_org_id;
    } else if (!strcmp(type, "advice")) {
        pl_advice_t a;
        if (pl_store_advice_get(st, id, &a) == 0)
            *patient = a.patient_id, *org = a.practice_id, *peer = a.service_id;
    } else if (!strcmp(type, "case")) {
        pl_case_t k;
        if (pl_store_case_get(st, id, &k) == 0) *patient = k.patient_id, *org = k.org_id;
    } else if (!strcmp(type, "patient")) {
        pl_actor_t p;
        if (pl_store_actor_load(st, id, &p) == 0 && p.kind == PL_USER_PATIENT)
            *patient = id, *org = p.practice_id;
    } else if (!strcmp(type, "org")) {
        *org = id;
    }
}

static int denied_run(pl_store_t *st, pl_req_t *r)
{
    const char *rtype = "request";
    int64_t rid = 0, patient = 0, org = 0, peer = 0;
    for (size_t i = 0; r->params && i < sizeof denied_ids / sizeof denied_ids[0]; i++) {
        json_t *v = json_object_get(r->params, denied_ids[i].param);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) continue;
        rtype = denied_ids[i].type;
        rid = json_integer_value(v);
        denied_facts(st, rtype, rid, &patient, &org, &peer);
        break;
    }
    return pl_audit_actor(st, &r->actor, pl_audit_org_for(&r->actor, org, peer), r->type, rtype,
                          rid, patient, "denied", r->ip, r->user_agent, r->id, r->now);
}

void pl_req_audit_denied(pl_conn_t *c, const pl_actor_t *a, const char *id, const char *type,
                         json_t *params)
{
    if (!a || a->user_id <= 0 || !type) return;
    pl_req_t *r = pl_req_new(c, id, type, params, denied_run);
    if (!r) return;
    r->actor = *a;
    r->no_reply = true;
    pl_req_submit(r);
}
