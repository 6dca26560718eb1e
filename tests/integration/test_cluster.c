/* A cluster: three real server processes on one PostgreSQL database and one Redis
 * (docs/CLUSTER.md). People connected to different nodes talk to each other; a node killed with
 * SIGKILL, Redis restarted and PostgreSQL stopped for a while lose nothing that was
 * acknowledged and deliver nothing twice.
 *
 * Needs PARLEY_TEST_PG (scripts/testdb.sh, started by make test); Redis is the test's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "media/rtp.h"
#include "tests/support/call_peer.h"
#include "tests/support/pclient.h"
#include "tests/support/pg_fx.h"
#include "tests/support/redis_fx.h"
#include "tests/support/server.h"

#define T 10000
#define NODES 3

static struct {
    char store[300];
    redis_fx_t redis;
    char dir[NODES][128];
    char name[NODES][16];
    pl_test_server_t *node[NODES];
    json_t *logins;
    int txn;
} cl;

static const char *next_txn(void)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "cl-%d", ++cl.txn);
    return buf;
}

static int copy_file(const char *from_dir, const char *to_dir, const char *name)
{
    char a[256], b[256], buf[4096];
    snprintf(a, sizeof a, "%s/%s", from_dir, name);
    snprintf(b, sizeof b, "%s/%s", to_dir, name);
    int in = open(a, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    int out = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;
    int rc = out < 0 ? -1 : 0;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) rc = -1;
    close(in);
    if (out >= 0) close(out);
    return rc;
}

static int node_start(int i)
{
    const char *args[] = {"--store",   cl.store,    "--bus", cl.redis.url,
                          "--node-id", cl.name[i], NULL};
    return pl_test_server_start(&cl.node[i], cl.dir[i], args);
}

static int node_port(int i)
{
    return pl_test_server_port(cl.node[i]);
}

static void node_kill(int i)
{
    pl_test_server_kill(cl.node[i]);
    pl_test_server_destroy(cl.node[i]);
    cl.node[i] = NULL;
}

static int setup(void **state)
{
    if (!pg_fx_available()) {
        fprintf(stderr, "test_cluster: PARLEY_TEST_PG is not set (make test starts one with "
                        "scripts/testdb.sh)\n");
        return -1;
    }
    if (pg_fx_create_db(cl.store, sizeof cl.store) != 0) return -1;
    if (redis_fx_start(&cl.redis) != 0) return -1;
    for (int i = 0; i < NODES; i++) {
        snprintf(cl.dir[i], sizeof cl.dir[i], "/tmp/parley-cluster-XXXXXX");
        if (!mkdtemp(cl.dir[i])) return -1;
        snprintf(cl.name[i], sizeof cl.name[i], "node%c", 'a' + i);
    }
    /* One node seeds the shared database; every node holds the same master key and audit key,
     * as a deployment copies them (docs/DEPLOY.md). */
    char *out = NULL;
    const char *seed[] = {"demo", "--data-dir", cl.dir[0], "--store", cl.store, "--json",
                          "--kdf-log-n", "10", NULL};
    if (pl_test_run_cli(&out, seed) != 0 || !out) {
        free(out);
        return -1;
    }
    cl.logins = json_loads(out, 0, NULL);
    free(out);
    for (int i = 1; i < NODES; i++)
        if (copy_file(cl.dir[0], cl.dir[i], "data.key") != 0 ||
            copy_file(cl.dir[0], cl.dir[i], "audit_signing.key") != 0 ||
            copy_file(cl.dir[0], cl.dir[i], "audit_signing.pub") != 0)
            return -1;
    for (int i = 0; i < NODES; i++)
        if (node_start(i) != 0) return -1;
    return json_is_array(cl.logins) ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < NODES; i++) {
        if (cl.node[i]) pl_test_server_destroy(cl.node[i]);
        if (!getenv("PARLEY_TEST_KEEP")) pl_test_rmtree(cl.dir[i]);
    }
    redis_fx_cleanup(&cl.redis);
    pg_fx_drop_db(cl.store);
    json_decref(cl.logins);
    return 0;
}

