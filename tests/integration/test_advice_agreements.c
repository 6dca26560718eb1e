/* Integration: information-sharing agreements between a practice and a specialist service, and
 * what they do to advice requests, against the real server binary over real HTTPS and WSS, on
 * the demo data (tests/support/advice_fx.h: Riverside Surgery asks "Dermatology, City Hospital"
 * under the demo's agreement in force, identified). Checked: an agreement proposed by an admin
 * of one side and accepted only by the other, validated, listed by both sides and ended once;
 * an agreement ended (the patient's identity hidden from the service, no new requests, shown
 * again under a new identified agreement); a pseudonymised agreement (the service never learns
 * who the patient is, in any view). The requests themselves are in test_advice.c.
 * One server for the group. Each test leaves an identified agreement in force, as it found. */
#include "core/util.h"
#include "tests/support/advice_fx.h"
#include "tests/support/consult_fx.h"
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define T CFX_T

/* ---- helpers of this file ---- */

static void check_hidden(json_t *advice)
{
    json_t *p = json_object_get(advice, "patient");
    assert_int_equal(json_object_size(p), 1);
    assert_true(json_is_true(json_object_get(p, "hidden")));
    /* Nor anywhere else in what the service gets. */
    char *txt = json_dumps(advice, JSON_COMPACT);
    assert_null(strstr(txt, nhs_of("ann.taylor")));
    assert_null(strstr(txt, "Ann Taylor"));
    assert_null(strstr(txt, CFX_ANN_DOB));
    free(txt);
}

/* The agreement in force between Riverside and the service, as admin.smith lists it: its id,
 * or 0 if none. */
static json_int_t agreement_in_force(pl_pc_t *admin)
{
    json_t *r = cfx_ok(pl_pc_callf(admin, T, "{ss}", "type", "agreement.list"));
    size_t i;
    json_t *a;
    json_int_t id = 0;
    json_array_foreach(json_object_get(r, "agreements"), i, a)
    {
        if (cfx_jint(a, "practice_id") == riverside_id && cfx_jint(a, "service_id") == svc_id &&
            strcmp(cfx_jstr(a, "state"), "active") == 0)
            id = cfx_jint(a, "id");
    }
    json_decref(r);
    return id;
}

/* Ends whatever agreement is in force between Riverside and the service (by admin.city), then
 * puts one in force that shares `shares`: proposed by admin.smith, accepted by admin.city.
 * Returns its id. */
static json_int_t use_agreement(const char *shares)
{
    pl_pc_t *gp_admin = open_as("admin.smith"), *svc_admin = open_as("admin.city");
    json_int_t cur;
    while ((cur = agreement_in_force(gp_admin)) != 0)
        json_decref(cfx_ok(
            pl_pc_callf(svc_admin, T, "{ss sI}", "type", "agreement.end", "agreement_id", cur)));
    json_t *r = cfx_ok(pl_pc_callf(gp_admin, T, "{ss sI sI ss sI}", "type", "agreement.propose",
                                   "practice_id", riverside_id, "service_id", svc_id, "shares",
                                   shares, "ends_at", (json_int_t)(pl_now_ms() + 30 * DAY_MS)));
    json_int_t id = cfx_jint(json_object_get(r, "agreement"), "id");
    json_decref(r);
    r = cfx_ok(
        pl_pc_callf(svc_admin, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id));
    assert_string_equal(cfx_jstr(json_object_get(r, "agreement"), "state"), "active");
    json_decref(r);
    assert_int_equal(agreement_in_force(gp_admin), id);
    pl_pc_destroy(gp_admin);
    pl_pc_destroy(svc_admin);
    return id;
}

/* ---- agreements ---- */

