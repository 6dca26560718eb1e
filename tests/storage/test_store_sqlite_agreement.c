/* Unit tests for storage/store_sqlite_advice.c through storage/store.h: specialist services
 * (set, get, list, only on orgs of kind specialist_service) and information-sharing agreements
 * (create, accept, end, pl_agreement_state at its boundaries: starts_at inclusive, ends_at
 * exclusive; which agreement is in force; the list by either side). Advice requests are in
 * test_store_sqlite_advice.c. Real SQLite in a temporary directory
 * (tests/storage/advice_fixture.h over store_fixture.h). */
#include "tests/storage/advice_fixture.h"
#include "tests/storage/store_fixture.h"

/* ---- services ---- */

static void test_service_set_get_and_list_only_specialist_services(void **s)
{
    afx_t *a = *s;
    pl_service_t svc;
    assert_int_equal(pl_store_service_get(a->f->st, a->svc, &svc), 0);
    assert_int_equal(svc.id, a->svc);
    assert_string_equal(svc.name, "Dermatology, Test Hospital");
    assert_string_equal(svc.code, "R0T01");
    assert_int_equal(json_array_size(svc.specialties), 2);
    assert_string_equal(json_string_value(json_array_get(svc.specialties, 0)), "Dermatology");
    assert_string_equal(json_string_value(json_array_get(svc.specialties, 1)),
                        "Skin lesions (suspected cancer)");
    assert_int_equal(svc.routine_target_hours, 72);
    assert_int_equal(svc.urgent_target_hours, 4);
    json_decref(svc.specialties);

    /* Never set: no specialties, the schema's default targets. */
    assert_int_equal(pl_store_service_get(a->f->st, a->svc2, &svc), 0);
    assert_int_equal(json_array_size(svc.specialties), 0);
    assert_true(json_is_array(svc.specialties));
    assert_int_equal(svc.routine_target_hours, 72);
    assert_int_equal(svc.urgent_target_hours, 4);
    json_decref(svc.specialties);

    /* A practice is not a service: neither set nor read as one, and left untouched. */
    json_t *sp = json_pack("[s]", "Cardiology");
    assert_int_equal(pl_store_service_set(a->f->st, a->f->org_a, sp, 24, 2), -PL_ENOTFOUND);
    assert_int_equal(pl_store_service_get(a->f->st, a->f->org_a, &svc), -PL_ENOTFOUND);
    assert_int_equal(pl_store_service_get(a->f->st, 9999, &svc), -PL_ENOTFOUND);
    assert_int_equal(pl_store_service_set(a->f->st, 9999, sp, 24, 2), -PL_ENOTFOUND);
    assert_int_equal(raw_int(a->f, "SELECT count(*) FROM orgs WHERE specialties IS NOT NULL"), 1);

    /* Set again, it replaces. */
    assert_int_equal(pl_store_service_set(a->f->st, a->svc2, sp, 24, 2), 0);
    json_decref(sp);
    assert_int_equal(pl_store_service_get(a->f->st, a->svc2, &svc), 0);
    assert_int_equal(json_array_size(svc.specialties), 1);
    assert_string_equal(json_string_value(json_array_get(svc.specialties, 0)), "Cardiology");
    assert_int_equal(svc.routine_target_hours, 24);
    assert_int_equal(svc.urgent_target_hours, 2);
    json_decref(svc.specialties);

    /* The list: services only, by name (Cardiology before Dermatology), every field. */
    json_t *list = NULL;
    assert_int_equal(pl_store_service_list(a->f->st, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    json_t *c = json_array_get(list, 0), *d = json_array_get(list, 1);
    assert_int_equal(jint(c, "id"), a->svc2);
    assert_string_equal(jstr(c, "code"), "R0T02");
    assert_string_equal(jstr(c, "name"), "Cardiology, Test Hospital");
    assert_int_equal(jint(c, "routine_target_hours"), 24);
    assert_int_equal(jint(c, "urgent_target_hours"), 2);
    assert_int_equal(json_array_size(json_object_get(c, "specialties")), 1);
    assert_int_equal(jint(d, "id"), a->svc);
    assert_string_equal(jstr(d, "name"), "Dermatology, Test Hospital");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "specialties"), 1)),
                        "Skin lesions (suspected cancer)");
    assert_int_equal(jint(d, "routine_target_hours"), 72);
    assert_int_equal(jint(d, "urgent_target_hours"), 4);
    assert_int_equal(json_object_size(d), 6);
    json_decref(list);
}

