/* Secrets never reach the log. A session that touches every kind of secret Parley handles
 * (passwords right and wrong, session tokens, message bodies and subjects, structured answers,
 * internal notes, NHS numbers, consultation join links and the date of birth typed at one),
 * with the log at debug level, then the server's whole log is searched for each of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/https.h"
#include "tests/support/pclient.h"
#include "tests/support/server.h"

#define T 10000

static pl_fixture_t fx;

static int setup(void **state)
{
    static const char *const args[] = {"--log-level", "debug", NULL};
    return pl_fixture_start(&fx, args);
}

static int teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

static char *read_log(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/server.log", fx.dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void assert_absent(const char *log, const char *what, const char *secret)
{
    if (secret && *secret && strstr(log, secret)) fail_msg("the log holds %s", what);
}

static void test_no_secret_reaches_the_log(void **state)
{
    const char *gp_pw = pl_fixture_password(&fx, "dr.patel");
    const char *pt_pw = pl_fixture_password(&fx, "ann.taylor");
    /* A wrong password, and an unknown user's. */
    assert_int_equal(pl_pc_login(fx.port, "dr.patel", "Wrong-Password-Canary-1", NULL, NULL, 0,
                                 NULL),
                     401);
    assert_int_equal(pl_pc_login(fx.port, "no.such.user", "Unknown-User-Canary-2", NULL, NULL, 0,
                                 NULL),
                     401);
    char gp_tok[256], pt_tok[256];
    assert_int_equal(pl_pc_login(fx.port, "dr.patel", gp_pw, NULL, gp_tok, sizeof gp_tok, NULL),
                     200);
    assert_int_equal(pl_pc_login(fx.port, "ann.taylor", pt_pw, NULL, pt_tok, sizeof pt_tok, NULL),
                     200);
    pl_pc_t *gp = NULL, *pt = NULL;
    assert_int_equal(pl_pc_connect(&gp, fx.port, gp_tok, NULL), 0);
    assert_int_equal(pl_pc_connect(&pt, fx.port, pt_tok, NULL), 0);

    json_t *r = pl_pc_callf(pt, T, "{ss ss ss ss ss s{ss}}", "type", "conversation.create",
                            "txn_id", "secret-1", "kind", "clinical", "subject",
                            "Subject-Canary-Haemorrhoids", "body", "Body-Canary-Lump-In-Breast",
                            "answers", "How long?", "Answer-Canary-Three-Weeks");
    assert_true(pl_pc_is_ok(r));
    json_int_t conv =
        json_integer_value(json_object_get(json_object_get(r, "conversation"), "id"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.note", "conversation_id", conv,
                    "txn_id", "secret-2", "body", "Note-Canary-Safeguarding-Concern");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "conversation.send", "conversation_id", conv,
                    "txn_id", "secret-3", "body", "Reply-Canary-Book-A-Scan");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);

    /* Patient lookup by NHS number, and one that is not valid. */
    const char *nhs = NULL;
    size_t i;
    json_t *u;
    json_array_foreach(fx.logins, i, u) if (!strcmp(
        json_string_value(json_object_get(u, "username")), "ann.taylor")) nhs =
        json_string_value(json_object_get(u, "nhs_number"));
    assert_non_null(nhs);
    char spaced[16];
    snprintf(spaced, sizeof spaced, "%.3s %.3s %.4s", nhs, nhs + 3, nhs + 6);
    json_decref(pl_pc_callf(gp, T, "{ss ss}", "type", "patient.lookup", "nhs_number", spaced));
    json_decref(pl_pc_callf(gp, T, "{ss ss}", "type", "patient.lookup", "nhs_number",
                            "9434765918"));

    /* A consultation link, used with a wrong date of birth. */
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "consult.book", "patient_id",
                    (json_int_t)pl_fixture_user_id(&fx, "ann.taylor"));
    const char *path = json_string_value(json_object_get(json_object_get(r, "link"), "path"));
    assert_non_null(path);
    char link_token[128];
    snprintf(link_token, sizeof link_token, "%s", strchr(path, '#') + 1);
    json_decref(r);
    char body[256];
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"date_of_birth\":\"1901-01-01\"}", link_token);
    pl_http_resp_t resp;
    if (pl_https_request("127.0.0.1", fx.port, "POST", "/api/v1/join",
                         "content-type: application/json\r\n", body, strlen(body), T,
                         &resp) == 0)
        pl_http_resp_free(&resp);

    pl_pc_destroy(gp);
    pl_pc_destroy(pt);
    assert_int_equal(pl_test_server_stop(fx.srv), 0); /* everything flushed */

    char *log = read_log();
    assert_true(strlen(log) > 1000); /* it did log: debug level, a whole session */
    assert_absent(log, "a password", gp_pw);
    assert_absent(log, "a password", pt_pw);
    assert_absent(log, "a wrong password", "Wrong-Password-Canary-1");
    assert_absent(log, "an unknown user's password", "Unknown-User-Canary-2");
    assert_absent(log, "a session token", gp_tok);
    assert_absent(log, "a session token", pt_tok);
    assert_absent(log, "a subject", "Subject-Canary");
    assert_absent(log, "a message body", "Body-Canary");
    assert_absent(log, "an answer", "Answer-Canary");
    assert_absent(log, "a note", "Note-Canary");
    assert_absent(log, "a reply", "Reply-Canary");
    assert_absent(log, "an NHS number", nhs);
    assert_absent(log, "an NHS number", spaced);
    assert_absent(log, "a mistyped NHS number", "9434765918");
    assert_absent(log, "a join link token", link_token);
    assert_absent(log, "a date of birth typed at a join link", "1901-01-01");
    free(log);
    assert_int_equal(pl_fixture_restart(&fx, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_secret_reaches_the_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
