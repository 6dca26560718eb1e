/* Integration: `parley audit verify` and `parley audit checkpoint` on the real binary, beside a
 * live server whose logins and requests write the audit trail; then the database file is
 * tampered with directly and verify must fail naming the row. */
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>
#include <cmocka.h>

#define T 5000

static pl_fixture_t fx;

static int setup(void **s)
{
    return pl_fixture_start(&fx, NULL);
}

static int teardown(void **s)
{
    pl_fixture_stop(&fx);
    return 0;
}

static void db_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/parley.db", fx.dir);
}

static long long db_int(const char *sql)
{
    char path[400];
    db_path(path, sizeof path);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* What someone with write access to the file does: drop the guards, then change rows. */
static void tamper(const char *sql)
{
    char path[400];
    db_path(path, sizeof path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER audit_append_only_update; "
                                      "DROP TRIGGER audit_append_only_delete; "
                                      "DROP TRIGGER audit_checkpoints_append_only_update; "
                                      "DROP TRIGGER audit_checkpoints_append_only_delete;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int run_verify(char **out)
{
    const char *args[] = {"audit", "verify", "--data-dir", fx.dir, NULL};
    return pl_test_run_cli(out, args);
}

/* Audited activity through the server: sign-ins, and a GP reading the practice's list. */
static void make_activity(void)
{
    for (int i = 0; i < 3; i++)
        assert_int_equal(pl_pc_login(fx.port, "robert.green",
                                     pl_fixture_password(&fx, "robert.green"), NULL, NULL, 0,
                                     NULL),
                         200);
    pl_pc_t *gp = NULL;
    assert_int_equal(pl_pc_open(&gp, &fx, "pharm.lee"), 0);
    json_t *r = pl_pc_callf(gp, T, "{ss ss}", "type", "conversation.list", "filter", "all");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    pl_pc_destroy(gp);
    assert_true(db_int("SELECT count(*) FROM audit") >= 4);
}

static void test_verify_passes_beside_a_live_server_and_fails_on_an_altered_row(void **s)
{
    make_activity();
    char *out = NULL;
    assert_int_equal(run_verify(&out), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "audit trail intact"));
    free(out);

    /* A checkpoint signed now, beside the running server, and checked by verify. */
    const char *ck[] = {"audit", "checkpoint", "--data-dir", fx.dir, NULL};
    out = NULL;
    assert_int_equal(pl_test_run_cli(&out, ck), 0);
    assert_non_null(strstr(out, "checkpoint signed at audit id"));
    free(out);
    long long last = db_int("SELECT max(id) FROM audit");
    assert_int_equal(db_int("SELECT max(audit_id) FROM audit_checkpoints"), last);
    out = NULL;
    assert_int_equal(run_verify(&out), 0);
    assert_non_null(strstr(out, "1 signed checkpoint verified"));
    free(out);

    /* More activity after the checkpoint still verifies. */
    make_activity();
    out = NULL;
    assert_int_equal(run_verify(&out), 0);
    free(out);

    tamper("UPDATE audit SET actor_id = actor_id + 1 WHERE id = 2");
    out = NULL;
    assert_int_equal(run_verify(&out), 1);
    assert_non_null(out);
    assert_non_null(strstr(out, "BROKEN at audit id 2: hash mismatch"));
    free(out);
}

static void test_verify_names_a_removed_checkpointed_row(void **s)
{
    make_activity();
    const char *ck[] = {"audit", "checkpoint", "--data-dir", fx.dir, NULL};
    assert_int_equal(pl_test_run_cli(NULL, ck), 0);
    pl_test_server_stop(fx.srv); /* and after the server is gone, on the file alone */
    long long last = db_int("SELECT max(id) FROM audit");
    char sql[200], want[80];
    snprintf(sql, sizeof sql,
             "DELETE FROM audit WHERE id = %lld; "
             "UPDATE sqlite_sequence SET seq = %lld WHERE name = 'audit'",
             last, last - 1);
    tamper(sql);
    char *out = NULL;
    assert_int_equal(run_verify(&out), 1);
    snprintf(want, sizeof want, "BROKEN at audit id %lld: checkpoint for a missing row", last);
    assert_non_null(out);
    assert_non_null(strstr(out, want));
    free(out);
}

static void test_verify_refuses_a_forged_checkpoint_and_bad_usage(void **s)
{
    make_activity();
    const char *ck[] = {"audit", "checkpoint", "--data-dir", fx.dir, NULL};
    assert_int_equal(pl_test_run_cli(NULL, ck), 0);
    tamper("UPDATE audit_checkpoints SET signature = "
           "substr('0123456789abcdef', 1 + (instr('0123456789abcdef', substr(signature, 1, 1)) "
           "% 16), 1) || substr(signature, 2)");
    char *out = NULL;
    assert_int_equal(run_verify(&out), 1);
    assert_non_null(strstr(out, "bad checkpoint signature"));
    free(out);

    /* No public key: the checkpoints cannot be checked, which is an error and never a pass. */
    char pub[400];
    snprintf(pub, sizeof pub, "%s/audit_signing.pub", fx.dir);
    assert_int_equal(unlink(pub), 0);
    assert_int_equal(run_verify(NULL), 2);

    const char *missing[] = {"audit", "verify", "--data-dir", "/nonexistent/parley-audit", NULL};
    assert_int_equal(pl_test_run_cli(NULL, missing), 2);
    const char *bogus[] = {"audit", "frobnicate", NULL};
    assert_int_equal(pl_test_run_cli(NULL, bogus), 2);
    const char *help[] = {"audit", "--help", NULL};
    out = NULL;
    assert_int_equal(pl_test_run_cli(&out, help), 0);
    assert_non_null(strstr(out, "parley audit verify"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_verify_passes_beside_a_live_server_and_fails_on_an_altered_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_names_a_removed_checkpointed_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_a_forged_checkpoint_and_bad_usage,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
