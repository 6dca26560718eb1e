/* Unit tests for storage/store_sqlite_case.c through storage/store.h: case discussions (MDT,
 * PROTOCOL section 12). Create and its idempotency, the thread it opens and the sealed title;
 * who may take part for which organisation (eligible_org); members and the room for 8; access
 * (one rule: a membership of the organisation taken part for, and for a service an agreement
 * in force that shares the identity) as the agreement ends, expires, comes back and as a
 * membership lapses; the audience, the JSON view, the list by filter, the candidates, close;
 * and the event replay (pl_store_events_since) that sends a case's events to its members with
 * access and never to the patient. Real SQLite in a temporary directory
 * (tests/storage/advice_fixture.h over store_fixture.h, plus the services below). */
#include "tests/storage/advice_fixture.h"
#include "tests/storage/store_fixture.h"

#define TITLE "Changing pigmented lesion on the back: excise or monitor?"
#define DAY_MS (24 * HOUR_MS)

/* advice_fixture.h's practices, services and staff (practice A has an identified agreement in
 * force with a->svc, "Dermatology, Test Hospital"), plus: practice A's pseudonymised agreement
 * in force with a->svc2 ("Cardiology, Test Hospital") and a specialist there; a third service
 * with no agreement at all and a specialist there. */
typedef struct {
    afx_t *a;
    fx_t *f;
    int64_t ag_p;   /* A-svc2, pseudonymised, in force */
    int64_t svc_n;  /* a service with no agreement with A */
    int64_t spec_p; /* specialist at svc2 */
    int64_t spec_n; /* specialist at svc_n */
} cfx_t;

static int setup_case(void **state)
{
    if (setup_advice(state) != 0) return -1;
    afx_t *a = *state;
    fx_t *f = a->f;
    cfx_t *c = calloc(1, sizeof *c);
    if (!c) return -1;
    c->a = a;
    c->f = f;
    *state = c;
    c->svc_n = add_service(f->st, "R0T03", "Neurology, Test Hospital");
    c->spec_p = add_staff(f->st, "specp", a->svc2, PL_ROLE_SPECIALIST);
    c->spec_n = add_staff(f->st, "specn", c->svc_n, PL_ROLE_SPECIALIST);
    if (!c->svc_n || !c->spec_p || !c->spec_n) return -1;
    c->ag_p = agreement_at(a, f->org_a, a->svc2, "pseudonymised", f->now - HOUR_MS,
                           f->now + 365 * DAY_MS, f->gp, a->admin);
    return 0;
}

static int teardown_case(void **state)
{
    cfx_t *c = *state;
    *state = c->a;
    free(c);
    return teardown_advice(state);
}

/* A new case (asserted new) at practice A about pat1, opened by `by`. */
static int64_t new_case(cfx_t *c, int64_t by, const char *txn, int64_t now)
{
    int64_t id = 0;
    bool created = false;
    assert_int_equal(
        pl_store_case_create(c->f->st, c->f->org_a, c->f->pat1, TITLE, txn, by, now, &id, &created),
        0);
    assert_true(created);
    assert_true(id > 0);
    return id;
}

static bool is_member(cfx_t *c, int64_t case_id, int64_t user, int64_t now)
{
    bool m = false; /* what a forgotten write leaves fails the caller's assert */
    assert_int_equal(pl_store_case_member(c->f->st, case_id, user, now, &m), 0);
    return m;
}

static bool not_member(cfx_t *c, int64_t case_id, int64_t user, int64_t now)
{
    bool m = true;
    assert_int_equal(pl_store_case_member(c->f->st, case_id, user, now, &m), 0);
    return !m;
}

static void add(cfx_t *c, int64_t case_id, int64_t user, int64_t org, int64_t now)
{
    bool added = false;
    assert_int_equal(pl_store_case_add_member(c->f->st, case_id, user, org, c->f->gp, now, &added),
                     0);
    assert_true(added);
}

static int64_t eligible(cfx_t *c, int64_t case_id, int64_t user, int64_t now)
{
    int64_t org = -1;
    int rc = pl_store_case_eligible_org(c->f->st, case_id, user, now, &org);
    if (rc == -PL_ENOTFOUND) return rc;
    assert_int_equal(rc, 0);
    return org;
}

/* The audience now, as "1,2,3". */
static void audience(cfx_t *c, int64_t case_id, int64_t now, int max, char *buf, size_t cap)
{
    int64_t ids[16];
    int n = -1;
    assert_true(max <= 16);
    assert_int_equal(pl_store_case_audience(c->f->st, case_id, now, ids, max, &n), 0);
    assert_true(n >= 0 && n <= max);
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)ids[i]);
}

