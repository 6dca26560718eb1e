/* The cluster bus against a real, private redis-server (tests/support/redis_fx.h): URL parsing,
 * byte-exact pub/sub between two nodes, the up/down state around a Redis restart, keys with TTLs,
 * leases, and that destroy answers pending callbacks exactly once. Each test runs the real libuv
 * loop until a condition holds or a deadline of a few seconds passes, then asserts the condition,
 * so a broken bus fails instead of hanging. */
#include "core/err.h"
#include "signalling/bus.h"
#include "tests/support/redis_fx.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct {
    redis_fx_t redis;
    uv_loop_t loop;
    uv_timer_t tick; /* wakes UV_RUN_ONCE so deadlines are checked while nothing else happens */
} fx_t;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    if (redis_fx_start(&f->redis) != 0) {
        redis_fx_cleanup(&f->redis);
        free(f);
        return -1;
    }
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 10, 10);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    uv_close((uv_handle_t *)&f->tick, NULL);
    /* Destroyed buses free their memory in close callbacks: let them run. */
    uint64_t end = uv_hrtime() + 3000000000ull;
    while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0 && uv_hrtime() < end)
        usleep(1000);
    int rc = uv_loop_close(&f->loop);
    redis_fx_cleanup(&f->redis);
    free(f);
    if (rc != 0) fprintf(stderr, "loop still has handles: a bus leaked one\n");
    return rc == 0 ? 0 : -1;
}

/* Runs f's loop until cond holds or ms pass; the caller asserts cond afterwards. */
#define RUN_UNTIL(f, cond, ms)                                                                     \
    do {                                                                                           \
        uint64_t end_ = uv_hrtime() + (uint64_t)(ms)*1000000ull;                                   \
        while (!(cond) && uv_hrtime() < end_)                                                      \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                       \
    } while (0)

static void run_for(fx_t *f, int ms)
{
    RUN_UNTIL(f, false, ms);
}

/* What one node's listener saw. */
typedef struct {
    int ups, downs, msgs;
    char chan[64];
    char payload[256];
    size_t len;
} node_t;

static void on_message(void *ud, const char *channel, const char *payload, size_t len)
{
    node_t *n = ud;
    n->msgs++;
    snprintf(n->chan, sizeof n->chan, "%s", channel);
    n->len = len < sizeof n->payload ? len : sizeof n->payload;
    memcpy(n->payload, payload, n->len);
}

static void on_state(void *ud, bool up)
{
    node_t *n = ud;
    if (up)
        n->ups++;
    else
        n->downs++;
}

static pl_bus_t *bus_new(fx_t *f, const char *id, node_t *n)
{
    pl_bus_listener_t l = {on_message, on_state, n};
    pl_bus_t *b = NULL;
    assert_int_equal(pl_bus_create(&b, &f->loop, f->redis.url, id, &l), 0);
    assert_non_null(b);
    return b;
}

/* ---- URL ---------------------------------------------------------------------------------- */

static void test_url_parsing_rejects_malformed_and_accepts_good(void **s)
{
    (void)s;
    char huge[2048];
    memcpy(huge, "redis://", 8);
    memset(huge + 8, 'a', sizeof huge - 8);
    memcpy(huge + sizeof huge - 7, ":6379", 6);
    const char *bad[] = {
        "",
        "redis:/x",
        "http://127.0.0.1:6379",
        "redis://127.0.0.1:99999",
        "redis://127.0.0.1:12x",
        "redis://:6379",
        "redis://127.0.0.1",
        "redis://127.0.0.1:",
        "redis://127.0.0.1:0",
        "redis://127.0.0.1:6379/",
        "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/1/",
        "redis://127.0.0.1:6379 ",
        "redis://127.0.0.1:-1",
        "redis://user@host:6379",
        "redis://[::1]:6379",
        "redis://a..b:6379",
        "REDIS://127.0.0.1:6379",
        huge,
    };
    pl_bus_url_t u;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (pl_bus_parse_url(bad[i], &u) != -PL_EINVAL) fail_msg("accepted bad url #%zu", i);
        assert_int_equal(u.port, 0);
    }
    assert_int_equal(pl_bus_parse_url(NULL, &u), -PL_EINVAL);

    assert_int_equal(pl_bus_parse_url("redis://127.0.0.1:6379", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(pl_bus_parse_url("redis://redis-1.cluster.internal:1/15", &u), 0);
    assert_string_equal(u.host, "redis-1.cluster.internal");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 15);
    assert_int_equal(pl_bus_parse_url("redis://localhost:65535/0", &u), 0);
    assert_int_equal(u.port, 65535);
}

