/* Test support: the advice fixture shared by the integration tests of professional-to-professional
 * advice (test_advice.c, test_advice_agreements.c). One server per binary on the demo data:
 * Riverside Surgery (Dr Patel, gp) asks the specialist service "Dermatology, City Hospital" (Dr
 * Khan, specialist; Priya Shah, its admin) under the demo's agreement in force (identified); the
 * group setup adds a second specialist, Dr Ali, with the CLI.
 *
 * Header-only, as tests/support/consult_fx.h's asserting half: each test binary is one .c file,
 * so the fixture and the ids the setup reads are static state here, and the helpers are static
 * inline (a binary that does not call one gets no warning). The helpers that only one file
 * calls stay in that file. */
#ifndef PL_TEST_ADVICE_FX_H
#define PL_TEST_ADVICE_FX_H

#include "core/util.h"
#include "tests/support/consult_fx.h"
#include "tests/support/pclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)
#define QUESTION "Pigmented lesion on the left forearm, changed shape over two months: refer?"
#define SUMMARY "Asymmetric 7 mm lesion, irregular border, two colours. No family history."
#define SKIN "Skin lesions (suspected cancer)"
#define ALI_PASSWORD "ali-test-password-1"
#define NO_AGREEMENT "your practice has no information-sharing agreement in force with this service"
#define NOT_CLINICIAN "advice requests are raised by the practice's clinicians"
#define NO_SUCH "no such advice request"
#define NO_ACCESS "you do not have access to this conversation"

static pl_fixture_t fx;
static json_int_t svc_id, riverside_id, hillside_id, ali_id;

static inline int group_setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000", NULL};
    int rc = pl_fixture_start(&fx, args);
    if (rc < 0) return rc;
    /* A second specialist at the service, for the claim conflicts. */
    const char *add[] = {"user",        "add",
                         "--data-dir",  fx.dir,
                         "--username",  "dr.ali",
                         "--name",      "Dr Sam Ali",
                         "--staff",     "--org",
                         "R0D01",       "--role",
                         "specialist",  "--password-stdin",
                         "--kdf-log-n", "10",
                         NULL};
    if (pl_test_run_cli_input(NULL, ALI_PASSWORD "\n", add) != 0) return -1;
    int64_t v = 0;
    if (cfx_db_read_int(&fx, "SELECT id FROM orgs WHERE code = 'R0D01'", 0, &v) < 0) return -1;
    svc_id = v;
    if (cfx_db_read_int(&fx, "SELECT id FROM orgs WHERE code = 'Y90001'", 0, &v) < 0) return -1;
    riverside_id = v;
    if (cfx_db_read_int(&fx, "SELECT id FROM orgs WHERE code = 'Y90002'", 0, &v) < 0) return -1;
    hillside_id = v;
    if (cfx_db_read_int(&fx, "SELECT id FROM users WHERE username = 'dr.ali'", 0, &v) < 0)
        return -1;
    ali_id = v;
    return 0;
}

static inline int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

/* ---- helpers ---- */

static inline json_int_t uid(const char *user)
{
    return strcmp(user, "dr.ali") == 0 ? ali_id : cfx_uid(&fx, user);
}

static inline pl_pc_t *open_as(const char *user)
{
    return cfx_open_as(&fx, user);
}

/* Opens a connection and subscribes it from now on. */
static inline pl_pc_t *open_live(const char *user)
{
    pl_pc_t *c = open_as(user);
    json_t *evs = pl_pc_subscribe(c, -1, CFX_T);
    assert_non_null(evs);
    json_decref(evs);
    return c;
}

static inline const char *nhs_of(const char *user)
{
    size_t i;
    json_t *u;
    json_array_foreach(fx.logins, i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "username")), user) == 0) {
            const char *n = json_string_value(json_object_get(u, "nhs_number"));
            assert_non_null(n);
            return n;
        }
    }
    fail_msg("no demo user %s", user);
    return NULL;
}

/* An advice.create request for patient (a demo patient's username) with every field valid;
 * the caller may change it before sending. */
static inline json_t *create_req(const char *urgency, const char *patient)
{
    return json_pack("{ss sI ss ss ss ss ss sb ss}", "type", "advice.create", "service_id", svc_id,
                     "specialty", SKIN, "urgency", urgency, "question", QUESTION, "summary",
                     SUMMARY, "nhs_number", nhs_of(patient), "consent", 1, "txn_id", cfx_txn());
}