static void ids_str(char *buf, size_t cap, int n, const int64_t *ids)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)ids[i]);
}

#define EXPECT_IDS(got, ...)                                                                       \
    do {                                                                                           \
        const int64_t ids_[] = {__VA_ARGS__};                                                      \
        char want_[256];                                                                           \
        ids_str(want_, sizeof want_, (int)(sizeof ids_ / sizeof ids_[0]), ids_);                   \
        assert_string_equal(got, want_);                                                           \
    } while (0)

/* pl_store_case_list's ids, newest first, as "3,2,1" ("" for none). */
static void list_ids(cfx_t *c, int64_t user, const char *filter, int64_t now, char *buf, size_t cap)
{
    json_t *out = NULL, *k;
    size_t i, n = 0;
    assert_int_equal(pl_store_case_list(c->f->st, user, filter, now, &out), 0);
    json_t *cases = json_object_get(out, "cases");
    assert_true(json_is_array(cases));
    buf[0] = 0;
    json_array_foreach(cases, i, k)
    {
        if (n >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)jint(k, "id"));
    }
    json_decref(out);
}

/* ---- create ---- */

static void test_create_opens_a_case_thread_with_its_creator_as_first_member(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    int64_t id = new_case(c, f->gp, "k1", f->now);
    pl_case_t k;
    assert_int_equal(pl_store_case_get(f->st, id, &k), 0);
    assert_int_equal(k.id, id);
    assert_int_equal(k.org_id, f->org_a);
    assert_int_equal(k.patient_id, f->pat1);
    assert_int_equal(k.created_by, f->gp);
    assert_int_equal(k.created_at, f->now);
    assert_int_equal(k.closed_at, 0);
    assert_string_equal(k.status, "open");
    /* Its thread: a conversation of kind case at the practice, about the patient, naming the
     * case and no second organisation, empty. */
    pl_conv_t conv = conv_of(f, k.conversation_id);
    assert_string_equal(conv.kind, "case");
    assert_int_equal(conv.org_id, f->org_a);
    assert_int_equal(conv.patient_id, f->pat1);
    assert_int_equal(conv.case_id, id);
    assert_int_equal(conv.peer_org_id, 0);
    assert_int_equal(conv.last_seq, 0);
    pl_case_t by;
    assert_int_equal(pl_store_case_by_conv(f->st, k.conversation_id, &by), 0);
    assert_int_equal(by.id, id);
    /* An ordinary conversation is no case's, and names none. */
    int64_t plain = new_conv(f, f->org_a, f->pat1, "plain");
    assert_int_equal(pl_store_case_by_conv(f->st, plain, &by), -PL_ENOTFOUND);
    assert_int_equal(conv_of(f, plain).case_id, 0);
    assert_int_equal(pl_store_case_get(f->st, 9999, &by), -PL_ENOTFOUND);
    json_t *j = NULL;
    assert_int_equal(pl_store_case_json(f->st, 9999, &j), -PL_ENOTFOUND);
    /* The creator is its one member, for the practice. */
    assert_int_equal(raw_int(f, "SELECT count(*) FROM case_members"), 1);
    char got[64];
    audience(c, id, f->now, 8, got, sizeof got);
    EXPECT_IDS(got, f->gp);
    assert_true(is_member(c, id, f->gp, f->now));
    assert_int_equal(eligible(c, id, f->gp, f->now), f->org_a);
    /* The title is sealed at rest. */
    assert_false(store_files_contain(f, TITLE));
    assert_false(store_files_contain(f, "pigmented lesion"));
}

static void test_create_retry_with_the_same_txn_returns_the_first(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    int64_t first = new_case(c, f->gp, "same", f->now);
    int64_t id = 0;
    bool created = true;
    assert_int_equal(pl_store_case_create(f->st, f->org_a, f->pat1, "another title", "same", f->gp,
                                          f->now + 5, &id, &created),
                     0);
    assert_false(created);
    assert_int_equal(id, first);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM cases"), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM conversations WHERE kind = 'case'"), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM case_members"), 1);
    json_t *j = NULL;
    assert_int_equal(pl_store_case_json(f->st, first, &j), 0);
    assert_string_equal(jstr(j, "title"), TITLE);
    assert_int_equal(jint(j, "created_at"), f->now);
    json_decref(j);
    /* Another txn: a new case with a thread of its own. */
    int64_t second = new_case(c, f->gp, "other", f->now);
    assert_int_not_equal(second, first);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM cases"), 2);
    assert_int_equal(raw_int(f, "SELECT count(DISTINCT conversation_id) FROM cases"), 2);
}

/* ---- who may take part ---- */

