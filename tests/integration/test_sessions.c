/* Integration: session lifetimes and the TOTP second factor, against the real server. */
#include "signalling/totp.h"
#include "tests/support/pclient.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define T 5000

static pl_fixture_t fx;

static int setup(void **s)
{
    const char *args[] = {"--session-idle-timeout-s", "2", "--session-recheck-s", "1", NULL};
    return pl_fixture_start(&fx, args);
}

static int teardown(void **s)
{
    pl_fixture_stop(&fx);
    return 0;
}

static void code_at(const uint8_t *key, size_t len, time_t t, char out[7])
{
    uint32_t code = 0;
    assert_int_equal(pl_totp_code(key, len, (uint64_t)t, 6, &code), 0);
    snprintf(out, 7, "%06u", code);
}

static void test_idle_session_is_refused_on_next_request_and_reconnect(void **s)
{
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, "pharm.lee", pl_fixture_password(&fx, "pharm.lee"),
                                 NULL, token, sizeof token, NULL),
                     200);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, token, NULL), 0);
    sleep(3);
    /* The server ends the idle session on its own, with a reason and close code 4401. */
    json_t *m = pl_pc_next_push(c, T);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "session.ended");
    json_decref(m);
    char *rest = NULL;
    assert_int_equal(pl_wsc_recv(pl_pc_ws(c), T, &rest, NULL), -ECONNRESET);
    assert_int_equal(pl_wsc_close_code(pl_pc_ws(c)), 4401);
    pl_pc_destroy(c);
    json_t *err = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, token, &err), -EACCES);
    json_decref(err);
}

static void test_disabling_a_user_ends_their_open_connections(void **s)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &fx, "robert.green"), 0);
    const char *args[] = {"user", "disable", "--data-dir", fx.dir, "--username", "robert.green",
                          NULL};
    assert_int_equal(pl_test_run_cli(NULL, args), 0);
    /* Idle, yet within a few seconds the server notices the session is gone. */
    json_t *m = pl_pc_next_push(c, 5000);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "session.ended");
    json_decref(m);
    char *rest = NULL;
    assert_int_equal(pl_wsc_recv(pl_pc_ws(c), 5000, &rest, NULL), -ECONNRESET);
    assert_int_equal(pl_wsc_close_code(pl_pc_ws(c)), 4401);
    pl_pc_destroy(c);
    assert_int_equal(pl_pc_login(fx.port, "robert.green",
                                 pl_fixture_password(&fx, "robert.green"), NULL, NULL, 0, NULL),
                     401);
}

static void test_totp_enrolment_then_login_needs_a_fresh_code(void **s)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &fx, "nurse.okafor"), 0);
    json_t *r = pl_pc_callf(c, T, "{ss}", "type", "totp.enrol");
    assert_true(pl_pc_is_ok(r));
    uint8_t key[64];
    size_t klen = 0;
    assert_int_equal(pl_base32_decode(json_string_value(json_object_get(r, "secret")), key,
                                      sizeof key, &klen),
                     0);
    assert_non_null(strstr(json_string_value(json_object_get(r, "otpauth_uri")), "otpauth://"));
    json_decref(r);
    r = pl_pc_callf(c, T, "{ss ss}", "type", "totp.confirm", "code", "000000");
    assert_true(pl_pc_is_error(r, "totp_required"));
    json_decref(r);
    char code[7];
    time_t now = time(NULL);
    code_at(key, klen, now, code);
    r = pl_pc_callf(c, T, "{ss ss}", "type", "totp.confirm", "code", code);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(c);

    const char *pw = pl_fixture_password(&fx, "nurse.okafor");
    json_t *body = NULL;
    assert_int_equal(pl_pc_login(fx.port, "nurse.okafor", pw, NULL, NULL, 0, &body), 401);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "error"), "code")),
                        "totp_required");
    json_decref(body);
    /* The code just used cannot be replayed; the next step's code (within the window) works. */
    assert_int_equal(pl_pc_login(fx.port, "nurse.okafor", pw, code, NULL, 0, NULL), 401);
    code_at(key, klen, now + 30, code);
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, "nurse.okafor", pw, code, token, sizeof token, NULL),
                     200);
    /* A wrong password with a right code still fails as a plain wrong password. */
    body = NULL;
    assert_int_equal(pl_pc_login(fx.port, "nurse.okafor", "wrong-password", code, NULL, 0, &body),
                     401);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "error"), "code")),
                        "unauthorised");
    json_decref(body);
}

static void test_practice_requiring_totp_blocks_unenrolled_staff_until_enrolled(void **s)
{
    const char *args[] = {"org", "set", "--data-dir", fx.dir, "--code", "Y90002",
                          "--require-totp", "yes", NULL};
    assert_int_equal(pl_test_run_cli(NULL, args), 0);
    json_t *body = NULL;
    char token[128];
    assert_int_equal(pl_pc_login(fx.port, "dr.hughes", pl_fixture_password(&fx, "dr.hughes"), NULL,
                                 token, sizeof token, &body),
                     200);
    assert_true(json_is_true(json_object_get(body, "must_enrol_totp")));
    json_decref(body);
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_connect(&c, fx.port, token, NULL), 0);
    json_t *r = pl_pc_callf(c, T, "{ss}", "type", "conversation.list");
    assert_true(pl_pc_is_error(r, "totp_required"));
    json_decref(r);
    r = pl_pc_callf(c, T, "{ss}", "type", "totp.enrol");
    uint8_t key[64];
    size_t klen = 0;
    assert_int_equal(pl_base32_decode(json_string_value(json_object_get(r, "secret")), key,
                                      sizeof key, &klen),
                     0);
    json_decref(r);
    char code[7];
    code_at(key, klen, time(NULL), code);
    r = pl_pc_callf(c, T, "{ss ss}", "type", "totp.confirm", "code", code);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(c, T, "{ss}", "type", "conversation.list");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(c);
}

static void test_repeated_failures_are_throttled_with_backoff(void **s)
{
    json_t *body = NULL;
    int status = 0;
    for (int i = 0; i < 6 && status != 429; i++) {
        json_decref(body);
        body = NULL;
        status = pl_pc_login(fx.port, "admin.smith", "definitely-wrong", NULL, NULL, 0, &body);
    }
    assert_int_equal(status, 429);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "error"), "code")),
                        "rate_limited");
    json_decref(body);
    /* Even the right password is refused while the back-off lasts. */
    assert_int_equal(pl_pc_login(fx.port, "admin.smith", pl_fixture_password(&fx, "admin.smith"),
                                 NULL, NULL, 0, NULL),
                     429);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_session_is_refused_on_next_request_and_reconnect),
        cmocka_unit_test(test_disabling_a_user_ends_their_open_connections),
        cmocka_unit_test(test_totp_enrolment_then_login_needs_a_fresh_code),
        cmocka_unit_test(test_practice_requiring_totp_blocks_unenrolled_staff_until_enrolled),
        cmocka_unit_test(test_repeated_failures_are_throttled_with_backoff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
