/* Unit tests for storage/aead.c: round trips, the documented byte layout (checked against an
 * independent AES-GCM implementation), and rejection of wrong keys, wrong AAD, every flipped
 * bit, truncation, extension and unknown versions, with no plaintext released on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>

#include "core/err.h"
#include "core/util.h"
#include "storage/aead.h"

static const char aad[] = "conversation:42";
static const char msg[] = "Patient asks about repeat prescription.";
#define MSGLEN (sizeof msg - 1)
#define AADLEN (sizeof aad - 1)

static void key_fill(uint8_t key[PL_AEAD_KEY_LEN])
{
    for (int i = 0; i < PL_AEAD_KEY_LEN; i++)
        key[i] = (uint8_t)i;
}

/* Seals msg under key_fill's key and aad into blob; returns the sealed length. */
static size_t seal_msg(uint8_t *blob, size_t cap)
{
    uint8_t key[PL_AEAD_KEY_LEN];
    size_t n = 0;

    key_fill(key);
    assert_int_equal(pl_aead_seal(key, aad, AADLEN, msg, MSGLEN, blob, cap, &n), 0);
    assert_int_equal(n, MSGLEN + PL_AEAD_OVERHEAD);
    return n;
}

static void test_seal_then_open_round_trips(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = seal_msg(blob, sizeof blob), m = 0;

    key_fill(key);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, &m), 0);
    assert_int_equal(m, MSGLEN);
    assert_memory_equal(out, msg, MSGLEN);
}

static void test_seal_then_open_round_trips_empty_plaintext_and_empty_aad(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[PL_AEAD_OVERHEAD], out[1];
    size_t n = 0, m = 99;

    key_fill(key);
    assert_int_equal(pl_aead_seal(key, NULL, 0, NULL, 0, blob, sizeof blob, &n), 0);
    assert_int_equal(n, PL_AEAD_OVERHEAD);
    assert_int_equal(pl_aead_open(key, NULL, 0, blob, n, out, 0, &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(pl_aead_open(key, NULL, 0, blob, n, NULL, 0, &m), 0);
    /* The tag still binds the AAD when there is no plaintext. */
    assert_int_equal(pl_aead_open(key, "x", 1, blob, n, out, sizeof out, &m), -PL_ECRYPTO);
}

static void test_open_accepts_blob_built_by_independent_aes_gcm(void **state)
{
    (void)state;
    /* Built with Python cryptography's AESGCM: key 00..1f, nonce cafebabefacedbaddecaf888,
     * AAD 0x01 || "conversation:42", prefixed with the version byte and nonce. */
    const char *hex = "01cafebabefacedbaddecaf888dac2d44fcf143b3b277836ae5b7ceb507854e0"
                      "23ba690f153aff7403dbfa068dc420b52faeba676b2b50fad43f3eb86193f517"
                      "ca77716d";
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = 0, m = 0;

    key_fill(key);
    assert_int_equal(pl_hex_decode(hex, blob, sizeof blob, &n), 0);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, &m), 0);
    assert_int_equal(m, MSGLEN);
    assert_memory_equal(out, msg, MSGLEN);
}

static void test_seal_output_matches_documented_layout(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128], fullaad[1 + AADLEN];
    size_t n = seal_msg(blob, sizeof blob);
    int len = 0, fin = 0;

    /* Decrypt with raw OpenSSL using only what aead.h documents about the layout. */
    key_fill(key);
    assert_int_equal(blob[0], PL_AEAD_VERSION);
    fullaad[0] = PL_AEAD_VERSION;
    memcpy(fullaad + 1, aad, AADLEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, blob + 1), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &len, fullaad, (int)sizeof fullaad), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, out, &len, blob + 13, (int)MSGLEN), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, blob + n - 16), 1);
    assert_int_equal(EVP_DecryptFinal_ex(ctx, out + len, &fin), 1);
    EVP_CIPHER_CTX_free(ctx);
    assert_int_equal(len + fin, (int)MSGLEN);
    assert_memory_equal(out, msg, MSGLEN);
}

static void test_seal_uses_fresh_nonce_each_time(void **state)
{
    (void)state;
    uint8_t a[128], b[128];

    seal_msg(a, sizeof a);
    seal_msg(b, sizeof b);
    assert_memory_not_equal(a + 1, b + 1, PL_AEAD_NONCE_LEN);
    assert_memory_not_equal(a + 13, b + 13, MSGLEN);
}

static void test_open_rejects_wrong_key_and_wipes_output(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128], zero[128] = {0};
    size_t n = seal_msg(blob, sizeof blob), m = 77;

    key_fill(key);
    key[31] ^= 1;
    memset(out, 0xaa, sizeof out);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, &m), -PL_ECRYPTO);
    assert_memory_equal(out, zero, MSGLEN);
    assert_int_equal(m, 77);
}

