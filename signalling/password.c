/* scrypt password hashing (see password.h).
 *
 * The encoded form uses standard padded base64 from core/util for the salt (16 bytes) and the
 * hash (32 bytes), and the parser accepts only the exact shape this file writes: no leading
 * zeros, no extra fields, exact salt and hash lengths. OpenSSL's scrypt refuses to run when its
 * memory need exceeds maxmem (default about 1 GiB), so maxmem is set per call to exactly what
 * the parameters need; the parameter bounds are what keep that need finite. */
#include "signalling/password.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "core/err.h"
#include "core/util.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define DEFAULT_R 8
#define DEFAULT_P 1
#define MAX_R 8
#define MAX_P 2
/* Longest base64 field the parser will copy: a padded 32-byte hash is 44 characters. */
#define B64_FIELD_MAX 64

static const char prefix[] = "$scrypt$";

/* A real encoding of a random, discarded password at the default cost, used by
 * pl_password_verify_dummy. Generated once with pl_password_hash(..., 0, ...). */
static const char dummy_hash[] = "$scrypt$ln=17,r=8,p=1$05f2UwettxZa+I/CmGV07A==$"
                                 "+7EWcmFo7hpnrcn9jGM3cX0N3HB+kckzWMO1tfo8W6A=";

/* Derives HASH_LEN bytes of scrypt(pw, salt, 2^log_n, r, p) into out. 0 or -PL_ECRYPTO. */
static int derive(const char *pw, const uint8_t *salt, unsigned log_n, unsigned r, unsigned p,
                  uint8_t out[HASH_LEN])
{
    uint64_t n = (uint64_t)1 << log_n;
    uint32_t r32 = r, p32 = p;
    /* OpenSSL's scrypt needs 128*r*p bytes for B plus 128*r*(N+2) for V and fails if that
     * exceeds maxmem; with the bounds above this is at most 256 MiB. */
    uint64_t maxmem = 128u * (uint64_t)r * p + 128u * (uint64_t)r * (n + 2);
    int rc = -PL_ECRYPTO;

    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_SCRYPT, NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (ctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, strlen(pw)),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, SALT_LEN),
            OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
            OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32),
            OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32),
            OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(ctx, out, HASH_LEN, params) == 1) rc = 0;
    }
    /* The context holds a copy of the password. EVP_KDF_CTX_free clears it for scrypt. */
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (rc != 0) OPENSSL_cleanse(out, HASH_LEN);
    return rc;
}

/* Writes "$scrypt$ln=<log_n>,r=8,p=1$" to buf (cap bytes); returns its length or -1. */
static int format_params(char *buf, size_t cap, unsigned log_n)
{
    int n = snprintf(buf, cap, "%sln=%u,r=%u,p=%u$", prefix, log_n, DEFAULT_R, DEFAULT_P);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

int pl_password_hash(const char *pw, int log_n, char *out, size_t cap)
{
    uint8_t salt[SALT_LEN], hash[HASH_LEN];
    char head[48];

    if (out != NULL && cap > 0) out[0] = '\0';
    if (pw == NULL || out == NULL) return -PL_EINVAL;
    if (log_n == 0) log_n = PL_PASSWORD_DEFAULT_LOG_N;
    if (log_n < PL_PASSWORD_MIN_LOG_N || log_n > PL_PASSWORD_MAX_LOG_N) return -PL_EINVAL;

    int headlen = format_params(head, sizeof head, (unsigned)log_n);
    if (headlen < 0) return -PL_EINTERNAL;
    /* Padded base64: 16 bytes -> 24 characters, 32 bytes -> 44; plus '$' and NUL. */
    if (cap < (size_t)headlen + 24 + 1 + 44 + 1) return -PL_ETOOBIG;

    if (pl_random_bytes(salt, sizeof salt) != 0) return -PL_ECRYPTO;
    int rc = derive(pw, salt, (unsigned)log_n, DEFAULT_R, DEFAULT_P, hash);
    if (rc != 0) return rc;

    char *salt64 = pl_b64_encode(salt, sizeof salt);
    char *hash64 = pl_b64_encode(hash, sizeof hash);
    OPENSSL_cleanse(hash, sizeof hash);
    if (salt64 == NULL || hash64 == NULL) {
        rc = -PL_ENOMEM;
    } else {
        int n = snprintf(out, cap, "%s%s$%s", head, salt64, hash64);
        rc = (n < 0 || (size_t)n >= cap) ? -PL_EINTERNAL : 0;
        if (rc != 0) out[0] = '\0';
    }
    if (hash64 != NULL) pl_wipe(hash64, strlen(hash64));
    free(salt64);
    free(hash64);
    return rc;
}

/* Parses an unsigned decimal of 1 to 3 digits, without leading zeros, at *p and advances *p.
 * Returns the value or -1. */
static int parse_small_uint(const char **p)
{
    const char *s = *p;
    int v = 0, n = 0;

    while (s[n] >= '0' && s[n] <= '9') {
        if (n == 3) return -1;
        v = v * 10 + (s[n] - '0');
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0')) return -1;
    *p = s + n;
    return v;
}

/* Matches the literal lit at *p and advances past it; false if absent. */
static bool expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0) return false;
    *p += n;
    return true;
}

