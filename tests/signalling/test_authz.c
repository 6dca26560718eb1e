/* Unit tests for signalling/authz.c: the whole policy as one explicit matrix of
 * actor x resource x action, written out cell by cell from the rules (not from the code), plus
 * the edges the matrix cannot show: creating at another practice, NULL arguments, unknown actor
 * kinds and actions, pl_authz_roles_at, and the request types a session scoped to one video
 * consultation may send, the patient's and a guest's (an interpreter or carer invited from
 * outside the practice). authz is pure, so no fixtures touch the disk. Professional resources
 * (agreements, advice requests, their threads) have their own matrix in test_authz_advice.c. */
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

#define ORG_A 10
#define ORG_B 20
#define OWNER 100 /* the patient whose conversation every resource below belongs to */
#define CONV 50          /* the owner's conversation that holds consultation CONSULT */
#define CONV_OTHER 51    /* another conversation of the owner's, with CONSULT_OTHER */
#define CONSULT 70
#define CONSULT_OTHER 71
/* A resource as the older rows name it: kind, organisation, patient, staff-only, conversation,
 * consultation (the professional fields stay 0). */
#define RES(k, org, pat, so, conv, kid)                                                            \
    {.kind = (k), .org_id = (org), .patient_id = (pat), .staff_only = (so),                      \
     .conversation_id = (conv), .consultation_id = (kid)}
#define CONSULT_SIBLING 72 /* a second consultation on CONV */

/* ---- actors ---- */

enum {
    PAT_OWNER, /* patient of A, owns the conversation */
    PAT_OTHER, /* another patient of A */
    PAT_B,     /* patient of B */
    PAT_SCOPED, /* the owner, on a session opened from the link of CONSULT */
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
    GUEST,    /* an interpreter invited into CONSULT, on the session its guest link opened */
    GUEST_UNSCOPED, /* a guest on a session with no consultation: never made; gets nothing */
    N_ACTORS
};

static const char *const actor_names[N_ACTORS] = {
    "patient owner (A)",
    "other patient (A)",
    "patient (B)",
    "owner, scoped to a consultation",
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
    "guest, scoped to a consultation",
    "guest, no scope",
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

static pl_actor_t guest(int64_t id, int64_t consultation, int64_t conversation)
{
    pl_actor_t a;
    memset(&a, 0, sizeof a);
    a.user_id = id;
    a.kind = PL_USER_GUEST;
    snprintf(a.guest_role, sizeof a.guest_role, "interpreter");
    a.scope_consultation_id = consultation;
    a.scope_conversation_id = conversation;
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
    case PAT_SCOPED: {
        pl_actor_t a = patient(OWNER, ORG_A);
        a.scope_consultation_id = CONSULT;
        a.scope_conversation_id = CONV;
        return a;
    }
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
    case GUEST:
        return guest(400, CONSULT, CONV);
    case GUEST_UNSCOPED:
        return guest(401, 0, 0);
    default:
        return staff(0, ORG_A, (1u << PL_ROLE_COUNT) - 1);
    }
}

/* ---- resources ---- */

enum {
    R_CONV,
    R_EVENT,
    R_EVENT_STAFF,
    R_ORG,
    R_TPL,
    R_CONSULT,
    R_CONV_OTHER,
    R_EVENT_OTHER,
    R_CONSULT_OTHER,
    R_EVENT_CONSULT,       /* a consult.* event of CONSULT, on CONV */
    R_EVENT_CONSULT_STAFF, /* the same, staff_only */
    R_EVENT_SIBLING,       /* a consult.* event of CONSULT_SIBLING, also on CONV */
    R_CONSULT_SIBLING,     /* CONSULT_SIBLING itself */
    R_EVENT_OTHER_CONSULT, /* a consult.* event of CONSULT_OTHER, on CONV_OTHER */
    N_RES
};

static const char *const res_names[N_RES] = {
    "conversation",         "event",           "staff_only event",
    "org",                  "template",        "consultation",
    "other conversation",   "event of other conversation", "other consultation",
    "event of the consultation", "staff_only event of the consultation",
    "event of the consultation next to it", "consultation next to it",
    "event of other consultation"};

