/* Unit tests for signalling/authz.c, case discussions (MDT, PROTOCOL section 12): a practice
 * (ORG_P) discusses one of its patients with invited professionals, its own staff and a
 * specialist service's (ORG_SVC). The policy is one explicit matrix of actor x resource x
 * action, written out cell by cell from the rules (not from the code), for the case itself, its
 * thread, the thread's events (staff-only or not) and its meeting, each as seen by a member
 * and by someone who is not one (case_member, the store's judgement). Then the edges the matrix
 * cannot show: a member with no role at the practice cannot run the case, a case's rules do not
 * leak to the practice's ordinary resources (nor theirs to a case), a resource naming both a
 * case and a second organisation is nobody's, roles follow the practice the case names, and
 * pl_conv_resource carrying the case of a case thread. authz is pure: no fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "signalling/authz.h"
#include "tests/support/authz_rows.h"

#define ORG_P 10     /* the practice that opened the case */
#define ORG_SVC 30   /* a specialist service whose staff may be invited */
#define ORG_OTHER 20 /* another practice, with no part in it */
#define OWNER 100    /* the patient the case is about, registered at ORG_P */
#define CASE 5       /* the case discussion */
#define THREAD 61    /* its thread (a conversation of kind case) */
#define CONSULT 71   /* its meeting (a consultation on THREAD) */

/* ---- actors ---- */

enum {
    P_GP,
    P_NURSE,
    P_PHARMACIST,
    P_CLINICIAN,
    P_RECEPTIONIST,
    P_ADMIN,        /* practice_admin of the practice */
    P_SPECIALIST,   /* a specialist role held at the practice: not a clinical role for CREATE */
    S_SPECIALIST,   /* a specialist of the service (no role at the practice) */
    S_ADMIN,        /* practice_admin of the service */
    O_GP,           /* gp at another practice */
    ST_NONE,        /* staff with no memberships */
    PATIENT,        /* the patient the case is about */
    PATIENT_SCOPED, /* the same, on a session scoped to the case's meeting and thread */
    GUEST,          /* a guest scoped to the case's meeting and thread */
    N_ACTORS
};

static const char *const actor_names[N_ACTORS] = {
    "practice gp",           "practice nurse",
    "practice pharmacist",   "practice clinician",
    "practice receptionist", "practice admin",
    "practice specialist",   "service specialist",
    "service admin",         "other practice gp",
    "staff, no orgs",        "patient",
    "patient, scoped",       "guest",
};

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
    pl_actor_t a;
    switch (which) {
    case P_GP:
        return staff(201, ORG_P, PL_ROLE_GP);
    case P_NURSE:
        return staff(202, ORG_P, PL_ROLE_NURSE);
    case P_PHARMACIST:
        return staff(203, ORG_P, PL_ROLE_PHARMACIST);
    case P_CLINICIAN:
        return staff(204, ORG_P, PL_ROLE_CLINICIAN);
    case P_RECEPTIONIST:
        return staff(205, ORG_P, PL_ROLE_RECEPTIONIST);
    case P_ADMIN:
        return staff(206, ORG_P, PL_ROLE_PRACTICE_ADMIN);
    case P_SPECIALIST:
        return staff(207, ORG_P, PL_ROLE_SPECIALIST);
    case S_SPECIALIST:
        return staff(301, ORG_SVC, PL_ROLE_SPECIALIST);
    case S_ADMIN:
        return staff(302, ORG_SVC, PL_ROLE_PRACTICE_ADMIN);
    case O_GP:
        return staff(401, ORG_OTHER, PL_ROLE_GP);
    case ST_NONE:
        return staff(404, 0, 0);
    case PATIENT:
    case PATIENT_SCOPED:
        memset(&a, 0, sizeof a);
        a.user_id = OWNER;
        a.kind = PL_USER_PATIENT;
        a.practice_id = ORG_P;
        if (which == PATIENT_SCOPED) {
            a.scope_consultation_id = CONSULT;
            a.scope_conversation_id = THREAD;
        }
        return a;
    default:
        memset(&a, 0, sizeof a);
        a.user_id = 500;
        a.kind = PL_USER_GUEST;
        snprintf(a.guest_role, sizeof a.guest_role, "interpreter");
        a.scope_consultation_id = CONSULT;
        a.scope_conversation_id = THREAD;
        return a;
    }
}

/* ---- resources: each as a member sees it (case_member) and as a non-member ---- */

enum {
    R_CASE_M,
    R_CASE_N,
    R_THREAD_M,
    R_THREAD_N,
    R_EVENT_M,
    R_EVENT_N,
    R_EVENT_STAFF_M,
    R_EVENT_STAFF_N,
    R_CALL_M,
    R_CALL_N,
    N_RES
};

