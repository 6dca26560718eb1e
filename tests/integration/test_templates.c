/* Integration: the practice team's requests (org.staff, template.list, template.save,
 * template.delete) against the real server binary over real WSS, on the demo data: Riverside
 * Surgery has three seeded templates; Hillside Medical Centre has none. One server for the
 * group; tests that add templates remove them again, except the limit test, which runs last and
 * uses Hillside. */
#include "tests/support/pclient.h"
#include "tests/support/rawdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define T 5000

static pl_fixture_t fx;

static int group_setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000", NULL};
    return pl_fixture_start(&fx, args);
}

static int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

static pl_pc_t *open_as(const char *user)
{
    pl_pc_t *c = NULL;
    assert_int_equal(pl_pc_open(&c, &fx, user), 0);
    return c;
}

/* The id of the (one) organisation a staff member belongs to, from session.info. */
static json_int_t org_of(pl_pc_t *c)
{
    json_t *r = pl_pc_callf(c, T, "{ss}", "type", "session.info");
    assert_true(pl_pc_is_ok(r));
    json_int_t id =
        json_integer_value(json_object_get(json_array_get(json_object_get(r, "organisations"), 0),
                                           "id"));
    json_decref(r);
    assert_true(id > 0);
    return id;
}

static const char *err_message(json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

static json_t *list_templates(pl_pc_t *c, json_int_t org)
{
    json_t *r = pl_pc_callf(c, T, "{ss sI}", "type", "template.list", "org_id", org);
    assert_true(pl_pc_is_ok(r));
    assert_true(json_is_array(json_object_get(r, "templates")));
    return r;
}

static json_int_t first_template_id(pl_pc_t *staff, json_int_t org)
{
    json_t *r = list_templates(staff, org);
    json_t *first = json_array_get(json_object_get(r, "templates"), 0);
    json_int_t id = json_integer_value(json_object_get(first, "id"));
    json_decref(r);
    assert_true(id > 0);
    return id;
}

/* Audit rows for a template action, read from the server's database. */
static int audit_count(const char *action, json_int_t tpl_id)
{
    pl_db_t *db = NULL;
    pl_dbs_t *s = NULL;
    assert_int_equal(rawdb_open(&db, fx.dir), 0);
    assert_int_equal(pl_db_prepare(db,
                                   "SELECT count(*) FROM audit WHERE action = ?1 AND "
                                   "outcome = 'ok' AND resource_type = 'template' AND "
                                   "resource_id = ?2",
                                   &s),
                     PL_DB_OK);
    pl_dbs_bind_text(s, 1, action, -1);
    pl_dbs_bind_int64(s, 2, tpl_id);
    int rc = pl_dbs_step(s);
    if (rc != PL_DB_ROW) print_error("audit_count: %s\n", pl_db_errmsg(db));
    assert_int_equal(rc, PL_DB_ROW);
    int n = pl_dbs_int(s, 0);
    pl_dbs_finalize(s);
    pl_db_close(db);
    return n;
}

static void test_receptionist_lists_the_seeded_templates_by_title(void **s)
{
    pl_pc_t *rc = open_as("reception.jones");
    json_int_t org = org_of(rc);
    json_t *r = list_templates(rc, org);
    json_t *list = json_object_get(r, "templates");
    assert_int_equal(json_array_size(list), 3);
    const char *titles[] = {"Please book an appointment", "Prescription ready",
                            "Test results normal"};
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(t, "title")), titles[i]);
        assert_int_equal(json_integer_value(json_object_get(t, "org_id")), org);
        assert_true(json_integer_value(json_object_get(t, "id")) > 0);
        assert_true(json_integer_value(json_object_get(t, "updated_at")) > 0);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "body")),
                        "Your prescription is ready to collect from your nominated pharmacy.");
    json_decref(r);
    pl_pc_destroy(rc);
}