/* {kind, org, patient, staff_only, conversation, consultation} */
static const pl_resource_t resources[N_RES] = {
    [R_CONV] = RES(PL_RES_CONVERSATION, ORG_A, OWNER, false, CONV, 0),
    [R_EVENT] = RES(PL_RES_EVENT, ORG_A, OWNER, false, CONV, 0),
    [R_EVENT_STAFF] = RES(PL_RES_EVENT, ORG_A, OWNER, true, CONV, 0),
    [R_ORG] = RES(PL_RES_ORG, ORG_A, 0, false, 0, 0),
    [R_TPL] = RES(PL_RES_TEMPLATE, ORG_A, 0, false, 0, 0),
    [R_CONSULT] = RES(PL_RES_CONSULTATION, ORG_A, OWNER, false, CONV, CONSULT),
    [R_CONV_OTHER] = RES(PL_RES_CONVERSATION, ORG_A, OWNER, false, CONV_OTHER, 0),
    [R_EVENT_OTHER] = RES(PL_RES_EVENT, ORG_A, OWNER, false, CONV_OTHER, 0),
    [R_CONSULT_OTHER] = RES(PL_RES_CONSULTATION, ORG_A, OWNER, false, CONV_OTHER, CONSULT_OTHER),
    [R_EVENT_CONSULT] = RES(PL_RES_EVENT, ORG_A, OWNER, false, CONV, CONSULT),
    [R_EVENT_CONSULT_STAFF] = RES(PL_RES_EVENT, ORG_A, OWNER, true, CONV, CONSULT),
    [R_EVENT_SIBLING] = RES(PL_RES_EVENT, ORG_A, OWNER, false, CONV, CONSULT_SIBLING),
    [R_CONSULT_SIBLING] = RES(PL_RES_CONSULTATION, ORG_A, OWNER, false, CONV, CONSULT_SIBLING),
    [R_EVENT_OTHER_CONSULT] = RES(PL_RES_EVENT, ORG_A, OWNER, false, CONV_OTHER, CONSULT_OTHER),
};

/* ---- actions, in the order of the expected strings ---- */

static const pl_action_t actions[] = {
    PL_ACT_READ,    PL_ACT_CREATE,     PL_ACT_SEND,    PL_ACT_NOTE,   PL_ACT_READ_NOTES,
    PL_ACT_ASSIGN,  PL_ACT_SET_STATUS, PL_ACT_RECEIPT, PL_ACT_TYPING, PL_ACT_ADMIN,
    PL_ACT_UPDATE,  PL_ACT_DELETE,     PL_ACT_WAIT,    PL_ACT_ADMIT,  PL_ACT_END,
    PL_ACT_INVITE,  PL_ACT_LINK,       PL_ACT_JOIN,
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])
static const char *const action_names[N_ACTIONS] = {
    "READ",   "CREATE",     "SEND",    "NOTE",   "READ_NOTES", "ASSIGN",
    "SET_STATUS", "RECEIPT", "TYPING", "ADMIN",  "UPDATE",     "DELETE",
    "WAIT",   "ADMIT",      "END",     "INVITE", "LINK",       "JOIN",
};

/* The expected policy. One string per (actor, resource); character i is action i above:
 *
 *                    R C S N R A S R T A U D W A E I L J
 *                    E R E O N S T C Y D P E A D N N I O
 *                    A E N T O G A P P M D L I M D V N I
 *                    D A D E T N T T E N T E T I   I K N
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
 * - a patient may READ, WAIT (enter the waiting room) and JOIN (the call's media) their own
 *   consultations, and nothing else on them: booking and running one is the practice's;
 * - staff who belong to the org may READ, CREATE (book), ADMIT, END, INVITE, LINK and JOIN its
 *   consultations, whatever their role; never WAIT;
 * - the owner on a session scoped to CONSULT keeps, within the patient's rights, only: READ,
 *   WAIT and JOIN on CONSULT; READ, SEND, RECEIPT and TYPING on its conversation CONV (not
 *   CREATE); READ on CONV's events; nothing on the other conversation, its events or its
 *   consultation; a consultation next to CONSULT on the same conversation is not CONSULT (but
 *   its events are CONV's, so they are read);
 * - a consult.* event names its consultation as well as its conversation: to patients and staff
 *   it is an event of that conversation like any other;
 * - a guest, on the session its link opened (scoped to CONSULT), may READ, WAIT and JOIN
 *   CONSULT; READ CONSULT's own events (consultation_id CONSULT, on CONV) unless staff_only;
 *   nothing else: not the conversation (the patient's chat), not its other events (messages,
 *   another consultation's), not the other conversation, not orgs or templates;
 * - a guest without a scope, and everyone else (other patients, other orgs' staff, staff with
 *   no orgs, user_id 0) nothing. */
