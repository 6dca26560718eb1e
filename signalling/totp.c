/* TOTP codes, verification with replay protection, base32 and the provisioning URI (see
 * totp.h). HMAC comes from OpenSSL's EVP_Q_mac; everything else is plain C with no allocation. */
#include "signalling/totp.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/err.h"

static const char b32_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* HOTP (RFC 4226) value for counter: HMAC-SHA1, dynamic truncation, modulo 10^digits. */
static int hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits, uint32_t *code)
{
    uint8_t msg[8], mac[20];
    size_t maclen = 0;

    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, keylen, msg, sizeof msg, mac, sizeof mac,
                  &maclen) == NULL ||
        maclen != sizeof mac) {
        OPENSSL_cleanse(mac, sizeof mac);
        return -PL_ECRYPTO;
    }
    unsigned off = mac[19] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
                   (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    *code = bin % mod;
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

int pl_totp_code(const uint8_t *key, size_t keylen, uint64_t unix_time, int digits, uint32_t *code)
{
    if (key == NULL || keylen == 0 || code == NULL) return -PL_EINVAL;
    if (digits < 6 || digits > 8) return -PL_EINVAL;
    return hotp(key, keylen, unix_time / PL_TOTP_PERIOD, digits, code);
}

int pl_totp_verify(const uint8_t *key, size_t keylen, const char *code, uint64_t now, int window,
                   int64_t *last_step)
{
    if (key == NULL || keylen == 0 || code == NULL || last_step == NULL) return -PL_EINVAL;
    if (window < 0 || window > PL_TOTP_MAX_WINDOW) return -PL_EINVAL;
    for (int i = 0; i < PL_TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9') return -PL_EINVAL;
    if (code[PL_TOTP_DIGITS] != '\0') return -PL_EINVAL;

    /* now / 30 is below 2^60, so it and the window fit in int64_t. */
    int64_t centre = (int64_t)(now / PL_TOTP_PERIOD);
    int64_t from = centre - window < 0 ? 0 : centre - window;
    int64_t to = centre + window;
    int64_t matched = -1;
    int rc = 0;

    /* Compute and compare every eligible step and select the match without branching on it,
     * so the time taken says nothing about which step, if any, matched. */
    for (int64_t step = from; step <= to; step++) {
        if (step <= *last_step) continue; /* replay: public information, fine to branch on */
        uint32_t want;
        char digits[PL_TOTP_DIGITS + 1];
        rc = hotp(key, keylen, (uint64_t)step, PL_TOTP_DIGITS, &want);
        if (rc != 0) break;
        for (int i = PL_TOTP_DIGITS - 1; i >= 0; i--) {
            digits[i] = (char)('0' + want % 10);
            want /= 10;
        }
        int64_t eq = CRYPTO_memcmp(digits, code, PL_TOTP_DIGITS) == 0;
        int64_t mask = -eq;
        matched = (matched & ~mask) | (step & mask);
        OPENSSL_cleanse(digits, sizeof digits);
    }
    if (rc != 0) return rc;
    if (matched < 0) return -PL_EAUTH;
    *last_step = matched;
    return 0;
}

int pl_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    if (out != NULL && cap > 0) out[0] = '\0';
    if ((in == NULL && len > 0) || out == NULL) return -PL_EINVAL;
    if (len > (SIZE_MAX - 5) / 8) return -PL_ETOOBIG;
    size_t need = (len * 8 + 4) / 5;
    if (cap < need + 1) return -PL_ETOOBIG;

    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8 | in[i]) & 0xfff;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = b32_alpha[acc >> bits & 31];
        }
    }
    if (bits > 0) out[o++] = b32_alpha[acc << (5 - bits) & 31];
    out[o] = '\0';
    OPENSSL_cleanse(&acc, sizeof acc);
    return 0;
}

/* Value of a base32 character (either case), or -1. */
static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

int pl_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len)
{
    if (in == NULL || out_len == NULL || (out == NULL && cap > 0)) return -PL_EINVAL;

    /* First pass: shape. Count data and padding characters, refuse anything else. */
    size_t data = 0, pad = 0;
    for (const char *p = in; *p != '\0'; p++) {
        if (*p == ' ') continue;
        if (*p == '=') {
            pad++;
        } else if (pad > 0 || b32_value(*p) < 0) {
            return -PL_EINVAL;
        } else {
            data++;
        }
    }
    /* 1, 3 or 6 leftover characters cannot come from whole bytes. */
    size_t rem = data % 8;
    if (rem == 1 || rem == 3 || rem == 6) return -PL_EINVAL;
    if (pad > 0 && (rem == 0 || pad != 8 - rem)) return -PL_EINVAL;
    size_t n = data * 5 / 8;
    if (n > cap) return -PL_ETOOBIG;

    /* Second pass: decode. */
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = in; *p != '\0' && *p != '='; p++) {
        if (*p == ' ') continue;
        acc = (acc << 5 | (uint32_t)b32_value(*p)) & 0xfff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Unused trailing bits must be zero, so each byte string has one encoding. */
    bool clean = (acc & ((1u << bits) - 1)) == 0;
    OPENSSL_cleanse(&acc, sizeof acc);
    if (!clean) {
        OPENSSL_cleanse(out, n);
        return -PL_EINVAL;
    }
    *out_len = n;
    return 0;
}

/* Appends s to out at *pos if it fits in cap (leaving room for the NUL). */
static bool put(char *out, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap - *pos) return false;
    memcpy(out + *pos, s, n + 1);
    *pos += n;
    return true;
}

/* Appends account percent-encoded (RFC 3986: only unreserved characters stay literal). */
static bool put_escaped(char *out, size_t cap, size_t *pos, const char *account)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)account; *p != '\0'; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        char buf[4] = {(char)*p, '\0', '\0', '\0'};
        if (!plain) {
            buf[0] = '%';
            buf[1] = hex[*p >> 4];
            buf[2] = hex[*p & 15];
        }
        if (!put(out, cap, pos, buf)) return false;
    }
    return true;
}

int pl_totp_uri(const char *account, const uint8_t *key, size_t keylen, char *out, size_t cap)
{
    size_t pos = 0;

    if (out != NULL && cap > 0) out[0] = '\0';
    if (account == NULL || account[0] == '\0' || key == NULL || keylen == 0 || out == NULL)
        return -PL_EINVAL;
    if (cap == 0) return -PL_ETOOBIG;

    bool ok = put(out, cap, &pos, "otpauth://totp/Parley:") &&
              put_escaped(out, cap, &pos, account) && put(out, cap, &pos, "?secret=");
    if (ok) {
        ok = pl_base32_encode(key, keylen, out + pos, cap - pos) == 0;
        if (ok) pos += strlen(out + pos);
    }
    ok = ok && put(out, cap, &pos, "&issuer=Parley&algorithm=SHA1&digits=6&period=30");
    if (!ok) {
        /* A partial URI may already hold part of the secret. */
        OPENSSL_cleanse(out, cap);
        out[0] = '\0';
        return -PL_ETOOBIG;
    }
    return 0;
}