/* Decodes the base64 field s[0..len) into out, which must come to exactly want bytes, and
 * insists that the field is the canonical padded encoding of those bytes: pl_b64_decode alone
 * would also take unpadded or url-safe spellings, and one stored value should have one form. */
static int decode_field(const char *s, size_t len, uint8_t *out, size_t want)
{
    char field[B64_FIELD_MAX + 1];
    uint8_t *raw = NULL;
    size_t n = 0;

    if (len == 0 || len > B64_FIELD_MAX) return -PL_EINVAL;
    memcpy(field, s, len);
    field[len] = '\0';
    int rc = pl_b64_decode(field, &raw, &n);
    if (rc != 0) return rc == -PL_ENOMEM ? rc : -PL_EINVAL;

    rc = -PL_EINVAL;
    if (n == want) {
        char *again = pl_b64_encode(raw, n);
        if (again == NULL) {
            rc = -PL_ENOMEM;
        } else {
            if (strcmp(again, field) == 0) {
                memcpy(out, raw, n);
                rc = 0;
            }
            pl_wipe(again, strlen(again));
            free(again);
        }
    }
    pl_wipe(raw, n);
    free(raw);
    return rc;
}

/* The parsed form of an encoded hash. */
struct encoded {
    unsigned log_n, r, p;
    uint8_t salt[SALT_LEN];
    uint8_t hash[HASH_LEN];
};

/* Parses and bounds-checks an encoded hash. 0, -PL_EINVAL, or -PL_ENOMEM. */
static int parse_encoded(const char *s, struct encoded *e)
{
    const char *p = s;
    int ln, r, par;

    if (!expect(&p, prefix) || !expect(&p, "ln=")) return -PL_EINVAL;
    if ((ln = parse_small_uint(&p)) < 0 || !expect(&p, ",r=")) return -PL_EINVAL;
    if ((r = parse_small_uint(&p)) < 0 || !expect(&p, ",p=")) return -PL_EINVAL;
    if ((par = parse_small_uint(&p)) < 0 || !expect(&p, "$")) return -PL_EINVAL;
    if (ln < PL_PASSWORD_MIN_LOG_N || ln > PL_PASSWORD_MAX_LOG_N) return -PL_EINVAL;
    if (r < 1 || r > MAX_R || par < 1 || par > MAX_P) return -PL_EINVAL;

    const char *dollar = strchr(p, '$');
    if (dollar == NULL) return -PL_EINVAL;
    int rc = decode_field(p, (size_t)(dollar - p), e->salt, SALT_LEN);
    if (rc != 0) return rc;
    p = dollar + 1;
    if (strchr(p, '$') != NULL) return -PL_EINVAL;
    rc = decode_field(p, strlen(p), e->hash, HASH_LEN);
    if (rc != 0) return rc;

    e->log_n = (unsigned)ln;
    e->r = (unsigned)r;
    e->p = (unsigned)par;
    return 0;
}

int pl_password_verify(const char *pw, const char *encoded)
{
    struct encoded e;
    uint8_t got[HASH_LEN];

    if (pw == NULL || encoded == NULL) return -PL_EINVAL;
    int rc = parse_encoded(encoded, &e);
    if (rc == 0) rc = derive(pw, e.salt, e.log_n, e.r, e.p, got);
    if (rc == 0) rc = CRYPTO_memcmp(got, e.hash, HASH_LEN) == 0 ? 0 : -PL_EAUTH;
    OPENSSL_cleanse(got, sizeof got);
    OPENSSL_cleanse(&e, sizeof e);
    return rc;
}

int pl_password_verify_dummy(const char *pw)
{
    /* Run the full verify, parse included, so the path matches a real one. */
    (void)pl_password_verify(pw != NULL ? pw : "", dummy_hash);
    return -PL_EAUTH;
}

int pl_password_policy_check(const char *pw)
{
    if (pw == NULL) return -PL_EINVAL;
    size_t len = strnlen(pw, PL_PASSWORD_MAX_LEN + 1);
    return (len < PL_PASSWORD_MIN_LEN || len > PL_PASSWORD_MAX_LEN) ? -PL_EINVAL : 0;
}