static void test_eligible_org_is_the_practice_or_an_identified_service_in_force(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "e1", f->now);
    /* The practice's staff, whatever their role. */
    assert_int_equal(eligible(c, id, f->recep, f->now), f->org_a);
    assert_int_equal(eligible(c, id, a->nurse, f->now), f->org_a);
    /* A service's staff under an identified agreement in force, whatever their role. */
    assert_int_equal(eligible(c, id, a->spec, f->now), a->svc);
    assert_int_equal(eligible(c, id, a->admin, f->now), a->svc);
    /* A pseudonymised agreement, or none: not eligible. */
    assert_int_equal(eligible(c, id, c->spec_p, f->now), -PL_ENOTFOUND);
    assert_int_equal(eligible(c, id, c->spec_n, f->now), -PL_ENOTFOUND);
    /* Another practice's GP (B has an agreement with the same service, pseudonymised). */
    assert_int_equal(eligible(c, id, f->gp_b, f->now), -PL_ENOTFOUND);
    /* Patients, even the one it is about; nobody at all. */
    assert_int_equal(eligible(c, id, f->pat1, f->now), -PL_ENOTFOUND);
    assert_int_equal(eligible(c, id, f->pat2, f->now), -PL_ENOTFOUND);
    assert_int_equal(eligible(c, id, 9999, f->now), -PL_ENOTFOUND);
    assert_int_equal(eligible(c, 9999, f->gp, f->now), -PL_ENOTFOUND);
    /* Someone at both the service and the practice takes part for the practice. */
    int64_t dual = add_staff(f->st, "dual", a->svc, PL_ROLE_SPECIALIST);
    assert_true(dual > 0);
    assert_int_equal(pl_store_membership_add(f->st, dual, f->org_a, PL_ROLE_GP), 0);
    assert_int_equal(eligible(c, id, dual, f->now), f->org_a);
    /* The service's agreement judged at the time given: before it started, after it ends. */
    assert_int_equal(eligible(c, id, a->spec, f->now - 2 * HOUR_MS), -PL_ENOTFOUND);
    assert_int_equal(eligible(c, id, a->spec, f->now + 366 * DAY_MS), -PL_ENOTFOUND);
    assert_int_equal(eligible(c, id, f->recep, f->now + 366 * DAY_MS), f->org_a);
    /* Ended: no longer. */
    assert_int_equal(pl_store_agreement_end(f->st, a->ag_a, a->admin, f->now), 0);
    assert_int_equal(eligible(c, id, a->spec, f->now + 1), -PL_ENOTFOUND);
}

static void test_add_member_once_and_only_eight(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "m1", f->now);
    bool added = false;
    assert_int_equal(
        pl_store_case_add_member(f->st, id, a->spec, a->svc, f->gp, f->now + 1, &added), 0);
    assert_true(added);
    /* Again: no change, no error, the first added_at kept. */
    added = true;
    assert_int_equal(
        pl_store_case_add_member(f->st, id, a->spec, a->svc, f->gp, f->now + 2, &added), 0);
    assert_false(added);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM case_members"), 2);
    assert_int_equal(raw_int(f, "SELECT added_at FROM case_members WHERE added_at > 0 ORDER BY "
                                "added_at DESC LIMIT 1"),
                     f->now + 1);
    /* Up to eight. */
    int64_t extra[7];
    for (int i = 0; i < 7; i++) {
        char name[24];
        snprintf(name, sizeof name, "staff%d", i);
        extra[i] = add_staff(f->st, name, f->org_a, PL_ROLE_NURSE);
        assert_true(extra[i] > 0);
    }
    for (int i = 0; i < 6; i++)
        add(c, id, extra[i], f->org_a, f->now + 10 + i);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM case_members"), 8);
    /* The ninth: conflict, and nothing stored. */
    added = true;
    assert_int_equal(
        pl_store_case_add_member(f->st, id, extra[6], f->org_a, f->gp, f->now + 20, &added),
        -PL_ECONFLICT);
    assert_false(added);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM case_members"), 8);
    assert_true(not_member(c, id, extra[6], f->now + 20));
    /* A member again, when full: still no change and no error. */
    assert_int_equal(
        pl_store_case_add_member(f->st, id, extra[0], f->org_a, f->gp, f->now + 21, &added), 0);
    assert_false(added);
    /* Another case has room of its own. */
    int64_t other = new_case(c, f->gp, "m2", f->now);
    add(c, other, extra[6], f->org_a, f->now + 30);
    assert_true(is_member(c, other, extra[6], f->now + 30));
}

/* ---- access ---- */

