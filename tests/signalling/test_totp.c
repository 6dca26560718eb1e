/* Unit tests for signalling/totp.c: RFC 6238 and RFC 4226 vectors, the verify window, replay
 * refusal, malformed codes, RFC 4648 base32 vectors and malformed base32, and the otpauth URI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "signalling/totp.h"

static const uint8_t rfc_key[] = "12345678901234567890"; /* RFC 6238 / 4226 SHA-1 seed */
#define RFC_KEYLEN 20

/* Formats the 6-digit code for unix time t with the RFC key. */
static void code_at(uint64_t t, char out[7])
{
    uint32_t c;
    assert_int_equal(pl_totp_code(rfc_key, RFC_KEYLEN, t, 6, &c), 0);
    snprintf(out, 7, "%06u", c);
}

static void test_code_matches_rfc6238_sha1_vectors(void **state)
{
    (void)state;
    static const struct {
        uint64_t t;
        uint32_t code;
    } v[] = {
        {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
        {1234567890, 89005924}, {2000000000, 69279037}, {20000000000ULL, 65353130},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t c = 0;
        assert_int_equal(pl_totp_code(rfc_key, RFC_KEYLEN, v[i].t, 8, &c), 0);
        assert_int_equal(c, v[i].code);
    }
}

static void test_code_matches_rfc4226_six_digit_hotp_vectors(void **state)
{
    (void)state;
    /* TOTP at t = 30 * counter is HOTP(counter). */
    static const uint32_t v[] = {755224, 287082, 359152, 969429, 338314,
                                 254676, 287922, 162583, 399871, 520489};
    for (uint64_t i = 0; i < 10; i++) {
        uint32_t c = 0;
        assert_int_equal(pl_totp_code(rfc_key, RFC_KEYLEN, i * 30 + 29, 6, &c), 0);
        assert_int_equal(c, v[i]);
    }
}

static void test_code_rejects_bad_arguments(void **state)
{
    (void)state;
    uint32_t c;

    assert_int_equal(pl_totp_code(NULL, 20, 59, 6, &c), -PL_EINVAL);
    assert_int_equal(pl_totp_code(rfc_key, 0, 59, 6, &c), -PL_EINVAL);
    assert_int_equal(pl_totp_code(rfc_key, RFC_KEYLEN, 59, 6, NULL), -PL_EINVAL);
    assert_int_equal(pl_totp_code(rfc_key, RFC_KEYLEN, 59, 5, &c), -PL_EINVAL);
    assert_int_equal(pl_totp_code(rfc_key, RFC_KEYLEN, 59, 9, &c), -PL_EINVAL);
}

static void test_verify_accepts_current_code_and_records_step(void **state)
{
    (void)state;
    char code[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(1234567890, code);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, 1234567890, 1, &last), 0);
    assert_int_equal(last, 1234567890 / 30);
}

static void test_verify_accepts_neighbouring_steps_within_window(void **state)
{
    (void)state;
    const uint64_t now = 1234567890;
    char prev[7], next[7];

    code_at(now - 30, prev);
    code_at(now + 30, next);
    int64_t last = PL_TOTP_NO_STEP;
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, prev, now, 1, &last), 0);
    assert_int_equal(last, (int64_t)(now / 30) - 1);
    last = PL_TOTP_NO_STEP;
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, next, now, 1, &last), 0);
    assert_int_equal(last, (int64_t)(now / 30) + 1);
}

static void test_verify_rejects_codes_outside_window(void **state)
{
    (void)state;
    const uint64_t now = 1234567890;
    char old[7], future[7], prev[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(now - 60, old);
    code_at(now + 60, future);
    code_at(now - 30, prev);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, old, now, 1, &last), -PL_EAUTH);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, future, now, 1, &last), -PL_EAUTH);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, prev, now, 0, &last), -PL_EAUTH);
    assert_int_equal(last, PL_TOTP_NO_STEP);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, old, now, 2, &last), 0);
}

static void test_verify_rejects_replay_of_same_code(void **state)
{
    (void)state;
    const uint64_t now = 1234567890;
    char code[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(now, code);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, now, 1, &last), 0);
    int64_t used = last;
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, now, 1, &last), -PL_EAUTH);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, now + 20, 1, &last), -PL_EAUTH);
    assert_int_equal(last, used);
}