static void test_agreements_are_proposed_by_an_admin_and_accepted_by_the_other_side(void **s)
{
    pl_pc_t *smith = open_as("admin.smith"), *city = open_as("admin.city");
    pl_pc_t *patel = open_as("dr.patel"), *khan = open_as("dr.khan");
    pl_pc_t *hughes = open_as("dr.hughes"), *ann = open_as("ann.taylor");
    json_int_t demo = agreement_in_force(smith);
    assert_true(demo > 0);
    json_int_t ends = (json_int_t)(pl_now_ms() + 30 * DAY_MS);
#define PROPOSE(c, practice, service, shares, until)                                               \
    pl_pc_callf(c, T, "{ss sI sI ss sI}", "type", "agreement.propose", "practice_id", practice,    \
                "service_id", service, "shares", shares, "ends_at", (json_int_t)(until))
    /* Only an admin of one of the two. */
    cfx_refused(PROPOSE(patel, riverside_id, svc_id, "identified", ends), "forbidden",
                "an admin of the practice or of the service records agreements");
    cfx_refused(PROPOSE(khan, riverside_id, svc_id, "identified", ends), "forbidden",
                "an admin of the practice or of the service records agreements");
    cfx_refused(PROPOSE(smith, hillside_id, svc_id, "identified", ends), "forbidden",
                "an admin of the practice or of the service records agreements");
    /* Well formed. */
    cfx_refused(PROPOSE(smith, svc_id, riverside_id, "identified", ends), "bad_request",
                "practice_id must be a practice and service_id a specialist service");
    cfx_refused(PROPOSE(smith, riverside_id, svc_id, "everything", ends), "bad_request",
                "shares must be one of: identified pseudonymised");
    cfx_refused(PROPOSE(smith, riverside_id, svc_id, "identified", pl_now_ms() - DAY_MS),
                "bad_request",
                "ends_at must be after starts_at and now, and at most five years on");
    cfx_refused(PROPOSE(smith, riverside_id, svc_id, "identified", pl_now_ms() + 6 * 366 * DAY_MS),
                "bad_request",
                "ends_at must be after starts_at and now, and at most five years on");

    /* Proposed by the practice: the service accepts, not the practice. */
    json_t *r = cfx_ok(PROPOSE(smith, riverside_id, svc_id, "pseudonymised", ends));
    json_t *ag = json_object_get(r, "agreement");
    json_int_t id = cfx_jint(ag, "id");
    assert_string_equal(cfx_jstr(ag, "state"), "proposed");
    assert_string_equal(cfx_jstr(ag, "shares"), "pseudonymised");
    assert_int_equal(cfx_jint(ag, "proposed_by"), uid("admin.smith"));
    assert_int_equal(cfx_jint(ag, "proposed_org_id"), riverside_id);
    assert_int_equal(cfx_jint(ag, "ends_at"), ends);
    assert_true(json_is_null(json_object_get(ag, "accepted_at")));
    json_decref(r);
    cfx_refused(pl_pc_callf(smith, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "forbidden", "the other organisation accepts an agreement: an admin of it");
    cfx_refused(pl_pc_callf(khan, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "forbidden", "an admin of the practice or of the service records agreements");
    cfx_refused(pl_pc_callf(hughes, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "not_found", "no such agreement");
    cfx_refused(pl_pc_callf(ann, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "not_found", "no such agreement");
    cfx_refused(pl_pc_callf(ann, T, "{ss}", "type", "agreement.list"), "forbidden",
                "agreements are between organisations");
    /* Proposed is not in force: the demo agreement still is. */
    assert_int_equal(agreement_in_force(smith), demo);
    r = cfx_ok(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id));
    ag = json_object_get(r, "agreement");
    assert_string_equal(cfx_jstr(ag, "state"), "active");
    assert_int_equal(cfx_jint(ag, "accepted_by"), uid("admin.city"));
    json_decref(r);
    cfx_refused(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "conflict", "this agreement is accepted");
    /* Both sides list it, with the names; another practice does not. */
    pl_pc_t *listers[] = {smith, city, patel, khan};
    for (int i = 0; i < 4; i++) {
        r = cfx_ok(pl_pc_callf(listers[i], T, "{ss}", "type", "agreement.list"));
        bool found = false;
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(r, "agreements"), k, e)
        {
            if (cfx_jint(e, "id") != id) continue;
            found = true;
            assert_string_equal(cfx_jstr(e, "state"), "active");
            assert_string_equal(cfx_jstr(e, "practice_name"), "Riverside Surgery");
            assert_string_equal(cfx_jstr(e, "service_name"), "Dermatology, City Hospital");
        }
        assert_true(found);
        json_decref(r);
    }
    r = cfx_ok(pl_pc_callf(hughes, T, "{ss}", "type", "agreement.list"));
    assert_int_equal(json_array_size(json_object_get(r, "agreements")), 0);
    json_decref(r);
    /* The practice ends it (once); an ended agreement is never accepted again. */
    r = cfx_ok(pl_pc_callf(smith, T, "{ss sI}", "type", "agreement.end", "agreement_id", id));
    assert_string_equal(cfx_jstr(json_object_get(r, "agreement"), "state"), "ended");
    assert_int_equal(cfx_jint(json_object_get(r, "agreement"), "ended_by"), uid("admin.smith"));
    json_decref(r);
    cfx_refused(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.end", "agreement_id", id),
                "conflict", "this agreement has been ended");
    cfx_refused(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "conflict", "this agreement has been ended");
    cfx_refused(pl_pc_callf(patel, T, "{ss sI}", "type", "agreement.end", "agreement_id", id),
                "forbidden", "an admin of the practice or of the service records agreements");

    /* Proposed by the service: the practice accepts, not the service. */
    r = cfx_ok(PROPOSE(city, riverside_id, svc_id, "identified", ends));
    id = cfx_jint(json_object_get(r, "agreement"), "id");
    assert_int_equal(cfx_jint(json_object_get(r, "agreement"), "proposed_org_id"), svc_id);
    json_decref(r);
    cfx_refused(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id),
                "forbidden", "the other organisation accepts an agreement: an admin of it");
    json_decref(
        cfx_ok(pl_pc_callf(smith, T, "{ss sI}", "type", "agreement.accept", "agreement_id", id)));
    json_decref(
        cfx_ok(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.end", "agreement_id", id)));
    assert_int_equal(agreement_in_force(smith), demo);
    assert_int_equal(count("SELECT count(*) FROM audit WHERE action = 'agreement.propose' "
                           "AND outcome = 'ok'"),
                     2);
#undef PROPOSE
    pl_pc_destroy(smith);
    pl_pc_destroy(city);
    pl_pc_destroy(patel);
    pl_pc_destroy(khan);
    pl_pc_destroy(hughes);
    pl_pc_destroy(ann);
}

static void test_ended_agreement_hides_the_patient_from_the_service_and_stops_new_requests(void **s)
{
    pl_pc_t *patel = open_as("dr.patel"), *khan = open_as("dr.khan"), *city = open_as("admin.city");
    json_t *a = ask(patel, "routine", "ann.taylor");
    json_int_t id = cfx_jint(a, "id");
    json_decref(a);
    a = get_advice(khan, id);
    check_identity_of_ann(a);
    json_decref(a);

    json_int_t ag = agreement_in_force(city);
    assert_true(ag > 0);
    json_t *r =
        cfx_ok(pl_pc_callf(city, T, "{ss sI}", "type", "agreement.end", "agreement_id", ag));
    assert_string_equal(cfx_jstr(json_object_get(r, "agreement"), "state"), "ended");
    json_decref(r);
    assert_int_equal(agreement_in_force(city), 0);

    /* The service still has the request, without the patient; the practice keeps both. */
    a = get_advice(khan, id);
    check_hidden(a);
    assert_string_equal(cfx_jstr(a, "question"), QUESTION);
    json_decref(a);
    r = list(khan, "queue", NULL);
    check_hidden(entry(r, id));
    json_decref(r);
    a = advice_of(act(khan, "advice.claim", id));
    check_hidden(a);
    json_decref(a);
    a = get_advice(patel, id);
    check_identity_of_ann(a);
    json_decref(a);
    /* No new requests. */
    counts_t before = counts_now();
    cfx_refused(pl_pc_call(patel, create_req("urgent", "ann.taylor"), T), "forbidden",
                NO_AGREEMENT);
    counts_unchanged(before);
    r = cfx_ok(pl_pc_callf(patel, T, "{ss}", "type", "service.list"));
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(r, "services"), 0), "agreements")),
                     0);
    json_decref(r);

    /* A new agreement in force that shares identity shows it again. */
    json_int_t again = use_agreement("identified");
    a = get_advice(khan, id);
    check_identity_of_ann(a);
    json_decref(a);
    r = cfx_ok(pl_pc_callf(patel, T, "{ss}", "type", "service.list"));
    json_t *with = json_object_get(json_array_get(json_object_get(r, "services"), 0), "agreements");
    assert_int_equal(json_array_size(with), 1);
    assert_int_equal(cfx_jint(json_array_get(with, 0), "agreement_id"), again);
    assert_string_equal(cfx_jstr(json_array_get(with, 0), "shares"), "identified");
    json_decref(r);
    pl_pc_destroy(patel);
    pl_pc_destroy(khan);
    pl_pc_destroy(city);
}