/* A client of node i, signed in as user. */
static pl_pc_t *open_on(int i, const char *user)
{
    pl_fixture_t f = {.logins = cl.logins, .port = node_port(i)};
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &f, user), 0);
    return c;
}

static json_int_t new_request(pl_pc_t *pt, const char *subject)
{
    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            next_txn(), "kind", "admin", "subject", subject, "body", "hello");
    assert_true(pl_pc_is_ok(r));
    json_int_t id = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    return id;
}

/* Sends body; true when the server acknowledged it. */
static bool send_msg(pl_pc_t *c, json_int_t conv, const char *body)
{
    json_t *r = pl_pc_callf(c, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                            conv, "txn_id", next_txn(), "body", body);
    bool ok = pl_pc_is_ok(r);
    json_decref(r);
    return ok;
}

static const char *event_body(json_t *frame)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(frame, "event"), "message"), "body"));
}

/* The next message.created event whose body is body (earlier ones, such as the request's own
 * first message, are passed over). NULL on timeout. */
static json_t *wait_body(pl_pc_t *c, const char *body)
{
    for (;;) {
        json_t *ev = pl_pc_wait_event(c, "message.created", T);
        if (!ev || (event_body(ev) && strcmp(event_body(ev), body) == 0)) return ev;
        json_decref(ev);
    }
}

static void test_messages_receipts_and_typing_cross_nodes(void **state)
{
    pl_pc_t *pt = open_on(0, "ann.taylor"), *gp = open_on(1, "dr.patel");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_decref(pl_pc_subscribe(pt, -1, T));
    json_int_t conv = new_request(pt, "Repeat prescription");

    /* Written on node a, seen live on node b. */
    json_t *ev = pl_pc_wait_event(gp, "message.created", T);
    assert_non_null(ev);
    assert_string_equal(event_body(ev), "hello");
    json_decref(ev);

    /* And back. */
    assert_true(send_msg(gp, conv, "Ready on Friday"));
    ev = wait_body(pt, "Ready on Friday");
    assert_non_null(ev);
    assert_string_equal(event_body(ev), "Ready on Friday");
    json_decref(ev);

    json_t *r = pl_pc_callf(gp, T, "{ss sI sI ss}", "type", "receipt.mark", "conversation_id",
                            conv, "seq", (json_int_t)1, "kind", "read");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    ev = pl_pc_wait_event(pt, "receipt.updated", T);
    assert_non_null(ev);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "event"), "read_seq")),
                     1);
    json_decref(ev);

    r = pl_pc_callf(gp, T, "{ss sI sb}", "type", "typing.set", "conversation_id", conv, "typing",
                    1);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    ev = pl_pc_wait_event(pt, "typing", T);
    assert_non_null(ev);
    assert_true(json_is_true(json_object_get(json_object_get(ev, "event"), "typing")));
    json_decref(ev);
    r = pl_pc_callf(pt, T, "{ss sI sb}", "type", "typing.set", "conversation_id", conv, "typing",
                    1);
    json_decref(r);
    ev = pl_pc_wait_event(gp, "typing", T);
    assert_non_null(ev);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ev, "event"), "role")), "patient");
    json_decref(ev);

    /* Someone on the third node sees the whole thread's events in cursor order, once each. */
    pl_pc_t *gp2 = open_on(2, "dr.patel");
    json_t *evs = pl_pc_subscribe(gp2, 0, T);
    assert_non_null(evs);
    long long prev = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        long long cur = json_integer_value(json_object_get(e, "cursor"));
        assert_true(cur > prev);
        prev = cur;
    }
    json_decref(evs);
    pl_pc_destroy(gp2);
    pl_pc_destroy(pt);
    pl_pc_destroy(gp);
}