static void test_create_refuses_bad_url_and_node_id(void **s)
{
    (void)s;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pl_bus_listener_t l = {NULL, NULL, NULL};
    pl_bus_t *b = (pl_bus_t *)&loop; /* must be reset to NULL */
    assert_int_equal(pl_bus_create(&b, &loop, "redis:/x", "n1", &l), -PL_EINVAL);
    assert_null(b);
    assert_int_equal(pl_bus_create(&b, &loop, "redis://127.0.0.1:1", "", &l), -PL_EINVAL);
    assert_int_equal(pl_bus_create(&b, &loop, "redis://127.0.0.1:1", "has space", &l), -PL_EINVAL);
    assert_int_equal(pl_bus_create(&b, &loop, "redis://127.0.0.1:1", "n1", NULL), -PL_EINVAL);
    /* Nothing was left on the loop. */
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- pub/sub ------------------------------------------------------------------------------ */

static void test_publish_reaches_other_node_byte_exact(void **state)
{
    fx_t *f = *state;
    node_t na = {0}, nb = {0};
    pl_bus_t *a = bus_new(f, "node-a", &na);
    pl_bus_t *b = bus_new(f, "node-b", &nb);
    assert_string_equal(pl_bus_node_id(b), "node-b");
    assert_int_equal(pl_bus_subscribe(b, "conv:1"), 0);
    assert_int_equal(pl_bus_subscribe(b, "conv:1"), 0); /* twice is once */
    RUN_UNTIL(f, na.ups == 1 && nb.ups == 1, 3000);
    assert_int_equal(na.ups, 1);
    assert_int_equal(nb.ups, 1);
    assert_true(pl_bus_up(a) && pl_bus_up(b));

    static const char msg[] = {'u', 'p', '\0', 't', 'o', ' ', '4', '2', '\xff'};
    assert_int_equal(pl_bus_publish(a, "conv:2", "other", 5), 0); /* not subscribed by b */
    assert_int_equal(pl_bus_publish(a, "conv:1", msg, sizeof msg), 0);
    RUN_UNTIL(f, nb.msgs >= 1, 3000);
    run_for(f, 50); /* a stray second message would arrive by now */
    assert_int_equal(nb.msgs, 1);
    assert_string_equal(nb.chan, "conv:1");
    assert_int_equal(nb.len, sizeof msg);
    assert_memory_equal(nb.payload, msg, sizeof msg);
    assert_int_equal(na.msgs, 0);
    assert_int_equal(pl_bus_publish(a, "conv:1", NULL, 0), 0); /* empty payload */
    RUN_UNTIL(f, nb.msgs == 2, 3000);
    assert_int_equal(nb.len, 0);
    assert_int_equal(nb.downs, 0);
    assert_int_equal(na.ups, 1); /* one connect, one report */
    assert_int_equal(nb.ups, 1);

    pl_bus_destroy(a);
    pl_bus_destroy(b);
}

static void test_state_up_fires_after_subscribe_and_after_late_subscribe(void **state)
{
    fx_t *f = *state;
    node_t na = {0}, nb = {0};
    pl_bus_t *a = bus_new(f, "node-a", &na);
    pl_bus_t *b = bus_new(f, "node-b", &nb);
    assert_false(pl_bus_up(b)); /* connecting is asynchronous */
    assert_int_equal(pl_bus_subscribe(b, "typing:7"), 0);
    RUN_UNTIL(f, nb.ups == 1 && na.ups == 1, 3000);
    assert_int_equal(nb.ups, 1);
    /* Up means subscribed: a publish right after it is delivered. */
    assert_int_equal(pl_bus_publish(a, "typing:7", "x", 1), 0);
    RUN_UNTIL(f, nb.msgs == 1, 3000);
    assert_int_equal(nb.msgs, 1);

    /* A channel added while up is reported once it is confirmed. */
    assert_int_equal(pl_bus_subscribe(b, "conv:9"), 0);
    RUN_UNTIL(f, nb.ups == 2, 3000);
    assert_int_equal(nb.ups, 2);
    assert_int_equal(pl_bus_publish(a, "conv:9", "y", 1), 0);
    RUN_UNTIL(f, nb.msgs == 2, 3000);
    assert_string_equal(nb.chan, "conv:9");
    assert_int_equal(nb.downs, 0);
    pl_bus_destroy(a);
    pl_bus_destroy(b);
}

static int gets, get_status;
static char get_val[64];
static bool get_null;

static void on_get(void *ud, int status, const char *val)
{
    (void)ud;
    gets++;
    get_status = status;
    get_null = val == NULL;
    snprintf(get_val, sizeof get_val, "%s", val ? val : "");
}

static void test_publish_when_redis_down_is_unavailable_then_recovers(void **state)
{
    fx_t *f = *state;
    redis_fx_stop(&f->redis);
    node_t n = {0};
    pl_bus_t *b = bus_new(f, "node-a", &n); /* 0 although nothing listens */
    assert_int_equal(pl_bus_subscribe(b, "conv:1"), 0);
    run_for(f, 400); /* a few refused attempts */
    assert_int_equal(n.ups, 0);
    assert_int_equal(n.downs, 0); /* never up, so never "lost" */
    assert_false(pl_bus_up(b));
    assert_int_equal(pl_bus_publish(b, "conv:1", "x", 1), -PL_EUNAVAIL);
    assert_int_equal(pl_bus_set(b, "k", "v", 1000), -PL_EUNAVAIL);
    assert_int_equal(pl_bus_get(b, "k", on_get, NULL), -PL_EUNAVAIL);
    assert_int_equal(pl_bus_lease_acquire(b, "room:1", "node-a", 1000, NULL, NULL), -PL_EUNAVAIL);
    run_for(f, 50);
    assert_int_equal(gets, 0); /* a refused call never calls back */

    assert_int_equal(redis_fx_start(&f->redis), 0);
    RUN_UNTIL(f, n.ups == 1, 4000); /* backoff is at most 2 s */
    assert_int_equal(n.ups, 1);
    assert_int_equal(pl_bus_publish(b, "conv:1", "x", 1), 0);
    RUN_UNTIL(f, n.msgs == 1, 3000); /* its own subscription hears it */
    assert_int_equal(n.msgs, 1);
    pl_bus_destroy(b);
}

static void test_redis_restart_reports_down_then_up_and_messages_flow(void **state)
{
    fx_t *f = *state;
    node_t na = {0}, nb = {0};
    pl_bus_t *a = bus_new(f, "node-a", &na);
    pl_bus_t *b = bus_new(f, "node-b", &nb);
    assert_int_equal(pl_bus_subscribe(b, "conv:1"), 0);
    assert_int_equal(pl_bus_subscribe(b, "conv:2"), 0);
    RUN_UNTIL(f, na.ups == 1 && nb.ups == 1, 3000);
    assert_int_equal(nb.ups, 1);

    assert_int_equal(redis_fx_restart(&f->redis), 0);
    RUN_UNTIL(f, nb.downs == 1 && nb.ups == 2 && na.ups == 2, 5000);
    assert_int_equal(nb.downs, 1);
    assert_int_equal(nb.ups, 2);
    assert_int_equal(na.downs, 1);
    assert_int_equal(na.ups, 2);
    assert_true(pl_bus_up(a) && pl_bus_up(b));

    /* Both channels were subscribed again. */
    assert_int_equal(pl_bus_publish(a, "conv:1", "after", 5), 0);
    assert_int_equal(pl_bus_publish(a, "conv:2", "again", 5), 0);
    RUN_UNTIL(f, nb.msgs == 2, 3000);
    assert_int_equal(nb.msgs, 2);
    assert_string_equal(nb.chan, "conv:2");
    assert_memory_equal(nb.payload, "again", 5);
    pl_bus_destroy(a);
    pl_bus_destroy(b);
}

/* ---- keys --------------------------------------------------------------------------------- */

static void test_set_then_get_and_value_expires_after_ttl(void **state)
{
    fx_t *f = *state;
    node_t n = {0};
    pl_bus_t *b = bus_new(f, "node-a", &n);
    RUN_UNTIL(f, n.ups == 1, 3000);
    assert_int_equal(n.ups, 1);
    gets = 0;
    assert_int_equal(pl_bus_set(b, "presence:u1", "node-a", 300), 0);
    assert_int_equal(pl_bus_get(b, "presence:u1", on_get, NULL), 0);
    assert_int_equal(gets, 0); /* never from inside the call */
    RUN_UNTIL(f, gets == 1, 3000);
    assert_int_equal(gets, 1);
    assert_int_equal(get_status, 0);
    assert_false(get_null);
    assert_string_equal(get_val, "node-a");

    assert_int_equal(pl_bus_get(b, "presence:nobody", on_get, NULL), 0);
    RUN_UNTIL(f, gets == 2, 3000);
    assert_int_equal(get_status, 0);
    assert_true(get_null);

    run_for(f, 450);
    assert_int_equal(pl_bus_get(b, "presence:u1", on_get, NULL), 0);
    RUN_UNTIL(f, gets == 3, 3000);
    assert_int_equal(gets, 3);
    assert_int_equal(get_status, 0);
    assert_true(get_null);

    assert_int_equal(pl_bus_set(b, "waiting:c1", "x", 60000), 0);
    assert_int_equal(pl_bus_del(b, "waiting:c1"), 0);
    assert_int_equal(pl_bus_get(b, "waiting:c1", on_get, NULL), 0);
    RUN_UNTIL(f, gets == 4, 3000);
    assert_true(get_null);

    assert_int_equal(pl_bus_set(b, "", "x", 100), -PL_EINVAL);
    assert_int_equal(pl_bus_set(b, "k", "x", 0), -PL_EINVAL);
    assert_int_equal(pl_bus_get(b, "k", NULL, NULL), -PL_EINVAL);
    pl_bus_destroy(b);
}

static void test_db_in_url_keeps_keys_apart(void **state)
{
    fx_t *f = *state;
    node_t n0 = {0}, n3 = {0};
    pl_bus_t *b0 = bus_new(f, "node-a", &n0);
    char url[80];
    snprintf(url, sizeof url, "%s/3", f->redis.url);
    pl_bus_listener_t l = {on_message, on_state, &n3};
    pl_bus_t *b3 = NULL;
    assert_int_equal(pl_bus_create(&b3, &f->loop, url, "node-b", &l), 0);
    RUN_UNTIL(f, n0.ups == 1 && n3.ups == 1, 3000);
    assert_true(pl_bus_up(b0) && pl_bus_up(b3));
    gets = 0;
    assert_int_equal(pl_bus_set(b3, "k", "in-db-3", 10000), 0);
    assert_int_equal(pl_bus_get(b0, "k", on_get, NULL), 0);
    RUN_UNTIL(f, gets == 1, 3000);
    assert_int_equal(get_status, 0);
    assert_true(get_null);
    assert_int_equal(pl_bus_get(b3, "k", on_get, NULL), 0);
    RUN_UNTIL(f, gets == 2, 3000);
    assert_string_equal(get_val, "in-db-3");
    pl_bus_destroy(b0);
    pl_bus_destroy(b3);
}

/* ---- leases ------------------------------------------------------------------------------- */

typedef struct {
    int calls, status;
    bool held;
    char holder[64];
} lease_t;

static void on_lease(void *ud, int status, bool held, const char *holder)
{
    lease_t *l = ud;
    l->calls++;
    l->status = status;
    l->held = held;
    snprintf(l->holder, sizeof l->holder, "%s", holder ? holder : "(none)");
}

/* Runs one lease call to its callback and returns what it saw. */
static lease_t
lease_op(fx_t *f, int (*op)(pl_bus_t *, const char *, const char *, int, pl_bus_lease_cb, void *),
         pl_bus_t *b, const char *key, const char *owner, int ttl_ms)
{
    lease_t l = {0};
    assert_int_equal(op(b, key, owner, ttl_ms, on_lease, &l), 0);
    RUN_UNTIL(f, l.calls == 1, 3000);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.status, 0);
    return l;
}