static void test_member_has_access_and_a_stranger_has_none(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "a1", f->now);
    assert_true(is_member(c, id, f->gp, f->now));
    /* The practice's own staff who are not members, another practice, the patient: no. */
    assert_true(not_member(c, id, f->recep, f->now));
    assert_true(not_member(c, id, a->nurse, f->now));
    assert_true(not_member(c, id, f->gp_b, f->now));
    assert_true(not_member(c, id, f->pat1, f->now));
    assert_true(not_member(c, id, a->spec, f->now));
    assert_true(not_member(c, 9999, f->gp, f->now));
    /* Membership is per case. */
    int64_t other = new_case(c, a->nurse, "a2", f->now);
    assert_true(is_member(c, other, a->nurse, f->now));
    assert_true(not_member(c, other, f->gp, f->now));
    assert_true(not_member(c, id, a->nurse, f->now));
    /* A member stored for a service without an identified agreement in force has no access
     * (the store does not judge eligibility on add; access is judged on every read). */
    add(c, id, c->spec_p, a->svc2, f->now + 1);
    add(c, id, c->spec_n, c->svc_n, f->now + 2);
    assert_true(not_member(c, id, c->spec_p, f->now + 3));
    assert_true(not_member(c, id, c->spec_n, f->now + 3));
    /* Nor for an organisation they are not in. */
    add(c, id, f->gp_b, f->org_a, f->now + 4);
    assert_true(not_member(c, id, f->gp_b, f->now + 5));
}

static void test_service_member_loses_access_when_the_agreement_ends_and_regains_it(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "g1", f->now);
    add(c, id, a->spec, a->svc, f->now + 1);
    assert_true(is_member(c, id, a->spec, f->now + 2));
    /* Expiry: ends_at is exclusive; the practice's members are untouched. */
    pl_agreement_t ag;
    assert_int_equal(pl_store_agreement_get(f->st, a->ag_a, &ag), 0);
    assert_true(is_member(c, id, a->spec, ag.ends_at - 1));
    assert_true(not_member(c, id, a->spec, ag.ends_at));
    assert_true(not_member(c, id, a->spec, ag.ends_at + DAY_MS));
    assert_true(is_member(c, id, f->gp, ag.ends_at + DAY_MS));
    /* Before it started either. */
    assert_true(not_member(c, id, a->spec, ag.starts_at - 1));
    /* Ended early: at once, whatever the time asked about. */
    assert_int_equal(pl_store_agreement_end(f->st, a->ag_a, a->admin, f->now + 10), 0);
    assert_true(not_member(c, id, a->spec, f->now + 11));
    assert_true(not_member(c, id, a->spec, f->now + 2));
    assert_true(is_member(c, id, f->gp, f->now + 11));
    /* A proposal not yet accepted, or a pseudonymised one, brings nothing back. */
    agreement_at(a, f->org_a, a->svc, "identified", f->now, f->now + 30 * DAY_MS, f->gp, 0);
    assert_true(not_member(c, id, a->spec, f->now + 12));
    agreement_at(a, f->org_a, a->svc, "pseudonymised", f->now, f->now + 30 * DAY_MS, f->gp,
                 a->admin);
    assert_true(not_member(c, id, a->spec, f->now + 12));
    /* A new identified agreement in force does. */
    int64_t again = agreement_at(a, f->org_a, a->svc, "identified", f->now, f->now + 30 * DAY_MS,
                                 f->gp, a->admin);
    assert_true(is_member(c, id, a->spec, f->now + 12));
    assert_true(not_member(c, id, a->spec, f->now + 30 * DAY_MS));
    /* Another practice's agreement with the service is nothing to this case. */
    assert_int_equal(pl_store_agreement_end(f->st, again, a->admin, f->now + 13), 0);
    agreement_at(a, f->org_b, a->svc, "identified", f->now, f->now + 30 * DAY_MS, f->gp_b,
                 a->admin);
    assert_true(not_member(c, id, a->spec, f->now + 14));
}

static void test_member_removed_from_their_organisation_loses_access(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "r1", f->now);
    add(c, id, a->nurse, f->org_a, f->now + 1);
    add(c, id, a->spec, a->svc, f->now + 2);
    assert_true(is_member(c, id, a->nurse, f->now + 3));
    assert_true(is_member(c, id, a->spec, f->now + 3));
    char sql[160];
    snprintf(sql, sizeof sql, "DELETE FROM memberships WHERE user_id = %lld AND org_id = %lld",
             (long long)a->nurse, (long long)f->org_a);
    raw_exec(f, sql);
    snprintf(sql, sizeof sql, "DELETE FROM memberships WHERE user_id = %lld AND org_id = %lld",
             (long long)a->spec, (long long)a->svc);
    raw_exec(f, sql);
    assert_true(not_member(c, id, a->nurse, f->now + 4));
    assert_true(not_member(c, id, a->spec, f->now + 4));
    assert_true(is_member(c, id, f->gp, f->now + 4));
    char got[64];
    audience(c, id, f->now + 4, 8, got, sizeof got);
    EXPECT_IDS(got, f->gp);
    /* A membership of another organisation does not stand in for the one taken part for. */
    assert_int_equal(pl_store_membership_add(f->st, a->spec, f->org_b, PL_ROLE_GP), 0);
    assert_true(not_member(c, id, a->spec, f->now + 5));
    /* Back in the organisation: access again. */
    assert_int_equal(pl_store_membership_add(f->st, a->nurse, f->org_a, PL_ROLE_NURSE), 0);
    assert_true(is_member(c, id, a->nurse, f->now + 6));
}