static const char *const res_names[N_RES] = {
    "case (member)",
    "case (not a member)",
    "case thread (member)",
    "case thread (not a member)",
    "case event (member)",
    "case event (not a member)",
    "staff_only case event (member)",
    "staff_only case event (not a member)",
    "case meeting (member)",
    "case meeting (not a member)",
};

/* As the server builds them: the case and its thread name the patient; the thread's events
 * carry none (they never go to the patient); the meeting names the patient and the thread. */
#define CASE_RES(m)                                                                                \
    {                                                                                              \
        .kind = PL_RES_CASE, .org_id = ORG_P, .patient_id = OWNER, .conversation_id = THREAD,      \
        .case_id = CASE, .case_member = (m)                                                        \
    }
#define THREAD_RES(m)                                                                              \
    {                                                                                              \
        .kind = PL_RES_CONVERSATION, .org_id = ORG_P, .patient_id = OWNER,                         \
        .conversation_id = THREAD, .case_id = CASE, .case_member = (m)                             \
    }
#define EVENT_RES(m, staff)                                                                        \
    {                                                                                              \
        .kind = PL_RES_EVENT, .org_id = ORG_P, .conversation_id = THREAD,                          \
        .consultation_id = CONSULT, .staff_only = (staff), .case_id = CASE, .case_member = (m)     \
    }
#define CALL_RES(m)                                                                                \
    {                                                                                              \
        .kind = PL_RES_CONSULTATION, .org_id = ORG_P, .patient_id = OWNER,                         \
        .conversation_id = THREAD, .consultation_id = CONSULT, .case_id = CASE, .case_member = (m) \
    }

static const pl_resource_t resources[N_RES] = {
    [R_CASE_M] = CASE_RES(true),
    [R_CASE_N] = CASE_RES(false),
    [R_THREAD_M] = THREAD_RES(true),
    [R_THREAD_N] = THREAD_RES(false),
    [R_EVENT_M] = EVENT_RES(true, false),
    [R_EVENT_N] = EVENT_RES(false, false),
    [R_EVENT_STAFF_M] = EVENT_RES(true, true),
    [R_EVENT_STAFF_N] = EVENT_RES(false, true),
    [R_CALL_M] = CALL_RES(true),
    [R_CALL_N] = CALL_RES(false),
};

/* ---- actions, in the order of the expected strings ---- */

static const pl_action_t actions[] = {
    PL_ACT_READ,     PL_ACT_CREATE,     PL_ACT_SEND,    PL_ACT_NOTE,   PL_ACT_READ_NOTES,
    PL_ACT_ASSIGN,   PL_ACT_SET_STATUS, PL_ACT_RECEIPT, PL_ACT_TYPING, PL_ACT_ADMIN,
    PL_ACT_UPDATE,   PL_ACT_DELETE,     PL_ACT_WAIT,    PL_ACT_ADMIT,  PL_ACT_END,
    PL_ACT_INVITE,   PL_ACT_LINK,       PL_ACT_JOIN,    PL_ACT_CLAIM,  PL_ACT_RESPOND,
    PL_ACT_IDENTITY,
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])
static const char *const action_names[N_ACTIONS] = {
    "READ",    "CREATE", "SEND",  "NOTE",   "READ_NOTES", "ASSIGN",  "SET_STATUS",
    "RECEIPT", "TYPING", "ADMIN", "UPDATE", "DELETE",     "WAIT",    "ADMIT",
    "END",     "INVITE", "LINK",  "JOIN",   "CLAIM",      "RESPOND", "IDENTITY",
};

/* The expected policy. One string per (actor, resource); character i is action i above:
 *
 *                    R C S N R A S R T A U D W A E I L J C R I
 *                    E R E O N S T C Y D P E A D N N I O L E D
 *                    A E N T O G A P P M D L I M D V N I A S E
 *                    D A D E T N T T E N T E T I   I K N I P N
 *
 * 'Y' allowed, '.' denied. The rules:
 * - the case, CREATE (open one): a clinician (gp, nurse, pharmacist, clinician) of the
 *   practice, member or not (there is nothing to be a member of yet); nobody else: not the
 *   practice's receptionists, admins or specialists, not the service's staff, not another
 *   practice's clinicians, never a patient or a guest;
 * - everything else only for a member (case_member): the case, READ and IDENTITY, and INVITE
 *   and END (close) when the member also holds a role at the practice that opened it; the
 *   thread, READ, SEND and RECEIPT only (no typing, no internal notes, no assign or status);
 *   the thread's events, READ when not staff_only; the meeting, READ, CREATE (start), JOIN,
 *   END and IDENTITY (no waiting room, admit, invite or link);
 * - not a member, even the practice's own GP or admin: nothing but CREATE above;
 * - the patient (even on a session scoped to the meeting) and guests: nothing, member flag or
 *   not. */
