/* The cluster bus's shared state: keys with TTLs (presence, waiting room) and leases (media room
 * pinning), on the bus's command connection (see bus.h; connections are in bus.c).
 *
 * Each lease operation is one Lua script so that "read the holder, then set or extend" is atomic
 * on Redis: two nodes racing for a room can never both believe they hold it. EVAL (not EVALSHA)
 * keeps the code free of a script-cache miss path; the scripts are a few hundred bytes.
 *
 * Commands whose reply someone waits for carry a pl_bus__req_t (bus_internal.h): hiredis runs the
 * reply callback exactly once, with NULL when the connection is lost, and destroy answers and
 * detaches the outstanding ones so no callback outlives the bus. */
#include "core/err.h"
#include "core/log.h"
#include "signalling/bus_internal.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 512
#define VAL_MAX 65536

/* Returns {1, holder} when owner holds key afterwards, else {0, holder} or {0} when free. */
static const char ACQUIRE_LUA[] = "local v = redis.call('GET', KEYS[1])\n"
                                  "if not v then\n"
                                  "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                  "  return {1, ARGV[1]}\n"
                                  "end\n"
                                  "if v == ARGV[1] then\n"
                                  "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                  "  return {1, v}\n"
                                  "end\n"
                                  "return {0, v}\n";

static const char RENEW_LUA[] = "local v = redis.call('GET', KEYS[1])\n"
                                "if not v then return {0} end\n"
                                "if v == ARGV[1] then\n"
                                "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                "  return {1, v}\n"
                                "end\n"
                                "return {0, v}\n";

static const char RELEASE_LUA[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                  "  return redis.call('DEL', KEYS[1])\n"
                                  "end\n"
                                  "return 0\n";

static bool key_ok(const char *k)
{
    return k && *k && strnlen(k, KEY_MAX + 1) <= KEY_MAX;
}

/* ---- waited-for commands ------------------------------------------------------------------ */

static void req_unlink(pl_bus__req_t *q)
{
    pl_bus_t *b = q->bus;
    if (q->prev)
        q->prev->next = q->next;
    else if (b)
        b->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    q->prev = q->next = NULL;
    q->bus = NULL;
}

static void req_fire(pl_bus__req_t *q, int status, bool held, const char *val)
{
    if (q->kind == PL_BUS__GET && q->get_cb) q->get_cb(q->ud, status, val);
    if (q->kind == PL_BUS__LEASE && q->lease_cb) q->lease_cb(q->ud, status, held, val);
    q->get_cb = NULL;
    q->lease_cb = NULL;
}

void pl_bus__fail_pending(pl_bus_t *b)
{
    /* Detach before firing: a callback may not re-enter, but must see a consistent list. */
    while (b->reqs) {
        pl_bus__req_t *q = b->reqs;
        req_unlink(q);
        req_fire(q, -PL_EUNAVAIL, false, NULL);
    }
}

/* Reads a lease script's reply {held, holder?}. */
static int lease_reply(const redisReply *r, bool *held, const char **holder)
{
    *held = false;
    *holder = NULL;
    if (r->type == REDIS_REPLY_ERROR) return -PL_EIO;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return -PL_EIO;
    *held = r->element[0]->integer == 1;
    if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING) *holder = r->element[1]->str;
    return 0;
}

static void req_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    pl_bus__req_t *q = priv;
    redisReply *rep = r;
    pl_bus_t *b = q->bus;
    if (b) {
        req_unlink(q);
        if (!rep) b->cmd_ready = false; /* the connection is going: refuse new commands now */
    }
    /* Detached by destroy: its callback has run already. */
    if (b && !rep) {
        req_fire(q, -PL_EUNAVAIL, false, NULL);
    } else if (b && q->kind == PL_BUS__GET) {
        if (rep->type == REDIS_REPLY_STRING)
            req_fire(q, 0, false, rep->str);
        else if (rep->type == REDIS_REPLY_NIL)
            req_fire(q, 0, false, NULL);
        else
            req_fire(q, -PL_EIO, false, NULL);
    } else if (b) {
        bool held;
        const char *holder;
        int rc = lease_reply(rep, &held, &holder);
        if (rc < 0) pl_log_warn("bus", "lease script failed");
        req_fire(q, rc, held, holder);
    }
    free(q);
}