static void test_pseudonymised_agreement_never_shows_the_service_who_the_patient_is(void **s)
{
    (void)use_agreement("pseudonymised");
    pl_pc_t *patel = open_as("dr.patel"), *khan = open_live("dr.khan");
    json_t *a = ask(patel, "urgent", "ann.taylor");
    json_int_t id = cfx_jint(a, "id");
    check_identity_of_ann(a); /* the practice's own patient */
    json_decref(a);
    json_t *e, *m = advice_event(khan, "advice.created", id, &e);
    json_decref(m);
    a = get_advice(khan, id);
    check_hidden(a);
    assert_string_equal(cfx_jstr(a, "summary"), SUMMARY);
    /* Nor does the thread say it, read as a conversation; the practice's view still does. */
    json_int_t thread = cfx_jint(a, "conversation_id");
    json_decref(a);
    for (int side = 0; side < 2; side++) {
        json_t *g = cfx_ok(pl_pc_callf(side ? patel : khan, T, "{ss sI}", "type",
                                       "conversation.get", "conversation_id", thread));
        json_t *conv = json_object_get(g, "conversation");
        char *txt = json_dumps(conv, JSON_COMPACT);
        if (side) {
            assert_int_equal(cfx_jint(conv, "patient_id"), uid("ann.taylor"));
            assert_non_null(strstr(txt, "Ann Taylor"));
        } else {
            assert_null(json_object_get(conv, "patient_id"));
            assert_true(json_is_true(json_object_get(json_object_get(conv, "patient"), "hidden")));
            assert_null(strstr(txt, "Ann Taylor"));
        }
        free(txt);
        json_decref(g);
    }
    json_t *r = list(khan, "queue", "new");
    check_hidden(entry(r, id));
    json_decref(r);
    a = advice_of(act(khan, "advice.claim", id));
    check_hidden(a);
    json_decref(a);
    a = advice_of(act(khan, "advice.request_info", id));
    check_hidden(a);
    json_decref(a);
    a = advice_of(pl_pc_callf(khan, T, "{ss sI ss}", "type", "advice.close", "advice_id", id,
                              "outcome", "seen_elsewhere"));
    check_hidden(a);
    json_decref(a);
    a = get_advice(patel, id);
    check_identity_of_ann(a);
    assert_string_equal(cfx_jstr(a, "outcome"), "seen_elsewhere");
    json_decref(a);
    (void)use_agreement("identified");
    pl_pc_destroy(patel);
    pl_pc_destroy(khan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agreements_are_proposed_by_an_admin_and_accepted_by_the_other_side),
        cmocka_unit_test(
            test_ended_agreement_hides_the_patient_from_the_service_and_stops_new_requests),
        cmocka_unit_test(test_pseudonymised_agreement_never_shows_the_service_who_the_patient_is),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
