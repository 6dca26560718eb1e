/* Unit tests for signalling/authz.c, professional to professional: a practice (ORG_P) asks a
 * specialist service (ORG_SVC) for advice under an information-sharing agreement. The policy
 * is one explicit matrix of actor x resource x action, written out cell by cell from the rules
 * (not from the code), for agreements, advice requests (agreement in force or not, identity
 * shared or not), the request's thread and its events (staff-only or not), calls on the
 * thread (live escalation), plus the edges the
 * matrix cannot show: a member of both sides, rights that follow the organisations the
 * resource names, a professional resource that names no second organisation, the advice
 * actions on the practice's own resources, and pl_conv_resource carrying the second
 * organisation. The practice's own resources are test_authz.c's. authz is pure: no fixtures. */
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

#define ORG_P 10     /* the practice that asks */
#define ORG_SVC 30   /* the specialist service asked */
#define ORG_OTHER 20 /* another practice, with no part in it */
#define ORG_SVC2 40  /* another specialist service */
#define OWNER 100    /* the patient the request is about, registered at ORG_P */
#define THREAD 60    /* the request's thread (a conversation of kind advice) */
#define CONSULT 70   /* a video consultation of OWNER's, on conversation 50 */

/* ---- actors ---- */

enum {
    P_GP,
    P_NURSE,
    P_PHARMACIST,
    P_CLINICIAN,
    P_RECEPTIONIST,
    P_ADMIN,      /* practice_admin of the practice */
    P_SPECIALIST, /* a specialist role held at the practice: not the service's */
    S_SPECIALIST,
    S_ADMIN,        /* practice_admin of the service */
    S_RECEPTIONIST, /* the service's staff in another role */
    O_GP,           /* gp at another practice */
    O_ADMIN,        /* practice_admin at another practice */
    O_SPECIALIST,   /* specialist at another service */
    ST_NONE,        /* staff with no memberships */
    PATIENT,        /* the patient the request is about */
    PATIENT_SCOPED, /* the same, on a session scoped to a consultation on the thread's id */
    GUEST,          /* a guest scoped to a consultation on the thread's id */
    N_ACTORS
};

