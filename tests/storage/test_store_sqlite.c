/* Unit tests for storage/store_sqlite.c through storage/store.h: opening and migrating,
 * people, sessions, actors, audit and transactions. */
#include "tests/storage/store_fixture.h"

/* ---- open and migrate ---- */

static void test_open_creates_database_and_wal_with_mode_0600(void **state)
{
    fx_t *f = *state;
    sqlite_only(f); /* PostgreSQL keeps its files itself */
    struct stat sb;
    char wal[160];
    (void)new_conv(f, f->org_a, f->pat1, "c1"); /* a write, so the WAL exists */
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_reopen_runs_no_migration_and_keeps_data(void **state)
{
    fx_t *f = *state;
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    (void)send_msg(f, conv, f->pat1, false, "t1", "hello");
    reopen(f, f->key);
    reopen(f, f->key);

    /* One schema_version row per migration (PostgreSQL: one for its baseline, then one per
     * migration after it): the reopens added none. */
    assert_int_equal(raw_int(f, "SELECT count(*) FROM schema_version"),
                     f->pg ? pl_schema_pg_version - pl_schema_pg_base + 1 : pl_schema_version);
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), pl_schema_version);
    pl_org_t o;
    assert_int_equal(pl_store_org_by_code(f->st, "A81001", &o), 0);
    assert_int_equal(o.id, f->org_a);
    assert_int_equal(conv_of(f, conv).last_seq, 1);
    assert_int_equal(pl_store_health(f->st), 0);
}

static void test_open_refuses_a_newer_schema(void **state)
{
    fx_t *f = *state;
    pl_store_close(f->st);
    f->st = NULL;
    raw_exec(f, "INSERT INTO schema_version VALUES (999)");
    assert_int_equal(pl_store_open(&f->st, f->url, f->key), -PL_EINVAL);
    assert_null(f->st);
}

static void test_open_rejects_unknown_scheme_and_missing_directory(void **state)
{
    fx_t *f = *state;
    pl_store_t *st = NULL;
    char url[200];
    assert_int_equal(pl_store_open(&st, "mysql://x", f->key), -PL_EINVAL);
    assert_int_equal(pl_store_open(&st, "sqlite", f->key), -PL_EINVAL);
    /* A PostgreSQL that is not there is unavailable (retry later), not a bad setting. */
    assert_int_equal(pl_store_open(&st, "postgres://nobody@127.0.0.1:1/none", f->key),
                     -PL_EUNAVAIL);
    assert_null(st);
    snprintf(url, sizeof url, "sqlite:%s/no/such/dir/x.db", f->dir);
    assert_int_equal(pl_store_open(&st, url, f->key), -PL_EIO);
    assert_null(st);
}

/* ---- people ---- */

static void test_users_are_found_by_username_and_nhs_and_unique(void **state)
{
    fx_t *f = *state;
    pl_user_t u;
    int64_t id = 0;
    assert_int_equal(pl_store_user_by_username(f->st, "pat1", &u), 0);
    assert_int_equal(u.id, f->pat1);
    assert_int_equal(u.kind, PL_USER_PATIENT);
    assert_string_equal(u.password_hash, "hash");
    assert_false(u.disabled);
    pl_user_wipe(&u);
    assert_int_equal(pl_store_patient_by_nhs(f->st, "9434765870", &id), 0);
    assert_int_equal(id, f->pat2);
    assert_int_equal(pl_store_patient_by_nhs(f->st, "9999999999", &id), -PL_ENOTFOUND);
    assert_int_equal(pl_store_user_by_username(f->st, "nobody", &u), -PL_ENOTFOUND);
    assert_int_equal(pl_store_user_create(f->st, PL_USER_STAFF, "gp", "x", "h", NULL, NULL, 0, &id),
                     -PL_ECONFLICT);
}

/* ---- sessions and actors ---- */