static void test_audience_is_the_members_with_access_in_added_order(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "au1", f->now);
    /* Added out of id order: recep before spec before nurse. */
    add(c, id, f->recep, f->org_a, f->now + 10);
    add(c, id, c->spec_p, a->svc2, f->now + 15); /* no access: pseudonymised */
    add(c, id, a->spec, a->svc, f->now + 20);
    add(c, id, a->nurse, f->org_a, f->now + 30);
    char got[128];
    audience(c, id, f->now + 40, 8, got, sizeof got);
    EXPECT_IDS(got, f->gp, f->recep, a->spec, a->nurse);
    /* At most max. */
    audience(c, id, f->now + 40, 2, got, sizeof got);
    EXPECT_IDS(got, f->gp, f->recep);
    /* After the agreement has ended, without the service's. */
    assert_int_equal(pl_store_agreement_end(f->st, a->ag_a, a->admin, f->now + 50), 0);
    audience(c, id, f->now + 60, 8, got, sizeof got);
    EXPECT_IDS(got, f->gp, f->recep, a->nurse);
    /* No such case: nobody. */
    audience(c, 9999, f->now, 8, got, sizeof got);
    assert_string_equal(got, "");
}

/* ---- views ---- */

static void test_json_view_has_title_members_with_org_names_and_patient_identity(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "j1", f->now);
    add(c, id, a->spec, a->svc, f->now + 60);
    pl_case_t k;
    assert_int_equal(pl_store_case_get(f->st, id, &k), 0);
    json_t *j = NULL;
    assert_int_equal(pl_store_case_json(f->st, id, &j), 0);
    assert_int_equal(json_object_size(j), 10); /* these (call_id is the handler's): */
    assert_int_equal(jint(j, "id"), id);
    assert_int_equal(jint(j, "conversation_id"), k.conversation_id);
    json_t *org = json_object_get(j, "org");
    assert_int_equal(json_object_size(org), 2);
    assert_int_equal(jint(org, "id"), f->org_a);
    assert_string_equal(jstr(org, "name"), "Practice A81001");
    assert_string_equal(jstr(j, "title"), TITLE);
    assert_string_equal(jstr(j, "status"), "open");
    json_t *p = json_object_get(j, "patient");
    assert_int_equal(json_object_size(p), 4);
    assert_int_equal(jint(p, "id"), f->pat1);
    assert_string_equal(jstr(p, "display_name"), "pat1");
    assert_string_equal(jstr(p, "nhs_number"), "9434765919");
    assert_string_equal(jstr(p, "date_of_birth"), "1970-01-01");
    json_t *members = json_object_get(j, "members");
    assert_int_equal(json_array_size(members), 2);
    json_t *m0 = json_array_get(members, 0), *m1 = json_array_get(members, 1);
    assert_int_equal(json_object_size(m0), 4);
    assert_int_equal(jint(m0, "user_id"), f->gp);
    assert_string_equal(jstr(m0, "display_name"), "gp");
    assert_int_equal(jint(json_object_get(m0, "org"), "id"), f->org_a);
    assert_string_equal(jstr(json_object_get(m0, "org"), "name"), "Practice A81001");
    assert_int_equal(jint(m0, "added_at"), f->now);
    assert_int_equal(jint(m1, "user_id"), a->spec);
    assert_string_equal(jstr(m1, "display_name"), "spec");
    assert_int_equal(jint(json_object_get(m1, "org"), "id"), a->svc);
    assert_string_equal(jstr(json_object_get(m1, "org"), "name"), "Dermatology, Test Hospital");
    assert_int_equal(jint(m1, "added_at"), f->now + 60);
    json_t *cb = json_object_get(j, "created_by");
    assert_int_equal(json_object_size(cb), 2);
    assert_int_equal(jint(cb, "id"), f->gp);
    assert_string_equal(jstr(cb, "display_name"), "gp");
    assert_int_equal(jint(j, "created_at"), f->now);
    assert_true(json_is_null(json_object_get(j, "closed_at")));
    json_decref(j);
}