/* Links a new waited-for command into b; the caller queues it or calls req_drop. */
static pl_bus__req_t *req_new(pl_bus_t *b, int kind, pl_bus_get_cb gcb, pl_bus_lease_cb lcb,
                              void *ud)
{
    pl_bus__req_t *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->bus = b;
    q->kind = kind;
    q->get_cb = gcb;
    q->lease_cb = lcb;
    q->ud = ud;
    q->next = b->reqs;
    if (b->reqs) b->reqs->prev = q;
    b->reqs = q;
    return q;
}

/* A command hiredis refused: its callback will never run, and ours must not either. */
static int req_drop(pl_bus__req_t *q)
{
    req_unlink(q);
    free(q);
    return -PL_EUNAVAIL;
}

/* ---- keys --------------------------------------------------------------------------------- */

int pl_bus_set(pl_bus_t *b, const char *key, const char *val, int ttl_ms)
{
    if (!b || !key_ok(key) || !val || strnlen(val, VAL_MAX + 1) > VAL_MAX || ttl_ms <= 0)
        return -PL_EINVAL;
    redisAsyncContext *ac = pl_bus__cmd(b);
    if (!ac) return -PL_EUNAVAIL;
    if (redisAsyncCommand(ac, NULL, NULL, "SET %s %b PX %d", key, val, strlen(val), ttl_ms) !=
        REDIS_OK)
        return -PL_EUNAVAIL;
    return 0;
}

int pl_bus_del(pl_bus_t *b, const char *key)
{
    if (!b || !key_ok(key)) return -PL_EINVAL;
    redisAsyncContext *ac = pl_bus__cmd(b);
    if (!ac) return -PL_EUNAVAIL;
    if (redisAsyncCommand(ac, NULL, NULL, "DEL %s", key) != REDIS_OK) return -PL_EUNAVAIL;
    return 0;
}

int pl_bus_get(pl_bus_t *b, const char *key, pl_bus_get_cb cb, void *ud)
{
    if (!b || !key_ok(key) || !cb) return -PL_EINVAL;
    redisAsyncContext *ac = pl_bus__cmd(b);
    if (!ac) return -PL_EUNAVAIL;
    pl_bus__req_t *q = req_new(b, PL_BUS__GET, cb, NULL, ud);
    if (!q) return -PL_ENOMEM;
    if (redisAsyncCommand(ac, req_reply, q, "GET %s", key) != REDIS_OK) return req_drop(q);
    return 0;
}

/* ---- leases ------------------------------------------------------------------------------- */

static int lease_eval(pl_bus_t *b, const char *script, const char *key, const char *owner,
                      int ttl_ms, pl_bus_lease_cb cb, void *ud)
{
    if (!b || !key_ok(key) || !key_ok(owner) || ttl_ms <= 0) return -PL_EINVAL;
    redisAsyncContext *ac = pl_bus__cmd(b);
    if (!ac) return -PL_EUNAVAIL;
    pl_bus__req_t *q = NULL;
    if (cb && !(q = req_new(b, PL_BUS__LEASE, NULL, cb, ud))) return -PL_ENOMEM;
    if (redisAsyncCommand(ac, q ? req_reply : NULL, q, "EVAL %s 1 %s %s %d", script, key, owner,
                          ttl_ms) != REDIS_OK)
        return q ? req_drop(q) : -PL_EUNAVAIL;
    return 0;
}

int pl_bus_lease_acquire(pl_bus_t *b, const char *key, const char *owner, int ttl_ms,
                         pl_bus_lease_cb cb, void *ud)
{
    return lease_eval(b, ACQUIRE_LUA, key, owner, ttl_ms, cb, ud);
}

int pl_bus_lease_renew(pl_bus_t *b, const char *key, const char *owner, int ttl_ms,
                       pl_bus_lease_cb cb, void *ud)
{
    return lease_eval(b, RENEW_LUA, key, owner, ttl_ms, cb, ud);
}

int pl_bus_lease_release(pl_bus_t *b, const char *key, const char *owner)
{
    if (!b || !key_ok(key) || !key_ok(owner)) return -PL_EINVAL;
    redisAsyncContext *ac = pl_bus__cmd(b);
    if (!ac) return -PL_EUNAVAIL;
    if (redisAsyncCommand(ac, NULL, NULL, "EVAL %s 1 %s %s", RELEASE_LUA, key, owner) != REDIS_OK)
        return -PL_EUNAVAIL;
    return 0;
}
