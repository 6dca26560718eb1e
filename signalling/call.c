/* Video calls: joining a consultation's media room with an SDP offer, ICE restarts, leaving,
 * and the ICE servers (TURN) browsers are handed. The media itself is media/'s; this file keeps
 * which user holds which peer in which consultation, asks authz who may join, and turns media
 * events into the consultation's presence events (consult.joined / left / reconnected).
 *
 * Peers are never freed from inside a media callback: a peer that failed, or whose browser went
 * quiet (consent lapsed) for longer than LEFT_AFTER_MS, is removed by the call timer. */
#include "core/err.h"
#include "core/imap.h"
#include "core/log.h"
#include "core/util.h"
#include "media/media.h"
#include "media/room.h"
#include "media/sdp.h"
#include "signalling/authz.h"
#include "signalling/params.h"
#include "signalling/server_internal.h"
#include "signalling/turn.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEFT_AFTER_MS 30000   /* consent lapsed this long: the person has left */
#define NEVER_CAME_MS 60000   /* joined by signalling, no media this long: give up the peer */
#define OFFER_MAX (64 * 1024) /* a browser offer is 5-10 KiB */

typedef struct member {
    struct member *next;
    int64_t user_id;
    /* The consultation this person joined through: the room's own, or (a patient brought into
     * an advice call) their own consultation held in that room. Presence and pushes name it. */
    int64_t consultation_id;
    bool staff;
    char display_name[128];
    char role[16]; /* as in consultation events: patient, staff, interpreter, carer */
    uint64_t peer_key;
    pl_media_peer_t *peer;
    uint64_t session_id, session_version;
    int64_t created_at, quiet_since;
    bool connected_once, dead;
    bool media_set;          /* the room has this member's offer and answer */
    pl_room_answer_t answer; /* the SSRCs announced at join, re-announced on every re-offer */
} member_t;

struct pl_call {
    struct pl_call *next;
    int64_t consultation_id; /* whose media room this is */
    pl_media_room_t *room;
    member_t *members;
};

/* ---- the registry ---- */

static pl_call_t *call_find(pl_server_t *srv, int64_t consultation_id)
{
    for (pl_call_t *c = srv->calls; c; c = c->next)
        if (c->consultation_id == consultation_id) return c;
    return NULL;
}

static member_t *member_by_key(pl_server_t *srv, uint64_t key, pl_call_t **call)
{
    for (pl_call_t *c = srv->calls; c; c = c->next)
        for (member_t *m = c->members; m; m = m->next)
            if (m->peer_key == key) {
                if (call) *call = c;
                return m;
            }
    return NULL;
}

static void member_free(pl_call_t *c, member_t *m)
{
    member_t **pp = &c->members;
    while (*pp && *pp != m) pp = &(*pp)->next;
    if (*pp) *pp = m->next;
    pl_media_peer_remove(m->peer);
    free(m);
}

static void call_free(pl_server_t *srv, pl_call_t *c)
{
    while (c->members) member_free(c, c->members);
    pl_media_room_destroy(c->room);
    pl_room_unpin(srv, c->consultation_id);
    pl_call_t **pp = &srv->calls;
    while (*pp && *pp != c) pp = &(*pp)->next;
    if (*pp) *pp = c->next;
    free(c);
}

/* ---- media events (inside media callbacks: record, never free) ---- */

/* Who is talking now, to everyone in the call: an ephemeral push like typing (no cursor, not
 * stored). Patients get the name only, as everywhere: staff user ids are the practice's. */
/* Sends an ephemeral event (stolen) to the member's subscribed connections. */
static void push_to(pl_server_t *srv, const member_t *m, json_t *ev)
{
    size_t n = 0;
    void *const *conns = pl_imap_get(srv->by_user, m->user_id, &n);
    for (size_t k = 0; k < n && ev; k++) {
        pl_conn_t *conn = conns[k];
        if (conn->sub != SUB_LIVE) continue;
        pl_conn_send_json(conn, json_pack("{ss sO}", "type", "event", "event", ev));
    }
    json_decref(ev);
}

