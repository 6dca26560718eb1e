/* Small shared helpers (see util.h): randomness, hex, base64, clocks, hashing, tokens and ids.
 *
 * The base64 code is our own rather than OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock because
 * those know only the standard alphabet, and EVP_DecodeBlock accepts leading and trailing
 * whitespace and non-canonical trailing bits. A parser of outside bytes should accept exactly
 * one form, so decoding here is strict. */
#include "core/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/err.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int pl_random_bytes(uint8_t *buf, size_t len)
{
    size_t done = 0;

    /* RAND_bytes takes an int length, so feed it in chunks. */
    while (done < len) {
        size_t n = len - done;
        if (n > (size_t)INT_MAX) n = (size_t)INT_MAX;
        if (RAND_bytes(buf + done, (int)n) != 1) {
            OPENSSL_cleanse(buf, len);
            return -PL_EINTERNAL;
        }
        done += n;
    }
    return 0;
}

void pl_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

/* Value of one hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int pl_hex_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len)
{
    if (in == NULL) return -PL_EINVAL;
    size_t len = strlen(in);
    if (len % 2 != 0) return -PL_EINVAL;
    size_t n = len / 2;
    if (n > cap) return -PL_ETOOBIG;

    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]);
        int lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out, i);
            return -PL_EINVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    if (out_len != NULL) *out_len = n;
    return 0;
}

/* Writes the base64 of in[0..len) with the given alphabet to out, padded or not, and
 * NUL-terminates it. out must hold b64_size(len) bytes. */
static void b64_encode_into(const uint8_t *in, size_t len, const char *alpha, bool pad, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        if (pad) out[o++] = '=';
    }
    out[o] = '\0';
}

/* Bytes needed for the padded encoding of len bytes plus NUL (enough for unpadded too), or 0
 * if that would overflow size_t. */
static size_t b64_size(size_t len)
{
    if (len / 3 >= (SIZE_MAX - 5) / 4) return 0;
    return (len + 2) / 3 * 4 + 1;
}

/* Encodes in[0..len) into a new malloc'd string; NULL on overflow or allocation failure. */
static char *b64_encode(const uint8_t *in, size_t len, const char *alpha, bool pad)
{
    size_t size = b64_size(len);
    if (size == 0) return NULL;
    char *out = malloc(size);
    if (out == NULL) return NULL;
    b64_encode_into(in, len, alpha, pad, out);
    return out;
}

char *pl_b64_encode(const uint8_t *in, size_t len)
{
    return b64_encode(in, len, b64_std, true);
}

char *pl_b64url_encode(const uint8_t *in, size_t len)
{
    return b64_encode(in, len, b64_url, false);
}

/* Value of a base64 character in either alphabet, or -1. *alpha records which alphabet the
 * character belongs to: 1 standard-only ('+', '/'), 2 url-only ('-', '_'), unchanged otherwise. */
static int b64_value(char c, int *alpha)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '/') {
        *alpha |= 1;
        return c == '+' ? 62 : 63;
    }
    if (c == '-' || c == '_') {
        *alpha |= 2;
        return c == '-' ? 62 : 63;
    }
    return -1;
}

int pl_b64_decode(const char *in, uint8_t **out, size_t *out_len)
{
    if (out != NULL) *out = NULL;
    if (in == NULL || out == NULL || out_len == NULL) return -PL_EINVAL;

    size_t len = strlen(in);
    size_t data = len;
    while (data > 0 && in[data - 1] == '=')
        data--;
    size_t padlen = len - data;
    /* Padding, when present, must bring the length to a multiple of four, and at most two
     * '=' can ever be needed. */
    if (padlen > 2 || (padlen > 0 && len % 4 != 0)) return -PL_EINVAL;
    if (data % 4 == 1) return -PL_EINVAL;
    if (padlen > 0 && (data % 4 == 0 || 4 - data % 4 != padlen)) return -PL_EINVAL;

    size_t n = data / 4 * 3 + (data % 4 == 0 ? 0 : data % 4 - 1);
    uint8_t *buf = malloc(n > 0 ? n : 1);
    if (buf == NULL) return -PL_ENOMEM;

    int alpha = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < data; i++) {
        int v = b64_value(in[i], &alpha);
        if (v < 0 || alpha == 3) goto bad;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The leftover bits of the last character must be zero; otherwise several encodings
     * would decode to the same bytes. */
    if (acc != 0) goto bad;

    *out = buf;
    *out_len = n;
    return 0;

bad:
    OPENSSL_cleanse(buf, n > 0 ? n : 1);
    free(buf);
    return -PL_EINVAL;
}

bool pl_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int64_t pl_now_ms(void)
{
    struct timespec ts;
    /* CLOCK_REALTIME cannot fail on Linux; if it did, the clock is broken. */
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) abort();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t pl_mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) abort();
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pl_sha256(const void *data, size_t len, uint8_t out[32])
{
    static const uint8_t empty = 0;
    unsigned int n = 0;

    /* EVP_Digest only fails if the default provider cannot supply SHA-256 or on allocation
     * failure; callers cannot act on either, so it is treated as a broken invariant. */
    if (EVP_Digest(data != NULL ? data : &empty, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
        abort();
}

void pl_wipe(void *p, size_t len)
{
    if (p != NULL) OPENSSL_cleanse(p, len);
}

int pl_token_new(char *out, size_t cap)
{
    uint8_t raw[32];

    if (out == NULL) return -PL_EINVAL;
    if (cap < PL_TOKEN_BUF) return -PL_ETOOBIG;
    int rc = pl_random_bytes(raw, sizeof raw);
    if (rc != 0) return rc;

    /* Encode into the caller's buffer rather than through pl_b64url_encode so the token never
     * sits in a heap buffer that would need wiping. */
    b64_encode_into(raw, sizeof raw, b64_url, false, out);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

void pl_token_hash(const char *token, char out[65])
{
    uint8_t digest[32];

    pl_sha256(token, strlen(token), digest);
    pl_hex_encode(digest, sizeof digest, out);
    OPENSSL_cleanse(digest, sizeof digest);
}

int pl_id_new(char out[33])
{
    uint8_t raw[16];

    int rc = pl_random_bytes(raw, sizeof raw);
    if (rc != 0) return rc;
    pl_hex_encode(raw, sizeof raw, out);
    return 0;
}