static void test_staff_of_any_role_save_update_and_delete_a_template(void **s)
{
    pl_pc_t *nurse = open_as("nurse.okafor"), *pharm = open_as("pharm.lee");
    pl_pc_t *recep = open_as("reception.jones");
    json_int_t org = org_of(nurse);
    /* Create. */
    json_t *r = pl_pc_callf(nurse, T, "{ss sI ss ss}", "type", "template.save", "org_id", org,
                            "title", "Flu clinic", "body", "Our flu clinic runs on Saturdays.");
    assert_true(pl_pc_is_ok(r));
    json_t *t = json_object_get(r, "template");
    json_int_t id = json_integer_value(json_object_get(t, "id"));
    assert_true(id > 0);
    assert_int_equal(json_integer_value(json_object_get(t, "org_id")), org);
    assert_string_equal(json_string_value(json_object_get(t, "title")), "Flu clinic");
    assert_string_equal(json_string_value(json_object_get(t, "body")),
                        "Our flu clinic runs on Saturdays.");
    json_int_t created_at = json_integer_value(json_object_get(t, "updated_at"));
    json_decref(r);
    /* Everyone on the team sees it, in title order ("Flu clinic" sorts first). */
    r = list_templates(recep, org);
    assert_int_equal(json_array_size(json_object_get(r, "templates")), 4);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r, "templates"), 0), "id")),
                     id);
    json_decref(r);
    /* Update by someone else on the team. */
    r = pl_pc_callf(pharm, T, "{ss sI sI ss ss}", "type", "template.save", "org_id", org,
                    "template_id", id, "title", "flu clinic (Saturdays)", "body",
                    "Our flu clinic runs on Saturday mornings.");
    assert_true(pl_pc_is_ok(r));
    t = json_object_get(r, "template");
    assert_int_equal(json_integer_value(json_object_get(t, "id")), id);
    assert_string_equal(json_string_value(json_object_get(t, "title")), "flu clinic (Saturdays)");
    assert_true(json_integer_value(json_object_get(t, "updated_at")) >= created_at);
    json_decref(r);
    /* Delete, by a third. */
    r = pl_pc_callf(recep, T, "{ss sI}", "type", "template.delete", "template_id", id);
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(json_object_size(r), 2); /* id and ok only */
    json_decref(r);
    r = list_templates(nurse, org);
    assert_int_equal(json_array_size(json_object_get(r, "templates")), 3);
    json_decref(r);
    /* Gone means gone: no second delete, no update. */
    r = pl_pc_callf(recep, T, "{ss sI}", "type", "template.delete", "template_id", id);
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(nurse, T, "{ss sI sI ss ss}", "type", "template.save", "org_id", org,
                    "template_id", id, "title", "Back", "body", "again");
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    /* Each change was audited. */
    assert_int_equal(audit_count("template.create", id), 1);
    assert_int_equal(audit_count("template.update", id), 1);
    assert_int_equal(audit_count("template.delete", id), 1);
    pl_pc_destroy(nurse);
    pl_pc_destroy(pharm);
    pl_pc_destroy(recep);
}

static void test_patient_is_forbidden_templates_and_the_staff_list(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *ann = open_as("ann.taylor");
    json_int_t org = org_of(gp);
    json_int_t tid = first_template_id(gp, org);
    json_t *r = pl_pc_callf(ann, T, "{ss sI}", "type", "template.list", "org_id", org);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss sI ss ss}", "type", "template.save", "org_id", org, "title",
                    "Mine", "body", "x");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss sI sI ss ss}", "type", "template.save", "org_id", org,
                    "template_id", tid, "title", "Mine", "body", "x");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss sI}", "type", "template.delete", "template_id", tid);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(ann, T, "{ss sI}", "type", "org.staff", "org_id", org);
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    /* Nothing changed. */
    r = list_templates(gp, org);
    assert_int_equal(json_array_size(json_object_get(r, "templates")), 3);
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(ann);
}