static void speaker_push(pl_server_t *srv, pl_call_t *c, const member_t *who)
{
    for (member_t *m = c->members; m; m = m->next) {
        if (m->dead) continue;
        json_t *ev = json_pack("{ss sI ss}", "type", "consult.speaker", "consultation_id",
                               (json_int_t)m->consultation_id, "display_name", who->display_name);
        if (ev && (m->staff || !who->staff))
            json_object_set_new(ev, "user_id", json_integer(who->user_id));
        push_to(srv, m, ev);
    }
}

/* Who fills each member's slots (consult.slots: A and B, or up to 7 in a meeting): a push to each member's
 * connections whenever people come or go, so every picture is captioned with the right name.
 * Patients and guests get staff by name only, as everywhere. */
static void slots_push(pl_server_t *srv, pl_call_t *c)
{
    for (member_t *m = c->members; m; m = m->next) {
        if (m->dead || !m->media_set) continue;
        json_t *slots = json_array();
        int n_slots = pl_media_peer_slot_count(m->peer);
        for (int k = 0; k < n_slots; k++) {
            pl_call_t *cc = NULL;
            uint64_t key = pl_media_peer_slot_key(m->peer, k);
            const member_t *o = key ? member_by_key(srv, key, &cc) : NULL;
            json_t *p = o ? json_pack("{ss ss}", "display_name", o->display_name, "role", o->role)
                          : json_null();
            if (o && (m->staff || !o->staff))
                json_object_set_new(p, "user_id", json_integer(o->user_id));
            json_array_append_new(slots, p);
        }
        json_t *ev = json_pack("{ss sI so}", "type", "consult.slots", "consultation_id",
                               (json_int_t)m->consultation_id, "slots", slots);
        push_to(srv, m, ev);
    }
}

static void on_media_event(void *opaque, const pl_media_event_t *ev)
{
    pl_server_t *srv = opaque;
    pl_call_t *c = NULL;
    member_t *m = member_by_key(srv, ev->peer_key, &c);
    if (!m || m->dead) return;
    switch (ev->kind) {
    case PL_MEDIA_EV_CONNECTED:
        m->quiet_since = 0;
        if (!m->connected_once) {
            m->connected_once = true;
            pl_consult_presence(srv, m->consultation_id, m->user_id, PL_CONSULT_JOINED);
        }
        break;
    case PL_MEDIA_EV_RECONNECTED:
        m->quiet_since = 0;
        pl_consult_presence(srv, m->consultation_id, m->user_id, PL_CONSULT_RECONNECTED);
        break;
    case PL_MEDIA_EV_DISCONNECTED:
        m->quiet_since = (int64_t)uv_now(srv->loop);
        break;
    case PL_MEDIA_EV_FAILED:
        m->dead = true;
        break;
    case PL_MEDIA_EV_ACTIVE_SPEAKER:
        speaker_push(srv, c, m);
        break;
    }
}

static void call_timer_cb(uv_timer_t *t)
{
    pl_server_t *srv = t->data;
    int64_t now = (int64_t)uv_now(srv->loop);
    for (pl_call_t *c = srv->calls, *cn; c; c = cn) {
        cn = c->next;
        bool freed = false;
        for (member_t *m = c->members, *mn; m; m = mn) {
            mn = m->next;
            bool gone = m->dead || (m->quiet_since && now - m->quiet_since > LEFT_AFTER_MS) ||
                        (!m->connected_once && now - m->created_at > NEVER_CAME_MS);
            if (!gone) continue;
            if (m->connected_once)
                pl_consult_presence(srv, m->consultation_id, m->user_id, PL_CONSULT_LEFT);
            member_free(c, m);
            freed = true;
        }
        if (!c->members) {
            call_free(srv, c);
        } else {
            if (freed) slots_push(srv, c);
            pl_room_renew(srv, c->consultation_id); /* still held here (rooms.c) */
        }
    }
}

/* ---- lifecycle ---- */

