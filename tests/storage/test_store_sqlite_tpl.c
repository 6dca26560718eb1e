/* Unit tests for storage/store_sqlite_tpl.c through storage/store.h: a practice's staff list and
 * its reply templates (create, update, delete, list order, isolation between organisations, the
 * per-organisation limit) and migration 2 on a version-1 database. */
#include "tests/storage/store_fixture.h"

static int64_t new_tpl(fx_t *f, int64_t org, const char *title, const char *body, int64_t by)
{
    int64_t id = 0;
    assert_int_equal(pl_store_tpl_create(f->st, org, title, body, by, f->now, &id), 0);
    assert_true(id > 0);
    return id;
}

static json_t *list_of(fx_t *f, int64_t org)
{
    json_t *l = NULL;
    assert_int_equal(pl_store_tpl_list(f->st, org, &l), 0);
    assert_true(json_is_array(l));
    return l;
}

static const char *str_at(json_t *arr, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

/* ---- org staff ---- */

static void test_org_staff_lists_live_staff_with_roles_in_name_order(void **state)
{
    fx_t *f = *state;
    int64_t ann = add_staff(f->st, "Ann Able", f->org_a, PL_ROLE_NURSE | PL_ROLE_PRACTICE_ADMIN);
    int64_t zed = add_staff(f->st, "zed", f->org_a, PL_ROLE_PHARMACIST);
    int64_t gone = add_staff(f->st, "Gone Away", f->org_a, PL_ROLE_GP);
    assert_true(ann && zed && gone);
    assert_int_equal(pl_store_user_set_disabled(f->st, gone, true), 0);
    json_t *l = NULL;
    assert_int_equal(pl_store_org_staff(f->st, f->org_a, &l), 0);
    /* Display names (the fixture's are the usernames), case-insensitively: Ann Able, gp, recep,
     * zed. Disabled staff, patients and staff of B are left out. */
    assert_int_equal(json_array_size(l), 4);
    assert_string_equal(str_at(l, 0, "display_name"), "Ann Able");
    assert_string_equal(str_at(l, 1, "display_name"), "gp");
    assert_string_equal(str_at(l, 2, "display_name"), "recep");
    assert_string_equal(str_at(l, 3, "display_name"), "zed");
    assert_int_equal(jint(json_array_get(l, 0), "id"), ann);
    assert_int_equal(jint(json_array_get(l, 1), "id"), f->gp);
    json_t *roles = json_object_get(json_array_get(l, 0), "roles");
    assert_int_equal(json_array_size(roles), 2);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), "nurse");
    assert_string_equal(json_string_value(json_array_get(roles, 1)), "practice_admin");
    roles = json_object_get(json_array_get(l, 1), "roles");
    assert_int_equal(json_array_size(roles), 1);
    assert_string_equal(json_string_value(json_array_get(roles, 0)), "gp");
    json_decref(l);
}

static void test_org_staff_ties_on_name_go_by_id_and_roleless_members_are_left_out(void **state)
{
    fx_t *f = *state;
    int64_t first = add_staff(f->st, "twin1", f->org_b, PL_ROLE_GP);
    int64_t second = add_staff(f->st, "twin2", f->org_b, PL_ROLE_GP);
    int64_t roleless = add_staff(f->st, "nobody", f->org_b, 0);
    assert_true(first && second && roleless);
    raw_exec(f, "UPDATE users SET display_name = 'Twin' WHERE username IN ('twin1','twin2')");
    json_t *l = NULL;
    assert_int_equal(pl_store_org_staff(f->st, f->org_b, &l), 0);
    assert_int_equal(json_array_size(l), 3); /* gpb, Twin, Twin */
    assert_int_equal(jint(json_array_get(l, 0), "id"), f->gp_b);
    assert_int_equal(jint(json_array_get(l, 1), "id"), first);
    assert_int_equal(jint(json_array_get(l, 2), "id"), second);
    json_decref(l);
    assert_int_equal(pl_store_org_staff(f->st, 9999, &l), 0);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
}

/* ---- templates ---- */

static void test_template_create_then_read_back(void **state)
{
    fx_t *f = *state;
    int64_t id = new_tpl(f, f->org_a, "Prescription ready", "Collect it from the pharmacy.", f->gp);
    json_t *t = NULL;
    assert_int_equal(pl_store_tpl_json(f->st, id, &t), 0);
    assert_int_equal(jint(t, "id"), id);
    assert_int_equal(jint(t, "org_id"), f->org_a);
    assert_string_equal(json_string_value(json_object_get(t, "title")), "Prescription ready");
    assert_string_equal(json_string_value(json_object_get(t, "body")),
                        "Collect it from the pharmacy.");
    assert_int_equal(jint(t, "updated_at"), f->now);
    assert_int_equal(json_object_size(t), 5);
    json_decref(t);
    assert_int_equal(pl_store_tpl_json(f->st, id + 100, &t), -PL_ENOTFOUND);
}