static void test_staff_of_another_practice_is_forbidden(void **s)
{
    pl_pc_t *gp = open_as("dr.patel"), *other = open_as("dr.hughes");
    json_int_t riverside = org_of(gp), hillside = org_of(other);
    json_int_t tid = first_template_id(gp, riverside);
    json_t *r = pl_pc_callf(other, T, "{ss sI}", "type", "template.list", "org_id", riverside);
    assert_true(pl_pc_is_error(r, "forbidden"));
    assert_string_equal(err_message(r), "you are not a member of that organisation");
    json_decref(r);
    r = pl_pc_callf(other, T, "{ss sI ss ss}", "type", "template.save", "org_id", riverside,
                    "title", "Ours now", "body", "x");
    assert_true(pl_pc_is_error(r, "forbidden"));
    json_decref(r);
    r = pl_pc_callf(other, T, "{ss sI}", "type", "template.delete", "template_id", tid);
    assert_true(pl_pc_is_error(r, "forbidden"));
    assert_string_equal(err_message(r), "you are not a member of that organisation");
    json_decref(r);
    r = pl_pc_callf(other, T, "{ss sI}", "type", "org.staff", "org_id", riverside);
    assert_true(pl_pc_is_error(r, "forbidden"));
    assert_string_equal(err_message(r), "you are not a member of that organisation");
    json_decref(r);
    /* Naming their own practice does not reach another practice's template: not found. */
    r = pl_pc_callf(other, T, "{ss sI sI ss ss}", "type", "template.save", "org_id", hillside,
                    "template_id", tid, "title", "Ours now", "body", "x");
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = list_templates(other, hillside);
    assert_int_equal(json_array_size(json_object_get(r, "templates")), 0);
    json_decref(r);
    r = list_templates(gp, riverside);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "templates"), 0), "title")),
                        "Please book an appointment");
    json_decref(r);
    pl_pc_destroy(gp);
    pl_pc_destroy(other);
}

static void test_bad_template_input_is_refused_naming_the_field(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    json_int_t org = org_of(gp);
    char title[102];
    memset(title, 'x', 101);
    title[101] = 0;
    json_t *r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org,
                            "title", title, "body", "b");
    assert_true(pl_pc_is_error(r, "too_large"));
    assert_non_null(strstr(err_message(r), "title"));
    json_decref(r);
    title[100] = 0; /* exactly 100 bytes is fine */
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org, "title",
                    title, "body", "b");
    assert_true(pl_pc_is_ok(r));
    json_int_t made = json_integer_value(json_object_get(json_object_get(r, "template"), "id"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "template.delete", "template_id", made);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI ss}", "type", "template.save", "org_id", org, "title", "t");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_string_equal(err_message(r), "body is required");
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org, "title", "",
                    "body", "b");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_non_null(strstr(err_message(r), "title"));
    json_decref(r);
    char *big = malloc(4098);
    memset(big, 'b', 4097);
    big[4097] = 0;
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org, "title", "t",
                    "body", big);
    free(big);
    assert_true(pl_pc_is_error(r, "too_large"));
    assert_non_null(strstr(err_message(r), "body"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss ss ss ss}", "type", "template.save", "org_id", "2", "title", "t",
                    "body", "b");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_non_null(strstr(err_message(r), "org_id"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI sI ss ss}", "type", "template.save", "org_id", org,
                    "template_id", (json_int_t)0, "title", "t", "body", "b");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_non_null(strstr(err_message(r), "template_id"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss}", "type", "template.list");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_string_equal(err_message(r), "org_id is required");
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss}", "type", "template.delete");
    assert_true(pl_pc_is_error(r, "bad_request"));
    assert_string_equal(err_message(r), "template_id is required");
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "template.delete", "template_id",
                    (json_int_t)999999);
    assert_true(pl_pc_is_error(r, "not_found"));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "org.staff", "org_id", (json_int_t)-1);
    assert_true(pl_pc_is_error(r, "bad_request"));
    json_decref(r);
    /* Nothing was stored by the refusals, and the connection is still usable. */
    r = list_templates(gp, org);
    assert_int_equal(json_array_size(json_object_get(r, "templates")), 3);
    json_decref(r);
    pl_pc_destroy(gp);
}

