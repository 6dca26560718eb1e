/* Unit tests for signalling/authz.c: the whole policy as one explicit matrix of
 * actor x resource x action, written out cell by cell from the rules (not from the code), plus
 * the edges the matrix cannot show: creating at another practice, NULL arguments, unknown actor
 * kinds and actions, and pl_authz_roles_at. authz is pure, so no fixtures touch the disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "signalling/authz.h"

#define ORG_A 10
#define ORG_B 20
#define OWNER 100 /* the patient whose conversation every resource below belongs to */

/* ---- actors ---- */

enum {
    PAT_OWNER, /* patient of A, owns the conversation */
    PAT_OTHER, /* another patient of A */
    PAT_B,     /* patient of B */
    ST_RECEPTIONIST,
    ST_GP,
    ST_NURSE,
    ST_PHARMACIST,
    ST_CLINICIAN,
    ST_SPECIALIST,
    ST_ADMIN, /* practice_admin at A */
    ST_GP_B,  /* gp at B only */
    ST_NONE,  /* staff with no memberships */
    ST_ZERO,  /* user_id 0, otherwise a staff member with every role at A */
    N_ACTORS
};

static const char *const actor_names[N_ACTORS] = {
    "patient owner (A)",
    "other patient (A)",
    "patient (B)",
    "receptionist (A)",
    "gp (A)",
    "nurse (A)",
    "pharmacist (A)",
    "clinician (A)",
    "specialist (A)",
    "practice_admin (A)",
    "gp (B)",
    "staff, no orgs",
    "user_id 0",
};

static pl_actor_t patient(int64_t id, int64_t practice)
{
    pl_actor_t a;
    memset(&a, 0, sizeof a);
    a.user_id = id;
    a.kind = PL_USER_PATIENT;
    a.practice_id = practice;
    return a;
}

static pl_actor_t staff(int64_t id, int64_t org, unsigned roles)
{
    pl_actor_t a;
    memset(&a, 0, sizeof a);
    a.user_id = id;
    a.kind = PL_USER_STAFF;
    if (org) {
        a.n_orgs = 1;
        a.orgs[0].org_id = org;
        a.orgs[0].roles = roles;
    }
    return a;
}

static pl_actor_t make_actor(int which)
{
    switch (which) {
    case PAT_OWNER:
        return patient(OWNER, ORG_A);
    case PAT_OTHER:
        return patient(101, ORG_A);
    case PAT_B:
        return patient(102, ORG_B);
    case ST_RECEPTIONIST:
        return staff(201, ORG_A, PL_ROLE_RECEPTIONIST);
    case ST_GP:
        return staff(202, ORG_A, PL_ROLE_GP);
    case ST_NURSE:
        return staff(203, ORG_A, PL_ROLE_NURSE);
    case ST_PHARMACIST:
        return staff(204, ORG_A, PL_ROLE_PHARMACIST);
    case ST_CLINICIAN:
        return staff(205, ORG_A, PL_ROLE_CLINICIAN);
    case ST_SPECIALIST:
        return staff(206, ORG_A, PL_ROLE_SPECIALIST);
    case ST_ADMIN:
        return staff(207, ORG_A, PL_ROLE_PRACTICE_ADMIN);
    case ST_GP_B:
        return staff(208, ORG_B, PL_ROLE_GP);
    case ST_NONE:
        return staff(209, 0, 0);
    default:
        return staff(0, ORG_A, (1u << PL_ROLE_COUNT) - 1);
    }
}

/* ---- resources ---- */

enum { R_CONV, R_EVENT, R_EVENT_STAFF, R_ORG, R_TPL, N_RES };

static const char *const res_names[N_RES] = {"conversation", "event", "staff_only event", "org",
                                             "template"};

static const pl_resource_t resources[N_RES] = {
    [R_CONV] = {PL_RES_CONVERSATION, ORG_A, OWNER, false},
    [R_EVENT] = {PL_RES_EVENT, ORG_A, OWNER, false},
    [R_EVENT_STAFF] = {PL_RES_EVENT, ORG_A, OWNER, true},
    [R_ORG] = {PL_RES_ORG, ORG_A, 0, false},
    [R_TPL] = {PL_RES_TEMPLATE, ORG_A, 0, false},
};

/* ---- actions, in the order of the expected strings ---- */

