/* The cluster bus's connections: URL parsing, the two hiredis async connections on the libuv loop
 * (commands, and a subscriber, since a subscribed Redis connection takes no other commands),
 * reconnect with backoff, pub/sub and the up/down state reported to the owner (see bus.h).
 * Shared state and leases are in bus_kv.c.
 *
 * hiredis 0.14 lifetimes drive the shape:
 * - hiredis frees a context itself after a failed connect (connect callback with REDIS_ERR, no
 *   disconnect callback) and after a disconnect (disconnect callback): we forget the pointer in
 *   those callbacks and never touch it again.
 * - Freeing a context from inside its connect callback is a use-after-free in hiredis, so no
 *   listener callback (which may destroy the bus) runs from there: "up" is reported from a reply
 *   callback (SELECT, SUBSCRIBE), where hiredis defers a free, or from the kick timer.
 * - Every connection callback finds the bus through ac->data, and destroy clears ac->data first,
 *   so whatever hiredis runs while freeing a context after destroy is ignored.
 * - The 0.14 libuv adapter ignores poll errors, and libuv reports a refused connect as one (and
 *   stops the handle), so a refused connect would hang for ever: we keep the adapter's handle and
 *   cleanup but replace its event hooks with ones that pass errors on to hiredis. A connect
 *   deadline covers hosts that never answer. */
#include "core/err.h"
#include "core/log.h"
#include "signalling/bus_internal.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "bus"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CHANNEL_MAX 256
#define CONNECT_TIMEOUT_MS 3000

/* ---- URL ---------------------------------------------------------------------------------- */

/* Parses 1..maxdigits decimal digits at *p into *out (<= max), advancing *p. */
static int parse_uint(const char **p, int maxdigits, long max, long *out)
{
    const char *s = *p;
    long v = 0;
    int n = 0;
    while (*s >= '0' && *s <= '9') {
        if (++n > maxdigits) return -PL_EINVAL;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (n == 0 || v > max) return -PL_EINVAL;
    *out = v;
    *p = s;
    return 0;
}

static bool host_ok(const char *h, size_t n)
{
    if (n == 0 || n > PL_BUS_HOST_MAX || h[0] == '-' || h[0] == '.' || h[n - 1] == '.' ||
        h[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok || (c == '.' && h[i + 1] == '.')) return false;
    }
    return true;
}

int pl_bus_parse_url(const char *url, pl_bus_url_t *out)
{
    static const char scheme[] = "redis://";
    memset(out, 0, sizeof *out);
    if (!url || strnlen(url, PL_BUS_URL_MAX + 1) > PL_BUS_URL_MAX ||
        strncmp(url, scheme, sizeof scheme - 1) != 0)
        return -PL_EINVAL;
    const char *h = url + sizeof scheme - 1;
    const char *colon = strchr(h, ':');
    if (!colon || !host_ok(h, (size_t)(colon - h))) return -PL_EINVAL;
    const char *p = colon + 1;
    long port = 0, db = 0;
    if (parse_uint(&p, 5, 65535, &port) < 0 || port == 0) return -PL_EINVAL;
    if (*p == '/') {
        p++;
        if (parse_uint(&p, 4, 9999, &db) < 0) return -PL_EINVAL;
    }
    if (*p != '\0') return -PL_EINVAL;
    memcpy(out->host, h, (size_t)(colon - h));
    out->host[colon - h] = '\0';
    out->port = (int)port;
    out->db = (int)db;
    return 0;
}

/* ---- state -------------------------------------------------------------------------------- */

redisAsyncContext *pl_bus__cmd(pl_bus_t *b)
{
    return (b && !b->closing && b->cmd_ready) ? b->cmd : NULL;
}

static void schedule_retry(pl_bus_t *b);
static void on_kick(uv_timer_t *t);

/* Called by each event that can complete "fully working"; reports up=true each time it does
 * (a late SUBSCRIBE confirmed while up reports it again: the owner catches up, cheaply). */
static void check_up(pl_bus_t *b)
{
    if (b->closing || !b->cmd_ready || !b->sub_ready || b->sub_pending > 0) return;
    if (!b->up) {
        b->up = true;
        b->warned = false;
        b->backoff_ms = BACKOFF_MIN_MS;
        pl_log_info(TAG, "connected to redis at %s:%d (%zu channels)", b->url.host, b->url.port,
                    b->n_channels);
    }
    if (b->l.state) b->l.state(b->l.ud, true);
}

static void went_down(pl_bus_t *b, const char *why)
{
    if (b->closing) return;
    if (b->up) {
        b->up = false;
        b->warned = true;
        pl_log_warn(TAG, "lost redis at %s:%d (%s); reconnecting", b->url.host, b->url.port, why);
        if (b->l.state) b->l.state(b->l.ud, false);
    } else if (!b->warned) {
        b->warned = true;
        pl_log_warn(TAG, "redis at %s:%d unreachable (%s); retrying", b->url.host, b->url.port,
                    why);
    }
    schedule_retry(b);
}

/* ---- subscriber connection ---------------------------------------------------------------- */

static void sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    pl_bus_t *b = ac->data;
    redisReply *rep = r;
    if (!b || b->closing || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3) return;
    redisReply *kind = rep->element[0], *chan = rep->element[1], *body = rep->element[2];
    if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING) return;
    if (strcmp(kind->str, "message") == 0 && body->type == REDIS_REPLY_STRING) {
        if (b->l.message) b->l.message(b->l.ud, chan->str, body->str, body->len);
    } else if (strcmp(kind->str, "subscribe") == 0 && b->sub_pending > 0) {
        if (--b->sub_pending == 0) {
            b->sub_ready = true;
            check_up(b);
        }
    }
}

