/* Small shared helpers: randomness, hex and base64, constant-time compare, clocks, SHA-256,
 * wiping, and the opaque tokens and ids used across Parley.
 *
 * Everything here is a thin wrapper over libc or OpenSSL so that the rest of the code base has
 * one place to get these right. The decoders are strict (they reject anything that is not
 * the exact canonical encoding) because they parse bytes from outside the process. */
#ifndef PL_UTIL_H
#define PL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of a token from pl_token_new, without the NUL (32 bytes as unpadded base64url). */
#define PL_TOKEN_LEN 43
/* Bytes a caller must give pl_token_new: the token plus its NUL. */
#define PL_TOKEN_BUF (PL_TOKEN_LEN + 1)

/* Fills buf with len bytes from the OpenSSL CSPRNG. Returns 0, or -PL_EINTERNAL if the
 * generator failed (buf is then wiped). len 0 is allowed. */
int pl_random_bytes(uint8_t *buf, size_t len);

/* Writes the lowercase hex form of in[0..len) to out, NUL-terminated. out must hold 2*len+1
 * bytes. in may be NULL when len is 0. */
void pl_hex_encode(const uint8_t *in, size_t len, char *out);

/* Decodes the NUL-terminated hex string in (either case) into out, which holds cap bytes.
 * Stores the decoded length in *out_len if out_len is not NULL.
 * Returns 0; -PL_EINVAL if in is NULL, has odd length or a non-hex character; -PL_ETOOBIG if
 * the result does not fit in cap. On error out holds nothing useful (what was written is wiped). */
int pl_hex_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len);

/* Standard base64 (RFC 4648 section 4) of in[0..len), with '=' padding, NUL-terminated.
 * Returns a malloc'd string that the caller frees with free(), or NULL on allocation failure. */
char *pl_b64_encode(const uint8_t *in, size_t len);

/* base64url (RFC 4648 section 5) of in[0..len), without padding, NUL-terminated.
 * Returns a malloc'd string that the caller frees with free(), or NULL on allocation failure. */
char *pl_b64url_encode(const uint8_t *in, size_t len);

/* Decodes a NUL-terminated base64 string in either the standard or the url-safe alphabet (one
 * alphabet per string, never mixed). Padding is optional but, when present, must be complete.
 * Whitespace, stray '=' and non-zero unused trailing bits are rejected, so every byte string
 * has exactly one accepted encoding per alphabet and padding choice.
 * On success *out is a malloc'd buffer (never NULL, even for empty input) that the caller
 * frees with free(), and *out_len its length. Returns 0, -PL_EINVAL on malformed input or NULL
 * arguments, -PL_ENOMEM on allocation failure; on error *out is NULL. */
int pl_b64_decode(const char *in, uint8_t **out, size_t *out_len);

/* True if a[0..len) equals b[0..len), in time that depends only on len (CRYPTO_memcmp).
 * Use it for every comparison of secrets, MACs and token hashes. */
bool pl_ct_equal(const void *a, const void *b, size_t len);

/* Wall-clock time in milliseconds since the Unix epoch (CLOCK_REALTIME; may jump). */
int64_t pl_now_ms(void);

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC), for durations and timeouts only. */
uint64_t pl_mono_ns(void);

/* SHA-256 of data[0..len) into out. data may be NULL when len is 0. */
void pl_sha256(const void *data, size_t len, uint8_t out[32]);

/* Overwrites p[0..len) with zeros in a way the compiler may not elide (OPENSSL_cleanse).
 * Use on every buffer that held key material, passwords or tokens. p may be NULL. */
void pl_wipe(void *p, size_t len);

/* Writes a new opaque session-style token to out: 32 random bytes as unpadded base64url,
 * PL_TOKEN_LEN characters plus NUL. cap must be at least PL_TOKEN_BUF.
 * Returns 0, -PL_EINVAL if out is NULL, -PL_ETOOBIG if cap is too small, -PL_EINTERNAL if the
 * random generator failed. Store only pl_token_hash of it, never the token itself. */
int pl_token_new(char *out, size_t cap);

/* Writes hex(SHA-256(token)) to out (64 hex digits plus NUL): the form a token is stored
 * and looked up in. token must be a NUL-terminated string. */
void pl_token_hash(const char *token, char out[65]);

/* Writes a new random id for rows and requests to out: 16 random bytes as 32 lowercase hex
 * digits plus NUL. Returns 0 or -PL_EINTERNAL if the random generator failed. Not a secret. */
int pl_id_new(char out[33]);

#endif