static void test_org_staff_lists_the_team_with_their_roles(void **s)
{
    pl_pc_t *gp = open_as("dr.patel");
    json_int_t org = org_of(gp);
    json_t *r = pl_pc_callf(gp, T, "{ss sI}", "type", "org.staff", "org_id", org);
    assert_true(pl_pc_is_ok(r));
    json_t *staff = json_object_get(r, "staff");
    /* Riverside's five staff, by display name; no patients, nobody from Hillside. */
    const char *names[] = {"Dr Asha Patel", "Grace Okafor", "Jo Smith", "Min Lee", "Sam Jones"};
    const char *roles[] = {"gp", "nurse", "practice_admin", "pharmacist", "receptionist"};
    assert_int_equal(json_array_size(staff), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *m = json_array_get(staff, i);
        assert_string_equal(json_string_value(json_object_get(m, "display_name")), names[i]);
        json_t *rl = json_object_get(m, "roles");
        assert_int_equal(json_array_size(rl), 1);
        assert_string_equal(json_string_value(json_array_get(rl, 0)), roles[i]);
        assert_int_equal(json_object_size(m), 3);
    }
    assert_int_equal(json_integer_value(json_object_get(json_array_get(staff, 0), "id")),
                     pl_fixture_user_id(&fx, "dr.patel"));
    json_decref(r);
    pl_pc_destroy(gp);
    /* Any role may ask. */
    pl_pc_t *recep = open_as("reception.jones");
    r = pl_pc_callf(recep, T, "{ss sI}", "type", "org.staff", "org_id", org);
    assert_true(pl_pc_is_ok(r));
    assert_int_equal(json_array_size(json_object_get(r, "staff")), 5);
    json_decref(r);
    pl_pc_destroy(recep);
}

static void test_a_practice_keeps_at_most_200_templates(void **s)
{
    pl_pc_t *gp = open_as("dr.hughes");
    json_int_t org = org_of(gp);
    json_int_t first = 0;
    for (int i = 0; i < 200; i++) {
        char title[16];
        snprintf(title, sizeof title, "T%03d", i);
        json_t *r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org,
                                "title", title, "body", "b");
        assert_true(pl_pc_is_ok(r));
        if (i == 0)
            first = json_integer_value(json_object_get(json_object_get(r, "template"), "id"));
        json_decref(r);
    }
    json_t *r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org,
                            "title", "one too many", "body", "b");
    assert_true(pl_pc_is_error(r, "conflict"));
    assert_string_equal(err_message(r), "this practice already has 200 templates");
    json_decref(r);
    /* Updating one is still allowed at the limit, and deleting one makes room. */
    r = pl_pc_callf(gp, T, "{ss sI sI ss ss}", "type", "template.save", "org_id", org,
                    "template_id", first, "title", "T000 renamed", "body", "b");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI}", "type", "template.delete", "template_id", first);
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = pl_pc_callf(gp, T, "{ss sI ss ss}", "type", "template.save", "org_id", org, "title",
                    "room again", "body", "b");
    assert_true(pl_pc_is_ok(r));
    json_decref(r);
    r = list_templates(gp, org);
    assert_int_equal(json_array_size(json_object_get(r, "templates")), 200);
    json_decref(r);
    pl_pc_destroy(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receptionist_lists_the_seeded_templates_by_title),
        cmocka_unit_test(test_staff_of_any_role_save_update_and_delete_a_template),
        cmocka_unit_test(test_patient_is_forbidden_templates_and_the_staff_list),
        cmocka_unit_test(test_staff_of_another_practice_is_forbidden),
        cmocka_unit_test(test_bad_template_input_is_refused_naming_the_field),
        cmocka_unit_test(test_org_staff_lists_the_team_with_their_roles),
        cmocka_unit_test(test_a_practice_keeps_at_most_200_templates),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