/* clang-format off */
#define NONE         "....................."
#define CREATE_ONLY  ".Y..................."
#define CASE_RUN_C   "YY............YY....Y" /* read, create, end, invite, identity */
#define CASE_RUN     "Y.............YY....Y" /* read, end, invite, identity */
#define CASE_SEE     "Y...................Y" /* read, identity */
#define THREAD_M     "Y.Y....Y............." /* read, send, receipt */
#define EVENT_M      "Y...................."
#define CALL_M       "YY............Y..Y..Y" /* read, create, end, join, identity */
/* case M/N, thread M/N, event M/N, staff event M/N, meeting M/N */
#define CLINICIAN_ROW {CASE_RUN_C, CREATE_ONLY, THREAD_M, NONE, EVENT_M, NONE, NONE, NONE, \
                       CALL_M, NONE}
#define P_STAFF_ROW   {CASE_RUN, NONE, THREAD_M, NONE, EVENT_M, NONE, NONE, NONE, CALL_M, NONE}
#define OUTSIDE_ROW   {CASE_SEE, NONE, THREAD_M, NONE, EVENT_M, NONE, NONE, NONE, CALL_M, NONE}
#define NOTHING       {NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE}
static const char *const expected[N_ACTORS][N_RES] = {
    [P_GP] =           CLINICIAN_ROW,
    [P_NURSE] =        CLINICIAN_ROW,
    [P_PHARMACIST] =   CLINICIAN_ROW,
    [P_CLINICIAN] =    CLINICIAN_ROW,
    [P_RECEPTIONIST] = P_STAFF_ROW,
    [P_ADMIN] =        P_STAFF_ROW,
    [P_SPECIALIST] =   P_STAFF_ROW,
    /* Members from outside the practice (the store only says so for staff of a service whose
     * agreement shares the identity, but authz takes its word): they take part, never run it. */
    [S_SPECIALIST] =   OUTSIDE_ROW,
    [S_ADMIN] =        OUTSIDE_ROW,
    [O_GP] =           OUTSIDE_ROW,
    [ST_NONE] =        OUTSIDE_ROW,
    [PATIENT] =        NOTHING,
    [PATIENT_SCOPED] = NOTHING,
    [GUEST] =          NOTHING,
};
/* clang-format on */

/* Checks every action of one (actor, resource) against want; returns the number wrong. */
static int check_row(const pl_actor_t *actor, const char *actor_name, const pl_resource_t *res,
                     const char *res_name, const char *want)
{
    return authz_check_row(actions, action_names, N_ACTIONS, actor, actor_name, res, res_name,
                           want);
}

static void test_matrix_of_case_resources_matches_policy(void **state)
{
    (void)state;
    int wrong = 0, cells = 0;
    for (int a = 0; a < N_ACTORS; a++) {
        pl_actor_t actor = make_actor(a);
        for (int r = 0; r < N_RES; r++) {
            wrong += check_row(&actor, actor_names[a], &resources[r], res_names[r], expected[a][r]);
            cells += (int)N_ACTIONS;
        }
    }
    assert_int_equal(cells, N_ACTORS * N_RES * (int)N_ACTIONS);
    assert_int_equal(wrong, 0);
}

