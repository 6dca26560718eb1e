/* Unit tests for signalling/nhs.c: Modulus 11 check digits, the three accepted spellings, and
 * rejection of every other shape of input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "signalling/nhs.h"

/* Valid numbers: the known example, the common test number, and ones whose check digit comes
 * from the "11 means 0" rule. */
static const char *valid[] = {
    "9434765919", "4010232137", "9990000018", "4505577104", "4000000020", "4000000160",
};

static void test_normalise_accepts_valid_plain_numbers(void **state)
{
    (void)state;
    char out[PL_NHS_LEN + 1];

    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        if (pl_nhs_normalise(valid[i], out) != 0) fail_msg("rejected valid %s", valid[i]);
        assert_string_equal(out, valid[i]);
        assert_true(pl_nhs_valid(valid[i]));
    }
}

static void test_normalise_accepts_space_and_hyphen_groups(void **state)
{
    (void)state;
    char out[PL_NHS_LEN + 1];

    assert_int_equal(pl_nhs_normalise("943 476 5919", out), 0);
    assert_string_equal(out, "9434765919");
    assert_int_equal(pl_nhs_normalise("943-476-5919", out), 0);
    assert_string_equal(out, "9434765919");
    assert_int_equal(pl_nhs_normalise("400-000-0020", out), 0);
    assert_string_equal(out, "4000000020");
}

static void test_check_digit_eleven_means_zero(void **state)
{
    (void)state;
    /* 400000002: weighted sum 44, 44 % 11 = 0, so 11 - 0 = 11, written as 0. */
    assert_true(pl_nhs_valid("4000000020"));
    for (char c = '1'; c <= '9'; c++) {
        char s[] = "400000002X";
        s[9] = c;
        assert_false(pl_nhs_valid(s));
    }
}

static void test_normalise_rejects_every_wrong_check_digit(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char s[PL_NHS_LEN + 1];
        memcpy(s, valid[i], sizeof s);
        for (char c = '0'; c <= '9'; c++) {
            if (c == valid[i][9]) continue;
            s[9] = c;
            if (pl_nhs_valid(s)) fail_msg("accepted wrong check digit %s", s);
        }
    }
}

static void test_normalise_rejects_check_digit_of_ten(void **state)
{
    (void)state;
    /* 123456789 and 400000008 give a computed check of 10: no final digit can make them valid. */
    const char *stems[] = {"123456789", "400000008"};
    for (size_t i = 0; i < 2; i++) {
        for (char c = '0'; c <= '9'; c++) {
            char s[PL_NHS_LEN + 1];
            snprintf(s, sizeof s, "%s%c", stems[i], c);
            if (pl_nhs_valid(s)) fail_msg("accepted check-10 number %s", s);
        }
    }
}

static void test_normalise_rejects_single_digit_transpositions_and_changes(void **state)
{
    (void)state;
    /* Modulus 11 catches every single-digit error and every adjacent transposition. */
    const char *bad[] = {"9434765918", "8434765919", "9434675919", "4943765919", "9434765991"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(pl_nhs_valid(bad[i]));
}

static void test_normalise_rejects_malformed_shapes(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",                 /* empty */
        "943476591",        /* 9 digits */
        "94347659190",      /* 11 digits */
        "943476591X",       /* letter as check digit */
        "94347659l9",       /* letter l for one */
        "O434765919",       /* letter O for zero */
        "943 476-5919",     /* mixed separators */
        "943-476 5919",     /* mixed separators, other way */
        "9434765919 ",      /* trailing space */
        " 9434765919",      /* leading space */
        "943 476 5919 ",    /* grouped with trailing space */
        "9434765919\n",     /* trailing newline */
        "943  476 5919",    /* double space */
        "943.476.5919",     /* other separator */
        "943/476/5919",     /* other separator */
        "9434 765 919",     /* wrong grouping */
        "94 3476 5919",     /* wrong grouping */
        "943 4765919",      /* one separator only */
        "9434765 919",      /* one separator only, moved */
        "943\t476\t5919",   /* tabs */
        "+943476591",       /* sign */
        "-943476591",       /* sign */
        "943 476 59 9",     /* separator in last group */
        "\331\25134765919", /* non-ASCII digit: Arabic-Indic nine (U+0669) */
    };
    char out[PL_NHS_LEN + 1];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(out, "unchanged");
        if (pl_nhs_normalise(bad[i], out) != -PL_EINVAL)
            fail_msg("accepted malformed #%zu \"%s\"", i, bad[i]);
        assert_string_equal(out, "");
        assert_false(pl_nhs_valid(bad[i]));
    }
}

static void test_normalise_rejects_null_arguments(void **state)
{
    (void)state;
    char out[PL_NHS_LEN + 1];

    assert_int_equal(pl_nhs_normalise(NULL, out), -PL_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(pl_nhs_normalise("9434765919", NULL), -PL_EINVAL);
    assert_false(pl_nhs_valid(NULL));
}

static void test_redact_writes_ten_stars_and_nothing_else(void **state)
{
    (void)state;
    char out[PL_NHS_LEN + 2];

    memset(out, 'x', sizeof out);
    pl_nhs_redact(out);
    assert_string_equal(out, "**********");
    assert_int_equal(out[PL_NHS_LEN + 1], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise_accepts_valid_plain_numbers),
        cmocka_unit_test(test_normalise_accepts_space_and_hyphen_groups),
        cmocka_unit_test(test_check_digit_eleven_means_zero),
        cmocka_unit_test(test_normalise_rejects_every_wrong_check_digit),
        cmocka_unit_test(test_normalise_rejects_check_digit_of_ten),
        cmocka_unit_test(test_normalise_rejects_single_digit_transpositions_and_changes),
        cmocka_unit_test(test_normalise_rejects_malformed_shapes),
        cmocka_unit_test(test_normalise_rejects_null_arguments),
        cmocka_unit_test(test_redact_writes_ten_stars_and_nothing_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