int pl_call_start(pl_server_t *srv)
{
    const pl_config_t *cfg = srv->cfg;
    if (cfg->turn_secret_file[0]) {
        int rc = pl_turn_load_secret(cfg->turn_secret_file, srv->turn_secret, &srv->turn_secret_len);
        if (rc < 0) {
            pl_log_error("call", "turn_secret_file %s: %s (it must exist, be mode 0600 and hold "
                         "one line)", cfg->turn_secret_file, pl_strerror(rc));
            return rc;
        }
    }
    int rc = pl_media_create(srv->loop, cfg->bind[0] ? cfg->bind : "0.0.0.0", cfg->media_ip,
                             cfg->media_port, on_media_event, srv, &srv->media);
    if (rc < 0) {
        pl_log_error("call", "media: cannot listen on UDP %s:%d: %s", cfg->bind, cfg->media_port,
                     pl_strerror(rc));
        return rc;
    }
    uv_timer_init(srv->loop, &srv->call_timer);
    srv->call_timer.data = srv;
    uv_timer_start(&srv->call_timer, call_timer_cb, 1000, 1000);
    pl_log_info("call", "media on udp %s:%d, advertised as %s", cfg->bind, pl_media_port(srv->media),
                cfg->media_ip);
    return 0;
}

void pl_call_stop(pl_server_t *srv)
{
    if (!srv->media) return;
    while (srv->calls) call_free(srv, srv->calls);
    uv_timer_stop(&srv->call_timer);
    uv_close((uv_handle_t *)&srv->call_timer, NULL);
    pl_media_destroy(srv->media);
    srv->media = NULL;
    pl_wipe(srv->turn_secret, sizeof srv->turn_secret);
}

void pl_call_close(pl_server_t *srv, int64_t consultation_id)
{
    pl_call_t *c = call_find(srv, consultation_id);
    if (c) call_free(srv, c);
    /* Those who joined another's room through this consultation leave it. */
    for (pl_call_t *cc = srv->calls, *cn; cc; cc = cn) {
        cn = cc->next;
        bool freed = false;
        for (member_t *m = cc->members, *mn; m; m = mn) {
            mn = m->next;
            if (m->consultation_id != consultation_id) continue;
            member_free(cc, m);
            freed = true;
        }
        if (!cc->members) call_free(srv, cc);
        else if (freed) slots_push(srv, cc);
    }
}

