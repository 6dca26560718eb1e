/* Second factor: RFC 6238 TOTP (HMAC-SHA1, 30-second steps) with replay protection, RFC 4648
 * base32 for secrets, and the otpauth:// URI that authenticator apps scan as a QR code.
 *
 * SHA-1, 6 digits and 30 s are what every authenticator app supports; HMAC-SHA1 is not weakened
 * by SHA-1's collision attacks. Replay is refused by remembering the last step accepted per
 * account (the caller stores it), so one code cannot be used twice even inside its window. */
#ifndef PL_TOTP_H
#define PL_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define PL_TOTP_DIGITS 6      /* digits in a code pl_totp_verify accepts */
#define PL_TOTP_PERIOD 30     /* seconds per step */
#define PL_TOTP_MAX_WINDOW 10 /* largest window pl_totp_verify allows, in steps either side */
/* Value for *last_step when the account has never used a code. */
#define PL_TOTP_NO_STEP INT64_C(-1)

/* Computes the TOTP code for key[0..keylen) at unix_time (step = unix_time / 30) with the
 * given number of digits (6 to 8) into *code. Returns 0, or -PL_EINVAL for a NULL or empty key,
 * a NULL code or digits out of range, or -PL_ECRYPTO if HMAC failed. */
int pl_totp_code(const uint8_t *key, size_t keylen, uint64_t unix_time, int digits, uint32_t *code);

/* Verifies code, which must be exactly PL_TOTP_DIGITS ASCII digits, against the steps within
 * window steps either side of the one holding now. Steps at or before *last_step are never
 * matched, so a code cannot be replayed; on success *last_step is set to the matched step
 * (the latest one, if a code happens to match several). Every step in the window is computed
 * and compared in constant time whatever the outcome.
 * Returns 0; -PL_EAUTH if no eligible step matches; -PL_EINVAL for NULL arguments, an empty
 * key, a malformed code or window outside 0..PL_TOTP_MAX_WINDOW; -PL_ECRYPTO if HMAC failed.
 * *last_step is changed only on success. */
int pl_totp_verify(const uint8_t *key, size_t keylen, const char *code, uint64_t now, int window,
                   int64_t *last_step);

/* Writes the RFC 4648 base32 of in[0..len), uppercase and without padding, NUL-terminated, to
 * out, which holds cap bytes ((len * 8 + 4) / 5 + 1 are needed).
 * Returns 0, -PL_EINVAL for NULL arguments, or -PL_ETOOBIG if cap is too small (out is then ""
 * when cap > 0). */
int pl_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decodes the NUL-terminated base32 string in: case-insensitive, spaces ignored anywhere,
 * '=' padding optional but only at the end and, if present, complete to a multiple of eight
 * characters. Lengths that cannot come from an encoding and non-zero unused trailing bits are
 * rejected. Writes up to cap bytes to out and the count to *out_len.
 * Returns 0; -PL_EINVAL for NULL arguments or malformed input; -PL_ETOOBIG if the result
 * does not fit. On error whatever was written to out is wiped. */
int pl_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len);

/* Writes the provisioning URI
 *   otpauth://totp/Parley:<account>?secret=<base32>&issuer=Parley&algorithm=SHA1&digits=6&period=30
 * to out (cap bytes, NUL-terminated), with account percent-encoded (everything except RFC 3986
 * unreserved characters). The URI contains the secret: treat it as key material and wipe it
 * after use. Returns 0; -PL_EINVAL for NULL arguments, an empty account or empty key;
 * -PL_ETOOBIG if cap is too small (out is then wiped and "" when cap > 0). */
int pl_totp_uri(const char *account, const uint8_t *key, size_t keylen, char *out, size_t cap);

#endif
