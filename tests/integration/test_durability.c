/* Integration: an acknowledgement is a promise. Messages acknowledged before a SIGKILL, or before
 * a graceful SIGTERM drain, are all present exactly once after restart, and re-sending an
 * unacknowledged message with its txn_id after the crash never makes a duplicate. */
#include "tests/support/pclient.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define T 5000
#define N_SEND 300

static pl_fixture_t fx;

static const char *const args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst",
                                   "100000", NULL};

static int setup(void **s)
{
    return pl_fixture_start(&fx, args);
}

static int teardown(void **s)
{
    pl_fixture_stop(&fx);
    return 0;
}

static json_int_t new_conversation(pl_pc_t *pt)
{
    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            "crash-conv", "kind", "admin", "subject", "Durability",
                            "body", "first");
    assert_true(pl_pc_is_ok(r));
    json_int_t id = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    return id;
}

/* Sends N_SEND messages without waiting (pipelined). */
static void send_all(pl_pc_t *pt, json_int_t cid, const char *tag)
{
    for (int i = 0; i < N_SEND; i++) {
        char buf[200];
        int n = snprintf(buf, sizeof buf,
                         "{\"id\":\"%s%d\",\"type\":\"conversation.send\",\"conversation_id\":%lld,"
                         "\"txn_id\":\"%s%d\",\"body\":\"%s message %d\"}",
                         tag, i, (long long)cid, tag, i, tag, i);
        assert_int_equal(pl_wsc_send_text(pl_pc_ws(pt), buf, (size_t)n), 0);
    }
}

/* Reads replies until `stop_after` acks (then returns) or the connection ends; marks acked[i]. */
static int read_acks(pl_pc_t *pt, const char *tag, char *acked, int stop_after)
{
    int n = 0;
    for (;;) {
        char *m = NULL;
        if (pl_wsc_recv(pl_pc_ws(pt), T, &m, NULL) < 0) return n;
        json_t *j = json_loads(m, 0, NULL);
        free(m);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id && !strncmp(id, tag, strlen(tag)) && pl_pc_is_ok(j)) {
            acked[atoi(id + strlen(tag))] = 1;
            n++;
        }
        json_decref(j);
        if (stop_after && n >= stop_after) return n;
    }
}

/* Every txn in the conversation, counted. */
static void count_txns(pl_pc_t *pt, json_int_t cid, const char *tag, int *counts)
{
    json_int_t before = 0;
    json_int_t expect_seq = -1;
    for (;;) {
        json_t *r = before ? pl_pc_callf(pt, T, "{ss sI sI si}", "type", "conversation.history",
                                         "conversation_id", cid, "before", before, "limit", 100)
                           : pl_pc_callf(pt, T, "{ss sI si}", "type", "conversation.history",
                                         "conversation_id", cid, "limit", 100);
        assert_true(pl_pc_is_ok(r));
        json_t *msgs = json_object_get(r, "messages"), *m;
        size_t i;
        /* newest last within a page; pages go backwards: seqs must be contiguous */
        for (i = json_array_size(msgs); i-- > 0;) {
            m = json_array_get(msgs, i);
            json_int_t seq = json_integer_value(json_object_get(m, "seq"));
            if (expect_seq >= 0) assert_int_equal(seq, expect_seq);
            expect_seq = seq - 1;
            const char *t = json_string_value(json_object_get(m, "txn_id"));
            if (!strncmp(t, tag, strlen(tag))) counts[atoi(t + strlen(tag))]++;
        }
        json_t *nb = json_object_get(r, "next_before");
        before = json_is_integer(nb) ? json_integer_value(nb) : 0;
        json_decref(r);
        if (!before) break;
    }
    assert_int_equal(expect_seq, 0); /* reached seq 1: no gaps */
}

static void test_sigkill_loses_no_acknowledged_message_and_makes_no_duplicate(void **s)
{
    pl_pc_t *pt = NULL;
    assert_int_equal(pl_pc_open(&pt, &fx, "ann.taylor"), 0);
    json_int_t cid = new_conversation(pt);
    static char acked[N_SEND];
    memset(acked, 0, sizeof acked);
    send_all(pt, cid, "K");
    int got = read_acks(pt, "K", acked, 60);
    pl_test_server_kill(fx.srv); /* mid-stream: more sends are in flight */
    got += read_acks(pt, "K", acked, 0);
    assert_true(got >= 60);
    pl_pc_abort(pt);

    assert_int_equal(pl_fixture_restart(&fx, args), 0);
    assert_int_equal(pl_pc_open(&pt, &fx, "ann.taylor"), 0);
    static int counts[N_SEND];
    memset(counts, 0, sizeof counts);
    count_txns(pt, cid, "K", counts);
    for (int i = 0; i < N_SEND; i++) {
        if (acked[i]) assert_int_equal(counts[i], 1);
        assert_true(counts[i] <= 1);
    }
    /* The client retries everything it never saw acknowledged: still exactly once each. */
    for (int i = 0; i < N_SEND; i++) {
        if (acked[i]) continue;
        char txn[16], body[32];
        snprintf(txn, sizeof txn, "K%d", i);
        snprintf(body, sizeof body, "K message %d", i);
        json_t *r = pl_pc_callf(pt, T, "{ss sI ss ss}", "type", "conversation.send",
                                "conversation_id", cid, "txn_id", txn, "body", body);
        if (!pl_pc_is_ok(r)) {
            char *d = json_dumps(r, 0);
            fprintf(stderr, "retry of %s failed: %s\n", txn, d ? d : "(no reply)");
            free(d);
        }
        assert_true(pl_pc_is_ok(r));
        assert_int_equal(json_is_true(json_object_get(r, "duplicate")), counts[i] == 1);
        json_decref(r);
    }
    memset(counts, 0, sizeof counts);
    count_txns(pt, cid, "K", counts);
    for (int i = 0; i < N_SEND; i++) assert_int_equal(counts[i], 1);
    pl_pc_destroy(pt);
}