static void test_lease_held_by_one_owner_until_released(void **state)
{
    fx_t *f = *state;
    node_t na = {0}, nb = {0};
    pl_bus_t *a = bus_new(f, "node-a", &na);
    pl_bus_t *b = bus_new(f, "node-b", &nb);
    RUN_UNTIL(f, na.ups == 1 && nb.ups == 1, 3000);
    assert_true(pl_bus_up(a) && pl_bus_up(b));

    lease_t l = lease_op(f, pl_bus_lease_acquire, a, "room:1", "node-a", 10000);
    assert_true(l.held);
    assert_string_equal(l.holder, "node-a");
    l = lease_op(f, pl_bus_lease_acquire, b, "room:1", "node-b", 10000);
    assert_false(l.held);
    assert_string_equal(l.holder, "node-a");
    l = lease_op(f, pl_bus_lease_renew, b, "room:1", "node-b", 10000);
    assert_false(l.held);
    assert_string_equal(l.holder, "node-a");
    l = lease_op(f, pl_bus_lease_renew, a, "room:1", "node-a", 10000);
    assert_true(l.held);
    l = lease_op(f, pl_bus_lease_acquire, a, "room:1", "node-a", 10000); /* re-entrant */
    assert_true(l.held);

    assert_int_equal(pl_bus_lease_release(b, "room:1", "node-b"), 0); /* not b's: no effect */
    l = lease_op(f, pl_bus_lease_acquire, b, "room:1", "node-b", 10000);
    assert_false(l.held);
    assert_int_equal(pl_bus_lease_release(a, "room:1", "node-a"), 0);
    l = lease_op(f, pl_bus_lease_renew, a, "room:1", "node-a", 10000);
    assert_false(l.held);
    assert_string_equal(l.holder, "(none)");
    l = lease_op(f, pl_bus_lease_acquire, b, "room:1", "node-b", 10000);
    assert_true(l.held);
    assert_string_equal(l.holder, "node-b");

    assert_int_equal(pl_bus_lease_acquire(a, "room:1", "", 100, NULL, NULL), -PL_EINVAL);
    assert_int_equal(pl_bus_lease_renew(a, "room:1", "node-a", 0, NULL, NULL), -PL_EINVAL);
    pl_bus_destroy(a);
    pl_bus_destroy(b);
}

