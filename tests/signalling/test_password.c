/* Unit tests for signalling/password.c: hash and verify round trips at low cost, agreement with
 * an independent scrypt (Python hashlib), strict rejection of malformed or out-of-bounds
 * encodings, one hash at the default cost, and the dummy verify used for unknown accounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "signalling/password.h"

#define FAST 10 /* log_n used by most tests: N = 1024, about a millisecond */

static const char pw[] = "correct horse battery staple";

/* scrypt(pw, "0123456789abcdef", N=2^10, r=8, p=1) and scrypt(pw, "fedcba9876543210", N=2^11,
 * r=1, p=2), computed with Python's hashlib.scrypt. */
static const char known_ln10[] = "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$"
                                 "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM=";
static const char known_ln11_r1_p2[] = "$scrypt$ln=11,r=1,p=2$ZmVkY2JhOTg3NjU0MzIxMA==$"
                                       "7/pAv6dLNNdkXexJUBLf+u17CpWlfLo5ZySbdcxxSZs=";

static void test_hash_then_verify_accepts_same_password(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];

    assert_int_equal(pl_password_hash(pw, FAST, enc, sizeof enc), 0);
    assert_int_equal(pl_password_verify(pw, enc), 0);
}

static void test_verify_rejects_wrong_password(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];
    const char *wrong[] = {"correct horse battery stapl", "correct horse battery staple ",
                           "Correct horse battery staple", "", "x"};

    assert_int_equal(pl_password_hash(pw, FAST, enc, sizeof enc), 0);
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
        assert_int_equal(pl_password_verify(wrong[i], enc), -PL_EAUTH);
}

static void test_hash_writes_documented_format(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];
    const char head[] = "$scrypt$ln=10,r=8,p=1$";

    assert_int_equal(pl_password_hash(pw, FAST, enc, sizeof enc), 0);
    assert_memory_equal(enc, head, strlen(head));
    const char *salt = enc + strlen(head);
    const char *dollar = strchr(salt, '$');
    assert_non_null(dollar);
    assert_int_equal(dollar - salt, 24);      /* 16 bytes, padded base64 */
    assert_int_equal(strlen(dollar + 1), 44); /* 32 bytes, padded base64 */
}

static void test_hash_uses_fresh_salt_each_time(void **state)
{
    (void)state;
    char a[PL_PASSWORD_HASH_MAX], b[PL_PASSWORD_HASH_MAX];

    assert_int_equal(pl_password_hash(pw, FAST, a, sizeof a), 0);
    assert_int_equal(pl_password_hash(pw, FAST, b, sizeof b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(pl_password_verify(pw, a), 0);
    assert_int_equal(pl_password_verify(pw, b), 0);
}

static void test_verify_accepts_hash_computed_independently(void **state)
{
    (void)state;
    assert_int_equal(pl_password_verify(pw, known_ln10), 0);
    assert_int_equal(pl_password_verify("wrong", known_ln10), -PL_EAUTH);
    /* Non-default r and p prove the stored parameters, not the defaults, are used. */
    assert_int_equal(pl_password_verify(pw, known_ln11_r1_p2), 0);
}

static void test_verify_rejects_hash_with_altered_parameters(void **state)
{
    (void)state;
    /* Same salt and hash, different cost: must not match, so parameters are really bound. */
    assert_int_equal(pl_password_verify(pw, "$scrypt$ln=11,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$"
                                            "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM="),
                     -PL_EAUTH);
    assert_int_equal(pl_password_verify(pw, "$scrypt$ln=10,r=8,p=2$MDEyMzQ1Njc4OWFiY2RlZg==$"
                                            "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM="),
                     -PL_EAUTH);
}

static void test_verify_rejects_flipped_hash_bit(void **state)
{
    (void)state;
    char enc[sizeof known_ln10];

    memcpy(enc, known_ln10, sizeof enc);
    /* '7' -> '6' changes one bit of the first hash byte and keeps the encoding valid. */
    char *h = strrchr(enc, '$') + 1;
    assert_int_equal(h[0], '7');
    h[0] = '6';
    assert_int_equal(pl_password_verify(pw, enc), -PL_EAUTH);
}

static void test_hash_rejects_log_n_out_of_range(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];
    const int bad[] = {-1, 1, 9, 21, 40, 64, 1000};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pl_password_hash(pw, bad[i], enc, sizeof enc), -PL_EINVAL);
        assert_string_equal(enc, "");
    }
}

static void test_hash_rejects_null_arguments(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];

    assert_int_equal(pl_password_hash(NULL, FAST, enc, sizeof enc), -PL_EINVAL);
    assert_int_equal(pl_password_hash(pw, FAST, NULL, sizeof enc), -PL_EINVAL);
}