static const char *const actor_names[N_ACTORS] = {
    "practice gp",
    "practice nurse",
    "practice pharmacist",
    "practice clinician",
    "practice receptionist",
    "practice admin",
    "practice specialist",
    "service specialist",
    "service admin",
    "service receptionist",
    "other practice gp",
    "other practice admin",
    "other service specialist",
    "staff, no orgs",
    "patient",
    "patient, scoped",
    "guest",
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
    case S_RECEPTIONIST:
        return staff(303, ORG_SVC, PL_ROLE_RECEPTIONIST);
    case O_GP:
        return staff(401, ORG_OTHER, PL_ROLE_GP);
    case O_ADMIN:
        return staff(402, ORG_OTHER, PL_ROLE_PRACTICE_ADMIN);
    case O_SPECIALIST:
        return staff(403, ORG_SVC2, PL_ROLE_SPECIALIST);
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

/* ---- resources ---- */

enum {
    R_AGREEMENT,
    R_ADVICE,          /* agreement in force, sharing identity */
    R_ADVICE_PSEUDO,   /* agreement in force, pseudonymised */
    R_ADVICE_INACTIVE, /* no agreement in force */
    R_ADVICE_STALE,    /* identity_shared left set with no agreement in force */
    R_THREAD,
    R_THREAD_EVENT,
    R_THREAD_EVENT_STAFF,
    R_CALL,          /* a call on the thread, agreement in force sharing identity */
    R_CALL_PSEUDO,   /* ... pseudonymised */
    R_CALL_INACTIVE, /* ... no agreement in force */
    N_RES
};

static const char *const res_names[N_RES] = {
    "agreement",
    "advice (identified)",
    "advice (pseudonymised)",
    "advice (no agreement)",
    "advice (no agreement, identity flag left on)",
    "advice thread",
    "thread event",
    "staff_only thread event",
    "call on the thread (identified)",
    "call on the thread (pseudonymised)",
    "call on the thread (no agreement)",
};

static const pl_resource_t resources[N_RES] = {
    [R_AGREEMENT] = {.kind = PL_RES_AGREEMENT, .org_id = ORG_P, .peer_org_id = ORG_SVC},
    [R_ADVICE] = {.kind = PL_RES_ADVICE,
                  .org_id = ORG_P,
                  .peer_org_id = ORG_SVC,
                  .patient_id = OWNER,
                  .conversation_id = THREAD,
                  .agreement_active = true,
                  .identity_shared = true},
    [R_ADVICE_PSEUDO] = {.kind = PL_RES_ADVICE,
                         .org_id = ORG_P,
                         .peer_org_id = ORG_SVC,
                         .patient_id = OWNER,
                         .conversation_id = THREAD,
                         .agreement_active = true,
                         .identity_shared = false},
    [R_ADVICE_INACTIVE] = {.kind = PL_RES_ADVICE,
                           .org_id = ORG_P,
                           .peer_org_id = ORG_SVC,
                           .patient_id = OWNER,
                           .conversation_id = THREAD},
    [R_ADVICE_STALE] = {.kind = PL_RES_ADVICE,
                        .org_id = ORG_P,
                        .peer_org_id = ORG_SVC,
                        .patient_id = OWNER,
                        .conversation_id = THREAD,
                        .agreement_active = false,
                        .identity_shared = true},
    /* The thread and its events as the server builds them: they carry the service, and its
     * events no patient (the conversation itself still names whom it is about). */
    [R_THREAD] = {.kind = PL_RES_CONVERSATION,
                  .org_id = ORG_P,
                  .peer_org_id = ORG_SVC,
                  .patient_id = OWNER,
                  .conversation_id = THREAD},
    [R_THREAD_EVENT] = {.kind = PL_RES_EVENT,
                        .org_id = ORG_P,
                        .peer_org_id = ORG_SVC,
                        .conversation_id = THREAD},
    [R_THREAD_EVENT_STAFF] = {.kind = PL_RES_EVENT,
                              .org_id = ORG_P,
                              .peer_org_id = ORG_SVC,
                              .conversation_id = THREAD,
                              .staff_only = true},
    [R_CALL] = {.kind = PL_RES_CONSULTATION,
                .org_id = ORG_P,
                .peer_org_id = ORG_SVC,
                .patient_id = OWNER,
                .conversation_id = THREAD,
                .consultation_id = CONSULT,
                .agreement_active = true,
                .identity_shared = true},
    [R_CALL_PSEUDO] = {.kind = PL_RES_CONSULTATION,
                       .org_id = ORG_P,
                       .peer_org_id = ORG_SVC,
                       .patient_id = OWNER,
                       .conversation_id = THREAD,
                       .consultation_id = CONSULT,
                       .agreement_active = true},
    [R_CALL_INACTIVE] = {.kind = PL_RES_CONSULTATION,
                         .org_id = ORG_P,
                         .peer_org_id = ORG_SVC,
                         .patient_id = OWNER,
                         .conversation_id = THREAD,
                         .consultation_id = CONSULT},
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
 * - an agreement: READ by the staff of either side, whatever their role; ADMIN (propose,
 *   accept, end) by a practice_admin of either side; nothing else;
 * - an advice request: READ by the staff of either side; CREATE only by the practice's
 *   clinicians (gp, nurse, pharmacist, clinician) and only while an agreement is in force;
 *   CLAIM by the service's specialists or its practice_admin (who assigns); RESPOND by the
 *   service's specialists only; IDENTITY always for the practice's staff, for the service's only
 *   while an agreement in force shares it (so not pseudonymised, not with none in force,
 *   whatever the identity flag says); nothing else;
 * - the thread (a conversation): READ, SEND, RECEIPT and TYPING by the staff of both sides;
 *   NOTE and READ_NOTES (internal notes) by the practice's staff only; nothing else, not even
 *   ASSIGN or SET_STATUS (the request's own state is worked through the advice actions);
 * - the thread's events: READ by the practice's staff; by the service's only when not
 *   staff_only;
 * - a call on the thread (live escalation): READ, JOIN and END by the staff of both sides;
 *   CREATE (start it) by the practice's clinicians and the service's specialists; INVITE
 *   (bring the patient in, in a consultation of their own) by the practice's staff and only
 *   while an agreement is in force; IDENTITY as for the request; nothing else (no waiting
 *   room, admit or link: it starts in call, between professionals);
 * - a role held at the practice gives nothing at the service, and the reverse (a specialist
 *   of the practice cannot claim; the practice's admin cannot claim);
 * - staff of a third organisation, staff of nowhere, the patient the request is about (even
 *   on a session scoped to a consultation that names the thread), and guests: nothing. */
/* clang-format off */
#define NONE         "....................."
#define READ_ONLY    "Y...................."
#define AG_ADMIN     "Y........Y..........."
#define ADV_ASK      "YY..................Y" /* read, create, identity */
#define ADV_P        "Y...................Y" /* read, identity */
#define ADV_SPEC     "Y.................YYY" /* read, claim, respond, identity */
#define ADV_SPEC_NOID "Y.................YY."
#define ADV_SADMIN   "Y.................Y.Y" /* read, claim (assign), identity */
#define ADV_SADMIN_NOID "Y.................Y.."
#define THREAD_P     "Y.YYY..YY............"
#define THREAD_S     "Y.Y....YY............"
#define CALL_PCLIN   "YY............YY.Y..Y" /* read, create, end, invite, join, identity */
#define CALL_PCLIN_NOAG "YY............Y..Y..Y"
#define CALL_P       "Y.............YY.Y..Y" /* read, end, invite, join, identity */
#define CALL_P_NOAG  "Y.............Y..Y..Y"
#define CALL_SSPEC   "YY............Y..Y..Y" /* read, create, end, join, identity */
#define CALL_SSPEC_NOID "YY............Y..Y..."
#define CALL_S       "Y.............Y..Y..Y" /* read, end, join, identity */
#define CALL_S_NOID  "Y.............Y..Y..."
/* agreement, advice identified, pseudonymised, no agreement, stale flag, thread, event,
 * staff_only event, call identified, pseudonymised, no agreement */
#define CLINICIAN_ROW {READ_ONLY, ADV_ASK, ADV_ASK, ADV_P, ADV_P, THREAD_P, READ_ONLY, READ_ONLY, \
                       CALL_PCLIN, CALL_PCLIN, CALL_PCLIN_NOAG}
#define P_STAFF_ROW(ag) {ag, ADV_P, ADV_P, ADV_P, ADV_P, THREAD_P, READ_ONLY, READ_ONLY, \
                         CALL_P, CALL_P, CALL_P_NOAG}
#define NOTHING {NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE}
static const char *const expected[N_ACTORS][N_RES] = {
    [P_GP] =           CLINICIAN_ROW,
    [P_NURSE] =        CLINICIAN_ROW,
    [P_PHARMACIST] =   CLINICIAN_ROW,
    [P_CLINICIAN] =    CLINICIAN_ROW,
    [P_RECEPTIONIST] = P_STAFF_ROW(READ_ONLY),
    [P_ADMIN] =        P_STAFF_ROW(AG_ADMIN),
    [P_SPECIALIST] =   P_STAFF_ROW(READ_ONLY),
    [S_SPECIALIST] =   {READ_ONLY, ADV_SPEC, ADV_SPEC_NOID, ADV_SPEC_NOID, ADV_SPEC_NOID,
                        THREAD_S, READ_ONLY, NONE, CALL_SSPEC, CALL_SSPEC_NOID, CALL_SSPEC_NOID},
    [S_ADMIN] =        {AG_ADMIN, ADV_SADMIN, ADV_SADMIN_NOID, ADV_SADMIN_NOID,
                        ADV_SADMIN_NOID, THREAD_S, READ_ONLY, NONE, CALL_S, CALL_S_NOID,
                        CALL_S_NOID},
    [S_RECEPTIONIST] = {READ_ONLY, ADV_P, READ_ONLY, READ_ONLY, READ_ONLY,
                        THREAD_S, READ_ONLY, NONE, CALL_S, CALL_S_NOID, CALL_S_NOID},
    [O_GP] =           NOTHING,
    [O_ADMIN] =        NOTHING,
    [O_SPECIALIST] =   NOTHING,
    [ST_NONE] =        NOTHING,
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

static void test_matrix_of_professional_resources_matches_policy(void **state)
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

static void test_member_of_both_sides_gets_the_union(void **state)
{
    (void)state;
    /* A GP of the practice who is also one of the service's specialists. */
    pl_actor_t both = staff(600, ORG_P, PL_ROLE_GP);
    both.n_orgs = 2;
    both.orgs[1].org_id = ORG_SVC;
    both.orgs[1].roles = PL_ROLE_SPECIALIST;
    assert_int_equal(check_row(&both, "gp + specialist", &resources[R_ADVICE], "advice",
                               "YY................YYY"),
                     0);
    /* The practice's side sees the identity whatever the agreement shares. */
    assert_int_equal(check_row(&both, "gp + specialist", &resources[R_ADVICE_PSEUDO],
                               "advice (pseudonymised)", "YY................YYY"),
                     0);
    assert_int_equal(check_row(&both, "gp + specialist", &resources[R_THREAD], "thread",
                               "Y.YYY..YY............"),
                     0);
    assert_int_equal(check_row(&both, "gp + specialist", &resources[R_THREAD_EVENT_STAFF],
                               "staff event", READ_ONLY),
                     0);
    /* Roles at a third organisation add nothing. */
    pl_actor_t far =
        staff(601, ORG_OTHER, PL_ROLE_GP | PL_ROLE_SPECIALIST | PL_ROLE_PRACTICE_ADMIN);
    far.n_orgs = 2;
    far.orgs[1].org_id = ORG_SVC2;
    far.orgs[1].roles = PL_ROLE_SPECIALIST | PL_ROLE_PRACTICE_ADMIN;
    for (int r = 0; r < N_RES; r++)
        assert_int_equal(
            check_row(&far, "elsewhere, every role", &resources[r], res_names[r], NONE), 0);
}

static void test_professional_rights_follow_the_organisations_the_resource_names(void **state)
{
    (void)state;
    /* Another practice's request to the same service: the service works it, our practice
     * has no part in it. */
    pl_resource_t theirs = resources[R_ADVICE];
    theirs.org_id = ORG_OTHER;
    pl_actor_t gp = make_actor(P_GP), admin = make_actor(P_ADMIN);
    pl_actor_t spec = make_actor(S_SPECIALIST), o_gp = make_actor(O_GP);
    assert_int_equal(check_row(&gp, "our gp", &theirs, "their advice", NONE), 0);
    assert_int_equal(
        check_row(&spec, "specialist", &theirs, "their advice", "Y.................YYY"), 0);
    assert_int_equal(check_row(&o_gp, "their gp", &theirs, "their advice", ADV_ASK), 0);
    /* Our request to another service: its specialists, not ours. */
    pl_resource_t elsewhere = resources[R_ADVICE];
    elsewhere.peer_org_id = ORG_SVC2;
    pl_actor_t o_spec = make_actor(O_SPECIALIST);
    assert_int_equal(check_row(&spec, "our specialist", &elsewhere, "advice elsewhere", NONE), 0);
    assert_int_equal(check_row(&o_spec, "their specialist", &elsewhere, "advice elsewhere",
                               "Y.................YYY"),
                     0);
    assert_int_equal(check_row(&gp, "our gp", &elsewhere, "advice elsewhere", ADV_ASK), 0);
    /* Another practice's agreement with our service: the service's admin, not ours. */
    pl_resource_t ag = resources[R_AGREEMENT];
    ag.org_id = ORG_OTHER;
    pl_actor_t s_admin = make_actor(S_ADMIN), o_admin = make_actor(O_ADMIN);
    assert_int_equal(check_row(&admin, "our admin", &ag, "their agreement", NONE), 0);
    assert_int_equal(check_row(&s_admin, "service admin", &ag, "their agreement", AG_ADMIN), 0);
    assert_int_equal(check_row(&o_admin, "their admin", &ag, "their agreement", AG_ADMIN), 0);
}

static void test_professional_resource_naming_no_second_org_is_nobodys(void **state)
{
    (void)state;
    /* An agreement or request without its service is malformed: it is between nobody. */
    pl_resource_t ag = resources[R_AGREEMENT], adv = resources[R_ADVICE];
    ag.peer_org_id = 0;
    adv.peer_org_id = 0;
    pl_actor_t everyone_at_p = staff(700, ORG_P, (1u << PL_ROLE_COUNT) - 1);
    for (int a = 0; a < N_ACTORS; a++) {
        pl_actor_t actor = make_actor(a);
        assert_int_equal(check_row(&actor, actor_names[a], &ag, "agreement, no service", NONE), 0);
        assert_int_equal(check_row(&actor, actor_names[a], &adv, "advice, no service", NONE), 0);
    }
    assert_int_equal(check_row(&everyone_at_p, "every role", &ag, "agreement, no service", NONE),
                     0);
    assert_int_equal(check_row(&everyone_at_p, "every role", &adv, "advice, no service", NONE), 0);
    /* Other kinds of resource that name a service are not the practice's ordinary ones. */
    const pl_resource_kind_t kinds[] = {PL_RES_ORG, PL_RES_PATIENT, PL_RES_TEMPLATE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        pl_resource_t r = {.kind = kinds[k],
                           .org_id = ORG_P,
                           .peer_org_id = ORG_SVC,
                           .patient_id = OWNER,
                           .conversation_id = THREAD,
                           .consultation_id = CONSULT};
        assert_int_equal(
            check_row(&everyone_at_p, "every role", &r, "other kind, with service", NONE), 0);
    }
}

static void test_advice_actions_mean_nothing_on_the_practices_own_resources(void **state)
{
    (void)state;
    const pl_resource_t own[] = {
        {.kind = PL_RES_CONVERSATION, .org_id = ORG_P, .patient_id = OWNER, .conversation_id = 50},
        {.kind = PL_RES_EVENT, .org_id = ORG_P, .patient_id = OWNER, .conversation_id = 50},
        {.kind = PL_RES_ORG, .org_id = ORG_P},
        {.kind = PL_RES_PATIENT, .org_id = ORG_P, .patient_id = OWNER},
        {.kind = PL_RES_TEMPLATE, .org_id = ORG_P},
        {.kind = PL_RES_CONSULTATION,
         .org_id = ORG_P,
         .patient_id = OWNER,
         .conversation_id = 50,
         .consultation_id = CONSULT},
    };
    const pl_action_t advice_acts[] = {PL_ACT_CLAIM, PL_ACT_RESPOND, PL_ACT_IDENTITY};
    pl_actor_t everyone_at_p = staff(700, ORG_P, (1u << PL_ROLE_COUNT) - 1);
    pl_actor_t owner = make_actor(PATIENT);
    for (size_t r = 0; r < sizeof own / sizeof own[0]; r++)
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(pl_authz_check(&everyone_at_p, &own[r], advice_acts[i]), -PL_EPERM);
            assert_int_equal(pl_authz_check(&owner, &own[r], advice_acts[i]), -PL_EPERM);
        }
}

static void test_conv_resource_carries_the_service_of_an_advice_thread(void **state)
{
    (void)state;
    pl_conv_t conv;
    memset(&conv, 0, sizeof conv);
    conv.id = THREAD;
    conv.org_id = ORG_P;
    conv.patient_id = OWNER;
    snprintf(conv.kind, sizeof conv.kind, "advice");
    snprintf(conv.status, sizeof conv.status, "in_progress");
    conv.peer_org_id = ORG_SVC;
    pl_resource_t res = pl_conv_resource(&conv);
    assert_int_equal(res.kind, PL_RES_CONVERSATION);
    assert_int_equal(res.org_id, ORG_P);
    assert_int_equal(res.peer_org_id, ORG_SVC);
    assert_int_equal(res.patient_id, OWNER);
    assert_int_equal(res.conversation_id, THREAD);
    pl_actor_t owner = make_actor(PATIENT), spec = make_actor(S_SPECIALIST);
    pl_actor_t gp = make_actor(P_GP);
    assert_int_equal(check_row(&owner, "patient", &res, "thread", NONE), 0);
    assert_int_equal(check_row(&spec, "service specialist", &res, "thread", THREAD_S), 0);
    assert_int_equal(check_row(&gp, "practice gp", &res, "thread", THREAD_P), 0);
    /* The same conversation without the service is the patient's own again. */
    conv.peer_org_id = 0;
    res = pl_conv_resource(&conv);
    assert_int_equal(pl_authz_check(&owner, &res, PL_ACT_READ), 0);
    assert_int_equal(pl_authz_check(&spec, &res, PL_ACT_READ), -PL_EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_of_professional_resources_matches_policy),
        cmocka_unit_test(test_member_of_both_sides_gets_the_union),
        cmocka_unit_test(test_professional_rights_follow_the_organisations_the_resource_names),
        cmocka_unit_test(test_professional_resource_naming_no_second_org_is_nobodys),
        cmocka_unit_test(test_advice_actions_mean_nothing_on_the_practices_own_resources),
        cmocka_unit_test(test_conv_resource_carries_the_service_of_an_advice_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
