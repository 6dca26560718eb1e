/* Unit tests for core/err.c: every PL_E code has text, a protocol code from the documented set
 * (err.h) and an HTTP status that fits that protocol code; positive and negative forms agree;
 * anything out of range is reported as an internal error rather than read out of bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "core/err.h"

/* The protocol code each PL_E code must map to, as documented beside the enum in err.h. */
static const struct {
    int err;
    const char *code;
} documented[] = {
    {PL_OK, "ok"},
    {PL_EINVAL, "bad_request"},
    {PL_EAUTH, "unauthorised"},
    {PL_EPERM, "forbidden"},
    {PL_ENOTFOUND, "not_found"},
    {PL_ECONFLICT, "conflict"},
    {PL_ERATE, "rate_limited"},
    {PL_ETOOBIG, "too_large"},
    {PL_ENOMEM, "internal"},
    {PL_EIO, "unavailable"},
    {PL_ECRYPTO, "internal"},
    {PL_EUNAVAIL, "unavailable"},
    {PL_ETIMEOUT, "timeout"},
    {PL_EINTERNAL, "internal"},
    {PL_EUNKNOWN_TYPE, "unknown_type"},
    {PL_ETOTP, "totp_required"},
    {PL_EMOVED, "moved"},
};
#define NDOCUMENTED (sizeof documented / sizeof documented[0])

/* The documented set of protocol codes, each with the HTTP status that carries its meaning. */
static const struct {
    const char *code;
    int http;
} protocol[] = {
    {"ok", 200},
    {"bad_request", 400},
    {"unauthorised", 401},
    {"forbidden", 403},
    {"not_found", 404},
    {"conflict", 409},
    {"rate_limited", 429},
    {"too_large", 413},
    {"internal", 500},
    {"unavailable", 503},
    {"timeout", 408},
    {"unknown_type", 400},
    {"totp_required", 401},
    {"moved", 421},
};
#define NPROTOCOL (sizeof protocol / sizeof protocol[0])

/* Index of code in the documented protocol set, or -1. */
static int protocol_index(const char *code)
{
    for (size_t i = 0; i < NPROTOCOL; i++)
        if (strcmp(protocol[i].code, code) == 0) return (int)i;
    return -1;
}

static void test_every_code_is_listed_in_this_test(void **state)
{
    (void)state;
    /* A new PL_E code must be added to the table above, or this test is checking too little. */
    assert_int_equal(NDOCUMENTED, PL_ERR_MAX_);
    for (int e = 0; e < PL_ERR_MAX_; e++)
        assert_int_equal(documented[e].err, e);
}

static void test_every_code_has_nonempty_text(void **state)
{
    (void)state;
    for (int e = 0; e < PL_ERR_MAX_; e++) {
        const char *t = pl_strerror(e);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
    }
}

static void test_every_code_maps_to_its_documented_protocol_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < NDOCUMENTED; i++) {
        const char *c = pl_err_code(documented[i].err);
        assert_non_null(c);
        assert_true(protocol_index(c) >= 0);
        assert_string_equal(c, documented[i].code);
    }
}

static void test_every_code_has_the_http_status_of_its_protocol_code(void **state)
{
    (void)state;
    for (int e = 0; e < PL_ERR_MAX_; e++) {
        int p = protocol_index(pl_err_code(e));
        assert_true(p >= 0);
        int h = pl_err_http_status(e);
        assert_true(h >= 200 && h <= 599);
        assert_int_equal(h, protocol[p].http);
    }
}

static void test_only_success_maps_to_a_2xx_status(void **state)
{
    (void)state;
    assert_int_equal(pl_err_http_status(PL_OK), 200);
    for (int e = 1; e < PL_ERR_MAX_; e++)
        assert_true(pl_err_http_status(-e) >= 400);
}

static void test_negative_and_positive_forms_agree(void **state)
{
    (void)state;
    for (int e = 0; e < PL_ERR_MAX_; e++) {
        assert_string_equal(pl_strerror(-e), pl_strerror(e));
        assert_string_equal(pl_err_code(-e), pl_err_code(e));
        assert_int_equal(pl_err_http_status(-e), pl_err_http_status(e));
    }
}

static void test_distinct_codes_have_distinct_text(void **state)
{
    (void)state;
    /* Logs show pl_strerror; two codes with one text would be indistinguishable there. */
    for (int a = 0; a < PL_ERR_MAX_; a++)
        for (int b = a + 1; b < PL_ERR_MAX_; b++)
            assert_string_not_equal(pl_strerror(a), pl_strerror(b));
}

static void test_out_of_range_codes_map_to_internal(void **state)
{
    (void)state;
    const int bad[] = {PL_ERR_MAX_, -PL_ERR_MAX_, PL_ERR_MAX_ + 1, -(PL_ERR_MAX_ + 1),
                       1000,        -1000,        INT_MAX,         -INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(pl_err_code(bad[i]), "internal");
        assert_string_equal(pl_strerror(bad[i]), pl_strerror(PL_EINTERNAL));
        assert_int_equal(pl_err_http_status(bad[i]), 500);
    }
}

/* Regression: negating INT_MIN overflowed and read outside the table. */
static void test_int_min_maps_to_internal(void **state)
{
    (void)state;
    assert_string_equal(pl_err_code(INT_MIN), "internal");
    assert_string_equal(pl_strerror(INT_MIN), pl_strerror(PL_EINTERNAL));
    assert_int_equal(pl_err_http_status(INT_MIN), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_is_listed_in_this_test),
        cmocka_unit_test(test_every_code_has_nonempty_text),
        cmocka_unit_test(test_every_code_maps_to_its_documented_protocol_code),
        cmocka_unit_test(test_every_code_has_the_http_status_of_its_protocol_code),
        cmocka_unit_test(test_only_success_maps_to_a_2xx_status),
        cmocka_unit_test(test_negative_and_positive_forms_agree),
        cmocka_unit_test(test_distinct_codes_have_distinct_text),
        cmocka_unit_test(test_out_of_range_codes_map_to_internal),
        cmocka_unit_test(test_int_min_maps_to_internal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
