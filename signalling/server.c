/* The server's front: builds the libwebsockets context on the process's libuv loop (foreign
 * loop mode, so one loop runs HTTP, WebSocket, timers, storage completions and later media),
 * wires the two protocols (plain HTTP and the "parley.v1" WebSocket) and runs graceful shutdown.
 *
 * WebSocket authentication: the session token comes in the handshake (Authorization: Bearer or
 * the parley_session cookie). The connection is accepted, its reads are paused until the
 * storage thread has resolved the session, and then it gets session.ready, or session.error and
 * close code 4401. Tokens never travel in URLs. */
#include "core/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "signalling/server_internal.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUSEKEEPING_MS 10000

typedef struct {
    pl_conn_t *conn;
    char token_hash[65];
    bool has_token;
} ws_pss_t;

static bool origin_ok(struct lws *wsi)
{
    char origin[256], host[256], want[300];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0) return true; /* native */
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0) return false;
    snprintf(want, sizeof want, "https://%s", host);
    return strcmp(origin, want) == 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ws_pss_t *pss = user;
    pl_server_t *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (srv->shutting_down || !origin_ok(wsi)) return 1;
        char token[128];
        pss->has_token = pl_http_token(wsi, token, sizeof token) == 0;
        if (pss->has_token) pl_token_hash(token, pss->token_hash);
        pl_wipe(token, sizeof token);
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        pl_conn_t *c = pl_conn_create(srv, wsi);
        if (!c) return -1;
        pss->conn = c;
        if (srv->metrics.connections > srv->cfg->max_connections) {
            pl_conn_close(c, 1013, "server full");
            return 0;
        }
        if (!pss->has_token) {
            srv->metrics.auth_failures++;
            pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "session.error", "error",
                                           "code", "unauthorised", "message",
                                           "no session token: sign in first"));
            pl_conn_close(c, 4401, "unauthorised");
            return 0;
        }
        memcpy(c->token_hash, pss->token_hash, sizeof c->token_hash);
        pl_wipe(pss->token_hash, sizeof pss->token_hash);
        lws_rx_flow_control(wsi, 0);
        pl_auth_resolve_ws(c);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        if (!pss->conn) return -1;
        return pl_conn_receive(pss->conn, in, len, lws_is_first_fragment(wsi) != 0,
                               lws_is_final_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? pl_conn_writeable(pss->conn) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* lws echoes the client's Close. A Close of our own after that would be a second one,
         * which browsers report as a protocol error ("Close received after close"). */
        if (!pss->conn) return 0;
        pss->conn->peer_closed = true;
        return pss->conn->close_sent ? 1 : 0; /* ours already went: just hang up */
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            pl_conn_closed(pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

/* libwebsockets' own diagnostics go through our JSON logger like everything else. */
static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    buf[strcspn(buf, "\n")] = 0;
    pl_log(level == LLL_ERR ? PL_LOG_ERROR : PL_LOG_WARN, "lws", NULL, "%s", buf);
}

static void housekeeping_cb(uv_timer_t *t)
{
    pl_server_t *srv = t->data;
    int64_t now = pl_now_ms();
    pl_throttle_expire(srv->throttle, now);
    pl_send_rate_expire(srv->send_rate, now);
    /* Uploads never sent: on the storage thread, at the first tick and then hourly at most. */
    pl_attach_sweep_tick(srv, now);
    for (pl_conn_t *c = srv->conns; c; c = c->next) {
        if (!c->authed || c->close_code) continue;
        if (now >= c->session_expires_at || now >= c->session_idle_deadline) {
            pl_conn_send_json(c, json_pack("{ss s{ss ss}}", "type", "session.ended", "error",
                                           "code", "unauthorised", "message",
                                           "session expired: sign in again"));
            pl_conn_close(c, 4401, "session expired");
        } else if (now - c->session_checked_at >= (int64_t)srv->cfg->session_recheck_s * 1000) {
            /* Idle connections still receive events: make sure their session still exists. */
            c->session_checked_at = now;
            pl_auth_recheck(c);
        }
    }
}

int pl_server_create(pl_server_t **out, uv_loop_t *loop, const pl_config_t *cfg)
{
    pl_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return -PL_ENOMEM;
    srv->loop = loop;
    srv->cfg = cfg;
    srv->store_ok = true;
    int rc = pl_datadir_prepare(cfg->data_dir);
    if (rc == 0) rc = pl_datadir_read_key(cfg->data_dir, srv->data_key);
    char url[700];
    pl_config_store_url(cfg, url, sizeof url);
    if (rc == 0) rc = pl_store_open(&srv->store, url, srv->data_key);
    bool sqlite = strncmp(url, "sqlite:", 7) == 0;
    /* SQLite finds the audit signing key beside its file; a shared store's is in our data
     * directory (the same key on every node). */
    char ak[1100];
    pl_datadir_path(cfg->data_dir, PL_DATADIR_AUDIT_KEY, ak, sizeof ak);
    if (rc == 0 && !sqlite && access(ak, F_OK) == 0)
        rc = pl_store_audit_set_signing_key(srv->store, ak);
    /* Calls live in this process: whoever the last run left "present" is in no call now. In a
     * cluster the other nodes' calls go on: a node's own are ended when its rooms move
     * (cluster.c). */
    if (rc == 0 && !cfg->bus[0]) rc = pl_store_consult_presence_reset(srv->store);
    int64_t head = 0;
    if (rc == 0 && cfg->bus[0]) rc = pl_store_events_head(srv->store, &head);
    if (rc == 0) rc = pl_imap_create(&srv->by_user);
    if (rc == 0) rc = pl_imap_create(&srv->by_org);
    if (rc == 0) rc = pl_imap_create(&srv->guests);
    if (rc == 0) rc = pl_throttle_create(&srv->throttle);
    if (rc == 0) rc = pl_send_rate_create(&srv->send_rate);
    if (rc == 0) rc = pl_worker_create(&srv->worker, loop, srv->store, &srv->metrics);
    if (rc < 0) {
        pl_log_error("server", "start-up failed: %s", pl_strerror(rc));
        pl_server_destroy(srv);
        return rc;
    }

    static const struct lws_protocols protocols_tmpl[] = {
        {"http", NULL, 0, 0, 0, NULL, 0},
        {"parley.v1", NULL, sizeof(ws_pss_t), 4096, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    static struct lws_protocols protocols[3];
    memcpy(protocols, protocols_tmpl, sizeof protocols);
    protocols[0].callback = pl_http_callback;
    protocols[0].per_session_data_size = pl_http_pss_size();
    protocols[1].callback = ws_callback;

    char crt[1024], key[1024];
    pl_datadir_path(cfg->data_dir, "tls.crt", crt, sizeof crt);
    pl_datadir_path(cfg->data_dir, "tls.key", key, sizeof key);
    /* Ping a WebSocket quiet for 30 s; hang up one with no answer for 70 s (dead phones,
     * half-open NATs). */
    static const lws_retry_bo_t idle_policy = {.secs_since_valid_ping = 30,
                                               .secs_since_valid_hangup = 70};
    void *foreign[1] = {loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = cfg->bind[0] ? cfg->bind : NULL;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    info.ssl_cert_filepath = crt;
    info.ssl_private_key_filepath = key;
    /* Mozilla's "intermediate" profile: TLS 1.2 and 1.3 only, forward-secret AEAD suites.
     * What a patient's older phone still speaks, and nothing weaker. */
    info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    info.ssl_cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                           "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                           "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                           "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
                           "DHE-RSA-CHACHA20-POLY1305";
    info.tls1_3_plus_cipher_list =
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
    info.user = srv;
    info.timeout_secs = (unsigned)cfg->http_timeout_s;
    info.timeout_secs_ah_idle = (unsigned)cfg->http_timeout_s;
    info.max_http_header_data = 4096;
    /* HTTP/1.1 only. A browser that negotiates h2 opens its WebSocket over HTTP/2 (RFC 8441),
     * which this libwebsockets build refuses with a stream error, and h2 requests carry
     * :authority instead of the Host header the same-site rules compare against. */
    info.alpn = "http/1.1";
    info.pcontext = &srv->lws;
    info.retry_and_idle_policy = &idle_policy;
    info.gid = -1;
    info.uid = -1;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    srv->lws = lws_create_context(&info);
    /* lws 4.1 can return a context whose default vhost failed to bind: check it is listening. */
    if (srv->lws && !lws_get_vhost_by_name(srv->lws, "default")) {
        lws_context_destroy(srv->lws);
        srv->lws = NULL;
    }
    if (!srv->lws) {
        pl_log_error("server", "could not listen on %s:%d", cfg->bind, cfg->port);
        pl_server_destroy(srv);
        return -PL_EIO;
    }
    if (pl_cluster_start(srv, head) < 0) {
        pl_server_destroy(srv);
        return -PL_EINVAL;
    }
    if (pl_call_start(srv) < 0) {
        pl_server_destroy(srv);
        return -PL_EIO;
    }
    /* Write-back to the record system: a setting it cannot use stops the server here. */
    if (pl_outbox_start(srv) < 0) {
        pl_server_destroy(srv);
        return -PL_EINVAL;
    }
    uv_timer_init(loop, &srv->housekeeping);
    srv->housekeeping.data = srv;
    uint64_t every = (uint64_t)cfg->session_recheck_s * 1000;
    if (every > HOUSEKEEPING_MS) every = HOUSEKEEPING_MS;
    /* A short attachment_unsent_ttl_s (tests) sweeps more often than the tick would allow. */
    if (every > pl_attach_sweep_every_ms(cfg)) every = pl_attach_sweep_every_ms(cfg);
    uv_timer_start(&srv->housekeeping, housekeeping_cb, every, every);
    pl_log_info("server", "listening on https://%s:%d (store %s%s)", cfg->bind, cfg->port,
                sqlite ? "sqlite" : "postgresql", srv->cluster ? ", cluster" : "");
    *out = srv;
    return 0;
}

static void destroy_lws(uv_timer_t *t)
{
    pl_server_t *srv = t->data;
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    if (srv->lws) lws_context_destroy(srv->lws);
}

void pl_server_shutdown(pl_server_t *srv)
{
    if (srv->shutting_down) return;
    srv->shutting_down = true;
    pl_log_info("server", "shutting down: finishing store work and closing connections");
    /* Before the drain: the outbox's jobs come back during it and must start nothing new. */
    pl_outbox_stop(srv);
    /* Everything queued is committed and answered before the sockets close. */
    pl_worker_t *w = srv->worker;
    srv->worker = NULL;
    pl_worker_destroy(w);
    uv_timer_stop(&srv->housekeeping);
    uv_close((uv_handle_t *)&srv->housekeeping, NULL);
    pl_call_stop(srv); /* before the bus goes: its rooms' leases are handed back */
    pl_cluster_stop(srv);
    for (pl_conn_t *c = srv->conns; c; c = c->next) pl_conn_close(c, 1001, "server restarting");
    /* Give the close frames and queued replies a moment to leave, then tear lws down. */
    uv_timer_t *t = malloc(sizeof *t);
    if (!t) {
        lws_context_destroy(srv->lws);
        return;
    }
    uv_timer_init(srv->loop, t);
    t->data = srv;
    uv_timer_start(t, destroy_lws, 300, 0);
}

void pl_server_destroy(pl_server_t *srv)
{
    if (!srv) return;
    pl_call_stop(srv);
    pl_outbox_stop(srv);
    if (srv->lws) lws_context_destroy(srv->lws);
    if (srv->worker) {
        pl_worker_t *w = srv->worker;
        srv->worker = NULL;
        pl_worker_destroy(w);
    }
    pl_cluster_stop(srv);
    pl_outbox_destroy(srv);
    pl_store_close(srv->store);
    pl_imap_destroy(srv->by_user);
    pl_imap_destroy(srv->guests);
    pl_imap_destroy(srv->by_org);
    pl_throttle_destroy(srv->throttle);
    pl_send_rate_destroy(srv->send_rate);
    pl_wipe(srv->data_key, sizeof srv->data_key);
    free(srv);
}