static void test_open_rejects_wrong_aad(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = seal_msg(blob, sizeof blob), m;

    key_fill(key);
    /* A row moved to another conversation, a shorter or longer context, or none at all. */
    assert_int_equal(pl_aead_open(key, "conversation:43", 15, blob, n, out, sizeof out, &m),
                     -PL_ECRYPTO);
    assert_int_equal(pl_aead_open(key, aad, AADLEN - 1, blob, n, out, sizeof out, &m), -PL_ECRYPTO);
    assert_int_equal(pl_aead_open(key, "conversation:420", 16, blob, n, out, sizeof out, &m),
                     -PL_ECRYPTO);
    assert_int_equal(pl_aead_open(key, NULL, 0, blob, n, out, sizeof out, &m), -PL_ECRYPTO);
}

static void test_open_rejects_flipped_bit_in_every_region(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128], zero[128] = {0};
    size_t n = seal_msg(blob, sizeof blob), m;

    /* Every bit of version (0), nonce (1..12), ciphertext (13..n-17) and tag (n-16..n-1). */
    key_fill(key);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            blob[i] ^= (uint8_t)(1u << bit);
            memset(out, 0xaa, sizeof out);
            int rc = pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, &m);
            if (rc != -PL_ECRYPTO) fail_msg("byte %zu bit %d flipped: got %d", i, bit, rc);
            assert_memory_equal(out, zero, MSGLEN);
            blob[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, &m), 0);
}

static void test_open_rejects_truncated_and_extended_input(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = seal_msg(blob, sizeof blob), m;

    key_fill(key);
    for (size_t len = 0; len < n; len++) {
        int want = len < PL_AEAD_OVERHEAD ? -PL_EINVAL : -PL_ECRYPTO;
        assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, len, out, sizeof out, &m), want);
    }
    blob[n] = 0;
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n + 1, out, sizeof out, &m), -PL_ECRYPTO);
    /* Dropping bytes from the front (the version byte) shifts every field. */
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob + 1, n - 1, out, sizeof out, &m),
                     -PL_ECRYPTO);
}

static void test_open_rejects_unknown_version(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = seal_msg(blob, sizeof blob), m;
    const uint8_t versions[] = {0x00, 0x02, 0x81, 0xff};

    key_fill(key);
    for (size_t i = 0; i < sizeof versions; i++) {
        blob[0] = versions[i];
        assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, &m), -PL_ECRYPTO);
    }
}

static void test_seal_rejects_small_output_buffer(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128];
    size_t n = 0;

    key_fill(key);
    assert_int_equal(
        pl_aead_seal(key, aad, AADLEN, msg, MSGLEN, blob, MSGLEN + PL_AEAD_OVERHEAD - 1, &n),
        -PL_ETOOBIG);
    assert_int_equal(
        pl_aead_seal(key, aad, AADLEN, msg, MSGLEN, blob, MSGLEN + PL_AEAD_OVERHEAD, &n), 0);
}

static void test_open_rejects_small_output_buffer(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = seal_msg(blob, sizeof blob), m;

    key_fill(key);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, MSGLEN - 1, &m), -PL_ETOOBIG);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, MSGLEN, &m), 0);
}

static void test_seal_and_open_reject_null_arguments(void **state)
{
    (void)state;
    uint8_t key[PL_AEAD_KEY_LEN], blob[128], out[128];
    size_t n = seal_msg(blob, sizeof blob), m;

    key_fill(key);
    assert_int_equal(pl_aead_seal(NULL, aad, AADLEN, msg, MSGLEN, out, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_seal(key, NULL, 1, msg, MSGLEN, out, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_seal(key, aad, AADLEN, NULL, 1, out, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_seal(key, aad, AADLEN, msg, MSGLEN, NULL, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_seal(key, aad, AADLEN, msg, MSGLEN, out, sizeof out, NULL),
                     -PL_EINVAL);
    assert_int_equal(pl_aead_open(NULL, aad, AADLEN, blob, n, out, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_open(key, NULL, 1, blob, n, out, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, NULL, n, out, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, NULL, sizeof out, &m), -PL_EINVAL);
    assert_int_equal(pl_aead_open(key, aad, AADLEN, blob, n, out, sizeof out, NULL), -PL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_then_open_round_trips),
        cmocka_unit_test(test_seal_then_open_round_trips_empty_plaintext_and_empty_aad),
        cmocka_unit_test(test_open_accepts_blob_built_by_independent_aes_gcm),
        cmocka_unit_test(test_seal_output_matches_documented_layout),
        cmocka_unit_test(test_seal_uses_fresh_nonce_each_time),
        cmocka_unit_test(test_open_rejects_wrong_key_and_wipes_output),
        cmocka_unit_test(test_open_rejects_wrong_aad),
        cmocka_unit_test(test_open_rejects_flipped_bit_in_every_region),
        cmocka_unit_test(test_open_rejects_truncated_and_extended_input),
        cmocka_unit_test(test_open_rejects_unknown_version),
        cmocka_unit_test(test_seal_rejects_small_output_buffer),
        cmocka_unit_test(test_open_rejects_small_output_buffer),
        cmocka_unit_test(test_seal_and_open_reject_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