/* ---- agreements ---- */

static void test_agreement_state_at_its_boundaries(void **s)
{
    (void)s;
    const int64_t from = 1000000, to = 2000000;
    pl_agreement_t ag;
    memset(&ag, 0, sizeof ag);
    ag.starts_at = from;
    ag.ends_at = to;
    /* Not accepted: proposed, whatever the time. */
    assert_string_equal(pl_agreement_state(&ag, from - 1), "proposed");
    assert_string_equal(pl_agreement_state(&ag, from), "proposed");
    assert_string_equal(pl_agreement_state(&ag, to), "proposed");
    ag.accepted_at = from - 500;
    ag.accepted_by = 7;
    /* Accepted: waiting before starts_at, in force from starts_at (inclusive) up to ends_at
     * (exclusive), expired from ends_at. */
    assert_string_equal(pl_agreement_state(&ag, from - 1), "accepted");
    assert_string_equal(pl_agreement_state(&ag, from), "active");
    assert_string_equal(pl_agreement_state(&ag, from + 1), "active");
    assert_string_equal(pl_agreement_state(&ag, to - 1), "active");
    assert_string_equal(pl_agreement_state(&ag, to), "expired");
    assert_string_equal(pl_agreement_state(&ag, to + 1), "expired");
    /* Ended: ended, in the window or not, accepted or not. */
    ag.ended_at = from + 10;
    ag.ended_by = 8;
    assert_string_equal(pl_agreement_state(&ag, from + 20), "ended");
    assert_string_equal(pl_agreement_state(&ag, from - 1), "ended");
    assert_string_equal(pl_agreement_state(&ag, to), "ended");
    ag.accepted_at = 0;
    assert_string_equal(pl_agreement_state(&ag, from + 20), "ended");
}

static void test_agreement_is_proposed_accepted_once_and_ended_once(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t from = f->now + HOUR_MS, to = f->now + 30 * 24 * HOUR_MS;
    int64_t id = agreement_at(a, f->org_a, a->svc2, "pseudonymised", from, to, f->gp, 0);
    pl_agreement_t ag;
    assert_int_equal(pl_store_agreement_get(f->st, id, &ag), 0);
    assert_int_equal(ag.id, id);
    assert_int_equal(ag.practice_id, f->org_a);
    assert_int_equal(ag.service_id, a->svc2);
    assert_string_equal(ag.shares, "pseudonymised");
    assert_int_equal(ag.starts_at, from);
    assert_int_equal(ag.ends_at, to);
    assert_int_equal(ag.proposed_by, f->gp);
    assert_int_equal(ag.proposed_org_id, f->org_a);
    assert_int_equal(ag.proposed_at, f->now - HOUR_MS);
    assert_int_equal(ag.accepted_by, 0);
    assert_int_equal(ag.accepted_at, 0);
    assert_int_equal(ag.ended_by, 0);
    assert_int_equal(ag.ended_at, 0);
    json_t *j = pl_agreement_json(&ag, f->now);
    assert_string_equal(jstr(j, "state"), "proposed");
    assert_int_equal(jint(j, "id"), id);
    assert_int_equal(jint(j, "practice_id"), f->org_a);
    assert_int_equal(jint(j, "service_id"), a->svc2);
    assert_string_equal(jstr(j, "shares"), "pseudonymised");
    assert_int_equal(jint(j, "starts_at"), from);
    assert_int_equal(jint(j, "ends_at"), to);
    assert_int_equal(jint(j, "proposed_by"), f->gp);
    assert_int_equal(jint(j, "proposed_org_id"), f->org_a);
    assert_true(json_is_null(json_object_get(j, "accepted_by")));
    assert_true(json_is_null(json_object_get(j, "accepted_at")));
    assert_true(json_is_null(json_object_get(j, "ended_by")));
    assert_true(json_is_null(json_object_get(j, "ended_at")));
    json_decref(j);

    assert_int_equal(pl_store_agreement_accept(f->st, id, a->admin, f->now + 5), 0);
    assert_int_equal(pl_store_agreement_accept(f->st, id, a->admin, f->now + 6), -PL_ECONFLICT);
    assert_int_equal(pl_store_agreement_get(f->st, id, &ag), 0);
    assert_int_equal(ag.accepted_by, a->admin);
    assert_int_equal(ag.accepted_at, f->now + 5); /* the first acceptance stands */
    j = pl_agreement_json(&ag, f->now);
    assert_string_equal(jstr(j, "state"), "accepted"); /* starts in an hour */
    assert_int_equal(jint(j, "accepted_by"), a->admin);
    json_decref(j);

    assert_int_equal(pl_store_agreement_end(f->st, id, f->gp, f->now + 7), 0);
    assert_int_equal(pl_store_agreement_end(f->st, id, a->admin, f->now + 8), -PL_ECONFLICT);
    assert_int_equal(pl_store_agreement_get(f->st, id, &ag), 0);
    assert_int_equal(ag.ended_by, f->gp);
    assert_int_equal(ag.ended_at, f->now + 7);
    assert_string_equal(pl_agreement_state(&ag, from + 1), "ended");

    /* One that was never accepted can be ended (withdrawn), and then never accepted. */
    int64_t other = agreement_at(a, f->org_b, a->svc2, "identified", from, to, f->gp_b, 0);
    assert_int_equal(pl_store_agreement_end(f->st, other, f->gp_b, f->now), 0);
    assert_int_equal(pl_store_agreement_accept(f->st, other, a->admin, f->now), -PL_ECONFLICT);
    assert_int_equal(pl_store_agreement_get(f->st, other, &ag), 0);
    assert_int_equal(ag.accepted_at, 0);

    assert_int_equal(pl_store_agreement_get(f->st, 9999, &ag), -PL_ENOTFOUND);
    assert_int_equal(pl_store_agreement_accept(f->st, 9999, a->admin, f->now), -PL_ECONFLICT);
    assert_int_equal(pl_store_agreement_end(f->st, 9999, a->admin, f->now), -PL_ECONFLICT);
    /* The schema refuses an agreement that ends before it starts. */
    pl_agreement_t bad = ag;
    bad.starts_at = to;
    bad.ends_at = from;
    assert_int_not_equal(pl_store_agreement_create(f->st, &bad, NULL), 0);
}

