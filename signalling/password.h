/* Password hashing for Parley accounts: scrypt through OpenSSL 3's EVP_KDF, stored as a
 * self-describing string "$scrypt$ln=17,r=8,p=1$<salt>$<hash>" so the cost can be raised later
 * without a schema change (old rows keep verifying with their own parameters).
 *
 * Parameters read back from a stored row are bounded, so a corrupted or hostile row cannot make
 * a verify allocate or spin without limit. Each call at the default cost allocates about
 * 128 MiB for its duration, so callers should bound how many verifies run at once.
 * Passwords are hashed as the bytes given: no Unicode normalisation is applied. */
#ifndef PL_PASSWORD_H
#define PL_PASSWORD_H

#include <stddef.h>

/* Bytes that always hold an encoded hash plus its NUL. */
#define PL_PASSWORD_HASH_MAX 160
/* N = 2^17, r = 8, p = 1: the OWASP minimum for scrypt, 128 MiB per hash. */
#define PL_PASSWORD_DEFAULT_LOG_N 17
/* Range accepted by pl_password_hash. Values below the default are for tests and seeding only. */
#define PL_PASSWORD_MIN_LOG_N 10
#define PL_PASSWORD_MAX_LOG_N 18
/* Bounds pl_password_policy_check applies, in bytes. */
#define PL_PASSWORD_MIN_LEN 8
#define PL_PASSWORD_MAX_LEN 256

/* Hashes the NUL-terminated password pw with a fresh 16-byte random salt at N = 2^log_n,
 * r = 8, p = 1, and writes the encoded string (NUL-terminated) to out, which holds cap bytes;
 * PL_PASSWORD_HASH_MAX is always enough. log_n 0 means PL_PASSWORD_DEFAULT_LOG_N; otherwise it
 * must be in PL_PASSWORD_MIN_LOG_N..PL_PASSWORD_MAX_LOG_N. Does not apply the length policy.
 * Returns 0; -PL_EINVAL for NULL arguments or log_n out of range; -PL_ETOOBIG if cap is too
 * small (checked before any work); -PL_ECRYPTO if OpenSSL failed (scrypt's own large
 * allocation included); -PL_ENOMEM if a small allocation failed. On error out is "" if cap > 0. */
int pl_password_hash(const char *pw, int log_n, char *out, size_t cap);

/* Checks the NUL-terminated password pw against an encoded string from pl_password_hash.
 * Returns 0 if it matches; -PL_EAUTH if it does not; -PL_EINVAL if pw is NULL or encoded is
 * NULL, malformed, or has parameters out of bounds (ln 10..18, r 1..8, p 1..2); -PL_ECRYPTO if
 * OpenSSL failed (scrypt's own large allocation included); -PL_ENOMEM if a small allocation
 * failed. Never 0 on any failure. The hash comparison is constant time.
 * At the outer bounds (ln=18, r=8, p=2) one verify needs 256 MiB and about two seconds of
 * CPU: the bounds stop unbounded cost, not large cost, so rows should only ever hold what
 * pl_password_hash writes. */
int pl_password_verify(const char *pw, const char *encoded);

/* Does the work of a real pl_password_verify against a fixed dummy hash at the default cost
 * and always returns -PL_EAUTH. Call it when the account does not exist, so that the response
 * time does not reveal whether it does. */
int pl_password_verify_dummy(const char *pw);

/* Applies the password policy for new passwords: 8 to 256 bytes. Returns 0 or -PL_EINVAL
 * (including for NULL). */
int pl_password_policy_check(const char *pw);

#endif