static void test_list_filters_by_status_and_lists_only_cases_with_access(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t now = f->now;
    int64_t k1 = new_case(c, f->gp, "l1", now);    /* open; spec a member */
    int64_t k2 = new_case(c, f->gp, "l2", now);    /* closed; spec a member */
    int64_t k3 = new_case(c, a->nurse, "l3", now); /* the nurse's; the GP not a member */
    int64_t k4 = 0;
    bool created = false;
    assert_int_equal(
        pl_store_case_create(f->st, f->org_b, f->pat_b, TITLE, "l4", f->gp_b, now, &k4, &created),
        0);
    assert_true(created);
    add(c, k1, a->spec, a->svc, now + 1);
    add(c, k2, a->spec, a->svc, now + 1);
    assert_int_equal(pl_store_case_close(f->st, k2, f->gp, now + 2), 0);
    char got[128];
    list_ids(c, f->gp, "open", now + 3, got, sizeof got);
    EXPECT_IDS(got, k1);
    list_ids(c, f->gp, "closed", now + 3, got, sizeof got);
    EXPECT_IDS(got, k2);
    list_ids(c, f->gp, "all", now + 3, got, sizeof got);
    EXPECT_IDS(got, k2, k1);
    list_ids(c, f->gp, NULL, now + 3, got, sizeof got);
    EXPECT_IDS(got, k2, k1);
    list_ids(c, a->nurse, "all", now + 3, got, sizeof got);
    EXPECT_IDS(got, k3);
    list_ids(c, f->gp_b, "all", now + 3, got, sizeof got);
    EXPECT_IDS(got, k4);
    list_ids(c, a->spec, "all", now + 3, got, sizeof got);
    EXPECT_IDS(got, k2, k1);
    /* Not members: nothing, even at the practice; never the patient. */
    list_ids(c, f->recep, "all", now + 3, got, sizeof got);
    assert_string_equal(got, "");
    list_ids(c, f->pat1, "all", now + 3, got, sizeof got);
    assert_string_equal(got, "");
    /* The agreement ended: the specialist's list is empty at once. */
    assert_int_equal(pl_store_agreement_end(f->st, a->ag_a, a->admin, now + 4), 0);
    list_ids(c, a->spec, "all", now + 5, got, sizeof got);
    assert_string_equal(got, "");
    /* Each entry is the full view, title open. */
    json_t *out = NULL;
    assert_int_equal(pl_store_case_list(f->st, f->gp, "closed", now + 5, &out), 0);
    json_t *e = json_array_get(json_object_get(out, "cases"), 0);
    assert_int_equal(json_object_size(e), 10);
    assert_string_equal(jstr(e, "title"), TITLE);
    assert_string_equal(jstr(e, "status"), "closed");
    assert_int_equal(jint(e, "closed_at"), now + 2);
    assert_string_equal(jstr(json_object_get(e, "patient"), "nhs_number"), "9434765919");
    json_decref(out);
}

static void test_candidates_are_eligible_staff_not_yet_members(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t id = new_case(c, f->gp, "c1", f->now);
    add(c, id, a->spec2, a->svc, f->now + 1);
    /* Someone at both the service and the practice: once, for the practice. */
    int64_t dual = add_staff(f->st, "dual", a->svc, PL_ROLE_SPECIALIST);
    assert_true(dual > 0);
    assert_int_equal(pl_store_membership_add(f->st, dual, f->org_a, PL_ROLE_GP), 0);
    /* A disabled member of the practice is not offered. */
    int64_t gone = add_staff(f->st, "gone", f->org_a, PL_ROLE_NURSE);
    assert_int_equal(pl_store_user_set_disabled(f->st, gone, true), 0);
    json_t *out = NULL;
    assert_int_equal(pl_store_case_candidates(f->st, id, f->now + 2, &out), 0);
    json_t *people = json_object_get(out, "people");
    assert_true(json_is_array(people));
    /* By organisation name, then display name: the service's staff (Dermatology...) but not
     * spec2 (a member already), then the practice's but not the GP (its first member). Not the
     * pseudonymised service's, not the one with no agreement, not practice B, no patients. */
    const int64_t want_users[] = {a->spec, a->admin, dual, a->nurse, f->recep};
    const int64_t want_orgs[] = {a->svc, a->svc, f->org_a, f->org_a, f->org_a};
    const char *const want_names[] = {"spec", "svcadmin", "dual", "nurse", "recep"};
    size_t n = sizeof want_users / sizeof want_users[0];
    size_t i;
    json_t *p;
    assert_int_equal(json_array_size(people), n);
    for (i = 0; i < n; i++) {
        p = json_array_get(people, i);
        assert_int_equal(json_object_size(p), 3);
        assert_int_equal(jint(p, "user_id"), want_users[i]);
        assert_string_equal(jstr(p, "display_name"), want_names[i]);
        json_t *o = json_object_get(p, "org");
        assert_int_equal(jint(o, "id"), want_orgs[i]);
        assert_string_equal(jstr(o, "name"), want_orgs[i] == a->svc ? "Dermatology, Test Hospital"
                                                                    : "Practice A81001");
    }
    json_decref(out);
    /* The agreement ended: only the practice's staff. */
    assert_int_equal(pl_store_agreement_end(f->st, a->ag_a, a->admin, f->now + 3), 0);
    assert_int_equal(pl_store_case_candidates(f->st, id, f->now + 4, &out), 0);
    people = json_object_get(out, "people");
    assert_int_equal(json_array_size(people), 3);
    assert_int_equal(jint(json_array_get(people, 0), "user_id"), dual);
    assert_int_equal(jint(json_array_get(people, 1), "user_id"), a->nurse);
    assert_int_equal(jint(json_array_get(people, 2), "user_id"), f->recep);
    json_decref(out);
}