/* Collects message.created bodies from c into seen (counts), until want distinct bodies have
 * arrived or the time runs out; returns the last cursor seen. */
#define MSGS 30
static long long collect(pl_pc_t *c, int seen[MSGS], int want, long long last)
{
    int have = 0;
    for (int i = 0; i < MSGS; i++) have += seen[i] > 0;
    while (have < want) {
        json_t *ev = pl_pc_wait_event(c, "message.created", T);
        if (!ev) break;
        int n = -1;
        const char *b = event_body(ev);
        if (b && sscanf(b, "m%d", &n) == 1 && n >= 0 && n < MSGS) {
            if (seen[n]++ == 0) have++;
        }
        last = json_integer_value(json_object_get(ev, "cursor"));
        json_decref(ev);
    }
    return last;
}

static void test_sigkill_of_a_node_loses_and_repeats_nothing(void **state)
{
    pl_pc_t *pt = open_on(0, "robert.green"), *gp = open_on(1, "dr.patel");
    json_t *cur = pl_pc_subscribe(gp, -1, T);
    json_decref(cur);
    json_int_t conv = new_request(pt, "Failover");
    static int seen[MSGS];
    memset(seen, 0, sizeof seen);
    char body[16];
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body, "m%d", i);
        assert_true(send_msg(pt, conv, body));
    }
    long long last = collect(gp, seen, 10, 0);
    assert_true(last > 0);

    /* Node b dies mid-conversation; the patient's node goes on taking messages. */
    node_kill(1);
    pl_pc_abort(gp);
    for (int i = 10; i < 20; i++) {
        snprintf(body, sizeof body, "m%d", i);
        assert_true(send_msg(pt, conv, body));
    }
    /* The clinician's app reconnects to node c and resumes from its cursor. */
    gp = open_on(2, "dr.patel");
    json_t *replayed = pl_pc_subscribe(gp, last, T);
    assert_non_null(replayed);
    size_t i;
    json_t *e;
    json_array_foreach(replayed, i, e)
    {
        const char *b = event_body(e);
        int n = -1;
        if (b && sscanf(b, "m%d", &n) == 1 && n >= 0 && n < MSGS) seen[n]++;
    }
    json_decref(replayed);
    for (int k = 20; k < MSGS; k++) {
        snprintf(body, sizeof body, "m%d", k);
        assert_true(send_msg(pt, conv, body));
    }
    collect(gp, seen, MSGS, last);
    for (int k = 0; k < MSGS; k++) {
        if (seen[k] != 1) fprintf(stderr, "message m%d seen %d times\n", k, seen[k]);
        assert_int_equal(seen[k], 1);
    }
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
    assert_int_equal(node_start(1), 0);
}

static void test_redis_restart_loses_no_event(void **state)
{
    pl_pc_t *pt = open_on(0, "ann.taylor"), *gp = open_on(1, "dr.patel");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_int_t conv = new_request(pt, "Bus restart");
    static int seen[MSGS];
    memset(seen, 0, sizeof seen);
    char body[16];
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body, "m%d", i);
        assert_true(send_msg(pt, conv, body));
        if (i == 4) assert_int_equal(redis_fx_restart(&cl.redis), 0);
    }
    /* Sent while Redis was down or just back: the nodes catch up from the store. */
    collect(gp, seen, 10, 0);
    for (int k = 0; k < 10; k++) assert_int_equal(seen[k], 1);
    /* And the bus works again: typing (never stored) crosses once more. */
    bool typed = false;
    for (int attempt = 0; attempt < 50 && !typed; attempt++) {
        json_decref(pl_pc_callf(pt, T, "{ss sI sb}", "type", "typing.set", "conversation_id",
                                conv, "typing", 1));
        json_t *ev = pl_pc_wait_event(gp, "typing", 200);
        typed = ev != NULL;
        json_decref(ev);
    }
    assert_true(typed);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}