static const pl_action_t actions[] = {
    PL_ACT_READ,    PL_ACT_CREATE,     PL_ACT_SEND,    PL_ACT_NOTE,   PL_ACT_READ_NOTES,
    PL_ACT_ASSIGN,  PL_ACT_SET_STATUS, PL_ACT_RECEIPT, PL_ACT_TYPING, PL_ACT_ADMIN,
    PL_ACT_UPDATE,  PL_ACT_DELETE,
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])
static const char *const action_names[N_ACTIONS] = {
    "READ",   "CREATE",     "SEND",    "NOTE",   "READ_NOTES", "ASSIGN",
    "SET_STATUS", "RECEIPT", "TYPING", "ADMIN",  "UPDATE",     "DELETE",
};

/* The expected policy. One string per (actor, resource); character i is action i above:
 *
 *                    R C S N R A S R T A U D
 *                    E R E O N S T C Y D P E
 *                    A E N T O G A P P M D L
 *                    D A D E T N T T E N T E
 *
 * 'Y' allowed, '.' denied. Derived from the rules:
 * - a patient may READ, SEND, RECEIPT and TYPING on their own conversation, and CREATE it only at
 *   their own practice; may READ only their own non-staff-only events; nothing on orgs;
 * - staff who belong to the org may do everything on its conversations except CREATE (ADMIN is
 *   "change organisation settings", so it has no meaning on a conversation and is denied there);
 *   may READ its events, staff_only included; may READ the org, and ADMIN it only as
 *   practice_admin;
 * - staff who belong to the org, whatever their role, may READ, CREATE, UPDATE and DELETE its
 *   reply templates (and nothing else on them); patients, even of that practice, may not even
 *   READ them; UPDATE and DELETE mean nothing on any other resource;
 * - everyone else (other patients, other orgs' staff, staff with no orgs, user_id 0) nothing. */
/* clang-format off */
#define NONE "............"
#define STAFF_CONV "Y.YYYYYYY..."
#define READ_ONLY "Y..........."
#define STAFF_TPL "YY........YY"
static const char *const expected[N_ACTORS][N_RES] = {
    /*                      conversation     event      staff event  org             template */
    [PAT_OWNER] =         {"YYY....YY...",  READ_ONLY, NONE,        NONE,           NONE},
    [PAT_OTHER] =         {NONE,            NONE,      NONE,        NONE,           NONE},
    [PAT_B] =             {NONE,            NONE,      NONE,        NONE,           NONE},
    [ST_RECEPTIONIST] =   {STAFF_CONV,      READ_ONLY, READ_ONLY,   READ_ONLY,      STAFF_TPL},
    [ST_GP] =             {STAFF_CONV,      READ_ONLY, READ_ONLY,   READ_ONLY,      STAFF_TPL},
    [ST_NURSE] =          {STAFF_CONV,      READ_ONLY, READ_ONLY,   READ_ONLY,      STAFF_TPL},
    [ST_PHARMACIST] =     {STAFF_CONV,      READ_ONLY, READ_ONLY,   READ_ONLY,      STAFF_TPL},
    [ST_CLINICIAN] =      {STAFF_CONV,      READ_ONLY, READ_ONLY,   READ_ONLY,      STAFF_TPL},
    [ST_SPECIALIST] =     {STAFF_CONV,      READ_ONLY, READ_ONLY,   READ_ONLY,      STAFF_TPL},
    [ST_ADMIN] =          {STAFF_CONV,      READ_ONLY, READ_ONLY,   "Y........Y..", STAFF_TPL},
    [ST_GP_B] =           {NONE,            NONE,      NONE,        NONE,           NONE},
    [ST_NONE] =           {NONE,            NONE,      NONE,        NONE,           NONE},
    [ST_ZERO] =           {NONE,            NONE,      NONE,        NONE,           NONE},
};
/* clang-format on */

static void test_matrix_of_actor_resource_action_matches_policy(void **state)
{
    (void)state;
    int wrong = 0, cells = 0;
    for (int a = 0; a < N_ACTORS; a++) {
        pl_actor_t actor = make_actor(a);
        for (int r = 0; r < N_RES; r++) {
            const char *want = expected[a][r];
            assert_int_equal(strlen(want), N_ACTIONS);
            for (size_t i = 0; i < N_ACTIONS; i++) {
                int got = pl_authz_check(&actor, &resources[r], actions[i]);
                int expect = want[i] == 'Y' ? 0 : -PL_EPERM;
                cells++;
                if (got != expect) {
                    print_error("%s / %s / %s: expected %s, got %d\n", actor_names[a], res_names[r],
                                action_names[i], want[i] == 'Y' ? "allow" : "deny", got);
                    wrong++;
                }
            }
        }
    }
    assert_int_equal(cells, N_ACTORS * N_RES * (int)N_ACTIONS);
    assert_int_equal(wrong, 0);
}