static void test_close_once_then_conflict(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    int64_t id = new_case(c, f->gp, "x1", f->now);
    assert_int_equal(pl_store_case_close(f->st, id, f->gp, f->now + 100), 0);
    pl_case_t k;
    assert_int_equal(pl_store_case_get(f->st, id, &k), 0);
    assert_string_equal(k.status, "closed");
    assert_int_equal(k.closed_at, f->now + 100);
    assert_int_equal(pl_store_case_close(f->st, id, c->a->nurse, f->now + 200), -PL_ECONFLICT);
    assert_int_equal(pl_store_case_get(f->st, id, &k), 0);
    assert_string_equal(k.status, "closed");
    assert_int_equal(k.closed_at, f->now + 100);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT closed_by FROM cases WHERE id = %lld", (long long)id);
    assert_int_equal(raw_int(f, sql), f->gp);
    json_t *j = NULL;
    assert_int_equal(pl_store_case_json(f->st, id, &j), 0);
    assert_string_equal(jstr(j, "status"), "closed");
    assert_int_equal(jint(j, "closed_at"), f->now + 100);
    json_decref(j);
    /* Members keep access to a closed case (to read it). */
    assert_true(is_member(c, id, f->gp, f->now + 300));
    assert_int_equal(pl_store_case_close(f->st, 9999, f->gp, f->now), -PL_ENOTFOUND);
}

/* ---- the event replay ---- */

/* Whether the event with cursor ev is among user's events after `after`. */
static bool sees(cfx_t *c, int64_t user, int64_t after, int64_t ev)
{
    pl_actor_t actor = actor_of(c->f, user);
    json_t *out = NULL, *e;
    size_t i;
    bool found = false;
    assert_int_equal(pl_store_events_since(c->f->st, &actor, after, 100, &out), 0);
    json_array_foreach(out, i, e) if (jint(e, "cursor") == ev) found = true;
    json_decref(out);
    return found;
}

/* An event on the case's thread, marked as the case's; patient as the appender was given it. */
static int64_t case_event(cfx_t *c, int64_t case_id, int64_t patient, const char *type)
{
    pl_case_t k;
    assert_int_equal(pl_store_case_get(c->f->st, case_id, &k), 0);
    json_t *payload = json_pack("{sI}", "case_id", (json_int_t)case_id);
    int64_t ev = 0;
    assert_int_equal(pl_store_event_append_peer(c->f->st, k.conversation_id, k.org_id, 0, patient,
                                                false, type, payload, c->f->now, &ev),
                     0);
    json_decref(payload);
    assert_true(ev > 0);
    assert_int_equal(pl_store_event_set_case(c->f->st, ev, case_id), 0);
    return ev;
}

