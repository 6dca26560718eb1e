/* Shared fixture for the SQLite store tests of professional-to-professional advice
 * (test_store_sqlite_agreement.c, test_store_sqlite_advice.c): tests/storage/store_fixture.h's
 * two practices and patients, plus specialist services, their staff and the agreements in force
 * that advice requests are made under. Header-only, as store_fixture.h: each test binary
 * includes it once, and the helpers are static inline. */
#ifndef PL_TEST_ADVICE_FIXTURE_H
#define PL_TEST_ADVICE_FIXTURE_H

#include "tests/storage/store_fixture.h"

/* The fixture's two practices and patients, plus: a specialist service with two specialists
 * and an admin, a second service, a nurse at practice A, and an agreement in force between A
 * and the service (identified), and between B and the service. */
typedef struct {
    fx_t *f;
    int64_t svc, svc2;          /* specialist services */
    int64_t spec, spec2, admin; /* at svc: specialists and a practice_admin */
    int64_t nurse;              /* at practice A */
    int64_t ag_a, ag_b;         /* agreements in force: A-svc, B-svc */
} afx_t;

static inline int64_t add_service(pl_store_t *st, const char *code, const char *name)
{
    pl_org_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.code, sizeof o.code, "%s", code);
    snprintf(o.name, sizeof o.name, "%s", name);
    snprintf(o.kind, sizeof o.kind, "specialist_service");
    int64_t id = 0;
    if (pl_store_org_create(st, &o, &id) != 0) return 0;
    return id;
}

/* An agreement proposed by proposer (for org_of_proposer) at f->now - 1 h over [from, to);
 * accepted by accepter unless that is 0. */
static inline int64_t agreement_at(afx_t *a, int64_t practice, int64_t service, const char *shares,
                                   int64_t from, int64_t to, int64_t proposer, int64_t accepter)
{
    pl_agreement_t ag;
    memset(&ag, 0, sizeof ag);
    ag.practice_id = practice;
    ag.service_id = service;
    snprintf(ag.shares, sizeof ag.shares, "%s", shares);
    ag.starts_at = from;
    ag.ends_at = to;
    ag.proposed_by = proposer;
    ag.proposed_org_id = practice;
    ag.proposed_at = a->f->now - HOUR_MS;
    int64_t id = 0;
    assert_int_equal(pl_store_agreement_create(a->f->st, &ag, &id), 0);
    assert_true(id > 0);
    if (accepter) assert_int_equal(pl_store_agreement_accept(a->f->st, id, accepter, a->f->now), 0);
    return id;
}

static inline int setup_advice(void **state)
{
    if (setup(state) != 0) return -1;
    fx_t *f = *state;
    afx_t *a = calloc(1, sizeof *a);
    if (!a) return -1;
    a->f = f;
    a->svc = add_service(f->st, "R0T01", "Dermatology, Test Hospital");
    a->svc2 = add_service(f->st, "R0T02", "Cardiology, Test Hospital");
    a->spec = add_staff(f->st, "spec", a->svc, PL_ROLE_SPECIALIST);
    a->spec2 = add_staff(f->st, "spec2", a->svc, PL_ROLE_SPECIALIST);
    a->admin = add_staff(f->st, "svcadmin", a->svc, PL_ROLE_PRACTICE_ADMIN);
    a->nurse = add_staff(f->st, "nurse", f->org_a, PL_ROLE_NURSE);
    if (!a->svc || !a->svc2 || !a->spec || !a->spec2 || !a->admin || !a->nurse) return -1;
    json_t *sp = json_pack("[ss]", "Dermatology", "Skin lesions (suspected cancer)");
    int rc = pl_store_service_set(f->st, a->svc, sp, 72, 4);
    json_decref(sp);
    if (rc != 0) return -1;
    *state = a;
    a->ag_a = agreement_at(a, f->org_a, a->svc, "identified", f->now - HOUR_MS,
                           f->now + 365 * 24 * HOUR_MS, f->gp, a->admin);
    a->ag_b = agreement_at(a, f->org_b, a->svc, "pseudonymised", f->now - HOUR_MS,
                           f->now + 365 * 24 * HOUR_MS, f->gp_b, a->admin);
    return 0;
}

static inline int teardown_advice(void **state)
{
    afx_t *a = *state;
    *state = a->f;
    free(a);
    return teardown(state);
}

static inline const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    assert_non_null(v);
    return v;
}

#endif