static void test_lease_expires_when_not_renewed(void **state)
{
    fx_t *f = *state;
    node_t na = {0}, nb = {0};
    pl_bus_t *a = bus_new(f, "node-a", &na);
    pl_bus_t *b = bus_new(f, "node-b", &nb);
    RUN_UNTIL(f, na.ups == 1 && nb.ups == 1, 3000);
    assert_true(pl_bus_up(a) && pl_bus_up(b));

    lease_t l = lease_op(f, pl_bus_lease_acquire, a, "room:2", "node-a", 200);
    assert_true(l.held);
    l = lease_op(f, pl_bus_lease_acquire, b, "room:2", "node-b", 200);
    assert_false(l.held);
    run_for(f, 350);
    l = lease_op(f, pl_bus_lease_renew, a, "room:2", "node-a", 200);
    assert_false(l.held); /* too late: it lapsed */
    l = lease_op(f, pl_bus_lease_acquire, b, "room:2", "node-b", 5000);
    assert_true(l.held);
    assert_string_equal(l.holder, "node-b");
    pl_bus_destroy(a);
    pl_bus_destroy(b);
}

/* ---- destroy ------------------------------------------------------------------------------ */

static void test_destroy_with_pending_get_calls_back_unavailable_once(void **state)
{
    fx_t *f = *state;
    node_t n = {0};
    pl_bus_t *b = bus_new(f, "node-a", &n);
    RUN_UNTIL(f, n.ups == 1, 3000);
    assert_int_equal(n.ups, 1);
    gets = 0;
    lease_t l = {0};
    assert_int_equal(pl_bus_get(b, "k", on_get, NULL), 0);
    assert_int_equal(pl_bus_lease_acquire(b, "room:3", "node-a", 1000, on_lease, &l), 0);
    pl_bus_destroy(b);
    assert_int_equal(gets, 1);
    assert_int_equal(get_status, -PL_EUNAVAIL);
    assert_true(get_null);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.status, -PL_EUNAVAIL);
    run_for(f, 200); /* hiredis drops the late replies */
    assert_int_equal(gets, 1);
    assert_int_equal(l.calls, 1);
    assert_int_equal(n.downs, 0); /* no listener callback after destroy */
}