static void test_verify_rejects_earlier_step_after_later_one_used(void **state)
{
    (void)state;
    const uint64_t now = 1234567890;
    char cur[7], prev[7], next[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(now, cur);
    code_at(now - 30, prev);
    code_at(now + 30, next);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, cur, now, 1, &last), 0);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, prev, now, 1, &last), -PL_EAUTH);
    /* A later step is still fine. */
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, next, now, 1, &last), 0);
    assert_int_equal(last, (int64_t)(now / 30) + 1);
}

static void test_verify_rejects_wrong_key(void **state)
{
    (void)state;
    const uint8_t other[] = "12345678901234567891";
    char code[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(1234567890, code);
    assert_int_equal(pl_totp_verify(other, RFC_KEYLEN, code, 1234567890, 1, &last), -PL_EAUTH);
}

static void test_verify_handles_window_reaching_before_epoch(void **state)
{
    (void)state;
    char code[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(0, code);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, 0, PL_TOTP_MAX_WINDOW, &last), 0);
    assert_int_equal(last, 0);
}

static void test_verify_rejects_malformed_codes(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",       "1",      "12345",  "1234567",      "12345678", "12345a",
        "a12345", " 12345", "12345 ", " 123456",      "123456 ",  "123456\n",
        "+12345", "-12345", "12 345", "１２３４５６", "0x1234",
    };
    int64_t last = PL_TOTP_NO_STEP;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = pl_totp_verify(rfc_key, RFC_KEYLEN, bad[i], 1234567890, 1, &last);
        if (rc != -PL_EINVAL) fail_msg("code #%zu \"%s\" gave %d", i, bad[i], rc);
    }
    assert_int_equal(last, PL_TOTP_NO_STEP);
}

static void test_verify_rejects_bad_arguments(void **state)
{
    (void)state;
    char code[7];
    int64_t last = PL_TOTP_NO_STEP;

    code_at(1234567890, code);
    assert_int_equal(pl_totp_verify(NULL, 20, code, 1234567890, 1, &last), -PL_EINVAL);
    assert_int_equal(pl_totp_verify(rfc_key, 0, code, 1234567890, 1, &last), -PL_EINVAL);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, NULL, 1234567890, 1, &last), -PL_EINVAL);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, 1234567890, 1, NULL), -PL_EINVAL);
    assert_int_equal(pl_totp_verify(rfc_key, RFC_KEYLEN, code, 1234567890, -1, &last), -PL_EINVAL);
    assert_int_equal(
        pl_totp_verify(rfc_key, RFC_KEYLEN, code, 1234567890, PL_TOTP_MAX_WINDOW + 1, &last),
        -PL_EINVAL);
    assert_int_equal(last, PL_TOTP_NO_STEP);
}

/* RFC 4648 section 10 base32 vectors (padded form). */
static const struct {
    const char *in;
    const char *b32;
} b32v[] = {
    {"", ""},
    {"f", "MY======"},
    {"fo", "MZXQ===="},
    {"foo", "MZXW6==="},
    {"foob", "MZXW6YQ="},
    {"fooba", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======"},
};

static void test_base32_encode_matches_rfc4648_vectors_without_padding(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof b32v / sizeof b32v[0]; i++) {
        char out[32], want[32];
        snprintf(want, sizeof want, "%.*s", (int)strcspn(b32v[i].b32, "="), b32v[i].b32);
        assert_int_equal(
            pl_base32_encode((const uint8_t *)b32v[i].in, strlen(b32v[i].in), out, sizeof out), 0);
        assert_string_equal(out, want);
    }
}

static void test_base32_encode_rejects_small_buffer(void **state)
{
    (void)state;
    char out[16];

    /* "foobar" -> 10 characters, so 11 bytes are needed. */
    assert_int_equal(pl_base32_encode((const uint8_t *)"foobar", 6, out, 10), -PL_ETOOBIG);
    assert_string_equal(out, "");
    assert_int_equal(pl_base32_encode((const uint8_t *)"foobar", 6, out, 11), 0);
    assert_string_equal(out, "MZXW6YTBOI");
    assert_int_equal(pl_base32_encode((const uint8_t *)"foobar", 6, NULL, 11), -PL_EINVAL);
}