static void test_hash_rejects_too_small_buffer_and_fits_exact_one(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];
    /* "$scrypt$ln=10,r=8,p=1$" (22) + salt (24) + '$' + hash (44) + NUL = 92. */
    const size_t need = 22 + 24 + 1 + 44 + 1;

    assert_int_equal(pl_password_hash(pw, FAST, enc, need - 1), -PL_ETOOBIG);
    assert_int_equal(pl_password_hash(pw, FAST, enc, 0), -PL_ETOOBIG);
    assert_int_equal(pl_password_hash(pw, FAST, enc, need), 0);
    assert_int_equal(strlen(enc), need - 1);
}

static void test_hash_and_verify_allow_empty_and_long_passwords(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];
    char big[1024];

    /* Policy is separate: hashing itself accepts any string. */
    assert_int_equal(pl_password_hash("", FAST, enc, sizeof enc), 0);
    assert_int_equal(pl_password_verify("", enc), 0);
    assert_int_equal(pl_password_verify(" ", enc), -PL_EAUTH);

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pl_password_hash(big, FAST, enc, sizeof enc), 0);
    assert_int_equal(pl_password_verify(big, enc), 0);
    big[sizeof big - 2] = 'b';
    assert_int_equal(pl_password_verify(big, enc), -PL_EAUTH);
}

static void test_verify_rejects_malformed_encodings(void **state)
{
    (void)state;
#define SALT "MDEyMzQ1Njc4OWFiY2RlZg=="
#define HASH "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM="
    static const char *bad[] = {
        "",
        "$",
        "$scrypt$",
        "$scrypt$ln=10",
        "$scrypt$ln=10,r=8,p=1",
        "$scrypt$ln=10,r=8,p=1$",
        "$scrypt$ln=10,r=8,p=1$" SALT,
        "$scrypt$ln=10,r=8,p=1$" SALT "$",
        "$scrypt$ln=10,r=8,p=1$$" HASH,
        "$scrypt$ln=10,r=8$" SALT "$" HASH,                       /* missing p */
        "$scrypt$ln=10,p=1$" SALT "$" HASH,                       /* missing r */
        "$scrypt$r=8,p=1$" SALT "$" HASH,                         /* missing ln */
        "$scrypt$r=8,ln=10,p=1$" SALT "$" HASH,                   /* reordered */
        "$scrypt$ln=10,r=8,p=1,x=1$" SALT "$" HASH,               /* extra parameter */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "$",               /* extra field */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "$extra",          /* extra field */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH " ",               /* trailing space */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "\n",              /* trailing newline */
        " $scrypt$ln=10,r=8,p=1$" SALT "$" HASH,                  /* leading space */
        "scrypt$ln=10,r=8,p=1$" SALT "$" HASH,                    /* missing leading '$' */
        "$scrypT$ln=10,r=8,p=1$" SALT "$" HASH,                   /* wrong prefix */
        "$argon2id$ln=10,r=8,p=1$" SALT "$" HASH,                 /* wrong prefix */
        "$scrypt$ln=40,r=8,p=1$" SALT "$" HASH,                   /* ln far too big */
        "$scrypt$ln=19,r=8,p=1$" SALT "$" HASH,                   /* ln just too big */
        "$scrypt$ln=9,r=8,p=1$" SALT "$" HASH,                    /* ln just too small */
        "$scrypt$ln=0,r=8,p=1$" SALT "$" HASH,                    /* ln zero */
        "$scrypt$ln=-1,r=8,p=1$" SALT "$" HASH,                   /* ln negative */
        "$scrypt$ln=010,r=8,p=1$" SALT "$" HASH,                  /* leading zero */
        "$scrypt$ln=1000,r=8,p=1$" SALT "$" HASH,                 /* four digits */
        "$scrypt$ln=99999999999999999999,r=8,p=1$" SALT "$" HASH, /* overflow */
        "$scrypt$ln=,r=8,p=1$" SALT "$" HASH,                     /* empty value */
        "$scrypt$ln=1a,r=8,p=1$" SALT "$" HASH,                   /* not a number */
        "$scrypt$ln=10,r=0,p=1$" SALT "$" HASH,                   /* r zero */
        "$scrypt$ln=10,r=9,p=1$" SALT "$" HASH,                   /* r too big */
        "$scrypt$ln=10,r=8,p=0$" SALT "$" HASH,                   /* p zero */
        "$scrypt$ln=10,r=8,p=3$" SALT "$" HASH,                   /* p too big */
        "$scrypt$ln=10,r=8,p=1$"
        "MDEyMzQ1Njc4OWFiY2R!Zg=="
        "$" HASH, /* bad base64 salt */
        "$scrypt$ln=10,r=8,p=1$" SALT "$"
        "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1q*=", /* hash */
        "$scrypt$ln=10,r=8,p=1$" SALT "$"
        "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO1qM", /* cut */
        "$scrypt$ln=10,r=8,p=1$" SALT "$"
        "7AnzIswxwEinpwz+ntydndYfVHPvOACmX9Vvo8hO",    /* 30 B */
        "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "AAAA", /* 35-byte hash */
        "$scrypt$ln=10,r=8,p=1$" SALT "$"
        "7AnzIswxwEinpwz-ntydndYfVHPvOACmX9Vvo8hO1qM=", /* url */
        "$scrypt$ln=10,r=8,p=1$"
        "MDEyMzQ1Njc4OWFiY2RlZg"
        "$" HASH, /* unpadded salt */
        "$scrypt$ln=10,r=8,p=1$"
        "MDEyMzQ1Njc4OWFiY2Rl"
        "$" HASH, /* 15-byte salt */
        "$scrypt$ln=10,r=8,p=1$"
        "MDEyMzQ1Njc4OWFiY2RlZmc="
        "$" HASH,                                         /* 17-byte salt */
        "$scrypt$ln=10,r=8,p=1$" SALT SALT SALT "$" HASH, /* salt over field limit */
    };
#undef SALT
#undef HASH

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = pl_password_verify(pw, bad[i]);
        if (rc != -PL_EINVAL) fail_msg("malformed #%zu gave %d: \"%s\"", i, rc, bad[i]);
    }
}