static void test_agreement_in_force_only_from_start_to_before_end_once_accepted(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    const int64_t from = f->now + 10 * HOUR_MS, to = from + 5 * HOUR_MS;
    int64_t id = agreement_at(a, f->org_a, a->svc2, "identified", from, to, f->gp, 0);
    pl_agreement_t got;
    /* Proposed only: never in force. */
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, from, &got),
                     -PL_ENOTFOUND);
    assert_int_equal(pl_store_agreement_accept(f->st, id, a->admin, f->now), 0);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, from - 1, &got),
                     -PL_ENOTFOUND);
    memset(&got, 0, sizeof got);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, from, &got), 0);
    assert_int_equal(got.id, id);
    assert_string_equal(got.shares, "identified");
    assert_int_equal(got.accepted_by, a->admin);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, to - 1, &got), 0);
    assert_int_equal(got.id, id);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, to, &got), -PL_ENOTFOUND);
    /* Only between these two: not the other practice, not the pair the other way round. */
    assert_int_equal(pl_store_agreement_active(f->st, f->org_b, a->svc2, from, &got),
                     -PL_ENOTFOUND);
    assert_int_equal(pl_store_agreement_active(f->st, a->svc2, f->org_a, from, &got),
                     -PL_ENOTFOUND);
    /* Ended: not in force any more, even inside its window. */
    assert_int_equal(pl_store_agreement_end(f->st, id, a->admin, from + 1), 0);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, from + 2, &got),
                     -PL_ENOTFOUND);
}