static void test_session_create_get_touch_delete(void **state)
{
    fx_t *f = *state;
    const char *h1 = "aa11", *h2 = "bb22", *h3 = "cc33";
    pl_session_row_t s;
    assert_int_equal(pl_store_session_create(f->st, h1, f->pat1, 1000, 50000), 0);
    assert_int_equal(pl_store_session_create(f->st, h2, f->pat1, 1100, 50000), 0);
    assert_int_equal(pl_store_session_create(f->st, h3, f->gp, 1200, 60000), 0);
    assert_int_equal(pl_store_session_create(f->st, h1, f->gp, 1, 2), -PL_ECONFLICT);

    assert_int_equal(pl_store_session_get(f->st, h1, &s), 0);
    assert_int_equal(s.user_id, f->pat1);
    assert_int_equal(s.created_at, 1000);
    assert_int_equal(s.last_seen_at, 1000);
    assert_int_equal(s.expires_at, 50000);

    assert_int_equal(pl_store_session_touch(f->st, h1, 2500), 0);
    assert_int_equal(pl_store_session_get(f->st, h1, &s), 0);
    assert_int_equal(s.last_seen_at, 2500);
    assert_int_equal(s.created_at, 1000);

    assert_int_equal(pl_store_session_delete(f->st, h1), 0);
    assert_int_equal(pl_store_session_get(f->st, h1, &s), -PL_ENOTFOUND);
    assert_int_equal(pl_store_session_get(f->st, "unknown", &s), -PL_ENOTFOUND);

    assert_int_equal(pl_store_sessions_delete_user(f->st, f->pat1), 0);
    assert_int_equal(pl_store_session_get(f->st, h2, &s), -PL_ENOTFOUND);
    assert_int_equal(pl_store_session_get(f->st, h3, &s), 0); /* another user's survives */
}

static void test_actor_load_returns_memberships_and_refuses_disabled_users(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_store_membership_add(f->st, f->gp, f->org_b, PL_ROLE_RECEPTIONIST), 0);
    assert_int_equal(pl_store_membership_add(f->st, f->gp, f->org_a, PL_ROLE_PRACTICE_ADMIN), 0);
    pl_actor_t a = actor_of(f, f->gp);
    assert_int_equal(a.user_id, f->gp);
    assert_int_equal(a.kind, PL_USER_STAFF);
    assert_string_equal(a.username, "gp");
    assert_int_equal(a.n_orgs, 2);
    assert_int_equal(a.orgs[0].org_id, f->org_a);
    assert_int_equal(a.orgs[0].roles, PL_ROLE_GP | PL_ROLE_PRACTICE_ADMIN); /* roles accumulate */
    assert_int_equal(a.orgs[1].org_id, f->org_b);
    assert_int_equal(a.orgs[1].roles, PL_ROLE_RECEPTIONIST);

    pl_actor_t p = actor_of(f, f->pat_b);
    assert_int_equal(p.kind, PL_USER_PATIENT);
    assert_int_equal(p.practice_id, f->org_b);
    assert_int_equal(p.n_orgs, 0);

    assert_int_equal(pl_store_user_set_disabled(f->st, f->gp, true), 0);
    assert_int_equal(pl_store_actor_load(f->st, f->gp, &a), -PL_EAUTH);
    assert_int_equal(pl_store_user_set_disabled(f->st, f->gp, false), 0);
    assert_int_equal(pl_store_actor_load(f->st, f->gp, &a), 0);
    assert_int_equal(pl_store_actor_load(f->st, 9999, &a), -PL_ENOTFOUND);
}

/* ---- audit ---- */