static void test_verify_rejects_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(pl_password_verify(NULL, known_ln10), -PL_EINVAL);
    assert_int_equal(pl_password_verify(pw, NULL), -PL_EINVAL);
}

static void test_default_cost_hash_is_ln17_r8_p1_and_verifies(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];
    const char head[] = "$scrypt$ln=17,r=8,p=1$";

    assert_int_equal(pl_password_hash(pw, 0, enc, sizeof enc), 0);
    assert_memory_equal(enc, head, strlen(head));
    assert_int_equal(pl_password_verify(pw, enc), 0);
    assert_int_equal(pl_password_verify("wrong password", enc), -PL_EAUTH);
}

static void test_verify_dummy_fails_after_default_cost_work(void **state)
{
    (void)state;
    char enc[PL_PASSWORD_HASH_MAX];

    assert_int_equal(pl_password_hash(pw, FAST, enc, sizeof enc), 0);
    uint64_t t0 = pl_mono_ns();
    assert_int_equal(pl_password_verify(pw, enc), 0);
    uint64_t t1 = pl_mono_ns();
    assert_int_equal(pl_password_verify_dummy(pw), -PL_EAUTH);
    uint64_t t2 = pl_mono_ns();

    /* Default cost is 128 times N = 2^10; demand only 10 times so the test is not flaky. */
    uint64_t fast = t1 - t0, dummy = t2 - t1;
    if (dummy < 10 * fast)
        fail_msg("dummy verify took %llu ns, ln=10 verify %llu ns", (unsigned long long)dummy,
                 (unsigned long long)fast);

    assert_int_equal(pl_password_verify_dummy(""), -PL_EAUTH);
    assert_int_equal(pl_password_verify_dummy(NULL), -PL_EAUTH);
}

static void test_policy_accepts_8_to_256_bytes_only(void **state)
{
    (void)state;
    char buf[300];

    memset(buf, 'p', sizeof buf);
    buf[7] = '\0';
    assert_int_equal(pl_password_policy_check(buf), -PL_EINVAL);
    buf[7] = 'p';
    buf[8] = '\0';
    assert_int_equal(pl_password_policy_check(buf), 0);
    buf[8] = 'p';
    buf[256] = '\0';
    assert_int_equal(pl_password_policy_check(buf), 0);
    buf[256] = 'p';
    buf[257] = '\0';
    assert_int_equal(pl_password_policy_check(buf), -PL_EINVAL);
    assert_int_equal(pl_password_policy_check(""), -PL_EINVAL);
    assert_int_equal(pl_password_policy_check(NULL), -PL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_then_verify_accepts_same_password),
        cmocka_unit_test(test_verify_rejects_wrong_password),
        cmocka_unit_test(test_hash_writes_documented_format),
        cmocka_unit_test(test_hash_uses_fresh_salt_each_time),
        cmocka_unit_test(test_verify_accepts_hash_computed_independently),
        cmocka_unit_test(test_verify_rejects_hash_with_altered_parameters),
        cmocka_unit_test(test_verify_rejects_flipped_hash_bit),
        cmocka_unit_test(test_hash_rejects_log_n_out_of_range),
        cmocka_unit_test(test_hash_rejects_null_arguments),
        cmocka_unit_test(test_hash_rejects_too_small_buffer_and_fits_exact_one),
        cmocka_unit_test(test_hash_and_verify_allow_empty_and_long_passwords),
        cmocka_unit_test(test_verify_rejects_malformed_encodings),
        cmocka_unit_test(test_verify_rejects_null_arguments),
        cmocka_unit_test(test_default_cost_hash_is_ln17_r8_p1_and_verifies),
        cmocka_unit_test(test_verify_dummy_fails_after_default_cost_work),
        cmocka_unit_test(test_policy_accepts_8_to_256_bytes_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