static void test_template_update_replaces_text_and_records_who_and_when(void **state)
{
    fx_t *f = *state;
    int64_t id = new_tpl(f, f->org_a, "Old title", "Old body", f->gp);
    assert_int_equal(
        pl_store_tpl_update(f->st, id, f->org_a, "New title", "New body", f->recep, f->now + 5000),
        0);
    json_t *t = NULL;
    assert_int_equal(pl_store_tpl_json(f->st, id, &t), 0);
    assert_string_equal(json_string_value(json_object_get(t, "title")), "New title");
    assert_string_equal(json_string_value(json_object_get(t, "body")), "New body");
    assert_int_equal(jint(t, "updated_at"), f->now + 5000);
    json_decref(t);
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT created_by * 1000000 + updated_by FROM reply_templates WHERE id = %lld",
             (long long)id);
    assert_int_equal(raw_int(f, sql), f->gp * 1000000 + f->recep);
    assert_int_equal(pl_store_tpl_update(f->st, id + 100, f->org_a, "x", "y", f->gp, f->now),
                     -PL_ENOTFOUND);
}

static void test_template_delete_hides_it_and_cannot_be_repeated_or_undone(void **state)
{
    fx_t *f = *state;
    int64_t keep = new_tpl(f, f->org_a, "Keep", "k", f->gp);
    int64_t id = new_tpl(f, f->org_a, "Drop", "d", f->gp);
    assert_int_equal(pl_store_tpl_delete(f->st, id, f->org_a, f->recep, f->now + 1), 0);
    json_t *t = NULL;
    assert_int_equal(pl_store_tpl_json(f->st, id, &t), -PL_ENOTFOUND);
    assert_int_equal(pl_store_tpl_delete(f->st, id, f->org_a, f->recep, f->now + 2),
                     -PL_ENOTFOUND);
    assert_int_equal(pl_store_tpl_update(f->st, id, f->org_a, "Back", "b", f->gp, f->now + 3),
                     -PL_ENOTFOUND);
    json_t *l = list_of(f, f->org_a);
    assert_int_equal(json_array_size(l), 1);
    assert_int_equal(jint(json_array_get(l, 0), "id"), keep);
    json_decref(l);
    /* The row stays, marked, with who deleted it. */
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT deleted * 1000000 + updated_by FROM reply_templates "
                              "WHERE id = %lld", (long long)id);
    assert_int_equal(raw_int(f, sql), 1000000 + f->recep);
}

static void test_template_list_orders_by_title_ignoring_case_then_id(void **state)
{
    fx_t *f = *state;
    int64_t b = new_tpl(f, f->org_a, "banana", "1", f->gp);
    int64_t a2 = new_tpl(f, f->org_a, "Apple", "2", f->gp);
    int64_t c = new_tpl(f, f->org_a, "Cherry", "3", f->gp);
    int64_t a1 = new_tpl(f, f->org_a, "apple", "4", f->gp);
    json_t *l = list_of(f, f->org_a);
    assert_int_equal(json_array_size(l), 4);
    int64_t want[] = {a2, a1, b, c}; /* "Apple" and "apple" tie: the older id first */
    for (size_t i = 0; i < 4; i++) assert_int_equal(jint(json_array_get(l, i), "id"), want[i]);
    assert_string_equal(str_at(l, 2, "title"), "banana");
    assert_string_equal(str_at(l, 2, "body"), "1");
    json_decref(l);
    l = list_of(f, 9999);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
}

static void test_templates_of_one_org_are_invisible_and_unchangeable_from_another(void **state)
{
    fx_t *f = *state;
    int64_t a = new_tpl(f, f->org_a, "A's", "for A", f->gp);
    int64_t b = new_tpl(f, f->org_b, "B's", "for B", f->gp_b);
    json_t *l = list_of(f, f->org_b);
    assert_int_equal(json_array_size(l), 1);
    assert_int_equal(jint(json_array_get(l, 0), "id"), b);
    json_decref(l);
    /* Changes are scoped to the organisation the caller names. */
    assert_int_equal(pl_store_tpl_update(f->st, a, f->org_b, "taken", "over", f->gp_b, f->now),
                     -PL_ENOTFOUND);
    assert_int_equal(pl_store_tpl_delete(f->st, a, f->org_b, f->gp_b, f->now), -PL_ENOTFOUND);
    json_t *t = NULL;
    assert_int_equal(pl_store_tpl_json(f->st, a, &t), 0);
    assert_string_equal(json_string_value(json_object_get(t, "title")), "A's");
    json_decref(t);
}