/* Sends an advice.create by c and returns the "advice" of its ok reply (the caller decrefs). */
static inline json_t *ask(pl_pc_t *c, const char *urgency, const char *patient)
{
    json_t *r = cfx_ok(pl_pc_call(c, create_req(urgency, patient), CFX_T));
    json_t *a = json_incref(json_object_get(r, "advice"));
    assert_true(json_is_object(a));
    json_decref(r);
    return a;
}

/* A request of type about advice_id by c (one more field, an outcome or a user, if given);
 * returns the reply. */
static inline json_t *act(pl_pc_t *c, const char *type, json_int_t advice_id)
{
    return pl_pc_callf(c, CFX_T, "{ss sI}", "type", type, "advice_id", advice_id);
}

/* advice.get by c, asserted ok; returns the "advice" (the caller decrefs). */
static inline json_t *get_advice(pl_pc_t *c, json_int_t id)
{
    json_t *r = cfx_ok(act(c, "advice.get", id));
    json_t *a = json_incref(json_object_get(r, "advice"));
    json_decref(r);
    assert_int_equal(cfx_jint(a, "id"), id);
    return a;
}

/* The reply's "advice", asserted ok; the reply is released, the advice returned. */
static inline json_t *advice_of(json_t *reply)
{
    cfx_ok(reply);
    json_t *a = json_incref(json_object_get(reply, "advice"));
    json_decref(reply);
    assert_true(json_is_object(a));
    return a;
}

static inline void check_identity_of_ann(json_t *advice)
{
    json_t *p = json_object_get(advice, "patient");
    assert_int_equal(json_object_size(p), 4);
    assert_int_equal(cfx_jint(p, "id"), uid("ann.taylor"));
    assert_string_equal(cfx_jstr(p, "display_name"), "Ann Taylor");
    assert_string_equal(cfx_jstr(p, "nhs_number"), nhs_of("ann.taylor"));
    assert_string_equal(cfx_jstr(p, "date_of_birth"), CFX_ANN_DOB);
}

/* The next advice event of this type about advice_id on c (other pushes are skipped); *e gets
 * its "event". Checks what every advice event carries, and that it never names the patient. */
static inline json_t *advice_event(pl_pc_t *c, const char *type, json_int_t advice_id, json_t **e)
{
    for (;;) {
        json_t *m = cfx_event(c, type, e);
        if (cfx_jint(*e, "advice_id") != advice_id) {
            json_decref(m);
            continue;
        }
        assert_true(cfx_jint(*e, "conversation_id") > 0);
        assert_true(cfx_jint(*e, "at") > 0);
        assert_null(json_object_get(*e, "patient"));
        assert_null(json_object_get(*e, "patient_id"));
        char *txt = json_dumps(m, JSON_COMPACT);
        assert_null(strstr(txt, nhs_of("ann.taylor")));
        assert_null(strstr(txt, "Ann Taylor"));
        free(txt);
        return m;
    }
}

static inline int64_t count(const char *sql)
{
    return cfx_db_int(&fx, sql, 0);
}

/* Rows that a refused advice.create must not have added (audit: of advice requests; signing
 * in is audited too). */
typedef struct {
    int64_t advice, convs, events, audit, messages;
} counts_t;

static inline counts_t counts_now(void)
{
    counts_t n = {count("SELECT count(*) FROM advice_requests"),
                  count("SELECT count(*) FROM conversations"), count("SELECT count(*) FROM events"),
                  count("SELECT count(*) FROM audit WHERE resource_type = 'advice'"),
                  count("SELECT count(*) FROM messages")};
    return n;
}

static inline void counts_unchanged(counts_t before)
{
    counts_t now = counts_now();
    assert_int_equal(now.advice, before.advice);
    assert_int_equal(now.convs, before.convs);
    assert_int_equal(now.events, before.events);
    assert_int_equal(now.audit, before.audit);
    assert_int_equal(now.messages, before.messages);
}

/* The entry for id in a list reply's "requests" (asserted present). */
static inline json_t *entry(json_t *reply, json_int_t id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(reply, "requests"), i, e)
    {
        if (cfx_jint(e, "id") == id) return e;
    }
    cfx_dump("no such entry in", reply);
    fail();
    return NULL;
}

static inline json_t *list(pl_pc_t *c, const char *side, const char *filter)
{
    return cfx_ok(filter ? pl_pc_callf(c, CFX_T, "{ss ss ss}", "type", "advice.list", "side", side,
                                       "filter", filter)
                         : pl_pc_callf(c, CFX_T, "{ss ss}", "type", "advice.list", "side", side));
}

#endif