static void test_member_without_a_role_at_the_practice_cannot_invite_or_close(void **state)
{
    (void)state;
    /* A service specialist the store counts as a member: takes part, does not run it. */
    pl_actor_t spec = make_actor(S_SPECIALIST);
    const pl_resource_t *k = &resources[R_CASE_M];
    assert_int_equal(pl_authz_check(&spec, k, PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&spec, k, PL_ACT_IDENTITY), 0);
    assert_int_equal(pl_authz_check(&spec, k, PL_ACT_INVITE), -PL_EPERM);
    assert_int_equal(pl_authz_check(&spec, k, PL_ACT_END), -PL_EPERM);
    /* Every role at the service, and at another practice: still not the practice's. */
    pl_actor_t many = staff(610, ORG_SVC, (1u << PL_ROLE_COUNT) - 1);
    many.n_orgs = 2;
    many.orgs[1].org_id = ORG_OTHER;
    many.orgs[1].roles = (1u << PL_ROLE_COUNT) - 1;
    assert_int_equal(check_row(&many, "every role elsewhere", k, "case (member)", CASE_SEE), 0);
    assert_int_equal(
        check_row(&many, "every role elsewhere", &resources[R_CASE_N], "case (not a member)", NONE),
        0);
    /* The same specialist who also holds any role at the practice runs it. */
    pl_actor_t both = spec;
    both.n_orgs = 2;
    both.orgs[1].org_id = ORG_P;
    both.orgs[1].roles = PL_ROLE_RECEPTIONIST;
    assert_int_equal(
        check_row(&both, "specialist + practice receptionist", k, "case (member)", CASE_RUN), 0);
    /* A clinician elsewhere with a non-clinical role at the practice does not open one. */
    pl_actor_t mixed = staff(611, ORG_OTHER, PL_ROLE_GP);
    mixed.n_orgs = 2;
    mixed.orgs[1].org_id = ORG_P;
    mixed.orgs[1].roles = PL_ROLE_RECEPTIONIST | PL_ROLE_PRACTICE_ADMIN;
    assert_int_equal(pl_authz_check(&mixed, &resources[R_CASE_N], PL_ACT_CREATE), -PL_EPERM);
    assert_int_equal(pl_authz_check(&mixed, &resources[R_CASE_M], PL_ACT_CREATE), -PL_EPERM);
}

static void test_case_rights_follow_the_practice_the_case_names(void **state)
{
    (void)state;
    /* Another practice's case: our GP opens nothing there and runs nothing, even as a member;
     * its own GP does. */
    pl_resource_t theirs = resources[R_CASE_M];
    theirs.org_id = ORG_OTHER;
    pl_resource_t theirs_n = theirs;
    theirs_n.case_member = false;
    pl_actor_t gp = make_actor(P_GP), o_gp = make_actor(O_GP);
    assert_int_equal(check_row(&gp, "our gp", &theirs, "their case (member)", CASE_SEE), 0);
    assert_int_equal(check_row(&gp, "our gp", &theirs_n, "their case (not a member)", NONE), 0);
    assert_int_equal(check_row(&o_gp, "their gp", &theirs, "their case (member)", CASE_RUN_C), 0);
    assert_int_equal(
        check_row(&o_gp, "their gp", &theirs_n, "their case (not a member)", CREATE_ONLY), 0);
}

static void test_case_rules_do_not_leak_to_the_practices_ordinary_resources(void **state)
{
    (void)state;
    /* The very same resources with no case: the ordinary rules again (test_authz.c's), whatever
     * the member flag left on says. */
    pl_actor_t gp = make_actor(P_GP), recep = make_actor(P_RECEPTIONIST);
    pl_actor_t spec = make_actor(S_SPECIALIST), owner = make_actor(PATIENT);
    pl_resource_t conv = resources[R_THREAD_M];
    conv.case_id = 0;
    /* The practice team works the inbox: notes, assign, status, typing. */
    assert_int_equal(
        check_row(&gp, "practice gp", &conv, "ordinary conversation", "Y.YYYYYYY............"), 0);
    assert_int_equal(check_row(&recep, "practice receptionist", &conv, "ordinary conversation",
                               "Y.YYYYYYY............"),
                     0);
    conv.case_member = false;
    assert_int_equal(pl_authz_check(&gp, &conv, PL_ACT_ASSIGN), 0);
    assert_int_equal(pl_authz_check(&gp, &conv, PL_ACT_NOTE), 0);
    /* A member of some case at the practice is nothing to its ordinary conversations. */
    conv.case_member = true;
    assert_int_equal(check_row(&spec, "service specialist", &conv, "ordinary conversation", NONE),
                     0);
    /* The patient's own conversation is theirs again. */
    assert_int_equal(pl_authz_check(&owner, &conv, PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&owner, &conv, PL_ACT_SEND), 0);
    /* An ordinary consultation: the practice team runs it, invite and admit included. */
    pl_resource_t call = resources[R_CALL_M];
    call.case_id = 0;
    assert_int_equal(pl_authz_check(&recep, &call, PL_ACT_INVITE), 0);
    assert_int_equal(pl_authz_check(&recep, &call, PL_ACT_ADMIT), 0);
    assert_int_equal(pl_authz_check(&spec, &call, PL_ACT_JOIN), -PL_EPERM);
    assert_int_equal(pl_authz_check(&owner, &call, PL_ACT_WAIT), 0);
    /* An ordinary event, staff_only: the practice reads it; a case member elsewhere does not. */
    pl_resource_t ev = resources[R_EVENT_STAFF_M];
    ev.case_id = 0;
    assert_int_equal(pl_authz_check(&recep, &ev, PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&spec, &ev, PL_ACT_READ), -PL_EPERM);
}