static void test_an_org_holds_at_most_200_live_templates(void **state)
{
    fx_t *f = *state;
    int64_t first = 0;
    for (int i = 0; i < PL_TPL_MAX_PER_ORG; i++) {
        char title[16];
        snprintf(title, sizeof title, "t%03d", i);
        int64_t id = new_tpl(f, f->org_a, title, "body", f->gp);
        if (i == 0) first = id;
    }
    int64_t id = 0;
    assert_int_equal(pl_store_tpl_create(f->st, f->org_a, "one more", "b", f->gp, f->now, &id),
                     -PL_ECONFLICT);
    json_t *l = list_of(f, f->org_a);
    assert_int_equal(json_array_size(l), PL_TPL_MAX_PER_ORG);
    json_decref(l);
    /* Another practice is not affected, and deleting one makes room again. */
    (void)new_tpl(f, f->org_b, "B's own", "b", f->gp_b);
    assert_int_equal(pl_store_tpl_delete(f->st, first, f->org_a, f->gp, f->now), 0);
    (void)new_tpl(f, f->org_a, "one more", "b", f->gp);
    assert_int_equal(pl_store_tpl_create(f->st, f->org_a, "and another", "b", f->gp, f->now, &id),
                     -PL_ECONFLICT);
}

static void test_template_needs_a_real_org_and_author(void **state)
{
    fx_t *f = *state;
    int64_t id = 0;
    assert_int_equal(pl_store_tpl_create(f->st, 9999, "t", "b", f->gp, f->now, &id),
                     -PL_ECONFLICT);
    assert_int_equal(pl_store_tpl_create(f->st, f->org_a, "t", "b", 9999, f->now, &id),
                     -PL_ECONFLICT);
}

/* ---- migration ---- */

static void test_version_1_database_migrates_to_templates_and_keeps_data(void **state)
{
    fx_t *f = *state;
    sqlite_only(f); /* SQLite's migration history; PostgreSQL starts at schema 12 */
    int64_t conv = new_conv(f, f->org_a, f->pat1, "c1");
    /* Make the file look as a version-1 binary left it. */
    pl_store_close(f->st);
    f->st = NULL;
    /* Migration 4 added columns, which cannot be added twice: take them off again. */
    raw_exec(f, "DROP TABLE data_keys; DROP TABLE reply_templates; ALTER TABLE users DROP COLUMN guest_role; "
                "ALTER TABLE consult_links DROP COLUMN user_id; "
                "ALTER TABLE consult_participants DROP COLUMN waiting_at; "
                "ALTER TABLE consult_participants DROP COLUMN admitted_at; "
                "DROP TABLE attachments; DROP TABLE blobs; DROP TABLE advice_requests; "
                "DROP TABLE agreements; DROP INDEX events_peer_org; "
                "ALTER TABLE events DROP COLUMN peer_org_id; ALTER TABLE orgs DROP COLUMN "
                "specialties; ALTER TABLE orgs DROP COLUMN routine_target_hours; "
                "ALTER TABLE orgs DROP COLUMN urgent_target_hours; "
                "DROP INDEX consultations_room; ALTER TABLE consultations DROP COLUMN room_id; "
                "DROP TABLE case_members; DROP TABLE cases; DROP INDEX events_case; "
                "ALTER TABLE events DROP COLUMN case_id; "
                "DROP INDEX messages_conv_id; DROP INDEX audit_patient; DROP TABLE outbox; DROP TABLE filings; ALTER TABLE messages DROP COLUMN error_by; "
                "ALTER TABLE messages DROP COLUMN error_at; "
                "ALTER TABLE messages DROP COLUMN error_reason; "
                "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete; "
                "DROP TRIGGER audit_checkpoints_append_only_update; "
                "DROP TRIGGER audit_checkpoints_append_only_delete; "
                "DROP TABLE audit_checkpoints; ALTER TABLE audit DROP COLUMN role; "
                "ALTER TABLE audit DROP COLUMN org_id; ALTER TABLE audit DROP COLUMN outcome; "
                "ALTER TABLE audit DROP COLUMN user_agent; "
                "ALTER TABLE audit DROP COLUMN prev_hash; ALTER TABLE audit DROP COLUMN hash; "
                "DELETE FROM schema_version WHERE version > 1");
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), 1);
    reopen(f, f->key);
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), pl_schema_version);
    assert_true(pl_schema_version >= 2);
    assert_int_equal(conv_of(f, conv).org_id, f->org_a);
    (void)new_tpl(f, f->org_a, "After migration", "works", f->gp);
    assert_int_equal(
        raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'reply_templates_org'"), 1);
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_org_staff_lists_live_staff_with_roles_in_name_order),
        T(test_org_staff_ties_on_name_go_by_id_and_roleless_members_are_left_out),
        T(test_template_create_then_read_back),
        T(test_template_update_replaces_text_and_records_who_and_when),
        T(test_template_delete_hides_it_and_cannot_be_repeated_or_undone),
        T(test_template_list_orders_by_title_ignoring_case_then_id),
        T(test_templates_of_one_org_are_invisible_and_unchangeable_from_another),
        T(test_an_org_holds_at_most_200_live_templates),
        T(test_template_needs_a_real_org_and_author),
        T(test_version_1_database_migrates_to_templates_and_keeps_data),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