static void test_base32_decode_accepts_padded_unpadded_lowercase_and_spaces(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof b32v / sizeof b32v[0]; i++) {
        char forms[4][40];
        size_t dl = strcspn(b32v[i].b32, "=");
        snprintf(forms[0], sizeof forms[0], "%s", b32v[i].b32);
        snprintf(forms[1], sizeof forms[1], "%.*s", (int)dl, b32v[i].b32);
        for (size_t k = 0; k <= strlen(forms[1]); k++) {
            char c = forms[1][k];
            forms[2][k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        snprintf(forms[3], sizeof forms[3], " %s ", b32v[i].b32);
        for (int f = 0; f < 4; f++) {
            uint8_t out[16];
            size_t n = 99;
            if (pl_base32_decode(forms[f], out, sizeof out, &n) != 0)
                fail_msg("rejected \"%s\"", forms[f]);
            assert_int_equal(n, strlen(b32v[i].in));
            assert_memory_equal(out, b32v[i].in, n);
        }
    }
    uint8_t out[16];
    size_t n;
    assert_int_equal(pl_base32_decode("mzxw 6ytb oi", out, sizeof out, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(pl_base32_decode("MY== ====", out, sizeof out, &n), 0);
    assert_int_equal(n, 1);
}

static void test_base32_round_trips_every_length_up_to_40(void **state)
{
    (void)state;
    uint8_t in[40];

    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof in; len++) {
        char enc[80];
        uint8_t out[40];
        size_t n = 0;
        assert_int_equal(pl_base32_encode(in, len, enc, sizeof enc), 0);
        assert_int_equal(pl_base32_decode(enc, out, sizeof out, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(out, in, len);
    }
}

static void test_base32_decode_rejects_malformed_input(void **state)
{
    (void)state;
    static const char *bad[] = {
        "M",                /* 1 leftover character */
        "MZX",              /* 3 leftover */
        "MZXW6Y",           /* 6 leftover */
        "MY=====",          /* too little padding */
        "MY=======",        /* too much padding */
        "MZXW6YTB========", /* padding on a complete block */
        "========",         /* padding only */
        "MY==MY==",         /* data after padding */
        "MZ=XW6===",        /* padding in the middle */
        "MY1",              /* '1' is not base32 */
        "MY0",              /* '0' is not base32 */
        "MY8",              /* '8' is not base32 */
        "MZXW6YT!",         /* punctuation */
        "MZXW6YT\t",        /* tab is not a space */
        "MZXW6YT\n",        /* newline */
        "MZXW-6YTB",        /* hyphen */
        "MZ",               /* non-zero unused bits (should be MY) */
        "MZXR",             /* non-zero unused bits (should be MZXQ) */
        "MZXW\xc3\xa9",     /* non-ASCII */
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        size_t n = 77;
        int rc = pl_base32_decode(bad[i], out, sizeof out, &n);
        if (rc != -PL_EINVAL) fail_msg("base32 #%zu \"%s\" gave %d", i, bad[i], rc);
        assert_int_equal(n, 77);
    }
}

static void test_base32_decode_rejects_small_buffer_and_null(void **state)
{
    (void)state;
    uint8_t out[6];
    size_t n;

    assert_int_equal(pl_base32_decode("MZXW6YTBOI", out, 5, &n), -PL_ETOOBIG);
    assert_int_equal(pl_base32_decode("MZXW6YTBOI", out, 6, &n), 0);
    assert_int_equal(pl_base32_decode(NULL, out, 6, &n), -PL_EINVAL);
    assert_int_equal(pl_base32_decode("MY", out, 6, NULL), -PL_EINVAL);
}

static void test_uri_has_documented_form_with_escaped_account(void **state)
{
    (void)state;
    char uri[256];

    assert_int_equal(pl_totp_uri("dr.smith@example.nhs.uk", rfc_key, RFC_KEYLEN, uri, sizeof uri),
                     0);
    assert_string_equal(uri, "otpauth://totp/Parley:dr.smith%40example.nhs.uk"
                             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                             "&issuer=Parley&algorithm=SHA1&digits=6&period=30");
}

static void test_uri_escapes_reserved_and_non_ascii_characters(void **state)
{
    (void)state;
    char uri[256];

    assert_int_equal(pl_totp_uri("a b:c&d?e/f=g#h%i~j_k-l", rfc_key, 1, uri, sizeof uri), 0);
    assert_string_equal(uri, "otpauth://totp/Parley:a%20b%3Ac%26d%3Fe%2Ff%3Dg%23h%25i~j_k-l"
                             "?secret=GE&issuer=Parley&algorithm=SHA1&digits=6&period=30");
    assert_int_equal(pl_totp_uri("Zo\xc3\xab", rfc_key, 1, uri, sizeof uri), 0);
    assert_non_null(strstr(uri, "Parley:Zo%C3%AB?"));
}

static void test_uri_rejects_small_buffer_and_wipes_it(void **state)
{
    (void)state;
    char uri[256];
    const char *want = "otpauth://totp/Parley:x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                       "&issuer=Parley&algorithm=SHA1&digits=6&period=30";
    size_t need = strlen(want) + 1;

    /* Cut at every length, including inside the secret: nothing of it may be left behind. */
    for (size_t cap = 1; cap < need; cap++) {
        memset(uri, 'x', sizeof uri);
        assert_int_equal(pl_totp_uri("x", rfc_key, RFC_KEYLEN, uri, cap), -PL_ETOOBIG);
        assert_string_equal(uri, "");
        for (size_t k = 0; k < cap; k++)
            assert_int_equal(uri[k], '\0');
    }
    assert_int_equal(pl_totp_uri("x", rfc_key, RFC_KEYLEN, uri, need), 0);
    assert_string_equal(uri, want);
}

static void test_uri_rejects_bad_arguments(void **state)
{
    (void)state;
    char uri[256];

    assert_int_equal(pl_totp_uri("", rfc_key, RFC_KEYLEN, uri, sizeof uri), -PL_EINVAL);
    assert_int_equal(pl_totp_uri(NULL, rfc_key, RFC_KEYLEN, uri, sizeof uri), -PL_EINVAL);
    assert_int_equal(pl_totp_uri("x", NULL, RFC_KEYLEN, uri, sizeof uri), -PL_EINVAL);
    assert_int_equal(pl_totp_uri("x", rfc_key, 0, uri, sizeof uri), -PL_EINVAL);
    assert_int_equal(pl_totp_uri("x", rfc_key, RFC_KEYLEN, NULL, sizeof uri), -PL_EINVAL);
    assert_int_equal(pl_totp_uri("x", rfc_key, RFC_KEYLEN, uri, 0), -PL_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_matches_rfc6238_sha1_vectors),
        cmocka_unit_test(test_code_matches_rfc4226_six_digit_hotp_vectors),
        cmocka_unit_test(test_code_rejects_bad_arguments),
        cmocka_unit_test(test_verify_accepts_current_code_and_records_step),
        cmocka_unit_test(test_verify_accepts_neighbouring_steps_within_window),
        cmocka_unit_test(test_verify_rejects_codes_outside_window),
        cmocka_unit_test(test_verify_rejects_replay_of_same_code),
        cmocka_unit_test(test_verify_rejects_earlier_step_after_later_one_used),
        cmocka_unit_test(test_verify_rejects_wrong_key),
        cmocka_unit_test(test_verify_handles_window_reaching_before_epoch),
        cmocka_unit_test(test_verify_rejects_malformed_codes),
        cmocka_unit_test(test_verify_rejects_bad_arguments),
        cmocka_unit_test(test_base32_encode_matches_rfc4648_vectors_without_padding),
        cmocka_unit_test(test_base32_encode_rejects_small_buffer),
        cmocka_unit_test(test_base32_decode_accepts_padded_unpadded_lowercase_and_spaces),
        cmocka_unit_test(test_base32_round_trips_every_length_up_to_40),
        cmocka_unit_test(test_base32_decode_rejects_malformed_input),
        cmocka_unit_test(test_base32_decode_rejects_small_buffer_and_null),
        cmocka_unit_test(test_uri_has_documented_form_with_escaped_account),
        cmocka_unit_test(test_uri_escapes_reserved_and_non_ascii_characters),
        cmocka_unit_test(test_uri_rejects_small_buffer_and_wipes_it),
        cmocka_unit_test(test_uri_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