static void test_events_since_gives_a_cases_events_to_its_members_with_access_only(void **s)
{
    cfx_t *c = *s;
    fx_t *f = c->f;
    afx_t *a = c->a;
    int64_t head = 0;
    assert_int_equal(pl_store_events_head(f->st, &head), 0);
    /* The agreement with the service is in force on the database's own clock (fixture: from an
     * hour ago for a year). */
    int64_t id = new_case(c, f->gp, "ev1", f->now);
    add(c, id, a->spec, a->svc, f->now);
    add(c, id, c->spec_p, a->svc2, f->now); /* stored, but no access: pseudonymised */
    int64_t ev = case_event(c, id, 0, "case.created");
    /* Even if an appender left the patient on it. */
    int64_t ev_pat = case_event(c, id, f->pat1, "case.member_added");
    /* An ordinary event of the patient's, as a control. */
    int64_t plain = new_conv(f, f->org_a, f->pat1, "ev-plain");
    int64_t ev_plain = 0;
    json_t *pl = json_pack("{s:s}", "status", "new");
    assert_int_equal(pl_store_event_append(f->st, plain, f->org_a, f->pat1, false,
                                           "conversation.updated", pl, f->now, &ev_plain),
                     0);
    json_decref(pl);

    /* Its members with access. */
    assert_true(sees(c, f->gp, head, ev));
    assert_true(sees(c, f->gp, head, ev_pat));
    assert_true(sees(c, a->spec, head, ev));
    assert_true(sees(c, a->spec, head, ev_pat));
    /* The replay names the case. */
    pl_actor_t gp = actor_of(f, f->gp);
    json_t *out = NULL, *e;
    size_t i;
    int64_t case_of_ev = -1;
    assert_int_equal(pl_store_events_since(f->st, &gp, head, 100, &out), 0);
    json_array_foreach(out, i, e) if (jint(e, "cursor") == ev) case_of_ev = jint(e, "case_id");
    json_decref(out);
    assert_int_equal(case_of_ev, id);
    /* Not the practice's other staff (who do see its ordinary events), not another practice,
     * not a member without access, not the service's staff who are not members. */
    assert_false(sees(c, f->recep, head, ev));
    assert_false(sees(c, f->recep, head, ev_pat));
    assert_true(sees(c, f->recep, head, ev_plain));
    assert_false(sees(c, a->nurse, head, ev));
    assert_false(sees(c, f->gp_b, head, ev));
    assert_false(sees(c, c->spec_p, head, ev));
    assert_false(sees(c, a->spec2, head, ev));
    assert_false(sees(c, a->admin, head, ev));
    /* Never the patient, whom the thread is about, not even an event that names them. */
    assert_false(sees(c, f->pat1, head, ev));
    assert_false(sees(c, f->pat1, head, ev_pat));
    assert_true(sees(c, f->pat1, head, ev_plain));
    /* The agreement ends: the service's member sees none of it any more; the GP still does. */
    assert_int_equal(pl_store_agreement_end(f->st, a->ag_a, a->admin, f->now), 0);
    assert_false(sees(c, a->spec, head, ev));
    assert_false(sees(c, a->spec, head, ev_pat));
    assert_true(sees(c, f->gp, head, ev));
    /* A new identified agreement in force now (real-time bounds): again. */
    int64_t real_now = pl_now_ms();
    agreement_at(a, f->org_a, a->svc, "identified", real_now - HOUR_MS, real_now + DAY_MS, f->gp,
                 a->admin);
    assert_true(sees(c, a->spec, head, ev));
    /* One that has already expired on the real clock brings nothing. */
    int64_t other = new_case(c, f->gp, "ev2", f->now);
    add(c, other, c->spec_n, c->svc_n, f->now);
    agreement_at(a, f->org_a, c->svc_n, "identified", real_now - 2 * DAY_MS, real_now - DAY_MS,
                 f->gp, a->admin);
    int64_t ev2 = case_event(c, other, 0, "case.created");
    assert_false(sees(c, c->spec_n, head, ev2));
    assert_true(sees(c, f->gp, head, ev2));
    /* A member who left the practice stops seeing it. */
    add(c, other, a->nurse, f->org_a, f->now);
    assert_true(sees(c, a->nurse, head, ev2));
    char sql[160];
    snprintf(sql, sizeof sql, "DELETE FROM memberships WHERE user_id = %lld AND org_id = %lld",
             (long long)a->nurse, (long long)f->org_a);
    raw_exec(f, sql);
    assert_false(sees(c, a->nurse, head, ev2));
}

int main(void)
{
    pl_log_set_level(PL_LOG_WARN); /* keep migration notices out of the test output */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_case, teardown_case)
    const struct CMUnitTest tests[] = {
        T(test_create_opens_a_case_thread_with_its_creator_as_first_member),
        T(test_create_retry_with_the_same_txn_returns_the_first),
        T(test_eligible_org_is_the_practice_or_an_identified_service_in_force),
        T(test_add_member_once_and_only_eight),
        T(test_member_has_access_and_a_stranger_has_none),
        T(test_service_member_loses_access_when_the_agreement_ends_and_regains_it),
        T(test_member_removed_from_their_organisation_loses_access),
        T(test_audience_is_the_members_with_access_in_added_order),
        T(test_json_view_has_title_members_with_org_names_and_patient_identity),
        T(test_list_filters_by_status_and_lists_only_cases_with_access),
        T(test_candidates_are_eligible_staff_not_yet_members),
        T(test_close_once_then_conflict),
        T(test_events_since_gives_a_cases_events_to_its_members_with_access_only),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
