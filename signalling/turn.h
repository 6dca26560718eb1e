/* TURN REST API credentials (draft-uberti-behave-turn-rest-00, as coturn implements it with
 * use-auth-secret): username "EXPIRY:USER", password base64(HMAC-SHA1(secret, username)).
 * coturn recomputes the password from the same shared secret, so Parley never stores or sends
 * the secret itself, and a credential stops working at EXPIRY without anyone revoking it. */
#ifndef PL_TURN_H
#define PL_TURN_H

#include <stddef.h>
#include <stdint.h>

#define PL_TURN_SECRET_MAX 256

typedef struct {
    char username[96];   /* "1795579743:u8" */
    char credential[32]; /* base64 of a 20-byte HMAC-SHA1: 28 characters */
    int64_t expires_at;  /* unix seconds */
} pl_turn_cred_t;

/* Credentials for `user` (an opaque label: never a name or an NHS number), valid until
 * now_s + ttl_s. 0, or -PL_EINVAL for an empty secret or a user label with ':' or over 48 bytes,
 * -PL_ECRYPTO if HMAC fails. */
int pl_turn_credentials(const uint8_t *secret, size_t secret_len, const char *user, int64_t now_s,
                        int ttl_s, pl_turn_cred_t *out);

/* Reads the shared secret from path: the first line, without trailing whitespace. The file must
 * not be readable by group or others (a TURN secret mints credentials for anyone). 0,
 * -PL_EIO (unreadable), -PL_EPERM (mode too open), -PL_EINVAL (empty or over
 * PL_TURN_SECRET_MAX). */
int pl_turn_load_secret(const char *path, uint8_t *out, size_t *out_len);

#endif