static int send_subscribe(pl_bus_t *b, const char *channel)
{
    if (redisAsyncCommand(b->sub, sub_reply, NULL, "SUBSCRIBE %s", channel) != REDIS_OK)
        return -PL_EUNAVAIL;
    b->sub_pending++;
    return 0;
}

static void on_sub_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    pl_bus_t *b = ac->data;
    if (!b) return;
    if (status != REDIS_OK) {
        b->sub = NULL; /* hiredis frees it when we return */
        went_down(b, "subscriber connect failed");
        return;
    }
    b->sub_connected = true;
    b->sub_ready = false;
    b->sub_pending = 0;
    for (size_t i = 0; i < b->n_channels; i++)
        send_subscribe(b, b->channels[i]);
    if (b->n_channels == 0) uv_timer_start(&b->kick, on_kick, 0, 0);
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    pl_bus_t *b = ac->data;
    if (!b) return;
    b->sub = NULL;
    b->sub_connected = b->sub_ready = false;
    b->sub_pending = 0;
    went_down(b, "subscriber disconnected");
}

/* ---- command connection ------------------------------------------------------------------- */

static void cmd_selected(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    pl_bus_t *b = ac->data;
    redisReply *rep = r;
    if (!b || b->closing || !rep) return; /* a lost connection is reported by on_cmd_disconnect */
    if (rep->type == REDIS_REPLY_ERROR) {
        /* A db the server does not have: commands would land in the wrong place. */
        pl_log_error(TAG, "redis SELECT %d refused; check the bus URL", b->url.db);
        return;
    }
    b->cmd_ready = true;
    check_up(b);
}

static void on_cmd_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    pl_bus_t *b = ac->data;
    if (!b) return;
    if (status != REDIS_OK) {
        b->cmd = NULL;
        went_down(b, "connect failed");
        return;
    }
    b->cmd_connected = true;
    /* Queued now, answered before anything else: ready only once Redis has replied. */
    if (redisAsyncCommand(ac, cmd_selected, NULL, "SELECT %d", b->url.db) != REDIS_OK)
        pl_log_error(TAG, "could not queue SELECT");
}

static void on_cmd_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    pl_bus_t *b = ac->data;
    if (!b) return;
    b->cmd = NULL;
    b->cmd_connected = b->cmd_ready = false;
    went_down(b, "disconnected");
}