char *pl_call_metrics(pl_server_t *srv, size_t *len)
{
    *len = 0;
    if (!srv->media) return NULL;
    pl_media_stats_t st;
    pl_media_stats(srv->media, &st);
    size_t calls = 0, peers = 0;
    for (pl_call_t *c = srv->calls; c; c = c->next) {
        calls++;
        for (member_t *m = c->members; m; m = m->next) peers++;
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } rows[] = {
#define R(n, f, h) {n, h, offsetof(pl_media_stats_t, f)}
        R("datagrams_in", datagrams_in, "UDP datagrams received on the media port"),
        R("datagrams_out", datagrams_out, "UDP datagrams sent from the media port"),
        R("send_failures", send_failures, "datagrams dropped because the socket was full"),
        R("unknown_source", unknown_source, "datagrams from no known peer (ufrag or 5-tuple)"),
        R("stun_refused", stun_refused, "STUN checks refused: bad integrity, unknown username, "
                                        "malformed"),
        R("dtls_unknown_tuple", dtls_unknown_tuple, "DTLS from an address that never passed an "
                                                    "ICE check"),
        R("fingerprint_mismatches", fingerprint_mismatches, "browsers whose DTLS certificate did "
                                                              "not match their SDP fingerprint"),
        R("srtp_auth_failures", srtp_auth_failures, "SRTP/SRTCP packets failing authentication"),
        R("srtp_replays", srtp_replays, "SRTP/SRTCP packets refused as replays"),
        R("rtp_forwarded", rtp_forwarded, "RTP packets forwarded to subscribers"),
        R("truncated", truncated, "datagrams too large for the receive buffer"),
        R("rtp_unknown_ssrc", rtp_unknown_ssrc, "RTP from a peer with an SSRC it never announced"),
        R("nack_received", nack_received, "sequence numbers subscribers asked to have resent"),
        R("nack_answered_from_ring", nack_answered_from_ring, "... resent from the server's "
                                                               "retransmission ring"),
        R("nack_sent_upstream", nack_sent_upstream, "sequence numbers asked of publishers"),
        R("pli_relayed", pli_relayed, "keyframe requests passed from subscribers to publishers"),
        R("keyframe_requests", keyframe_requests, "keyframe requests the server made itself"),
        R("remb_sent", remb_sent, "bandwidth estimates (REMB) sent to publishers"),
        R("sr_sent", sr_sent, "RTCP sender reports sent to subscribers"),
        R("rr_sent", rr_sent, "RTCP receiver reports sent to publishers"),
#undef R
    };
    size_t cap = 8192;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        unsigned long long v = *(const uint64_t *)((const char *)&st + rows[i].off);
        n += (size_t)snprintf(out + n, cap - n,
                              "# HELP parley_media_%s_total %s.\n# TYPE parley_media_%s_total "
                              "counter\nparley_media_%s_total %llu\n",
                              rows[i].name, rows[i].help, rows[i].name, rows[i].name, v);
        if (n >= cap) {
            free(out);
            return NULL;
        }
    }
    n += (size_t)snprintf(out + n, cap - n,
                          "# HELP parley_media_join_refused_total consult.join refused: not the "
                          "consultation's patient nor its practice's staff.\n"
                          "# TYPE parley_media_join_refused_total counter\n"
                          "parley_media_join_refused_total %llu\n",
                          (unsigned long long)srv->call_join_refused);
    if (n >= cap) {
        free(out);
        return NULL;
    }
    n += (size_t)snprintf(out + n, cap - n,
                          "# HELP parley_media_calls Consultations with a live media room.\n"
                          "# TYPE parley_media_calls gauge\nparley_media_calls %zu\n"
                          "# HELP parley_media_peers Browsers in those rooms.\n"
                          "# TYPE parley_media_peers gauge\nparley_media_peers %zu\n"
                          "# HELP parley_media_socket_receive_buffer_bytes The media socket's "
                          "receive buffer as the kernel reports it (Linux: twice the bytes "
                          "granted).\n# TYPE parley_media_socket_receive_buffer_bytes gauge\n"
                          "parley_media_socket_receive_buffer_bytes %llu\n"
                          "# HELP parley_media_socket_send_buffer_bytes The media socket's send "
                          "buffer, likewise.\n# TYPE parley_media_socket_send_buffer_bytes "
                          "gauge\nparley_media_socket_send_buffer_bytes %llu\n",
                          calls, peers, (unsigned long long)st.rcvbuf_bytes,
                          (unsigned long long)st.sndbuf_bytes);
    if (n >= cap) {
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

/* ---- ICE servers ---- */

static json_t *ice_servers(pl_server_t *srv)
{
    json_t *arr = json_array();
    const pl_config_t *cfg = srv->cfg;
    if (!cfg->turn_urls[0] || !srv->turn_secret_len) return arr;
    uint8_t r[6];
    if (pl_random_bytes(r, sizeof r) < 0) return arr;
    char label[16];
    snprintf(label, sizeof label, "p%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
    pl_turn_cred_t cred;
    if (pl_turn_credentials(srv->turn_secret, srv->turn_secret_len, label, pl_now_ms() / 1000,
                            cfg->turn_ttl_s, &cred) < 0)
        return arr;
    json_t *urls = json_array();
    char buf[sizeof cfg->turn_urls];
    snprintf(buf, sizeof buf, "%s", cfg->turn_urls);
    char *save = NULL;
    for (char *u = strtok_r(buf, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ') u++;
        if (*u) json_array_append_new(urls, json_string(u));
    }
    json_array_append_new(arr, json_pack("{so ss ss}", "urls", urls, "username", cred.username,
                                         "credential", cred.credential));
    return arr;
}

/* RTCPeerConnection's iceTransportPolicy: "relay" makes browsers use TURN only. */
static const char *policy(const pl_server_t *srv)
{
    return srv->cfg->media_force_relay && srv->turn_secret_len ? "relay" : "all";
}

static int h_ice_servers(pl_conn_t *c, const char *id, json_t *req)
{
    (void)req;
    pl_conn_reply_ok(c, id, json_pack("{so ss}", "ice_servers", ice_servers(c->srv),
                                      "ice_transport_policy", policy(c->srv)));
    return 0;
}

/* ---- consult.join / consult.reoffer / consult.leave ---- */

/* A consultation held in another's room (a patient brought into an advice call) joins that
 * room, while that call lasts. r->i2 gets the room's consultation. Under an agreement that does
 * not share who the patient is, the others' captions say "Patient". */
static int room_for_join(pl_store_t *st, pl_req_t *r, const pl_consult_t *k)
{
    r->i2 = k->id;
    /* How many people the room takes: a case discussion's meeting, its members. */
    r->i3 = k->case_id ? PL_CASE_MAX_MEMBERS : PL_CONSULT_CAPACITY;
    if (!k->room_id) return 0;
    pl_consult_t room;
    pl_resource_t res;
    int rc = pl_store_consult_get(st, k->room_id, &room);
    if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
    if (rc == 0 && (rc = pl_consult_resource(st, &r->actor, &room, r->now, &res)) < 0) return rc;
    if (rc == -PL_ENOTFOUND || strcmp(room.status, "in_call") != 0) {
        json_object_set_new(r->result, "error_message", json_string("this call has ended"));
        return -PL_ECONFLICT;
    }
    if (room.peer_org_id && !res.identity_shared)
        snprintf(r->actor.display_name, sizeof r->actor.display_name, "Patient");
    r->i2 = room.id;
    return 0;
}

static int load_for_join(pl_store_t *st, pl_req_t *r)
{
    pl_consult_t k;
    pl_resource_t res;
    int64_t kid = json_integer_value(json_object_get(r->params, "consultation_id"));
    int rc = pl_store_consult_get(st, kid, &k);
    if (rc == -PL_ENOTFOUND) {
        json_object_set_new(r->result, "error_message", json_string("no such consultation"));
        return rc;
    }
    if (rc < 0 || (rc = pl_consult_resource(st, &r->actor, &k, r->now, &res)) < 0) return rc;
    if (pl_authz_check(&r->actor, &res, PL_ACT_JOIN) < 0) {
        json_object_set_new(r->result, "error_message",
                            json_string("you do not have access to this consultation"));
        return -PL_EPERM;
    }
    const char *why = NULL;
    if (strcmp(k.status, "ended") == 0 || strcmp(k.status, "cancelled") == 0)
        why = "this consultation is over";
    else if (r->actor.kind == PL_USER_PATIENT && strcmp(k.status, "in_call") != 0)
        why = "wait to be admitted: the clinician will let you in";
    else if (r->actor.kind == PL_USER_GUEST) {
        /* A guest is admitted on its own, and only while still invited. */
        pl_consult_part_t part;
        rc = pl_store_consult_part_get(st, k.id, r->actor.user_id, &part);
        if (rc < 0 && rc != -PL_ENOTFOUND) return rc;
        if (rc < 0 || !part.invited) {
            json_object_set_new(r->result, "error_message",
                                json_string("you do not have access to this consultation"));
            return -PL_EPERM;
        }
        if (!part.admitted_at) why = "wait to be admitted: the clinician will let you in";
    }
    if (why) {
        json_object_set_new(r->result, "error_message", json_string(why));
        return -PL_ECONFLICT;
    }
    return room_for_join(st, r, &k);
}

static void fail(pl_req_t *r, int err, const char *msg)
{
    r->no_reply = true;
    if (r->conn && r->conn->wsi) pl_conn_reply_err(r->conn, r->id, err, msg);
}

static int write_answer(pl_server_t *srv, member_t *m, pl_sdp_offer_t *offer, char **answer,
                        pl_sdp_error_t *err, bool may_screen)
{
    pl_sdp_answer_params_t p = {0};
    /* The room decides what Parley sends into each fixed slot (media/README.md). A re-offer
     * keeps the first answer's SSRCs: the room goes on sending them. */
    if (!m->media_set) {
        int rc = pl_room_answer_prepare(offer, may_screen, &m->answer);
        if (rc < 0) return rc;
    }
    pl_room_answer_apply(&m->answer, &p);
    p.session_id = m->session_id;
    p.session_version = ++m->session_version;
    p.ice_ufrag = pl_media_peer_ufrag(m->peer);
    p.ice_pwd = pl_media_peer_pwd(m->peer);
    if (pl_dtls_fingerprint_parse(pl_media_fingerprint(srv->media), p.fingerprint) < 0)
        return -PL_EINTERNAL;
    p.candidate_ip = pl_media_advertised_ip(srv->media);
    p.candidate_port = (uint16_t)pl_media_port(srv->media);
    pl_sdp_negotiated_t *neg = malloc(sizeof *neg); /* large: not on the stack */
    if (!neg) return -PL_ENOMEM;
    int rc = pl_sdp_answer_create(offer, &p, answer, neg, err);
    if (rc == 0 && !m->media_set) {
        rc = pl_media_peer_set_media(m->peer, offer, neg, may_screen);
        if (rc == 0) m->media_set = true;
        else {
            free(*answer);
            *answer = NULL;
        }
    }
    free(neg);
    return rc;
}

static void fp_string(const uint8_t fp[32], char out[PL_DTLS_FP_STR_LEN])
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 32; i++) {
        out[i * 3] = hex[fp[i] >> 4];
        out[i * 3 + 1] = hex[fp[i] & 15];
        out[i * 3 + 2] = i == 31 ? 0 : ':';
    }
}

static void clear_presence(pl_server_t *srv, int64_t room);

static void join_here(pl_req_t *r, int status)
{
    pl_sdp_offer_t *offer = (pl_sdp_offer_t *)(intptr_t)r->i1;
    r->i1 = 0;
    pl_server_t *srv = r->srv;
    if (status == -PL_EPERM) srv->call_join_refused++;
    if (status < 0 || !srv->media) {
        if (status == 0) fail(r, -PL_EUNAVAIL, "video is not available on this server");
        pl_sdp_offer_destroy(offer);
        return;
    }
    int64_t via = json_integer_value(json_object_get(r->params, "consultation_id"));
    int64_t kid = r->i2; /* the room's consultation: via's own, or the one via is held in */
    bool reoffer = strcmp(r->type, "consult.reoffer") == 0;
    const pl_sdp_session_t *ses = pl_sdp_offer_session(offer);
    pl_call_t *c = call_find(srv, kid);
    member_t *m = NULL;
    if (c)
        for (member_t *x = c->members; x; x = x->next)
            if (x->user_id == r->actor.user_id && !x->dead) m = x;
    int rc = 0;
    if (reoffer) {
        if (!m) {
            fail(r, -PL_ECONFLICT, "you are not in this call: join it first");
            pl_sdp_offer_destroy(offer);
            return;
        }
        rc = pl_media_peer_restart_ice(m->peer, ses->ice_ufrag, ses->ice_pwd);
    } else {
        if (!c) {
            c = calloc(1, sizeof *c);
            if (!c || pl_media_room_create(srv->media, (uint64_t)kid, &c->room) < 0 ||
                pl_media_room_set_capacity(c->room, (int)r->i3) < 0) {
                if (c && c->room) pl_media_room_destroy(c->room);
                free(c);
                fail(r, -PL_ENOMEM, "out of memory");
                pl_sdp_offer_destroy(offer);
                return;
            }
            c->consultation_id = kid;
            c->next = srv->calls;
            srv->calls = c;
            clear_presence(srv, kid);
        }
        /* A second join by the same person (a reloaded page, a second device) replaces the
         * first: one person, one place in the call. */
        if (m) member_free(c, m);
        int others = 0;
        for (member_t *x = c->members; x; x = x->next) others += !x->dead;
        if (others >= r->i3) {
            if (!c->members) call_free(srv, c);
            char full[64];
            if (r->i3 == PL_CONSULT_CAPACITY)
                snprintf(full, sizeof full, "the call is full: it has room for three people");
            else
                snprintf(full, sizeof full, "the call is full: it has room for %d people", (int)r->i3);
            fail(r, -PL_ECONFLICT, full);
            pl_sdp_offer_destroy(offer);
            return;
        }
        m = calloc(1, sizeof *m);
        char fp[PL_DTLS_FP_STR_LEN];
        fp_string(ses->fingerprint, fp);
        if (m) {
            m->user_id = r->actor.user_id;
            m->consultation_id = via;
            m->staff = r->actor.kind == PL_USER_STAFF;
            snprintf(m->display_name, sizeof m->display_name, "%s", r->actor.display_name);
            snprintf(m->role, sizeof m->role, "%s", pl_actor_role(&r->actor));
            m->peer_key = ++srv->next_peer_key;
            m->created_at = (int64_t)uv_now(srv->loop);
            pl_random_bytes((uint8_t *)&m->session_id, sizeof m->session_id);
            m->session_id >>= 2; /* o= session ids are decimal and should fit 63 bits */
            rc = pl_media_peer_add(c->room, m->peer_key, ses->ice_ufrag, ses->ice_pwd, fp,
                                   &m->peer);
            if (rc == 0) {
                m->next = c->members;
                c->members = m;
            } else {
                free(m);
                m = NULL;
            }
        } else {
            rc = -PL_ENOMEM;
        }
    }
    char *answer = NULL;
    pl_sdp_error_t err = {0};
    if (rc == 0)
        rc = write_answer(srv, m, offer, &answer, &err, r->actor.kind == PL_USER_STAFF);
    pl_sdp_offer_destroy(offer);
    if (rc < 0) {
        if (m && !reoffer) member_free(c, m);
        if (c && !c->members) call_free(srv, c);
        char msg[160];
        snprintf(msg, sizeof msg, "the offer cannot be answered: %s",
                 err.what ? err.what : pl_strerror(rc));
        fail(r, rc == -PL_ENOMEM ? rc : -PL_EINVAL, msg);
        return;
    }
    json_object_set_new(r->result, "answer", json_string(answer));
    json_object_set_new(r->result, "ice_servers", ice_servers(srv));
    json_object_set_new(r->result, "ice_transport_policy", json_string(policy(srv)));
    free(answer);
    if (!reoffer) slots_push(srv, c);
}

typedef struct {
    pl_job_t job;
    int64_t room;
} clear_t;

static int clear_run(pl_store_t *st, pl_job_t *job)
{
    return pl_store_consult_presence_clear_room(st, ((clear_t *)job)->room);
}

static void clear_done(pl_job_t *job, int status)
{
    if (status < 0) pl_log_warn("call", "could not clear a room's presence: %s", pl_strerror(status));
    free(job);
}

/* A room opening on this node of a cluster may have been held by a node that died with people
 * in it: they are in no call now (a single node does this for every room when it starts). */
static void clear_presence(pl_server_t *srv, int64_t room)
{
    clear_t *c = srv->cluster ? calloc(1, sizeof *c) : NULL;
    if (!c) return;
    c->room = room;
    if (pl_worker_submit(srv->worker, &c->job, clear_run, clear_done) < 0) free(c);
}

/* The room's node is known (rooms.c): here, or another one the client must go to. */
static void pinned(void *ud, int status, const char *holder, const char *url)
{
    pl_req_t *r = ud;
    if (status == 0) {
        join_here(r, 0);
        pl_req_finish(r, 0);
        return;
    }
    pl_sdp_offer_destroy((pl_sdp_offer_t *)(intptr_t)r->i1);
    r->i1 = 0;
    r->no_reply = true;
    if (r->conn && r->conn->wsi) {
        if (status == -PL_EMOVED)
            pl_conn_send_json(r->conn, json_pack("{ss sb s{ss ss s{ss ss}}}", "id", r->id, "ok", 0,
                                                 "error", "code", pl_err_code(status), "message",
                                                 "this call is held by another server: connect "
                                                 "there and join again",
                                                 "node", "id", holder, "url", url));
        else
            pl_conn_reply_err(r->conn, r->id, status,
                              "the server holding this call cannot be found just now: try again");
    }
    pl_req_finish(r, 0);
}

/* In a cluster a room lives on one node: a join that would open it here first makes sure no
 * other node has it (rooms.c). */
static void join_after(pl_req_t *r, int status)
{
    pl_server_t *srv = r->srv;
    if (status == 0 && srv->media && srv->cluster && strcmp(r->type, "consult.reoffer") != 0 &&
        !call_find(srv, r->i2)) {
        r->parked = true;
        if (pl_room_pin(srv, r->i2, pinned, r) == 0) return;
        r->parked = false;
        pl_sdp_offer_destroy((pl_sdp_offer_t *)(intptr_t)r->i1);
        r->i1 = 0;
        fail(r, -PL_EUNAVAIL, "the server holding this call cannot be found just now: try again");
        return;
    }
    join_here(r, status);
}

static int h_join(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t kid;
    const char *sdp;
    int rc;
    const char *type = json_string_value(json_object_get(req, "type"));
    if ((rc = pl_param_int(req, "consultation_id", 1, INT64_MAX, false, 0, &kid, &e)) < 0 ||
        (rc = pl_param_str(req, "offer", 1, OFFER_MAX, false, &sdp, &e)) < 0) {
        pl_conn_reply_err(c, id, rc, e.msg);
        return 0;
    }
    /* The offer is checked on the loop before the store is asked anything: a malformed or
     * unusable offer costs nothing more. */
    pl_sdp_offer_t *offer = NULL;
    pl_sdp_error_t err = {0};
    rc = pl_sdp_offer_parse((const uint8_t *)sdp, strlen(sdp), &offer, &err);
    if (rc < 0) {
        c->srv->metrics.bad_input++;
        char msg[160];
        snprintf(msg, sizeof msg, "offer is not usable SDP (line %d: %s)", err.line,
                 err.what ? err.what : "malformed");
        pl_conn_reply_err(c, id, rc, msg);
        return 0;
    }
    pl_req_t *r = pl_req_new(c, id, type, req, load_for_join);
    if (!r) {
        pl_sdp_offer_destroy(offer);
        return -PL_ENOMEM;
    }
    r->i1 = (int64_t)(intptr_t)offer;
    r->after = join_after;
    pl_req_submit(r);
    return 0;
}

static int h_leave(pl_conn_t *c, const char *id, json_t *req)
{
    pl_perr_t e;
    int64_t kid;
    int rc = pl_param_int(req, "consultation_id", 1, INT64_MAX, false, 0, &kid, &e);
    if (rc < 0) {
        pl_conn_reply_err(c, id, rc, e.msg);
        return 0;
    }
    /* By the consultation the person joined through, which may be held in another's room. */
    pl_call_t *call = NULL;
    member_t *m = NULL;
    for (pl_call_t *cc = c->srv->calls; cc && !m; cc = cc->next)
        for (member_t *x = cc->members; x; x = x->next)
            if (x->user_id == c->actor.user_id && x->consultation_id == kid) {
                m = x;
                call = cc;
            }
    if (!m) {
        pl_conn_reply_err(c, id, -PL_ENOTFOUND, "you are not in this call");
        return 0;
    }
    if (m->connected_once)
        pl_consult_presence(c->srv, kid, m->user_id, PL_CONSULT_LEFT);
    member_free(call, m);
    if (!call->members) call_free(c->srv, call);
    else slots_push(c->srv, call);
    pl_conn_reply_ok(c, id, NULL);
    return 0;
}

/* Exported to handlers.c's table. */
pl_handler_fn pl__call_handler(const char *type);
pl_handler_fn pl__call_handler(const char *type)
{
    static const pl_handler_entry_t table[] = {
        {"consult.join", h_join},
        {"consult.reoffer", h_join},
        {"consult.leave", h_leave},
        {"media.ice_servers", h_ice_servers},
    };
    return PL_HANDLER_IN(table, type);
}