static void test_get_in_flight_when_redis_dies_calls_back_unavailable_once(void **state)
{
    fx_t *f = *state;
    node_t n = {0};
    pl_bus_t *b = bus_new(f, "node-a", &n);
    RUN_UNTIL(f, n.ups == 1, 3000);
    assert_int_equal(n.ups, 1);
    gets = 0;
    assert_int_equal(pl_bus_get(b, "k", on_get, NULL), 0);
    redis_fx_stop(&f->redis); /* before the loop has even written the GET */
    RUN_UNTIL(f, gets == 1 && n.downs == 1, 3000);
    assert_int_equal(gets, 1);
    assert_int_equal(get_status, -PL_EUNAVAIL);
    assert_int_equal(n.downs, 1);
    assert_false(pl_bus_up(b));
    assert_int_equal(pl_bus_get(b, "k", on_get, NULL), -PL_EUNAVAIL);
    run_for(f, 300); /* retries fail quietly */
    assert_int_equal(gets, 1);
    assert_int_equal(n.downs, 1);
    pl_bus_destroy(b);
}

static void test_destroy_while_connecting_leaves_nothing(void **state)
{
    fx_t *f = *state;
    node_t n = {0};
    pl_bus_t *b = bus_new(f, "node-a", &n);
    pl_bus_destroy(b); /* teardown checks the loop closes */
    run_for(f, 100);
    assert_int_equal(n.ups, 0);
}

