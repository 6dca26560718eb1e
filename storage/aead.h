/* Encryption of message bodies at rest: AES-256-GCM with a random 96-bit nonce per message.
 *
 * Layout: 0x01 (version) || nonce (12) || ciphertext || tag (16). The version byte is
 * authenticated together with the caller's AAD (GCM AAD = version || aad), so a later format
 * cannot be passed off as this one. The AAD should name where the row lives (for example the
 * conversation id and message id) so a row copied elsewhere fails to open.
 *
 * Random nonces are safe for about 2^32 messages under one key (NIST SP 800-38D); rotate keys
 * well before that. */
#ifndef PL_AEAD_H
#define PL_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define PL_AEAD_KEY_LEN 32
#define PL_AEAD_VERSION 0x01
#define PL_AEAD_NONCE_LEN 12
#define PL_AEAD_TAG_LEN 16
#define PL_AEAD_OVERHEAD 29 /* 1 version byte + 12 nonce + 16 tag */

/* Encrypts pt[0..ptlen) under key, bound to aad[0..aadlen), and writes the sealed form
 * (ptlen + PL_AEAD_OVERHEAD bytes) to out and its length to *outlen. aad and pt may be NULL
 * when their lengths are 0. out holds outcap bytes and must not overlap pt.
 * Returns 0; -PL_EINVAL for NULL arguments; -PL_ETOOBIG if outcap is too small or ptlen or
 * aadlen is beyond what one call handles (INT_MAX bytes); -PL_ECRYPTO if OpenSSL failed (out is
 * then wiped). */
int pl_aead_seal(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
                 size_t ptlen, uint8_t *out, size_t outcap, size_t *outlen);

/* Decrypts and authenticates in[0..inlen), sealed by pl_aead_seal under key with the same aad,
 * writing the plaintext (inlen - PL_AEAD_OVERHEAD bytes) to out and its length to *outlen. out
 * holds outcap bytes and must not overlap in. No plaintext is released unless the tag checks.
 * Returns 0; -PL_EINVAL for NULL arguments or inlen < PL_AEAD_OVERHEAD; -PL_ETOOBIG if outcap
 * is too small or the lengths exceed INT_MAX; -PL_ECRYPTO for an unknown version, wrong key,
 * wrong aad or any altered byte (out is then wiped). */
int pl_aead_open(const uint8_t key[PL_AEAD_KEY_LEN], const void *aad, size_t aadlen,
                 const uint8_t *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen);

#endif
