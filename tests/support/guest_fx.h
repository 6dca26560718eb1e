/* Test support: the fixture shared by the integration tests of a guest in a video consultation
 * (test_consult_guest.c, test_consult_guest_session.c): one server per binary on the demo data,
 * and the checks of a consultation's "invited" entries. Booking, inviting and joining are in
 * tests/support/consult_fx.h.
 *
 * Header-only, as consult_fx.h's asserting half: each test binary is one .c file, so the
 * fixture is static state here and the helpers are static inline. The helpers that only one
 * file calls stay in that file. */
#ifndef PL_TEST_GUEST_FX_H
#define PL_TEST_GUEST_FX_H

#include "tests/support/consult_fx.h"
#include "tests/support/pclient.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define NOT_A_GUEST "user_id is not a guest invited to this consultation"

static pl_fixture_t fx;

static inline int group_setup(void **state)
{
    const char *args[] = {"--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000", NULL};
    return pl_fixture_start(&fx, args);
}

static inline int group_teardown(void **state)
{
    pl_fixture_stop(&fx);
    return 0;
}

static inline json_int_t uid(const char *user)
{
    return cfx_uid(&fx, user);
}

/* Checks an entry of a consultation's "invited": id (0: must be absent), name, role, states. */
static inline void check_invited(json_t *e, json_int_t id, const char *name, const char *role,
                                 bool waiting, bool admitted)
{
    assert_non_null(e);
    if (id)
        assert_int_equal(cfx_jint(e, "id"), id);
    else
        assert_null(json_object_get(e, "id"));
    assert_string_equal(cfx_jstr(e, "display_name"), name);
    assert_string_equal(cfx_jstr(e, "role"), role);
    assert_true(json_is_boolean(json_object_get(e, "waiting")));
    assert_true(json_is_boolean(json_object_get(e, "admitted")));
    assert_int_equal(json_is_true(json_object_get(e, "waiting")), waiting);
    assert_int_equal(json_is_true(json_object_get(e, "admitted")), admitted);
}

static inline json_t *invited0(json_t *consultation)
{
    json_t *inv = json_object_get(consultation, "invited");
    assert_int_equal(json_array_size(inv), 1);
    return json_array_get(inv, 0);
}

#endif
