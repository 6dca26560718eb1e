/* Test support: one row of an authorisation matrix, checked action by action. The matrix tests
 * (tests/signalling/test_authz*.c) write the expected policy as one string per (actor, resource),
 * character i standing for action i of their own action list: 'Y' allowed, anything else denied.
 * Header-only: each test binary is one .c file. */
#ifndef PL_TEST_AUTHZ_ROWS_H
#define PL_TEST_AUTHZ_ROWS_H

#include "core/err.h"
#include "signalling/authz.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* Checks every action of one (actor, resource) against want (n characters, one per action);
 * prints each wrong cell and returns how many were wrong. */
static inline int authz_check_row(const pl_action_t *actions, const char *const *action_names,
                                  size_t n, const pl_actor_t *actor, const char *actor_name,
                                  const pl_resource_t *res, const char *res_name, const char *want)
{
    int wrong = 0;
    assert_int_equal(strlen(want), n);
    for (size_t i = 0; i < n; i++) {
        int got = pl_authz_check(actor, res, actions[i]);
        int expect = want[i] == 'Y' ? 0 : -PL_EPERM;
        if (got != expect) {
            print_error("%s / %s / %s: expected %s, got %d\n", actor_name, res_name,
                        action_names[i], want[i] == 'Y' ? "allow" : "deny", got);
            wrong++;
        }
    }
    return wrong;
}

#endif