/* clang-format off */
#define NONE          ".................."
#define READ_ONLY     "Y................."
#define PAT_CONV      "YYY....YY........."
#define PAT_CONSULT   "Y...........Y....Y"
#define STAFF_CONV    "Y.YYYYYYY........."
#define STAFF_TPL     "YY........YY......"
#define STAFF_CONSULT "YY...........YYYYY"
#define ADMIN_ORG     "Y........Y........"
#define STAFF_ROW(org) {STAFF_CONV, READ_ONLY, READ_ONLY, org, STAFF_TPL, STAFF_CONSULT, \
                        STAFF_CONV, READ_ONLY, STAFF_CONSULT, \
                        READ_ONLY, READ_ONLY, READ_ONLY, STAFF_CONSULT, READ_ONLY}
#define NOTHING {NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, \
                 NONE, NONE, NONE, NONE, NONE}
static const char *const expected[N_ACTORS][N_RES] = {
    /*  conversation, event, staff event, org, template, consultation,
     *  other conversation, its event, other consultation,
     *  consultation's event, its staff event, event of the one next to it, the one next to it,
     *  event of other consultation */
    [PAT_OWNER] =       {PAT_CONV, READ_ONLY, NONE, NONE, NONE, PAT_CONSULT,
                         PAT_CONV, READ_ONLY, PAT_CONSULT,
                         READ_ONLY, NONE, READ_ONLY, PAT_CONSULT, READ_ONLY},
    [PAT_OTHER] =       NOTHING,
    [PAT_B] =           NOTHING,
    [PAT_SCOPED] =      {"Y.Y....YY.........", READ_ONLY, NONE, NONE, NONE, PAT_CONSULT,
                         NONE, NONE, NONE,
                         READ_ONLY, NONE, READ_ONLY, NONE, NONE},
    [ST_RECEPTIONIST] = STAFF_ROW(READ_ONLY),
    [ST_GP] =           STAFF_ROW(READ_ONLY),
    [ST_NURSE] =        STAFF_ROW(READ_ONLY),
    [ST_PHARMACIST] =   STAFF_ROW(READ_ONLY),
    [ST_CLINICIAN] =    STAFF_ROW(READ_ONLY),
    [ST_SPECIALIST] =   STAFF_ROW(READ_ONLY),
    [ST_ADMIN] =        STAFF_ROW(ADMIN_ORG),
    [ST_GP_B] =         NOTHING,
    [ST_NONE] =         NOTHING,
    [ST_ZERO] =         NOTHING,
    [GUEST] =           {NONE, NONE, NONE, NONE, NONE, PAT_CONSULT,
                         NONE, NONE, NONE,
                         READ_ONLY, NONE, NONE, NONE, NONE},
    [GUEST_UNSCOPED] =  NOTHING,
};
/* clang-format on */