static void test_staff_with_several_roles_gets_the_union(void **state)
{
    (void)state;
    pl_actor_t gp_admin = staff(300, ORG_A, PL_ROLE_GP | PL_ROLE_PRACTICE_ADMIN);
    assert_int_equal(pl_authz_check(&gp_admin, &resources[R_ORG], PL_ACT_ADMIN), 0);
    assert_int_equal(pl_authz_check(&gp_admin, &resources[R_CONV], PL_ACT_NOTE), 0);
}

static void test_staff_rights_follow_the_resource_org_not_the_first_membership(void **state)
{
    (void)state;
    pl_actor_t a = staff(301, ORG_B, PL_ROLE_PRACTICE_ADMIN);
    a.orgs[1].org_id = ORG_A;
    a.orgs[1].roles = PL_ROLE_RECEPTIONIST;
    a.n_orgs = 2;
    /* Admin at B does not make them admin at A, where they are a receptionist. */
    assert_int_equal(pl_authz_check(&a, &resources[R_ORG], PL_ACT_ADMIN), -PL_EPERM);
    assert_int_equal(pl_authz_check(&a, &resources[R_ORG], PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&a, &resources[R_CONV], PL_ACT_SEND), 0);
    pl_resource_t org_b = {PL_RES_ORG, ORG_B, 0, false};
    assert_int_equal(pl_authz_check(&a, &org_b, PL_ACT_ADMIN), 0);
}

static void test_membership_with_no_roles_grants_nothing(void **state)
{
    (void)state;
    pl_actor_t a = staff(302, ORG_A, 0);
    for (int r = 0; r < N_RES; r++)
        for (size_t i = 0; i < N_ACTIONS; i++)
            assert_int_equal(pl_authz_check(&a, &resources[r], actions[i]), -PL_EPERM);
}

static void test_patient_may_create_only_at_own_practice(void **state)
{
    (void)state;
    pl_actor_t owner = make_actor(PAT_OWNER);
    pl_resource_t at_b = {PL_RES_CONVERSATION, ORG_B, OWNER, false};
    assert_int_equal(pl_authz_check(&owner, &at_b, PL_ACT_CREATE), -PL_EPERM);
    pl_resource_t at_a = {PL_RES_CONVERSATION, ORG_A, OWNER, false};
    assert_int_equal(pl_authz_check(&owner, &at_a, PL_ACT_CREATE), 0);
    /* Nor may another patient create a conversation in the owner's name at the owner's practice. */
    pl_actor_t other = make_actor(PAT_OTHER);
    assert_int_equal(pl_authz_check(&other, &at_a, PL_ACT_CREATE), -PL_EPERM);
}

static void test_patient_memberships_do_not_grant_staff_rights(void **state)
{
    (void)state;
    /* A patient row that somehow carries a membership is still judged as a patient. */
    pl_actor_t p = make_actor(PAT_OTHER);
    p.n_orgs = 1;
    p.orgs[0].org_id = ORG_A;
    p.orgs[0].roles = PL_ROLE_PRACTICE_ADMIN;
    assert_int_equal(pl_authz_check(&p, &resources[R_CONV], PL_ACT_READ), -PL_EPERM);
    assert_int_equal(pl_authz_check(&p, &resources[R_ORG], PL_ACT_ADMIN), -PL_EPERM);
}

static void test_template_rights_follow_the_template_org(void **state)
{
    (void)state;
    pl_resource_t tpl_b = {PL_RES_TEMPLATE, ORG_B, 0, false};
    pl_actor_t gp_b = make_actor(ST_GP_B), gp_a = make_actor(ST_GP);
    const pl_action_t edits[] = {PL_ACT_READ, PL_ACT_CREATE, PL_ACT_UPDATE, PL_ACT_DELETE};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        assert_int_equal(pl_authz_check(&gp_b, &tpl_b, edits[i]), 0);
        assert_int_equal(pl_authz_check(&gp_a, &tpl_b, edits[i]), -PL_EPERM);
    }
}

static void test_patient_cannot_touch_a_template_even_if_it_names_them(void **state)
{
    (void)state;
    /* A template is never about a patient; a resource that claims so still grants nothing. */
    pl_resource_t odd = {PL_RES_TEMPLATE, ORG_A, OWNER, false};
    pl_actor_t owner = make_actor(PAT_OWNER);
    for (size_t i = 0; i < N_ACTIONS; i++)
        assert_int_equal(pl_authz_check(&owner, &odd, actions[i]), -PL_EPERM);
}