/* ---- connecting --------------------------------------------------------------------------- */

/* Poll callback for the replaced hooks: as the adapter's, but an error (POLLERR: a refused
 * connect, a reset) goes to hiredis, whose next read or write sees it and fails the context. */
static void on_poll(uv_poll_t *h, int status, int events)
{
    redisLibuvEvents *p = h->data;
    if (!p->context) return;
    if (status < 0) {
        if (p->context->c.flags & REDIS_CONNECTED)
            redisAsyncHandleRead(p->context);
        else
            redisAsyncHandleWrite(p->context);
        return;
    }
    if (events & UV_READABLE) redisAsyncHandleRead(p->context);
    /* The read may have freed the context; the adapter then cleared p->context. */
    if (p->context && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void ev_set(redisLibuvEvents *p, int add, int del)
{
    p->events = (p->events | add) & ~del;
    if (p->events)
        uv_poll_start(&p->handle, p->events, on_poll);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *d)
{
    ev_set(d, UV_READABLE, 0);
}

static void ev_del_read(void *d)
{
    ev_set(d, 0, UV_READABLE);
}

static void ev_add_write(void *d)
{
    ev_set(d, UV_WRITABLE, 0);
}

static void ev_del_write(void *d)
{
    ev_set(d, 0, UV_WRITABLE);
}

static redisAsyncContext *open_ctx(pl_bus_t *b, redisConnectCallback *on_conn,
                                   redisDisconnectCallback *on_disc)
{
    redisAsyncContext *ac = redisAsyncConnect(b->url.host, b->url.port);
    if (!ac) return NULL;
    /* A connect that fails at once (unresolvable) leaves no fd to watch. */
    if (ac->err || redisLibuvAttach(ac, b->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->data = b;
    redisAsyncSetDisconnectCallback(ac, on_disc);
    redisAsyncSetConnectCallback(ac, on_conn); /* starts watching for the connect */
    return ac;
}

static void on_deadline(uv_timer_t *t);

static void connect_missing(pl_bus_t *b)
{
    bool opened = false;
    if (!b->cmd) opened |= (b->cmd = open_ctx(b, on_cmd_connect, on_cmd_disconnect)) != NULL;
    if (!b->sub) opened |= (b->sub = open_ctx(b, on_sub_connect, on_sub_disconnect)) != NULL;
    if (opened) uv_timer_start(&b->deadline, on_deadline, CONNECT_TIMEOUT_MS, 0);
    if (!b->cmd || !b->sub) went_down(b, "connect failed");
}

static void free_ctx(redisAsyncContext *ac)
{
    if (!ac) return;
    ac->data = NULL;
    /* Deferred by hiredis when called from one of this context's reply callbacks. */
    redisAsyncFree(ac);
}

/* Not a hiredis callback, so freeing here is safe; a context not yet connected runs no
 * callbacks when freed. */
static void on_deadline(uv_timer_t *t)
{
    pl_bus_t *b = t->data;
    bool late = false;
    if (b->cmd && !b->cmd_connected) {
        free_ctx(b->cmd);
        b->cmd = NULL;
        late = true;
    }
    if (b->sub && !b->sub_connected) {
        free_ctx(b->sub);
        b->sub = NULL;
        late = true;
    }
    if (late) went_down(b, "connect timed out");
}

static void on_retry(uv_timer_t *t)
{
    pl_bus_t *b = t->data;
    if (b && !b->closing) connect_missing(b);
}

static void schedule_retry(pl_bus_t *b)
{
    if (b->closing || uv_is_active((uv_handle_t *)&b->retry)) return;
    uv_timer_start(&b->retry, on_retry, (uint64_t)b->backoff_ms, 0);
    b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
}

static void on_kick(uv_timer_t *t)
{
    pl_bus_t *b = t->data;
    /* Each trigger reports only what it completes, so up is never reported twice for one
     * connect (the SELECT reply may come before or after this). */
    if (b->sub_connected && !b->sub_ready && b->sub_pending == 0) {
        b->sub_ready = true;
        check_up(b);
    }
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static bool node_id_ok(const char *id)
{
    size_t n = id ? strnlen(id, PL_BUS_NODE_ID_MAX + 1) : 0;
    if (n == 0 || n > PL_BUS_NODE_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~') return false;
    return true;
}

int pl_bus_create(pl_bus_t **out, uv_loop_t *loop, const char *url, const char *node_id,
                  const pl_bus_listener_t *l)
{
    *out = NULL;
    pl_bus_url_t u;
    if (!loop || !l || pl_bus_parse_url(url, &u) < 0 || !node_id_ok(node_id)) return -PL_EINVAL;
    pl_bus_t *b = calloc(1, sizeof *b);
    if (!b) return -PL_ENOMEM;
    b->loop = loop;
    b->l = *l;
    b->url = u;
    snprintf(b->node_id, sizeof b->node_id, "%s", node_id);
    b->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &b->retry);
    uv_timer_init(loop, &b->kick);
    uv_timer_init(loop, &b->deadline);
    b->retry.data = b->kick.data = b->deadline.data = b;
    b->handles_open = 3;
    connect_missing(b);
    *out = b;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    pl_bus_t *b = h->data;
    if (--b->handles_open > 0) return;
    for (size_t i = 0; i < b->n_channels; i++)
        free(b->channels[i]);
    free(b->channels);
    free(b);
}

void pl_bus_destroy(pl_bus_t *b)
{
    if (!b || b->closing) return;
    b->closing = true;
    b->up = false;
    pl_bus__fail_pending(b);
    redisAsyncContext *cmd = b->cmd, *sub = b->sub;
    b->cmd = b->sub = NULL;
    b->cmd_connected = b->cmd_ready = b->sub_connected = b->sub_ready = false;
    free_ctx(cmd);
    free_ctx(sub);
    uv_close((uv_handle_t *)&b->retry, on_handle_closed);
    uv_close((uv_handle_t *)&b->kick, on_handle_closed);
    uv_close((uv_handle_t *)&b->deadline, on_handle_closed);
}

const char *pl_bus_node_id(const pl_bus_t *b)
{
    return b->node_id;
}

bool pl_bus_up(const pl_bus_t *b)
{
    return b && b->up;
}

/* ---- pub/sub ------------------------------------------------------------------------------ */

int pl_bus_subscribe(pl_bus_t *b, const char *channel)
{
    if (!b || !channel || !*channel || strnlen(channel, CHANNEL_MAX + 1) > CHANNEL_MAX)
        return -PL_EINVAL;
    if (b->closing) return -PL_EUNAVAIL;
    for (size_t i = 0; i < b->n_channels; i++)
        if (strcmp(b->channels[i], channel) == 0) return 0;
    if (b->n_channels == b->cap_channels) {
        size_t cap = b->cap_channels ? b->cap_channels * 2 : 8;
        char **c = realloc(b->channels, cap * sizeof *c);
        if (!c) return -PL_ENOMEM;
        b->channels = c;
        b->cap_channels = cap;
    }
    char *copy = strdup(channel);
    if (!copy) return -PL_ENOMEM;
    b->channels[b->n_channels++] = copy;
    /* Not connected: sent on connect. A failed send means the connection is going, and the
     * channel is sent again on the reconnect. */
    if (b->sub_connected) send_subscribe(b, copy);
    return 0;
}

int pl_bus_publish(pl_bus_t *b, const char *channel, const char *payload, size_t len)
{
    if (!b || !channel || !*channel || (!payload && len)) return -PL_EINVAL;
    redisAsyncContext *ac = pl_bus__cmd(b);
    if (!ac) return -PL_EUNAVAIL;
    if (redisAsyncCommand(ac, NULL, NULL, "PUBLISH %s %b", channel, payload ? payload : "", len) !=
        REDIS_OK)
        return -PL_EUNAVAIL;
    return 0;
}