/* ---- calls: a room is held by one node ---- */

typedef struct {
    pl_call_peer_t p;
    int audio_in;
} peer_t;

static void on_media(void *opaque, const uint8_t *buf, size_t len, bool rtcp)
{
    peer_t *p = opaque;
    pl_rtp_packet_t r;
    if (!rtcp && pl_rtp_parse(buf, len, &r) == 0) p->audio_in++;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The port in a node URL (wss://host:port/). */
static int url_port(const char *url)
{
    const char *c = url ? strrchr(url, ':') : NULL;
    return c ? atoi(c + 1) : -1;
}

/* Joins kid on node i's media; the reply (caller decrefs). */
static json_t *join_on(peer_t *p, pl_pc_t *pc, int i, json_int_t kid)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(pl_call_peer_open(&p->p, pl_test_server_media_port(cl.node[i]), on_media, p),
                     0);
    return pl_call_peer_join(&p->p, pc, kid, "consult.join");
}

/* gp sends audio; true once ann has received some. */
static bool media_flows(peer_t *gp, peer_t *ann)
{
    pl_call_peer_t *others[] = {&ann->p};
    if (pl_call_peer_connect(&gp->p, others, 1) != 0) return false;
    pl_call_peer_t *others2[] = {&gp->p};
    if (pl_call_peer_connect(&ann->p, others2, 1) != 0) return false;
    uint8_t buf[1500];
    for (int i = 0; i < 200 && ann->audio_in < 5; i++) {
        pl_rtp_header_t h = {.pt = 111, .seq = (uint16_t)(100 + i), .timestamp = 960u * i,
                             .ssrc = PL_RTC_OFFER_AUDIO_SSRC};
        size_t len = 0;
        if (pl_rtp_write(&h, (const uint8_t *)"opus", 4, buf, sizeof buf - 200, &len) == 0)
            pl_rtc_client_send(gp->p.cli, buf, len, sizeof buf, false);
        usleep(10 * 1000);
        pl_call_peer_poll(&gp->p);
        pl_call_peer_poll(&ann->p);
    }
    return ann->audio_in >= 5;
}

static void test_a_call_is_held_by_one_node_and_moves_when_it_dies(void **state)
{
    pl_pc_t *gp = open_on(0, "dr.patel"), *ann = open_on(1, "ann.taylor");
    pl_fixture_t f = {.logins = cl.logins};
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                            (json_int_t)pl_fixture_user_id(&f, "ann.taylor"));
    json_int_t kid = json_integer_value(json_object_get(json_object_get(r, "consultation"), "id"));
    json_decref(r);
    assert_true(kid > 0);
    json_decref(pl_pc_callf(ann, T, "{ss sI}", "type", "consult.wait", "consultation_id", kid));
    json_decref(pl_pc_callf(gp, T, "{ss sI}", "type", "consult.admit", "consultation_id", kid));

    /* The clinician opens the call on node a: it is held there. */
    static peer_t gpp, annp;
    r = join_on(&gpp, gp, 0, kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    /* The patient, on node b, is sent to node a. */
    r = join_on(&annp, ann, 1, kid);
    assert_true(pl_pc_is_error(r, "moved"));
    const char *url = json_string_value(
        json_object_get(json_object_get(json_object_get(r, "error"), "node"), "url"));
    assert_int_equal(url_port(url), node_port(0));
    json_decref(r);
    pl_call_peer_close(&annp.p);
    pl_pc_destroy(ann);
    ann = open_on(0, "ann.taylor");
    r = join_on(&annp, ann, 0, kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    assert_true(media_flows(&gpp, &annp));

    /* Node a dies. Both come back through node b; the room is re-pinned there within seconds. */
    node_kill(0);
    pl_pc_abort(gp);
    pl_pc_abort(ann);
    pl_call_peer_close(&gpp.p);
    pl_call_peer_close(&annp.p);
    gp = open_on(1, "dr.patel");
    ann = open_on(1, "ann.taylor");
    int64_t t0 = now_ms(), moved_at = 0;
    for (;;) {
        r = join_on(&gpp, gp, 1, kid);
        if (pl_pc_is_ok(r)) break;
        assert_true(pl_pc_is_error(r, "moved") || pl_pc_is_error(r, "unavailable"));
        json_decref(r);
        pl_call_peer_close(&gpp.p);
        assert_true(now_ms() - t0 < 8000);
        usleep(250 * 1000);
    }
    moved_at = now_ms() - t0;
    json_decref(r);
    fprintf(stderr, "room re-pinned %lld ms after the node died\n", (long long)moved_at);
    /* Whoever the dead node had in the call is in no call now, until they join again. */
    int64_t ann_id = pl_fixture_user_id(&f, "ann.taylor");
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.get", "consultation_id", kid);
    json_t *present = json_object_get(json_object_get(r, "consultation"), "present"), *who;
    assert_true(json_is_array(present));
    size_t k;
    json_array_foreach(present, k, who)
        assert_int_not_equal(json_integer_value(json_object_get(who, "user_id")), ann_id);
    json_decref(r);
    r = join_on(&annp, ann, 1, kid);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    assert_true(media_flows(&gpp, &annp));
    pl_call_peer_close(&gpp.p);
    pl_call_peer_close(&annp.p);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
    assert_int_equal(node_start(0), 0);
}

static int testdb(const char *what)
{
    const char *dir = getenv("PARLEY_TEST_DB_DIR");
    if (!dir || !*dir) return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash scripts/testdb.sh %s '%s' >/dev/null 2>&1", what, dir);
    return system(cmd);
}

static void test_postgres_outage_is_unavailable_then_resumes(void **state)
{
    if (!getenv("PARLEY_TEST_DB_DIR")) {
        fprintf(stderr, "PARLEY_TEST_DB_DIR is not set: make test sets it (scripts/testdb.sh)\n");
        fail();
    }
    pl_pc_t *pt = open_on(0, "ann.taylor"), *gp = open_on(1, "dr.patel");
    json_decref(pl_pc_subscribe(gp, -1, T));
    json_int_t conv = new_request(pt, "Database outage");
    assert_int_equal(testdb("pg-stop"), 0);
    /* Sends fail with the retryable error, and none of them was stored. */
    json_t *r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send",
                            "conversation_id", conv, "txn_id", "outage-1", "body", "lost?");
    assert_non_null(r);
    if (!pl_pc_is_error(r, "unavailable")) {
        char *d = json_dumps(r, 0);
        fprintf(stderr, "during the outage: %s\n", d);
        free(d);
    }
    assert_true(pl_pc_is_error(r, "unavailable"));
    json_decref(r);
    assert_int_equal(testdb("pg-start"), 0);
    /* Service resumes: the client's retry of the same send is stored once. */
    bool ok = false;
    for (int attempt = 0; attempt < 50 && !ok; attempt++) {
        r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                        conv, "txn_id", "outage-1", "body", "lost?");
        ok = pl_pc_is_ok(r);
        if (ok) assert_false(json_is_true(json_object_get(r, "duplicate")));
        json_decref(r);
        if (!ok) usleep(200 * 1000);
    }
    assert_true(ok);
    json_t *ev = wait_body(gp, "lost?");
    assert_non_null(ev);
    json_decref(ev);
    r = pl_pc_callf(pt, T, "{ss sI}", "type", "conversation.history", "conversation_id", conv);
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 2);
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_receipts_and_typing_cross_nodes),
        cmocka_unit_test(test_sigkill_of_a_node_loses_and_repeats_nothing),
        cmocka_unit_test(test_redis_restart_loses_no_event),
        cmocka_unit_test(test_a_call_is_held_by_one_node_and_moves_when_it_dies),
        cmocka_unit_test(test_postgres_outage_is_unavailable_then_resumes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