static void test_sigterm_drains_acknowledges_and_exits_zero(void **s)
{
    pl_pc_t *pt = NULL;
    assert_int_equal(pl_pc_open(&pt, &fx, "robert.green"), 0);
    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            "drain-conv", "kind", "admin", "subject", "Drain", "body", "first");
    json_int_t cid = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    static char acked[N_SEND];
    memset(acked, 0, sizeof acked);
    send_all(pt, cid, "D");
    int got = read_acks(pt, "D", acked, 10);
    assert_int_equal(pl_test_server_stop(fx.srv), 0); /* SIGTERM: exit status 0 */
    got += read_acks(pt, "D", acked, 0);
    pl_pc_abort(pt);
    assert_int_equal(pl_fixture_restart(&fx, args), 0);
    assert_int_equal(pl_pc_open(&pt, &fx, "robert.green"), 0);
    static int counts[N_SEND];
    memset(counts, 0, sizeof counts);
    count_txns(pt, cid, "D", counts);
    int present = 0;
    for (int i = 0; i < N_SEND; i++) {
        if (acked[i]) assert_int_equal(counts[i], 1);
        present += counts[i];
    }
    assert_true(present >= got);
    pl_pc_destroy(pt);
}

static void test_restart_keeps_sessions_conversations_and_cursors(void **s)
{
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, "dr.patel", pl_fixture_password(&fx, "dr.patel"), NULL,
                                 token, sizeof token, NULL),
                     200);
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_connect(&gp, fx.port, token, NULL), 0);
    json_t *before = pl_pc_subscribe(gp, 0, T);
    assert_non_null(before);
    size_t n_before = json_array_size(before);
    pl_pc_destroy(gp);
    assert_int_equal(pl_test_server_stop(fx.srv), 0);
    assert_int_equal(pl_fixture_restart(&fx, args), 0);
    /* Same token still works; the replay from 0 is identical. */
    assert_int_equal(pl_pc_connect(&gp, fx.port, token, NULL), 0);
    json_t *after = pl_pc_subscribe(gp, 0, T);
    assert_non_null(after);
    assert_int_equal(json_array_size(after), n_before);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    pl_pc_destroy(gp);
}

static void test_overload_is_refused_cleanly_and_refused_sends_are_not_stored(void **s)
{
    /* The store's queue is what is under test: the limits per connection and per person
     * would refuse the flood first. */
    const char *busy[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000",
                          "--send-rate-per-min",  "0",      "--max-store-queue",  "100",
                          NULL};
    assert_int_equal(pl_test_server_stop(fx.srv), 0);
    assert_int_equal(pl_fixture_restart(&fx, busy), 0);
    pl_pc_t *pt = NULL;
    assert_int_equal(pl_pc_open(&pt, &fx, "cara.evans"), 0);
    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            "busy-conv", "kind", "admin", "subject", "Busy", "body", "first");
    json_int_t cid = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        char buf[200];
        int n = snprintf(buf, sizeof buf,
                         "{\"id\":\"B%d\",\"type\":\"conversation.send\",\"conversation_id\":%lld,"
                         "\"txn_id\":\"B%d\",\"body\":\"b\"}",
                         i, (long long)cid, i);
        assert_int_equal(pl_wsc_send_text(pl_pc_ws(pt), buf, (size_t)n), 0);
    }
    static char ok[N];
    int n_ok = 0, n_busy = 0;
    for (int got = 0; got < N; got++) {
        char *m = NULL;
        assert_int_equal(pl_wsc_recv(pl_pc_ws(pt), 10000, &m, NULL), 0);
        json_t *j = json_loads(m, 0, NULL);
        free(m);
        const char *id = json_string_value(json_object_get(j, "id"));
        assert_non_null(id);
        if (pl_pc_is_ok(j)) {
            ok[atoi(id + 1)] = 1;
            n_ok++;
        } else {
            assert_true(pl_pc_is_error(j, "unavailable"));
            n_busy++;
        }
        json_decref(j);
    }
    assert_true(n_busy > 0);
    assert_true(n_ok > 0);
    /* Exactly the acknowledged ones are stored; the server is still healthy. */
    static int counts[N];
    memset(counts, 0, sizeof counts);
    count_txns(pt, cid, "B", counts);
    for (int i = 0; i < N; i++) assert_int_equal(counts[i], ok[i]);
    pl_pc_destroy(pt);
    assert_int_equal(pl_test_server_stop(fx.srv), 0);
    assert_int_equal(pl_fixture_restart(&fx, args), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_loses_no_acknowledged_message_and_makes_no_duplicate),
        cmocka_unit_test(test_sigterm_drains_acknowledges_and_exits_zero),
        cmocka_unit_test(test_restart_keeps_sessions_conversations_and_cursors),
        cmocka_unit_test(test_overload_is_refused_cleanly_and_refused_sends_are_not_stored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