static void test_audit_rows_are_appended_and_listed_in_order(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_store_audit(f->st, f->gp, "conversation.read", "conversation", 11, f->pat1,
                                    "10.0.0.1", "req-1", 1000),
                     0);
    assert_int_equal(
        pl_store_audit(f->st, f->recep, "org.read", "org", f->org_a, 0, NULL, NULL, 2000), 0);
    assert_int_equal(pl_store_audit(f->st, f->gp, "patient.lookup", "patient", f->pat2, f->pat2,
                                    "10.0.0.2", "req-3", 3000),
                     0);
    json_t *rows = NULL;
    assert_int_equal(pl_store_audit_list(f->st, 0, 10, &rows), 0);
    assert_int_equal(json_array_size(rows), 3);
    const json_t *r0 = json_array_get(rows, 0), *r1 = json_array_get(rows, 1);
    assert_int_equal(jint(r0, "actor_id"), f->gp);
    assert_string_equal(json_string_value(json_object_get(r0, "action")), "conversation.read");
    assert_string_equal(json_string_value(json_object_get(r0, "resource_type")), "conversation");
    assert_int_equal(jint(r0, "resource_id"), 11);
    assert_int_equal(jint(r0, "patient_id"), f->pat1);
    assert_string_equal(json_string_value(json_object_get(r0, "ip")), "10.0.0.1");
    assert_string_equal(json_string_value(json_object_get(r0, "request_id")), "req-1");
    assert_int_equal(jint(r0, "at"), 1000);
    assert_int_equal(jint(r1, "patient_id"), 0);
    assert_string_equal(json_string_value(json_object_get(r1, "ip")), "");
    int64_t first = jint(r0, "id");
    json_decref(rows);

    assert_int_equal(pl_store_audit_list(f->st, first, 1, &rows), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "action")),
                        "org.read");
    json_decref(rows);
}

/* ---- transactions ---- */

static void test_rollback_to_savepoint_undoes_only_that_jobs_writes(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    assert_int_equal(pl_store_begin(f->st), 0);

    assert_int_equal(pl_store_savepoint(f->st), 0);
    assert_int_equal(send_msg(f, c, f->pat1, false, "job1", "kept").seq, 1);
    assert_int_equal(pl_store_release(f->st), 0);

    assert_int_equal(pl_store_savepoint(f->st), 0);
    assert_int_equal(send_msg(f, c, f->pat1, false, "job2", "undone").seq, 2);
    assert_int_equal(add_org(f->st, "Z99999", 0) > 0, 1);
    assert_int_equal(pl_store_rollback_to(f->st), 0);

    assert_int_equal(pl_store_savepoint(f->st), 0);
    /* job2's seq was handed back, so job3 takes 2. */
    assert_int_equal(send_msg(f, c, f->pat1, false, "job3", "kept too").seq, 2);
    assert_int_equal(pl_store_release(f->st), 0);
    assert_int_equal(pl_store_commit(f->st), 0);

    pl_org_t o;
    assert_int_equal(pl_store_org_by_code(f->st, "Z99999", &o), -PL_ENOTFOUND);
    assert_int_equal(conv_of(f, c).last_seq, 2);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM messages WHERE txn_id = 'job2'"), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM messages"), 2);
}

static void test_rollback_undoes_the_whole_transaction(void **state)
{
    fx_t *f = *state;
    int64_t c = new_conv(f, f->org_a, f->pat1, "c1");
    assert_int_equal(pl_store_begin(f->st), 0);
    (void)send_msg(f, c, f->pat1, false, "t1", "gone");
    assert_int_equal(pl_store_rollback(f->st), 0);
    assert_int_equal(conv_of(f, c).last_seq, 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM messages"), 0);
}
int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_database_and_wal_with_mode_0600),
        T(test_reopen_runs_no_migration_and_keeps_data),
        T(test_open_refuses_a_newer_schema),
        T(test_open_rejects_unknown_scheme_and_missing_directory),
        T(test_users_are_found_by_username_and_nhs_and_unique),
        T(test_session_create_get_touch_delete),
        T(test_actor_load_returns_memberships_and_refuses_disabled_users),
        T(test_audit_rows_are_appended_and_listed_in_order),
        T(test_rollback_to_savepoint_undoes_only_that_jobs_writes),
        T(test_rollback_undoes_the_whole_transaction),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
