/* Unit tests for core/util.c: encoders against RFC 4648 vectors, strict rejection of malformed
 * hex and base64, SHA-256 against FIPS 180 vectors, and the shape of tokens and ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/util.h"

/* RFC 4648 section 10 test vectors: the prefixes of "foobar". */
static const struct {
    const char *in;
    const char *b64;
    const char *b64url;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

#define N_RFC4648 (sizeof rfc4648 / sizeof rfc4648[0])

static void test_random_bytes_fills_buffer_and_differs_between_calls(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};

    assert_int_equal(pl_random_bytes(a, sizeof a), 0);
    assert_int_equal(pl_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(pl_random_bytes(NULL, 0), 0);
}

static void test_hex_encode_is_lowercase_and_nul_terminated(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
    char out[2 * sizeof in + 1];

    memset(out, 'x', sizeof out);
    pl_hex_encode(in, sizeof in, out);
    assert_string_equal(out, "0001abcdefff");

    pl_hex_encode(NULL, 0, out);
    assert_string_equal(out, "");
}

static void test_hex_decode_round_trips_and_accepts_either_case(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 99;
    const uint8_t want[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};

    assert_int_equal(pl_hex_decode("0001abcdefff", out, sizeof out, &n), 0);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);

    assert_int_equal(pl_hex_decode("0001ABCDEFFF", out, sizeof out, &n), 0);
    assert_memory_equal(out, want, sizeof want);

    assert_int_equal(pl_hex_decode("", out, sizeof out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pl_hex_decode("", NULL, 0, NULL), 0);
}

static void test_hex_decode_rejects_odd_length_and_non_hex(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    static const char *bad[] = {"0",    "abc", "0g",   "g0", "  ",       "00 ", " 00",
                                "0x00", "zz",  "00-1", "+1", "\xff\xff", "1\n"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pl_hex_decode(bad[i], out, sizeof out, &n), -PL_EINVAL);
    assert_int_equal(pl_hex_decode(NULL, out, sizeof out, &n), -PL_EINVAL);
}

static void test_hex_decode_rejects_output_larger_than_cap(void **state)
{
    (void)state;
    uint8_t out[4];
    size_t n;

    assert_int_equal(pl_hex_decode("0011223344", out, sizeof out, &n), -PL_ETOOBIG);
    assert_int_equal(pl_hex_decode("00112233", out, sizeof out, &n), 0);
    assert_int_equal(n, 4);
}

static void test_hex_decode_wipes_partial_output_on_bad_digit(void **state)
{
    (void)state;
    uint8_t out[4] = {0};

    assert_int_equal(pl_hex_decode("ffffffzz", out, sizeof out, NULL), -PL_EINVAL);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 0);
}

static void test_b64_encode_matches_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_RFC4648; i++) {
        char *s = pl_b64_encode((const uint8_t *)rfc4648[i].in, strlen(rfc4648[i].in));
        assert_non_null(s);
        assert_string_equal(s, rfc4648[i].b64);
        free(s);
    }
}

static void test_b64url_encode_matches_rfc4648_vectors_without_padding(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_RFC4648; i++) {
        char *s = pl_b64url_encode((const uint8_t *)rfc4648[i].in, strlen(rfc4648[i].in));
        assert_non_null(s);
        assert_string_equal(s, rfc4648[i].b64url);
        free(s);
    }
}

static void test_b64_encoders_use_their_own_alphabet_for_62_and_63(void **state)
{
    (void)state;
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char *std = pl_b64_encode(in, sizeof in);
    char *url = pl_b64url_encode(in, sizeof in);

    assert_string_equal(std, "+/+/");
    assert_string_equal(url, "-_-_");
    free(std);
    free(url);
}

static void test_b64_decode_accepts_padded_and_unpadded_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_RFC4648; i++) {
        const char *forms[] = {rfc4648[i].b64, rfc4648[i].b64url};
        for (size_t f = 0; f < 2; f++) {
            uint8_t *out = NULL;
            size_t n = 99;
            assert_int_equal(pl_b64_decode(forms[f], &out, &n), 0);
            assert_non_null(out);
            assert_int_equal(n, strlen(rfc4648[i].in));
            assert_memory_equal(out, rfc4648[i].in, n);
            free(out);
        }
    }
}

