/* Messages per person (signalling/send_rate.c): one person's sends over all their connections
 * are held to send_rate_per_min with bursts of send_burst; the refused ones are answered
 * rate_limited and not stored, and other people are not affected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/pclient.h"

#define T 10000

static pl_fixture_t fx;

static int setup(void **state)
{
    /* Per-connection limits out of the way: this is about the person. */
    static const char *const args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst",
                                       "100000", "--send-rate-per-min", "60", "--send-burst",
                                       "5", NULL};
    return pl_fixture_start(&fx, args);
}

static int teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

static json_t *send(pl_pc_t *c, json_int_t conv, const char *txn)
{
    return pl_pc_callf(c, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id",
                       conv, "txn_id", txn, "body", "hello");
}

static void test_one_person_over_two_connections_is_held_to_the_burst(void **state)
{
    pl_pc_t *a = NULL, *b = NULL, *other = NULL;
    assert_int_equal(pl_pc_open(&a, &fx, "ann.taylor"), 0);
    assert_int_equal(pl_pc_open(&b, &fx, "ann.taylor"), 0);
    assert_int_equal(pl_pc_open(&other, &fx, "robert.green"), 0);
    /* Creating the request is a message too: 1 of the 5. */
    json_t *r = pl_pc_callf(a, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                            "rate-c", "kind", "admin", "subject", "Rates", "body", "first");
    assert_true(pl_pc_is_ok(r));
    json_int_t conv = json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    int ok = 0, limited = 0;
    for (int i = 0; i < 10; i++) {
        char txn[24];
        snprintf(txn, sizeof txn, "rate-%d", i);
        r = send(i % 2 ? b : a, conv, txn);
        if (pl_pc_is_ok(r)) ok++;
        else if (pl_pc_is_error(r, "rate_limited")) limited++;
        json_decref(r);
    }
    /* 5 in the burst, one of them the creation; a token comes back every second meanwhile. */
    assert_true(ok >= 4 && ok <= 5);
    assert_int_equal(ok + limited, 10);
    r = pl_pc_callf(a, T, "{ss sI}", "type", "conversation.history", "conversation_id", conv);
    assert_int_equal(json_array_size(json_object_get(r, "messages")), (size_t)(1 + ok));
    json_decref(r);

    /* Someone else is not held back by her. */
    r = pl_pc_callf(other, T, "{ss ss ss ss ss}", "type", "conversation.create", "txn_id",
                    "rate-o", "kind", "admin", "subject", "Mine", "body", "hello");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);

    /* A second later (60 a minute) she may send again; the refused send goes through with the
     * same txn_id and is stored once. */
    sleep(2);
    r = send(a, conv, "rate-9");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(a);
    pl_pc_destroy(b);
    pl_pc_destroy(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_person_over_two_connections_is_held_to_the_burst),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
