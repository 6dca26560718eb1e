/* Integration: `parley audit verify` and `parley audit checkpoint` on the real binary, beside a
 * live server whose logins and requests write the audit trail; then the database (SQLite's file
 * or the PostgreSQL database, as the tests run) is tampered with directly and verify must fail
 * naming the row. */
#include "tests/support/pclient.h"
#include "tests/support/rawdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static long long db_int(const char *sql)
{
    int64_t v = 0;
    assert_int_equal(rawdb_read_int(fx.dir, sql, 0, &v), 0);
    return v;
}

/* Whether the tests run on PostgreSQL, where some SQL below differs. */
static bool on_pg(void)
{
    pl_db_t *db = NULL;
    assert_int_equal(rawdb_open(&db, fx.dir), 0);
    bool pg = pl_db_is_pg(db);
    pl_db_close(db);
    return pg;
}

/* What someone with write access to the database does: drop the guards, then change rows. */
static void tamper(const char *sql)
{
    static const char *const drop_sqlite = "DROP TRIGGER audit_append_only_update; "
                                           "DROP TRIGGER audit_append_only_delete; "
                                           "DROP TRIGGER audit_checkpoints_append_only_update; "
                                           "DROP TRIGGER audit_checkpoints_append_only_delete;";
    static const char *const drop_pg =
        "DROP TRIGGER audit_append_only_update ON audit; "
        "DROP TRIGGER audit_append_only_delete ON audit; "
        "DROP TRIGGER audit_checkpoints_append_only_update ON audit_checkpoints; "
        "DROP TRIGGER audit_checkpoints_append_only_delete ON audit_checkpoints;";
    assert_int_equal(rawdb_exec_script(fx.dir, on_pg() ? drop_pg : drop_sqlite), 0);
    assert_int_equal(rawdb_exec_script(fx.dir, sql), 0);
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
    /* Removed cleanly: the next id is the removed one's again. */
    if (on_pg())
        snprintf(sql, sizeof sql,
                 "DELETE FROM audit WHERE id = %lld; "
                 "UPDATE audit_head SET last_id = %lld",
                 last, last - 1);
    else
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
    /* The first hex digit of the signature changed to the next one (SQLite's instr is
     * PostgreSQL's strpos). */
    char forge[300];
    snprintf(forge, sizeof forge,
             "UPDATE audit_checkpoints SET signature = substr('0123456789abcdef', 1 + (%s"
             "('0123456789abcdef', substr(signature, 1, 1)) %% 16), 1) || substr(signature, 2)",
             on_pg() ? "strpos" : "instr");
    tamper(forge);
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