static void test_b64_decode_accepts_both_alphabets(void **state)
{
    (void)state;
    const uint8_t want[] = {0xfb, 0xff, 0xbf};
    const char *forms[] = {"+/+/", "-_-_"};

    for (size_t f = 0; f < 2; f++) {
        uint8_t *out = NULL;
        size_t n = 0;
        assert_int_equal(pl_b64_decode(forms[f], &out, &n), 0);
        assert_int_equal(n, sizeof want);
        assert_memory_equal(out, want, n);
        free(out);
    }
}

static void test_b64_round_trips_every_length_up_to_64(void **state)
{
    (void)state;
    uint8_t in[64];

    assert_int_equal(pl_random_bytes(in, sizeof in), 0);
    for (size_t len = 0; len <= sizeof in; len++) {
        char *enc[2] = {pl_b64_encode(in, len), pl_b64url_encode(in, len)};
        for (int e = 0; e < 2; e++) {
            uint8_t *out = NULL;
            size_t n = 0;
            assert_non_null(enc[e]);
            assert_int_equal(pl_b64_decode(enc[e], &out, &n), 0);
            assert_int_equal(n, len);
            assert_memory_equal(out, in, len);
            free(out);
            free(enc[e]);
        }
    }
}

static void test_b64_decode_rejects_malformed_input(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Z",        /* one character cannot hold a byte */
        "Zm9vY",    /* 4n+1 characters */
        "Zg=",      /* incomplete padding */
        "Zg===",    /* too much padding */
        "Zm9v====", /* padding on a complete group */
        "=",        /* padding only */
        "====",     /* padding only */
        "Z===",     /* three '=' */
        "Zm=8",     /* '=' in the middle of a group */
        "Zg==Zg==", /* padding then more data */
        "Zm9v Zg",  /* space */
        " Zm9v",    /* leading space */
        "Zm9v\n",   /* trailing newline */
        "Zm9v\t",   /* tab */
        "Zm9v!",    /* punctuation */
        "Zm9\x80",  /* high byte */
        "+/-_",     /* mixed alphabets */
        "ab+c-d",   /* mixed alphabets, unpadded */
        "Zh==",     /* non-zero unused bits after one byte */
        "Zm9=",     /* non-zero unused bits after two bytes */
        "Zh",       /* non-zero unused bits, unpadded */
        "Zm9",      /* non-zero unused bits, unpadded */
        "Zg=\0=",   /* embedded NUL ends the string early: "Zg=" is incomplete padding */
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *out = (uint8_t *)"sentinel";
        size_t n = 0;
        int rc = pl_b64_decode(bad[i], &out, &n);
        if (rc != -PL_EINVAL) fail_msg("accepted malformed base64 #%zu \"%s\"", i, bad[i]);
        assert_null(out);
    }
}

static void test_b64_decode_rejects_null_arguments(void **state)
{
    (void)state;
    uint8_t *out;
    size_t n;

    assert_int_equal(pl_b64_decode(NULL, &out, &n), -PL_EINVAL);
    assert_int_equal(pl_b64_decode("Zg==", NULL, &n), -PL_EINVAL);
    assert_int_equal(pl_b64_decode("Zg==", &out, NULL), -PL_EINVAL);
}

static void test_ct_equal_reports_equality_and_single_bit_difference(void **state)
{
    (void)state;
    uint8_t a[32], b[32];

    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(pl_ct_equal(a, b, sizeof a));
    b[31] ^= 0x01;
    assert_false(pl_ct_equal(a, b, sizeof a));
    b[31] ^= 0x01;
    b[0] ^= 0x80;
    assert_false(pl_ct_equal(a, b, sizeof a));
    assert_true(pl_ct_equal(a, b, 0));
}

static void test_now_ms_is_close_to_time_and_mono_ns_does_not_go_back(void **state)
{
    (void)state;
    int64_t now = pl_now_ms();
    int64_t t = (int64_t)time(NULL) * 1000;

    assert_true(now > 1600000000000LL);
    assert_true(now - t < 2000 && t - now < 2000);

    uint64_t m1 = pl_mono_ns();
    usleep(2000);
    uint64_t m2 = pl_mono_ns();
    assert_true(m2 > m1);
    assert_true(m2 - m1 >= 1000000u);
}