static void test_practice_staff_not_members_get_nothing_and_a_new_case_is_a_case(void **state)
{
    (void)state;
    /* The practice's GP, not a member: a thread naming a case is not their inbox. */
    pl_actor_t gp = make_actor(P_GP), admin = make_actor(P_ADMIN), owner = make_actor(PATIENT);
    for (int r = R_THREAD_N; r < N_RES; r++) {
        if (resources[r].case_member) continue;
        assert_int_equal(check_row(&gp, "practice gp", &resources[r], res_names[r], NONE), 0);
        assert_int_equal(check_row(&admin, "practice admin", &resources[r], res_names[r], NONE), 0);
    }
    /* A PL_RES_CASE with no case id yet (the one about to be opened): still a case's rules. */
    pl_resource_t fresh = {.kind = PL_RES_CASE, .org_id = ORG_P, .patient_id = OWNER};
    assert_int_equal(check_row(&gp, "practice gp", &fresh, "new case", CREATE_ONLY), 0);
    assert_int_equal(check_row(&admin, "practice admin", &fresh, "new case", NONE), 0);
    assert_int_equal(check_row(&owner, "patient", &fresh, "new case", NONE), 0);
    /* The patient, even for a resource that names them and their practice. */
    for (int r = 0; r < N_RES; r++)
        assert_int_equal(check_row(&owner, "patient", &resources[r], res_names[r], NONE), 0);
}

static void test_case_resource_naming_a_second_org_is_nobodys(void **state)
{
    (void)state;
    /* Case and advice at once is malformed: nobody, member or not, every role on both sides. */
    pl_actor_t everyone = staff(700, ORG_P, (1u << PL_ROLE_COUNT) - 1);
    everyone.n_orgs = 2;
    everyone.orgs[1].org_id = ORG_SVC;
    everyone.orgs[1].roles = (1u << PL_ROLE_COUNT) - 1;
    for (int r = 0; r < N_RES; r++) {
        pl_resource_t res = resources[r];
        res.peer_org_id = ORG_SVC;
        res.agreement_active = true;
        res.identity_shared = true;
        assert_int_equal(check_row(&everyone, "every role, both sides", &res, res_names[r], NONE),
                         0);
        for (int a = 0; a < N_ACTORS; a++) {
            pl_actor_t actor = make_actor(a);
            assert_int_equal(check_row(&actor, actor_names[a], &res, res_names[r], NONE), 0);
        }
    }
}

static void test_conv_resource_carries_the_case_of_a_case_thread(void **state)
{
    (void)state;
    pl_conv_t conv;
    memset(&conv, 0, sizeof conv);
    conv.id = THREAD;
    conv.org_id = ORG_P;
    conv.patient_id = OWNER;
    snprintf(conv.kind, sizeof conv.kind, "case");
    snprintf(conv.status, sizeof conv.status, "in_progress");
    conv.case_id = CASE;
    pl_resource_t res = pl_conv_resource(&conv);
    assert_int_equal(res.kind, PL_RES_CONVERSATION);
    assert_int_equal(res.org_id, ORG_P);
    assert_int_equal(res.patient_id, OWNER);
    assert_int_equal(res.conversation_id, THREAD);
    assert_int_equal(res.peer_org_id, 0);
    /* Without the case, a case thread would be the practice's inbox and the patient's own:
     * the patient never sees it, nor the practice's staff who are not members. */
    assert_int_equal(res.case_id, CASE);
    pl_actor_t owner = make_actor(PATIENT), recep = make_actor(P_RECEPTIONIST);
    pl_actor_t spec = make_actor(S_SPECIALIST);
    res.case_member = false;
    assert_int_equal(check_row(&owner, "patient", &res, "case thread from conv", NONE), 0);
    assert_int_equal(check_row(&recep, "practice receptionist", &res,
                               "case thread from conv (not a member)", NONE),
                     0);
    res.case_member = true;
    assert_int_equal(
        check_row(&spec, "service specialist", &res, "case thread from conv (member)", THREAD_M),
        0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_of_case_resources_matches_policy),
        cmocka_unit_test(test_member_without_a_role_at_the_practice_cannot_invite_or_close),
        cmocka_unit_test(test_case_rights_follow_the_practice_the_case_names),
        cmocka_unit_test(test_case_rules_do_not_leak_to_the_practices_ordinary_resources),
        cmocka_unit_test(test_practice_staff_not_members_get_nothing_and_a_new_case_is_a_case),
        cmocka_unit_test(test_case_resource_naming_a_second_org_is_nobodys),
        cmocka_unit_test(test_conv_resource_carries_the_case_of_a_case_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