static void test_agreement_active_picks_the_one_in_force_and_of_several_the_longest(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t now = f->now, day = 24 * HOUR_MS;
    /* Around the one in force: expired, ended, not yet started, only proposed. */
    (void)agreement_at(a, f->org_a, a->svc2, "identified", now - 10 * day, now - day, f->gp,
                       a->admin);
    int64_t ended = agreement_at(a, f->org_a, a->svc2, "identified", now - day, now + 50 * day,
                                 f->gp, a->admin);
    assert_int_equal(pl_store_agreement_end(f->st, ended, a->admin, now - 1), 0);
    int64_t later = agreement_at(a, f->org_a, a->svc2, "identified", now + day, now + 60 * day,
                                 f->gp, a->admin);
    (void)agreement_at(a, f->org_a, a->svc2, "identified", now - day, now + 70 * day, f->gp, 0);
    int64_t in_force = agreement_at(a, f->org_a, a->svc2, "pseudonymised", now - day,
                                    now + 10 * day, f->gp, a->admin);
    pl_agreement_t got;
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, now, &got), 0);
    assert_int_equal(got.id, in_force);
    assert_string_equal(got.shares, "pseudonymised");
    /* A second in force that lasts longer wins; one that lasts less does not. */
    int64_t longer = agreement_at(a, f->org_a, a->svc2, "identified", now - 2 * day, now + 20 * day,
                                  f->gp, a->admin);
    (void)agreement_at(a, f->org_a, a->svc2, "pseudonymised", now - day, now + 5 * day, f->gp,
                       a->admin);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, now, &got), 0);
    assert_int_equal(got.id, longer);
    /* Once the later one has started it lasts longest of all; after the end of the ended
     * one's window, and of every other, it is the only one left. */
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, now + day, &got), 0);
    assert_int_equal(got.id, later);
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, now + 55 * day, &got), 0);
    assert_int_equal(got.id, later);
    /* At its end nothing is in force: the proposed one that would last longer never counts. */
    assert_int_equal(pl_store_agreement_active(f->st, f->org_a, a->svc2, now + 60 * day, &got),
                     -PL_ENOTFOUND);
}

static void test_agreement_list_by_either_side_newest_first_with_names(void **s)
{
    afx_t *a = *s;
    fx_t *f = a->f;
    int64_t third = agreement_at(a, f->org_a, a->svc2, "identified", f->now - HOUR_MS,
                                 f->now + HOUR_MS, f->gp, 0);
    json_t *list = NULL;
    /* Practice A: its two, newest first. */
    int64_t orgs_a[] = {f->org_a};
    assert_int_equal(pl_store_agreement_list(f->st, orgs_a, 1, f->now, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    json_t *e = json_array_get(list, 0);
    assert_int_equal(jint(e, "id"), third);
    assert_string_equal(jstr(e, "state"), "proposed");
    assert_string_equal(jstr(e, "practice_name"), "Practice A81001");
    assert_string_equal(jstr(e, "service_name"), "Cardiology, Test Hospital");
    e = json_array_get(list, 1);
    assert_int_equal(jint(e, "id"), a->ag_a);
    assert_string_equal(jstr(e, "state"), "active");
    assert_string_equal(jstr(e, "shares"), "identified");
    assert_string_equal(jstr(e, "service_name"), "Dermatology, Test Hospital");
    json_decref(list);
    /* The service: both practices' agreements with it, not the other service's. */
    int64_t orgs_s[] = {a->svc};
    assert_int_equal(pl_store_agreement_list(f->st, orgs_s, 1, f->now, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(jint(json_array_get(list, 0), "id"), a->ag_b);
    assert_string_equal(jstr(json_array_get(list, 0), "practice_name"), "Practice B82002");
    assert_int_equal(jint(json_array_get(list, 1), "id"), a->ag_a);
    json_decref(list);
    /* Several organisations at once, each agreement once; the state as of the time given. */
    int64_t both[] = {f->org_a, a->svc};
    assert_int_equal(pl_store_agreement_list(f->st, both, 2, f->now + 2 * HOUR_MS, &list), 0);
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(jint(json_array_get(list, 0), "id"), third);
    assert_string_equal(jstr(json_array_get(list, 0), "state"), "proposed");
    json_decref(list);
    /* An organisation with none. */
    int64_t none[] = {9999};
    assert_int_equal(pl_store_agreement_list(f->st, none, 1, f->now, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_advice, teardown_advice)
    const struct CMUnitTest tests[] = {
        T(test_service_set_get_and_list_only_specialist_services),
        T(test_agreement_state_at_its_boundaries),
        T(test_agreement_is_proposed_accepted_once_and_ended_once),
        T(test_agreement_in_force_only_from_start_to_before_end_once_accepted),
        T(test_agreement_active_picks_the_one_in_force_and_of_several_the_longest),
        T(test_agreement_list_by_either_side_newest_first_with_names),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