static void test_sha256_matches_fips180_vectors(void **state)
{
    (void)state;
    uint8_t d[32];
    char hex[65];

    pl_sha256("abc", 3, d);
    pl_hex_encode(d, sizeof d, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    pl_sha256(NULL, 0, d);
    pl_hex_encode(d, sizeof d, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pl_sha256(m, strlen(m), d);
    pl_hex_encode(d, sizeof d, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_wipe_zeroes_buffer_and_tolerates_null(void **state)
{
    (void)state;
    uint8_t buf[16], zero[16] = {0};

    memset(buf, 0xaa, sizeof buf);
    pl_wipe(buf, sizeof buf);
    assert_memory_equal(buf, zero, sizeof buf);
    pl_wipe(NULL, 10);
}

static void test_token_new_is_43_base64url_chars_and_decodes_to_32_bytes(void **state)
{
    (void)state;
    char tok[PL_TOKEN_BUF];
    uint8_t *raw = NULL;
    size_t n = 0;

    assert_int_equal(pl_token_new(tok, sizeof tok), 0);
    assert_int_equal(strlen(tok), PL_TOKEN_LEN);
    assert_int_equal(
        strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        PL_TOKEN_LEN);
    assert_int_equal(pl_b64_decode(tok, &raw, &n), 0);
    assert_int_equal(n, 32);
    free(raw);
}

static void test_token_new_gives_distinct_tokens(void **state)
{
    (void)state;
    char a[PL_TOKEN_BUF], b[PL_TOKEN_BUF];

    assert_int_equal(pl_token_new(a, sizeof a), 0);
    assert_int_equal(pl_token_new(b, sizeof b), 0);
    assert_string_not_equal(a, b);
}

static void test_token_new_rejects_small_buffer_and_null(void **state)
{
    (void)state;
    char tok[PL_TOKEN_BUF];

    assert_int_equal(pl_token_new(tok, PL_TOKEN_BUF - 1), -PL_ETOOBIG);
    assert_int_equal(pl_token_new(tok, 0), -PL_ETOOBIG);
    assert_int_equal(pl_token_new(NULL, PL_TOKEN_BUF), -PL_EINVAL);
}

static void test_token_hash_is_hex_sha256_of_token_text(void **state)
{
    (void)state;
    char h[65];

    pl_token_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    char tok[PL_TOKEN_BUF], h1[65], h2[65];
    assert_int_equal(pl_token_new(tok, sizeof tok), 0);
    pl_token_hash(tok, h1);
    pl_token_hash(tok, h2);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 64);
}

static void test_id_new_is_32_lowercase_hex_and_distinct(void **state)
{
    (void)state;
    char a[33], b[33];

    assert_int_equal(pl_id_new(a), 0);
    assert_int_equal(pl_id_new(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_bytes_fills_buffer_and_differs_between_calls),
        cmocka_unit_test(test_hex_encode_is_lowercase_and_nul_terminated),
        cmocka_unit_test(test_hex_decode_round_trips_and_accepts_either_case),
        cmocka_unit_test(test_hex_decode_rejects_odd_length_and_non_hex),
        cmocka_unit_test(test_hex_decode_rejects_output_larger_than_cap),
        cmocka_unit_test(test_hex_decode_wipes_partial_output_on_bad_digit),
        cmocka_unit_test(test_b64_encode_matches_rfc4648_vectors),
        cmocka_unit_test(test_b64url_encode_matches_rfc4648_vectors_without_padding),
        cmocka_unit_test(test_b64_encoders_use_their_own_alphabet_for_62_and_63),
        cmocka_unit_test(test_b64_decode_accepts_padded_and_unpadded_rfc4648_vectors),
        cmocka_unit_test(test_b64_decode_accepts_both_alphabets),
        cmocka_unit_test(test_b64_round_trips_every_length_up_to_64),
        cmocka_unit_test(test_b64_decode_rejects_malformed_input),
        cmocka_unit_test(test_b64_decode_rejects_null_arguments),
        cmocka_unit_test(test_ct_equal_reports_equality_and_single_bit_difference),
        cmocka_unit_test(test_now_ms_is_close_to_time_and_mono_ns_does_not_go_back),
        cmocka_unit_test(test_sha256_matches_fips180_vectors),
        cmocka_unit_test(test_wipe_zeroes_buffer_and_tolerates_null),
        cmocka_unit_test(test_token_new_is_43_base64url_chars_and_decodes_to_32_bytes),
        cmocka_unit_test(test_token_new_gives_distinct_tokens),
        cmocka_unit_test(test_token_new_rejects_small_buffer_and_null),
        cmocka_unit_test(test_token_hash_is_hex_sha256_of_token_text),
        cmocka_unit_test(test_id_new_is_32_lowercase_hex_and_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