static pl_bus_t *self_destroying;

static void on_message_destroy(void *ud, const char *channel, const char *payload, size_t len)
{
    on_message(ud, channel, payload, len);
    pl_bus_destroy(self_destroying);
    self_destroying = NULL;
}

static void test_destroy_from_inside_a_message_callback(void **state)
{
    fx_t *f = *state;
    node_t na = {0}, nb = {0};
    pl_bus_t *a = bus_new(f, "node-a", &na);
    pl_bus_listener_t l = {on_message_destroy, on_state, &nb};
    assert_int_equal(pl_bus_create(&self_destroying, &f->loop, f->redis.url, "node-b", &l), 0);
    assert_int_equal(pl_bus_subscribe(self_destroying, "conv:1"), 0);
    RUN_UNTIL(f, na.ups == 1 && nb.ups == 1, 3000);
    assert_int_equal(nb.ups, 1);
    assert_int_equal(pl_bus_publish(a, "conv:1", "1", 1), 0);
    assert_int_equal(pl_bus_publish(a, "conv:1", "2", 1), 0);
    RUN_UNTIL(f, self_destroying == NULL, 3000);
    assert_null(self_destroying);
    run_for(f, 100);
    assert_int_equal(nb.msgs, 1); /* nothing after destroy */
    assert_int_equal(nb.downs, 0);
    pl_bus_destroy(a);
}

int main(void)
{
    /* As in core/main.c: a write to a Redis that has gone must fail, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parsing_rejects_malformed_and_accepts_good),
        cmocka_unit_test(test_create_refuses_bad_url_and_node_id),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_publish_reaches_other_node_byte_exact),
        T(test_state_up_fires_after_subscribe_and_after_late_subscribe),
        T(test_publish_when_redis_down_is_unavailable_then_recovers),
        T(test_redis_restart_reports_down_then_up_and_messages_flow),
        T(test_set_then_get_and_value_expires_after_ttl),
        T(test_db_in_url_keeps_keys_apart),
        T(test_lease_held_by_one_owner_until_released),
        T(test_lease_expires_when_not_renewed),
        T(test_destroy_with_pending_get_calls_back_unavailable_once),
        T(test_get_in_flight_when_redis_dies_calls_back_unavailable_once),
        T(test_destroy_while_connecting_leaves_nothing),
        T(test_destroy_from_inside_a_message_callback),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