static void test_null_actor_or_resource_is_denied(void **state)
{
    (void)state;
    pl_actor_t a = make_actor(ST_ADMIN);
    for (size_t i = 0; i < N_ACTIONS; i++) {
        assert_int_equal(pl_authz_check(NULL, &resources[R_CONV], actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(&a, NULL, actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(NULL, NULL, actions[i]), -PL_EPERM);
    }
}

static void test_negative_user_id_and_unknown_kind_are_denied(void **state)
{
    (void)state;
    pl_actor_t neg = staff(-5, ORG_A, PL_ROLE_PRACTICE_ADMIN);
    pl_actor_t odd = staff(303, ORG_A, PL_ROLE_PRACTICE_ADMIN);
    odd.kind = (pl_user_kind_t)0;
    for (int r = 0; r < N_RES; r++)
        for (size_t i = 0; i < N_ACTIONS; i++) {
            assert_int_equal(pl_authz_check(&neg, &resources[r], actions[i]), -PL_EPERM);
            assert_int_equal(pl_authz_check(&odd, &resources[r], actions[i]), -PL_EPERM);
        }
}

static void test_unknown_actions_are_denied_to_everyone(void **state)
{
    (void)state;
    const pl_action_t bogus[] = {(pl_action_t)0, (pl_action_t)(PL_ACT_DELETE + 1), (pl_action_t)-1};
    for (int a = 0; a < N_ACTORS; a++) {
        pl_actor_t actor = make_actor(a);
        for (int r = 0; r < N_RES; r++)
            for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++)
                assert_int_equal(pl_authz_check(&actor, &resources[r], bogus[i]), -PL_EPERM);
    }
}

static void test_roles_at_returns_the_roles_of_that_org_only(void **state)
{
    (void)state;
    pl_actor_t a = staff(304, ORG_A, PL_ROLE_GP | PL_ROLE_NURSE);
    a.orgs[1].org_id = ORG_B;
    a.orgs[1].roles = PL_ROLE_PRACTICE_ADMIN;
    a.n_orgs = 2;
    assert_int_equal(pl_authz_roles_at(&a, ORG_A), PL_ROLE_GP | PL_ROLE_NURSE);
    assert_int_equal(pl_authz_roles_at(&a, ORG_B), PL_ROLE_PRACTICE_ADMIN);
    assert_int_equal(pl_authz_roles_at(&a, 30), 0);
    assert_int_equal(pl_authz_roles_at(&a, 0), 0);
}

static void test_roles_at_ignores_entries_beyond_n_orgs(void **state)
{
    (void)state;
    pl_actor_t a = staff(305, ORG_A, PL_ROLE_GP);
    a.orgs[1].org_id = ORG_B; /* stale slot, not counted */
    a.orgs[1].roles = PL_ROLE_PRACTICE_ADMIN;
    assert_int_equal(pl_authz_roles_at(&a, ORG_B), 0);
    pl_actor_t none = make_actor(ST_NONE);
    assert_int_equal(pl_authz_roles_at(&none, ORG_A), 0);
}

static void test_roles_at_finds_the_last_of_many_memberships(void **state)
{
    (void)state;
    pl_actor_t a = staff(306, 0, 0);
    for (int i = 0; i < PL_ACTOR_MAX_ORGS; i++) {
        a.orgs[i].org_id = 1000 + i;
        a.orgs[i].roles = 1u << (i % PL_ROLE_COUNT);
    }
    a.n_orgs = PL_ACTOR_MAX_ORGS;
    int last = PL_ACTOR_MAX_ORGS - 1;
    assert_int_equal(pl_authz_roles_at(&a, 1000 + last), 1u << (last % PL_ROLE_COUNT));
    pl_resource_t org = {PL_RES_ORG, 1000 + last, 0, false};
    assert_int_equal(pl_authz_check(&a, &org, PL_ACT_READ), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_of_actor_resource_action_matches_policy),
        cmocka_unit_test(test_staff_with_several_roles_gets_the_union),
        cmocka_unit_test(test_staff_rights_follow_the_resource_org_not_the_first_membership),
        cmocka_unit_test(test_membership_with_no_roles_grants_nothing),
        cmocka_unit_test(test_patient_may_create_only_at_own_practice),
        cmocka_unit_test(test_patient_memberships_do_not_grant_staff_rights),
        cmocka_unit_test(test_template_rights_follow_the_template_org),
        cmocka_unit_test(test_patient_cannot_touch_a_template_even_if_it_names_them),
        cmocka_unit_test(test_null_actor_or_resource_is_denied),
        cmocka_unit_test(test_negative_user_id_and_unknown_kind_are_denied),
        cmocka_unit_test(test_unknown_actions_are_denied_to_everyone),
        cmocka_unit_test(test_roles_at_returns_the_roles_of_that_org_only),
        cmocka_unit_test(test_roles_at_ignores_entries_beyond_n_orgs),
        cmocka_unit_test(test_roles_at_finds_the_last_of_many_memberships),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