static void test_matrix_of_actor_resource_action_matches_policy(void **state)
{
    (void)state;
    int wrong = 0, cells = 0;
    for (int a = 0; a < N_ACTORS; a++) {
        pl_actor_t actor = make_actor(a);
        for (int r = 0; r < N_RES; r++) {
            wrong += authz_check_row(actions, action_names, N_ACTIONS, &actor, actor_names[a],
                                     &resources[r], res_names[r], expected[a][r]);
            cells += (int)N_ACTIONS;
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
    pl_resource_t org_b = RES(PL_RES_ORG, ORG_B, 0, false, 0, 0);
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
    pl_resource_t at_b = RES(PL_RES_CONVERSATION, ORG_B, OWNER, false, 0, 0);
    assert_int_equal(pl_authz_check(&owner, &at_b, PL_ACT_CREATE), -PL_EPERM);
    pl_resource_t at_a = RES(PL_RES_CONVERSATION, ORG_A, OWNER, false, 0, 0);
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
    pl_resource_t tpl_b = RES(PL_RES_TEMPLATE, ORG_B, 0, false, 0, 0);
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
    pl_resource_t odd = RES(PL_RES_TEMPLATE, ORG_A, OWNER, false, 0, 0);
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
    const pl_action_t bogus[] = {(pl_action_t)0, (pl_action_t)PL_ACT_LIMIT_,
                                 (pl_action_t)-1};
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
    pl_resource_t org = RES(PL_RES_ORG, 1000 + last, 0, false, 0, 0);
    assert_int_equal(pl_authz_check(&a, &org, PL_ACT_READ), 0);
}

/* ---- sessions scoped to one consultation ---- */

static void test_scoped_session_is_denied_resources_that_name_no_conversation(void **state)
{
    (void)state;
    /* A caller that leaves conversation_id out (0) gets nothing from a scoped session: the
     * scope fails closed rather than matching "any". */
    pl_actor_t a = make_actor(PAT_SCOPED);
    pl_resource_t conv = RES(PL_RES_CONVERSATION, ORG_A, OWNER, false, 0, 0);
    pl_resource_t ev = RES(PL_RES_EVENT, ORG_A, OWNER, false, 0, 0);
    pl_resource_t consult = RES(PL_RES_CONSULTATION, ORG_A, OWNER, false, CONV, 0);
    pl_resource_t me = RES(PL_RES_PATIENT, ORG_A, OWNER, false, 0, 0);
    for (size_t i = 0; i < N_ACTIONS; i++) {
        assert_int_equal(pl_authz_check(&a, &conv, actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(&a, &ev, actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(&a, &consult, actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(&a, &me, actions[i]), -PL_EPERM);
    }
    /* The same patient on an ordinary session may read their own identity. */
    pl_actor_t owner = make_actor(PAT_OWNER);
    assert_int_equal(pl_authz_check(&owner, &me, PL_ACT_READ), 0);
}

static void test_scope_narrows_and_never_grants(void **state)
{
    (void)state;
    /* A scope naming another patient's consultation and conversation opens none of it. */
    pl_actor_t a = make_actor(PAT_OTHER);
    a.scope_consultation_id = CONSULT;
    a.scope_conversation_id = CONV;
    for (size_t i = 0; i < N_ACTIONS; i++) {
        assert_int_equal(pl_authz_check(&a, &resources[R_CONSULT], actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(&a, &resources[R_CONV], actions[i]), -PL_EPERM);
        assert_int_equal(pl_authz_check(&a, &resources[R_EVENT], actions[i]), -PL_EPERM);
    }
    /* A scope missing its conversation half, or negative, allows nothing at all. */
    pl_actor_t half = make_actor(PAT_SCOPED), neg = make_actor(PAT_SCOPED);
    half.scope_conversation_id = 0;
    neg.scope_consultation_id = -CONSULT;
    for (int r = 0; r < N_RES; r++)
        for (size_t i = 0; i < N_ACTIONS; i++) {
            assert_int_equal(pl_authz_check(&half, &resources[r], actions[i]), -PL_EPERM);
            assert_int_equal(pl_authz_check(&neg, &resources[r], actions[i]), -PL_EPERM);
        }
    /* Staff carrying a scope are held to it as well. */
    pl_actor_t gp = make_actor(ST_GP);
    gp.scope_consultation_id = CONSULT;
    gp.scope_conversation_id = CONV;
    assert_int_equal(pl_authz_check(&gp, &resources[R_CONSULT], PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&gp, &resources[R_CONSULT], PL_ACT_ADMIT), -PL_EPERM);
    assert_int_equal(pl_authz_check(&gp, &resources[R_CONV_OTHER], PL_ACT_READ), -PL_EPERM);
    assert_int_equal(pl_authz_check(&gp, &resources[R_ORG], PL_ACT_READ), -PL_EPERM);
}

static void test_consultation_rights_follow_the_consultation_org(void **state)
{
    (void)state;
    pl_resource_t at_b = RES(PL_RES_CONSULTATION, ORG_B, 102, false, 60, 80);
    pl_actor_t gp_a = make_actor(ST_GP), gp_b = make_actor(ST_GP_B), pat_b = make_actor(PAT_B);
    for (size_t i = 0; i < N_ACTIONS; i++)
        assert_int_equal(pl_authz_check(&gp_a, &at_b, actions[i]), -PL_EPERM);
    assert_int_equal(pl_authz_check(&gp_b, &at_b, PL_ACT_ADMIT), 0);
    assert_int_equal(pl_authz_check(&pat_b, &at_b, PL_ACT_WAIT), 0);
    assert_int_equal(pl_authz_check(&pat_b, &at_b, PL_ACT_ADMIT), -PL_EPERM);
}

static void test_request_types_of_a_scoped_session(void **state)
{
    (void)state;
    const char *const allowed[] = {"ping",         "session.info",      "events.subscribe",
                                   "conversation.get", "conversation.history",
                                   "conversation.send", "typing.set",   "receipt.mark",
                                   "consult.get",  "consult.wait",      "consult.join",
                                   "consult.reoffer", "consult.leave",  "media.ice_servers"};
    const char *const refused[] = {
        "conversation.list", "conversation.create", "conversation.note",
        "conversation.assign", "conversation.set_status", "patient.lookup",
        "org.staff",         "template.list",       "template.save",
        "totp.enrol",        "totp.confirm",        "consult.list",
        "consult.book",      "consult.link",        "consult.admit",
        "consult.end",       "consult.cancel",      "consult.invite",
        "no.such.type",      "",                    "ping ",
    };
    pl_actor_t scoped = make_actor(PAT_SCOPED), owner = make_actor(PAT_OWNER);
    pl_actor_t gp = make_actor(ST_GP);
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        assert_true(pl_authz_request_allowed(&scoped, allowed[i]));
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_false(pl_authz_request_allowed(&scoped, refused[i]));
        /* Ordinary sessions are not gated here: the handlers' authz checks decide. */
        assert_true(pl_authz_request_allowed(&owner, refused[i]));
        assert_true(pl_authz_request_allowed(&gp, refused[i]));
    }
    assert_false(pl_authz_request_allowed(NULL, "ping"));
    assert_false(pl_authz_request_allowed(&owner, NULL));
}

/* ---- guests ---- */

/* Every request type the server has, for the request gate. */
/* clang-format off */
static const char *const all_types[] = {
    "ping",              "session.info",         "events.subscribe",
    "totp.enrol",        "totp.confirm",         "conversation.create",
    "conversation.send", "conversation.note",    "conversation.get",
    "conversation.history", "conversation.list", "conversation.assign",
    "conversation.set_status", "receipt.mark",   "typing.set",
    "patient.lookup",    "consult.book",         "consult.link",
    "consult.get",       "consult.list",         "consult.wait",
    "consult.admit",     "consult.invite",       "consult.end",
    "consult.cancel",    "consult.join",         "consult.reoffer",
    "consult.leave",     "media.ice_servers",    "org.staff",
    "template.list",     "template.save",        "template.delete",
};
/* clang-format on */
#define N_TYPES (sizeof all_types / sizeof all_types[0])

static bool guest_may_send(const char *type)
{
    static const char *const page[] = {
        "ping",         "session.info",    "events.subscribe", "consult.get",      "consult.wait",
        "consult.join", "consult.reoffer", "consult.leave",    "media.ice_servers"};
    for (size_t i = 0; i < sizeof page / sizeof page[0]; i++)
        if (strcmp(type, page[i]) == 0) return true;
    return false;
}

static void test_request_types_of_a_guest_session(void **state)
{
    (void)state;
    pl_actor_t g = make_actor(GUEST), unscoped = make_actor(GUEST_UNSCOPED);
    int allowed = 0;
    for (size_t i = 0; i < N_TYPES; i++) {
        bool want = guest_may_send(all_types[i]);
        if (pl_authz_request_allowed(&g, all_types[i]) != want)
            print_error("guest / %s: expected %s\n", all_types[i], want ? "allow" : "deny");
        assert_true(pl_authz_request_allowed(&g, all_types[i]) == want);
        allowed += want;
        /* Without its consultation a guest session is nothing, not even a ping. */
        assert_false(pl_authz_request_allowed(&unscoped, all_types[i]));
    }
    assert_int_equal(allowed, 9);
    /* No chat: what the patient's own scoped session may do in the conversation, it may not. */
    const char *const chat[] = {"conversation.get", "conversation.history", "conversation.send",
                                "typing.set", "receipt.mark"};
    pl_actor_t scoped = make_actor(PAT_SCOPED);
    for (size_t i = 0; i < sizeof chat / sizeof chat[0]; i++) {
        assert_true(pl_authz_request_allowed(&scoped, chat[i]));
        assert_false(pl_authz_request_allowed(&g, chat[i]));
    }
    assert_false(pl_authz_request_allowed(&g, "no.such.type"));
    assert_false(pl_authz_request_allowed(&g, ""));
    assert_false(pl_authz_request_allowed(&g, "ping "));
    assert_false(pl_authz_request_allowed(&g, NULL));
    /* A negative scope is no scope. */
    pl_actor_t neg = make_actor(GUEST);
    neg.scope_consultation_id = -CONSULT;
    assert_false(pl_authz_request_allowed(&neg, "ping"));
    assert_false(pl_authz_request_allowed(&neg, "consult.get"));
}

static void test_guest_is_judged_as_a_guest_whatever_else_it_carries(void **state)
{
    (void)state;
    /* A guest row that somehow has the patient's id, a practice and every role there still
     * gets only a guest's rights: its kind decides, as for patients with memberships. */
    pl_actor_t g = guest(OWNER, CONSULT, CONV);
    g.practice_id = ORG_A;
    g.n_orgs = 1;
    g.orgs[0].org_id = ORG_A;
    g.orgs[0].roles = (1u << PL_ROLE_COUNT) - 1;
    int wrong = 0;
    for (int r = 0; r < N_RES; r++)
        for (size_t i = 0; i < N_ACTIONS; i++) {
            int want = expected[GUEST][r][i] == 'Y' ? 0 : -PL_EPERM;
            if (pl_authz_check(&g, &resources[r], actions[i]) != want) {
                print_error("%s / %s: expected %s\n", res_names[r], action_names[i],
                            want ? "deny" : "allow");
                wrong++;
            }
        }
    assert_int_equal(wrong, 0);
    /* Nor does it pass the gate for what a patient's scoped session may send. */
    assert_false(pl_authz_request_allowed(&g, "conversation.send"));
}

static void test_guest_with_a_broken_scope_gets_nothing(void **state)
{
    (void)state;
    pl_actor_t half = make_actor(GUEST), neg = make_actor(GUEST), conv_only = make_actor(GUEST);
    half.scope_conversation_id = 0;
    neg.scope_consultation_id = -CONSULT;
    conv_only.scope_consultation_id = 0; /* the conversation alone opens nothing for a guest */
    for (int r = 0; r < N_RES; r++)
        for (size_t i = 0; i < N_ACTIONS; i++) {
            assert_int_equal(pl_authz_check(&half, &resources[r], actions[i]), -PL_EPERM);
            assert_int_equal(pl_authz_check(&neg, &resources[r], actions[i]), -PL_EPERM);
            assert_int_equal(pl_authz_check(&conv_only, &resources[r], actions[i]), -PL_EPERM);
        }
    /* An event that names the consultation but no conversation fails closed. */
    pl_actor_t g = make_actor(GUEST);
    pl_resource_t loose = RES(PL_RES_EVENT, ORG_A, OWNER, false, 0, CONSULT);
    assert_int_equal(pl_authz_check(&g, &loose, PL_ACT_READ), -PL_EPERM);
    /* The same guest scoped to the consultation next door gets that one, not CONSULT. */
    pl_actor_t next = guest(400, CONSULT_SIBLING, CONV);
    assert_int_equal(pl_authz_check(&next, &resources[R_CONSULT_SIBLING], PL_ACT_JOIN), 0);
    assert_int_equal(pl_authz_check(&next, &resources[R_EVENT_SIBLING], PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&next, &resources[R_CONSULT], PL_ACT_READ), -PL_EPERM);
    assert_int_equal(pl_authz_check(&next, &resources[R_EVENT_CONSULT], PL_ACT_READ), -PL_EPERM);
}

/* One expectation per actor for one (resource, action): true allowed, false denied. */
typedef struct {
    int actor;
    bool may;
} actor_row_t;

static void check_actor_rows(const pl_resource_t *res, pl_action_t act, const char *what,
                             const actor_row_t *rows, size_t n)
{
    assert_int_equal(n, N_ACTORS);
    for (size_t i = 0; i < n; i++) {
        pl_actor_t a = make_actor(rows[i].actor);
        int got = pl_authz_check(&a, res, act);
        if (got != (rows[i].may ? 0 : -PL_EPERM))
            fail_msg("%s: %s expected %s", actor_names[rows[i].actor], what,
                     rows[i].may ? "allowed" : "denied");
    }
}

/* Exporting a patient's whole record (FHIR): the practice's clinicians and admins, not its
 * front desk, not another practice, not the patient, not a guest. Written from the rule. */
static void test_export_of_a_patients_record(void **state)
{
    (void)state;
    pl_resource_t rec = RES(PL_RES_PATIENT, ORG_A, OWNER, false, 0, 0);
    static const actor_row_t rows[] = {
        {PAT_OWNER, false},   {PAT_OTHER, false},  {PAT_B, false},     {PAT_SCOPED, false},
        {ST_RECEPTIONIST, false}, {ST_GP, true},   {ST_NURSE, true},   {ST_PHARMACIST, true},
        {ST_CLINICIAN, true}, {ST_SPECIALIST, false}, {ST_ADMIN, true}, {ST_GP_B, false},
        {ST_NONE, false},     {ST_ZERO, false},    {GUEST, false},     {GUEST_UNSCOPED, false},
    };
    check_actor_rows(&rec, PL_ACT_EXPORT, "export", rows, sizeof rows / sizeof rows[0]);
    /* Export means nothing on any other kind of resource. */
    pl_actor_t gp = make_actor(ST_GP);
    for (int r = 0; r < N_RES; r++)
        assert_int_equal(pl_authz_check(&gp, &resources[r], PL_ACT_EXPORT), -PL_EPERM);
}

/* Filing to the record and marking entered in error: the practice's clinicians, on its own
 * conversations; nobody else. Written from the rule. */
static void test_filing_is_for_the_practices_clinicians(void **state)
{
    (void)state;
    static const actor_row_t rows[] = {
        {PAT_OWNER, false},   {PAT_OTHER, false},  {PAT_B, false},     {PAT_SCOPED, false},
        {ST_RECEPTIONIST, false}, {ST_GP, true},   {ST_NURSE, true},   {ST_PHARMACIST, true},
        {ST_CLINICIAN, true}, {ST_SPECIALIST, false}, {ST_ADMIN, false}, {ST_GP_B, false},
        {ST_NONE, false},     {ST_ZERO, false},    {GUEST, false},     {GUEST_UNSCOPED, false},
    };
    check_actor_rows(&resources[R_CONV], PL_ACT_FILE, "file", rows, sizeof rows / sizeof rows[0]);
    /* Only conversations are filed. */
    pl_actor_t gp = make_actor(ST_GP);
    for (int r = 0; r < N_RES; r++)
        if (resources[r].kind != PL_RES_CONVERSATION)
            assert_int_equal(pl_authz_check(&gp, &resources[r], PL_ACT_FILE), -PL_EPERM);
}

/* Who accessed a patient's data (their audit trail): the admins of the patient's practice
 * only. Written from the rule. */
static void test_audit_trail_of_a_patient_is_for_the_practices_admins(void **state)
{
    (void)state;
    pl_resource_t rec = RES(PL_RES_PATIENT, ORG_A, OWNER, false, 0, 0);
    static const actor_row_t rows[] = {
        {PAT_OWNER, false},   {PAT_OTHER, false},  {PAT_B, false},     {PAT_SCOPED, false},
        {ST_RECEPTIONIST, false}, {ST_GP, false},  {ST_NURSE, false},  {ST_PHARMACIST, false},
        {ST_CLINICIAN, false}, {ST_SPECIALIST, false}, {ST_ADMIN, true}, {ST_GP_B, false},
        {ST_NONE, false},     {ST_ZERO, false},    {GUEST, false},     {GUEST_UNSCOPED, false},
    };
    check_actor_rows(&rec, PL_ACT_AUDIT, "audit", rows, sizeof rows / sizeof rows[0]);
    pl_actor_t admin = make_actor(ST_ADMIN);
    for (int r = 0; r < N_RES; r++)
        if (resources[r].kind != PL_RES_PATIENT)
            assert_int_equal(pl_authz_check(&admin, &resources[r], PL_ACT_AUDIT), -PL_EPERM);
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
        cmocka_unit_test(test_scoped_session_is_denied_resources_that_name_no_conversation),
        cmocka_unit_test(test_scope_narrows_and_never_grants),
        cmocka_unit_test(test_consultation_rights_follow_the_consultation_org),
        cmocka_unit_test(test_request_types_of_a_scoped_session),
        cmocka_unit_test(test_request_types_of_a_guest_session),
        cmocka_unit_test(test_guest_is_judged_as_a_guest_whatever_else_it_carries),
        cmocka_unit_test(test_guest_with_a_broken_scope_gets_nothing),
        cmocka_unit_test(test_export_of_a_patients_record),
        cmocka_unit_test(test_audit_trail_of_a_patient_is_for_the_practices_admins),
        cmocka_unit_test(test_filing_is_for_the_practices_clinicians),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
